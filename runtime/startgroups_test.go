package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// fulfilFlow starts once an order was both placed and paid; the two events
// correlate by order.
const fulfilFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: fulfil
  version: '1.0.0'
schedule:
  read: data
  on:
    all:
      - with: {type: order.placed}
        correlate:
          order: {from: .data.orderId}
      - with: {type: payment.received}
        correlate:
          order: {from: .data.order}
do:
  - ship:
      set:
        order: ${ .[0].orderId }
        paid: ${ .[1].amount }
`

// settled waits until the matcher has saved a position at the end of the
// log: everything it handed over for the events so far has committed.
func (h *harness) settled() {
	h.t.Helper()
	ctx := context.Background()
	h.eventually("the matcher reaches the end of the log", func() bool {
		evs, err := h.st.ReadEvents(ctx, 0, "", 100000)
		require.NoError(h.t, err)
		pos, err := matcherPosition(ctx, h.st)
		return err == nil && (len(evs) == 0 || pos == evs[len(evs)-1].Seq)
	})
}

// inputs returns the workflow inputs of a workflow's instances, sorted by
// their JSON form.
func (h *harness) inputs(name string) []string {
	h.t.Helper()
	list, err := h.st.ListInstances(context.Background(), store.InstanceQuery{Namespace: "shop", Name: name, Limit: 1000})
	require.NoError(h.t, err)
	var out []string
	for _, in := range list {
		b, err := json.Marshal(h.state(in.ID).Input)
		require.NoError(h.t, err)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

func (h *harness) openGroups(name string) []store.StartGroup {
	h.t.Helper()
	groups, err := h.st.StartGroups(context.Background(), "shop", name, 1000)
	require.NoError(h.t, err)
	return groups
}

type ev struct {
	typ, id string
	data    map[string]any
}

func placed(id, order string) ev {
	return ev{"order.placed", id, map[string]any{"orderId": order}}
}

func paid(id, order string, amount int) ev {
	return ev{"payment.received", id, map[string]any{"order": order, "amount": amount}}
}

func TestAllOfStartsPerCorrelation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events []ev
		// inputs are the started instances' inputs (JSON, sorted); open is
		// the number of partial groups left.
		inputs []string
		open   int
	}{{
		name:   "interleaved orders start one instance each with their own events",
		events: []ev{placed("p1", "o1"), placed("p2", "o2"), paid("m2", "o2", 20), paid("m1", "o1", 10)},
		inputs: []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`, `[{"orderId":"o2"},{"amount":20,"order":"o2"}]`},
	}, {
		name:   "the input follows the filters' order, not the events'",
		events: []ev{paid("m1", "o1", 10), placed("p1", "o1")},
		inputs: []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`},
	}, {
		name:   "a duplicate delivery starts nothing again",
		events: []ev{placed("p1", "o1"), placed("p1", "o1"), paid("m1", "o1", 10), paid("m1", "o1", 10), placed("p1", "o1")},
		inputs: []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`},
	}, {
		name:   "events of other orders do not complete a group",
		events: []ev{placed("p1", "o1"), paid("m2", "o2", 20), placed("p3", "o3")},
		open:   3,
	}, {
		name:   "a filter already matched keeps its first event",
		events: []ev{placed("p1", "o1"), placed("p1b", "o1"), paid("m1", "o1", 10)},
		inputs: []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`},
	}, {
		name:   "after a start, the same order collects anew",
		events: []ev{placed("p1", "o1"), paid("m1", "o1", 10), placed("p2", "o1"), paid("m2", "o1", 30)},
		inputs: []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`, `[{"orderId":"o1"},{"amount":30,"order":"o1"}]`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				h := newHarness(t, b)
				h.put(fulfilFlow)
				for _, e := range tc.events {
					h.ingest(e.typ, e.id, e.data)
				}
				h.settled()
				require.Equal(t, tc.inputs, h.inputs("fulfil"))
				require.Len(t, h.openGroups("fulfil"), tc.open)
				h.eventually("the instances complete", func() bool { return len(h.instances("completed")) == len(tc.inputs) })
			})
		})
	}
}

