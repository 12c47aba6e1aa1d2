package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// Each event is recorded with the instances it started and those it was
// delivered to: by the matcher, and by a listen's look-back at an event
// logged before it opened. A repeated delivery records nothing new.
func TestEventsRecordTheInstancesTheyStartAndResume(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(fmt.Sprintf(cartFlow, h.sink.URL))
		ctx := context.Background()

		h.ingest("checkout.started", "e1", map[string]any{"cartId": "c1"})
		h.ingest("checkout.started", "e1", map[string]any{"cartId": "c1"}) // again
		h.ingest("checkout.started", "e2", map[string]any{"cartId": "c2"})
		// c1's order comes before its listen opens (the look-back finds it).
		h.ingest("order.placed", "o1", map[string]any{"cartId": "c1", "orderId": "o-1"})
		h.eventually("two waiting carts", func() bool { return len(h.instances("waiting")) == 2 })
		h.eventually("c1 completes, c2 listens", func() bool {
			h.vc.Advance(time.Minute)
			waiting := h.instances("waiting")
			if len(h.instances("completed")) != 1 || len(waiting) != 1 {
				return false
			}
			hist, err := h.st.History(ctx, waiting[0].ID)
			require.NoError(t, err)
			for _, e := range hist {
				if e.Type == "correlation.started" {
					return true
				}
			}
			return false
		})
		// c2's order comes while it listens (the matcher delivers it).
		h.ingest("order.placed", "o2", map[string]any{"cartId": "c2", "orderId": "o-2"})
		h.eventually("c2 completes", func() bool { return len(h.instances("completed")) == 2 })

		seqOf := map[string]int64{}
		evs, err := h.st.ListEvents(ctx, store.EventQuery{Limit: 100})
		require.NoError(t, err)
		for _, e := range evs {
			if e.Source == "test" {
				seqOf[e.ID] = e.Seq
			}
		}
		require.Len(t, seqOf, 4)
		links, err := h.st.EventInstances(ctx, []int64{seqOf["e1"], seqOf["e2"], seqOf["o1"], seqOf["o2"]}, 10)
		require.NoError(t, err)
		byEvent := map[int64][]store.EventInstance{}
		for _, l := range links {
			byEvent[l.Seq] = append(byEvent[l.Seq], l)
		}
		for _, pair := range [][2]string{{"e1", "o1"}, {"e2", "o2"}} {
			start, order := byEvent[seqOf[pair[0]]], byEvent[seqOf[pair[1]]]
			require.Len(t, start, 1, "%s started one instance", pair[0])
			require.True(t, start[0].Started)
			require.Equal(t, "cart", start[0].Name)
			require.Equal(t, "completed", start[0].Status)
			require.Len(t, order, 1, "%s resumed one instance", pair[1])
			require.False(t, order[0].Started)
			require.Equal(t, start[0].InstanceID, order[0].InstanceID, "%s resumed the instance %s started", pair[1], pair[0])
		}
		require.NotEqual(t, byEvent[seqOf["e1"]][0].InstanceID, byEvent[seqOf["e2"]][0].InstanceID)
	})
}
