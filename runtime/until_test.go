package runtime_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScheduleUntilClosesStarts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, until string
	}{
		{"an until event", `
    until:
      one:
        with:
          type: campaign.ended`},
		{"an until expression", `
    until: '${ .type == "campaign.ended" }'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				h := newHarness(t, b)
				h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: promo
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    any:
      - with:
          type: order.placed` + tc.until + `
do:
  - thank:
      set:
        order: ${ .orderId }
`)
				h.ingest("order.placed", "o1", map[string]any{"orderId": "o1"})
				h.ingest("campaign.ended", "c1", map[string]any{})
				h.ingest("order.placed", "o2", map[string]any{"orderId": "o2"})
				h.settled()
				require.Len(t, h.instances(""), 1, "only the order before the campaign ended starts the workflow")
				require.Equal(t, map[string]any{"order": "o1"}, h.state(h.instances("")[0].ID).Output)

				// The schedule stays closed after a restart.
				h.shutdown()
				h.start()
				h.ingest("order.placed", "o3", map[string]any{"orderId": "o3"})
				h.settled()
				require.Len(t, h.instances(""), 1)
			})
		})
	}
}