func TestAllOfOutputAndEnvelope(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(fulfilFlow)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: audit
  version: '1.0.0'
schedule:
  read: envelope
  on:
    all:
      - with: {type: order.placed}
      - with: {type: payment.received}
do:
  - note:
      set:
        ids: ${ map(.id) }
`)
		h.ingest("order.placed", "p1", map[string]any{"orderId": "o1"})
		h.ingest("payment.received", "m1", map[string]any{"order": "o1", "amount": 10})
		h.eventually("both complete", func() bool { return len(h.instances("completed")) == 2 })
		for _, in := range h.instances("completed") {
			switch in.Name {
			case "fulfil":
				require.Equal(t, map[string]any{"order": "o1", "paid": float64(10)}, h.state(in.ID).Output)
			case "audit":
				require.Equal(t, map[string]any{"ids": []any{"p1", "m1"}}, h.state(in.ID).Output, "read: envelope gives whole events")
			}
		}
	})
}

func TestAllOfBurst(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(fulfilFlow)
		const orders = 40
		var batch []store.Event
		for i := range orders {
			for _, e := range []ev{placed(fmt.Sprintf("p%d", i), fmt.Sprintf("o%d", i)), paid(fmt.Sprintf("m%d", i), fmt.Sprintf("o%d", i), i)} {
				env, err := json.Marshal(map[string]any{"specversion": "1.0", "id": e.id, "source": "test", "type": e.typ, "data": e.data})
				require.NoError(t, err)
				batch = append(batch, store.Event{ID: e.id, Source: "test", Type: e.typ, Envelope: env})
			}
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		_, err := h.rt.Ingest(context.Background(), batch)
		require.NoError(t, err)
		h.settled()
		list := h.instances("")
		require.Len(t, list, orders)
		for _, in := range list {
			input := h.state(in.ID).Input.([]any)
			require.Len(t, input, 2)
			require.Equal(t, input[0].(map[string]any)["orderId"], input[1].(map[string]any)["order"], "each instance has its own order's events")
		}
		require.Empty(t, h.openGroups("fulfil"))
	})
}

// frozenCursor is a store whose matcher never saves its position, as if
// the node crashed before each save: a restart repeats the whole log.
type frozenCursor struct{ store.Store }

func (f frozenCursor) SaveSlotCursor(context.Context, string, []int, int64) error {
	return errors.New("frozen for the test")
}

// matcherPosition is how far every slot's events were matched.
func matcherPosition(ctx context.Context, st store.Store) (int64, error) {
	states, err := st.SlotStates(ctx)
	if err != nil || len(states) == 0 {
		return 0, err
	}
	low := states[0].Cursor
	for _, s := range states {
		low = min(low, s.Cursor)
	}
	return low, nil
}

func TestAllOfAcrossRestarts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(fulfilFlow)

		// Restart between the first and the second event: the first is kept.
		h.ingest("order.placed", "p1", map[string]any{"orderId": "o1"})
		h.eventually("o1's placement waits in a group", func() bool { return len(h.openGroups("fulfil")) == 1 })
		h.shutdown()
		h.start()
		h.ingest("payment.received", "m1", map[string]any{"order": "o1", "amount": 10})
		h.settled()
		require.Equal(t, []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`}, h.inputs("fulfil"))
		require.Empty(t, h.openGroups("fulfil"))

		// A crash before the matcher saved its position repeats every event
		// after it, including those of groups that started and of a group
		// that opened since: nothing starts twice, nothing is lost.
		h.shutdown()
		real := h.st
		h.st = frozenCursor{real}
		h.start()
		h.ingest("order.placed", "p2", map[string]any{"orderId": "o2"})
		h.ingest("payment.received", "m2", map[string]any{"order": "o2", "amount": 20})
		h.ingest("order.placed", "p3", map[string]any{"orderId": "o2"})
		h.eventually("o2 starts and collects again", func() bool {
			return len(h.inputs("fulfil")) == 2 && len(h.openGroups("fulfil")) == 1
		})
		h.shutdown()
		h.st = real
		pos, err := matcherPosition(context.Background(), h.st)
		require.NoError(t, err)
		h.start()
		h.settled()
		after, err := matcherPosition(context.Background(), h.st)
		require.NoError(t, err)
		require.Greater(t, after, pos, "the restarted matcher went over the events again")
		require.Equal(t, []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`, `[{"orderId":"o2"},{"amount":20,"order":"o2"}]`}, h.inputs("fulfil"))
		open := h.openGroups("fulfil")
		require.Len(t, open, 1)
		require.Len(t, open[0].Events, 1)
		require.Equal(t, "p3", open[0].Events[0].ID)

		h.ingest("payment.received", "m3", map[string]any{"order": "o2", "amount": 30})
		h.settled()
		require.Equal(t, []string{`[{"orderId":"o1"},{"amount":10,"order":"o1"}]`, `[{"orderId":"o2"},{"amount":20,"order":"o2"}]`,
			`[{"orderId":"o2"},{"amount":30,"order":"o2"}]`}, h.inputs("fulfil"))
	})
}
