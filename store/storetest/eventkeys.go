package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// testEventKeys checks the event key index: events appended (alone, in
// batches, emitted by a commit) are found by their keys, newest first, by
// type and shop, however many other events were logged between; a
// duplicate indexes nothing again; pruning an event takes its keys.
func testEventKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	checkout := store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}
	email := store.EventKey{Name: "email", Shop: "acme", Value: "ada@example.com"}
	ev := func(id, typ string, keys ...store.EventKey) store.Event {
		return store.Event{ID: id, Source: "shopify://acme", Type: typ, Envelope: []byte(fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ)), Keys: keys}
	}
	first, err := s.AppendEvents(ctx, []store.Event{ev("order/1/placed", "commerce.order.placed", checkout, email, store.EventKey{Name: "orderId", Shop: "acme", Value: "1"})})
	require.NoError(t, err)

	// Many unrelated events between, some with keys of their own.
	for b := range 5 {
		batch := make([]store.Event, 1000)
		for i := range batch {
			n := b*1000 + i
			batch[i] = ev(fmt.Sprintf("noise/%d", n), "commerce.order.placed", store.EventKey{Name: "orderId", Shop: "acme", Value: fmt.Sprint(1000 + n)})
		}
		_, err = s.AppendEvents(ctx, batch)
		require.NoError(t, err)
	}
	in := store.Instance{ID: "i-keys", Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{}`), CreatedAt: t0, UpdatedAt: t0}
	res, err := s.Commit(ctx, []store.Change{{Instance: in, Emit: []store.Event{ev("checkout/c0ffee/updated", "commerce.checkout.updated", checkout, email)}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	other := store.EventKey{Name: "checkoutToken", Shop: "other", Value: "c0ffee"}
	_, err = s.AppendEvents(ctx, []store.Event{ev("other/checkout", "commerce.checkout.started", other)})
	require.NoError(t, err)

	ids := func(evs []store.Event) []string {
		out := []string{}
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	got, err := s.EventsByKey(ctx, checkout, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"checkout/c0ffee/updated", "order/1/placed"}, ids(got), "newest first, 5000 events between")
	require.Equal(t, first[0].Seq, got[1].Seq)
	require.Equal(t, "commerce.order.placed", got[1].Type)
	require.JSONEq(t, `{"id":"order/1/placed","type":"commerce.order.placed"}`, string(got[1].Envelope), "whole events")
	require.False(t, got[1].ReceivedAt.IsZero())

	got, err = s.EventsByKey(ctx, checkout, []string{"commerce.order.placed", "commerce.order.paid"}, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"order/1/placed"}, ids(got), "of the given types")
	got, err = s.EventsByKey(ctx, checkout, []string{}, 10)
	require.NoError(t, err)
	require.Empty(t, got, "no types, no events")
	got, err = s.EventsByKey(ctx, checkout, nil, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"checkout/c0ffee/updated"}, ids(got), "at most limit")
	got, err = s.EventsByKey(ctx, store.EventKey{Name: "checkoutToken", Value: "c0ffee"}, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"other/checkout", "checkout/c0ffee/updated", "order/1/placed"}, ids(got), "no shop: every shop's")
	got, err = s.EventsByKey(ctx, email, nil, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	got, err = s.EventsByKey(ctx, store.EventKey{Name: "orderId", Shop: "acme", Value: "4999"}, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []string{"noise/3999"}, ids(got))
	got, err = s.EventsByKey(ctx, store.EventKey{Name: "email", Shop: "acme", Value: "c0ffee"}, nil, 10)
	require.NoError(t, err)
	require.Empty(t, got, "keys are by name")

	again, err := s.AppendEvents(ctx, []store.Event{ev("order/1/placed", "commerce.order.placed", checkout, email)})
	require.NoError(t, err)
	require.True(t, again[0].Duplicate)
	got, err = s.EventsByKey(ctx, checkout, nil, 10)
	require.NoError(t, err)
	require.Len(t, got, 2, "a duplicate indexes nothing again")

	p, ok := s.(store.Pruner)
	if !ok {
		return
	}
	now := time.Now().UTC()
	old := ev("old/checkout", "commerce.checkout.started", store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "old"})
	old.ReceivedAt = now.Add(-10 * 7 * 24 * time.Hour)
	_, err = s.AppendEvents(ctx, []store.Event{old})
	require.NoError(t, err)
	got, err = s.EventsByKey(ctx, store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "old"}, nil, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = p.Prune(ctx, now.Add(-5*7*24*time.Hour))
	require.NoError(t, err)
	got, err = s.EventsByKey(ctx, store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "old"}, nil, 10)
	require.NoError(t, err)
	require.Empty(t, got, "pruned with its event")
	got, err = s.EventsByKey(ctx, checkout, nil, 10)
	require.NoError(t, err)
	require.Len(t, got, 2, "newer events keep their keys")
}
