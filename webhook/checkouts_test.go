package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/store"
)

// logged answers key lookups from a list of logged events with their keys.
type logged struct {
	events []store.Event
	asked  []store.EventKey
	err    error
}

func (l *logged) EventsByKey(_ context.Context, key store.EventKey, types []string, limit int) ([]store.Event, error) {
	l.asked = append(l.asked, key)
	if l.err != nil {
		return nil, l.err
	}
	var out []store.Event
	for i := len(l.events) - 1; i >= 0 && len(out) < limit; i-- {
		e := l.events[i]
		typed := types == nil
		for _, t := range types {
			typed = typed || t == e.Type
		}
		for _, k := range e.Keys {
			if typed && k.Name == key.Name && k.Value == key.Value && (key.Shop == "" || k.Shop == key.Shop) {
				out = append(out, e)
				break
			}
		}
	}
	return out, nil
}

func event(typ, id string, data map[string]any) commerce.Event {
	b, _ := json.Marshal(data)
	return commerce.Event{ID: id, Source: "shopify://acme", Type: typ, Shop: "acme", Data: b}
}

func TestACheckoutThatIsOverIsNoStart(t *testing.T) {
	t.Parallel()
	order := store.Event{ID: "order/1/placed", Type: "commerce.order.placed", Keys: []store.EventKey{{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}}}
	elsewhere := store.Event{ID: "order/2/placed", Type: "commerce.order.placed", Keys: []store.EventKey{{Name: "checkoutToken", Shop: "other", Value: "beef"}}}
	started := func(token string, extra map[string]any) commerce.Event {
		d := map[string]any{"shop": "acme", "checkoutToken": token, "occurredAt": "2026-04-01T12:00:00Z"}
		for k, v := range extra {
			d[k] = v
		}
		return event(checkoutStarted, "checkout/"+token+"/started", d)
	}
	for _, tc := range []struct {
		name   string
		events []commerce.Event
		want   []string
	}{
		{"its order is logged", []commerce.Event{started("c0ffee", nil)}, []string{checkoutUpdated}},
		{"no order yet", []commerce.Event{started("cafe", nil)}, []string{checkoutStarted}},
		{"an order of that token in another shop", []commerce.Event{started("beef", nil)}, []string{checkoutStarted}},
		{"completed", []commerce.Event{started("cafe", map[string]any{"completedAt": "2026-04-01T12:10:00Z"})}, []string{checkoutUpdated}},
		{"its order in the same delivery", []commerce.Event{
			event("commerce.order.placed", "order/3/placed", map[string]any{"shop": "acme", "checkoutToken": "cafe"}), started("cafe", nil)},
			[]string{"commerce.order.placed", checkoutUpdated}},
		{"other types are left alone", []commerce.Event{event(checkoutUpdated, "x", map[string]any{"shop": "acme", "checkoutToken": "cafe"})}, []string{checkoutUpdated}},
	} {
		var ids []string
		for _, e := range tc.events {
			ids = append(ids, e.ID)
		}
		r := &Receiver{Events: &logged{events: []store.Event{order, elsewhere}}}
		require.NoError(t, r.settleCheckouts(context.Background(), tc.events), tc.name)
		var got, gotIDs []string
		for _, e := range tc.events {
			got, gotIDs = append(got, e.Type), append(gotIDs, e.ID)
		}
		require.Equal(t, tc.want, got, tc.name)
		require.Equal(t, ids, gotIDs, "%s: ids are kept, so that a repeat is still one", tc.name)
	}

	l := &logged{err: errors.New("database is locked")}
	err := (&Receiver{Events: l}).settleCheckouts(context.Background(), []commerce.Event{started("c0ffee", nil)})
	require.ErrorContains(t, err, "locked", "a failed lookup is no answer: the webhook is retried")
	require.Equal(t, []store.EventKey{{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}}, l.asked)
}
