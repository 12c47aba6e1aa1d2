package runtime_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// The input of an instance schedule.on started is the array of its
// triggering events (dsl.md, "Input of event-driven scheduled workflows"),
// for one, any and all alike, each event read as schedule.read says.
func TestEventStartedInputIsTheArrayOfItsEvents(t *testing.T) {
	t.Parallel()
	placed := map[string]any{"specversion": "1.0", "id": "p1", "source": "test", "type": "order.placed", "data": map[string]any{"order": "o1"}}
	paid := map[string]any{"specversion": "1.0", "id": "m1", "source": "test", "type": "order.paid", "data_base64": "b3JkZXIgbzE="}
	strategies := map[string]string{
		"one": "one:\n      with: {type: order.placed}",
		"any": "any:\n      - with: {type: order.placed}\n      - with: {type: order.paid}",
		"all": "all:\n      - with: {type: order.placed}\n      - with: {type: order.paid}",
	}
	for _, tc := range []struct {
		strategy, read string
		want           []any
		paidOnly       bool // send only the order.paid event, whose data is binary
	}{
		{"one", "", []any{placed}, false},
		{"one", "data", []any{placed["data"]}, false},
		{"one", "envelope", []any{placed}, false},
		{"any", "", []any{placed}, false},
		{"any", "raw", []any{placed["data"]}, false},
		{"any", "envelope", []any{placed}, false},
		{"any", "raw", []any{"b3JkZXIgbzE="}, true},
		{"all", "", []any{placed, paid}, false},
		{"all", "data", []any{placed["data"], nil}, false},
		{"all", "raw", []any{placed["data"], "b3JkZXIgbzE="}, false},
	} {
		t.Run(tc.strategy+"/"+tc.read, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				h := newHarness(t, b)
				read := ""
				if tc.read != "" {
					read = "\n  read: " + tc.read
				}
				h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: started
  version: '1.0.0'
schedule:` + read + `
  on:
    ` + strategies[tc.strategy] + `
do:
  - keep:
      set:
        input: ${ $workflow.input }
        first: ${ $workflow.input[0] }
`)
				for _, ev := range []map[string]any{placed, paid} {
					if tc.strategy != "all" && (ev["type"] == "order.paid") != tc.paidOnly {
						continue
					}
					env, err := json.Marshal(ev)
					require.NoError(t, err)
					_, err = h.rt.Ingest(t.Context(), []store.Event{{ID: ev["id"].(string), Source: "test", Type: ev["type"].(string), Envelope: env}})
					require.NoError(t, err)
				}
				h.eventually("an instance completes", func() bool { return len(h.instances("completed")) > 0 })
				in := h.instances("completed")[0]
				out := h.state(in.ID).Output.(map[string]any)
				require.Equal(t, tc.want, out["input"])
				require.Equal(t, tc.want[0], out["first"])
			})
		})
	}
}
