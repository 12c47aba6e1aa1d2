package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func customerIDs(rs []store.CustomerRecord) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testCustomers(t *testing.T, s store.Store) {
	ctx := context.Background()
	l, err := s.LeaseFollower(ctx, "customers", "a", 0, time.Minute)
	require.NoError(t, err)
	pos := int64(0)
	batch := func(fn func(tx store.CustomersTx) error) error {
		err := s.CommitFollower(ctx, store.FollowerBatch{Name: "customers", Fence: l.Fence, From: pos, To: pos + 1}, func(ctx context.Context, tx store.ProjectionTx) error {
			return fn(tx.Customers())
		})
		if err == nil {
			pos++
		}
		return err
	}
	ada := store.CustomerRecord{Shop: "acme", ID: "c1", Email: "ada@example.com", Search: "ada lovelace ada@example.com", Orders: 1,
		LastOrderAt: t0.Add(-200 * 24 * time.Hour), LastActivityAt: t0, CreatedSeq: 5, Profile: []byte(`{"v":1}`), UpdatedAt: t0,
		Keys: []store.CustomerKey{{Kind: store.KeyPlatformID, Value: "101"}, {Kind: store.KeyEmail, Value: "ada@example.com"}}}
	bob := store.CustomerRecord{Shop: "acme", ID: "c2", Phone: "+14155550123", Search: "bob +14155550123", Orders: 3,
		LastOrderAt: t0.Add(-time.Hour), OpenCheckoutAt: t0.Add(-2 * time.Hour), CreatedSeq: 9, Profile: []byte(`{"v":2}`),
		Keys: []store.CustomerKey{{Kind: store.KeyPhone, Value: "+14155550123"}}}
	cy := store.CustomerRecord{Shop: "acme", ID: "c3", Email: "cy@example.com", Search: "cy", CreatedSeq: 2, Profile: []byte(`{}`),
		OpenCheckoutAt: t0.Add(-time.Minute), Keys: []store.CustomerKey{{Kind: store.KeyEmail, Value: "cy@example.com"}}}
	other := store.CustomerRecord{Shop: "bolt", ID: "c4", Email: "ada@example.com", Profile: []byte(`{}`), Keys: []store.CustomerKey{{Kind: store.KeyEmail, Value: "ada@example.com"}}}
	require.NoError(t, batch(func(tx store.CustomersTx) error {
		for _, r := range []store.CustomerRecord{ada, bob, cy, other} {
			if err := tx.PutCustomer(ctx, r); err != nil {
				return err
			}
		}
		for _, o := range []store.CustomerOrder{
			{Shop: "acme", OrderID: "o1", CustomerID: "c1", Currency: "EUR", NetE4: 6_000_000, Counted: true, Data: []byte(`{}`)},
			{Shop: "acme", OrderID: "o2", CustomerID: "c2", Currency: "EUR", NetE4: 4_000_000, Counted: true, CheckoutToken: "tok", Data: []byte(`{}`)},
			{Shop: "acme", OrderID: "o3", CustomerID: "c2", Currency: "USD", NetE4: 9_000_000, Counted: true, Data: []byte(`{}`)},
			{Shop: "acme", OrderID: "o4", CustomerID: "c2", Currency: "EUR", NetE4: 9_000_000, Counted: false, Data: []byte(`{}`)},
		} {
			if err := tx.PutCustomerOrder(ctx, o); err != nil {
				return err
			}
		}
		for i, typ := range []string{"commerce.order.placed", "commerce.checkout.started", "commerce.order.paid"} {
			if err := tx.AddCustomerEvent(ctx, store.CustomerEvent{CustomerID: "c2", Seq: int64(10 + i), ID: "e", Source: "s", Type: typ, At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return tx.AddCustomerEvent(ctx, store.CustomerEvent{CustomerID: "c2", Seq: 10, ID: "again", Type: "x", At: t0})
	}))

	got, err := s.GetCustomer(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", got.Email)
	require.Equal(t, t0.Add(-200*24*time.Hour), got.LastOrderAt)
	require.True(t, got.OpenCheckoutAt.IsZero(), "unset times read back unset")
	require.JSONEq(t, `{"v":1}`, string(got.Profile))
	_, err = s.GetCustomer(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.CustomerByKey(ctx, "bolt", store.CustomerKey{Kind: store.KeyEmail, Value: "ada@example.com"})
	require.NoError(t, err)
	require.Equal(t, "c4", got.ID, "keys are per shop")
	_, err = s.CustomerByKey(ctx, "acme", store.CustomerKey{Kind: store.KeyEmail, Value: "nobody@example.com"})
	require.ErrorIs(t, err, store.ErrNotFound)

	evs, err := s.CustomerEvents(ctx, "c2", 2)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "commerce.order.paid", evs[0].Type, "newest first")
	require.Equal(t, int64(11), evs[1].Seq)
	evs, err = s.CustomerEvents(ctx, "c2", 10)
	require.NoError(t, err)
	require.Len(t, evs, 3, "an event is kept once per seq")

	list := func(q store.CustomerQuery) []string {
		t.Helper()
		q.Shop = "acme"
		rs, err := s.ListCustomers(ctx, q)
		require.NoError(t, err)
		return customerIDs(rs)
	}
	cutoff := t0.Add(-180 * 24 * time.Hour)
	require.Equal(t, []string{"c1", "c2", "c3"}, list(store.CustomerQuery{}))
	require.Equal(t, []string{"c2"}, list(store.CustomerQuery{After: "c1", Limit: 1}))
	require.Equal(t, []string{"c1"}, list(store.CustomerQuery{Key: &store.CustomerKey{Kind: store.KeyEmail, Value: "ada@example.com"}}))
	require.Equal(t, []string{"c1"}, list(store.CustomerQuery{Q: "LOVE"}))
	require.Equal(t, []string{"c2"}, list(store.CustomerQuery{Q: "555"}))
	require.Equal(t, []string{"c3"}, list(store.CustomerQuery{Segment: store.CustomerFilter{OrdersBelow: 2, OrderedSince: cutoff}}), "new")
	require.Equal(t, []string{"c2"}, list(store.CustomerQuery{Segment: store.CustomerFilter{MinOrders: 2, OrderedSince: cutoff}}), "repeat")
	require.Equal(t, []string{"c1"}, list(store.CustomerQuery{Segment: store.CustomerFilter{MinOrders: 1, LastOrderBefore: cutoff}}), "lapsed")
	require.Equal(t, []string{"c2"}, list(store.CustomerQuery{Segment: store.CustomerFilter{CheckoutOpenBefore: t0.Add(-time.Hour)}}), "abandoned checkouts")
	require.Equal(t, []string{"c1"}, list(store.CustomerQuery{Segment: store.CustomerFilter{MinSpendE4: 5_000_000, SpendCurrency: "EUR"}}),
		"spend counts counted orders in the currency only")
	require.Equal(t, []string{"c1", "c2"}, list(store.CustomerQuery{Segment: store.CustomerFilter{MinSpendE4: 5_000_000}}), "in any one currency")
	require.Empty(t, list(store.CustomerQuery{Segment: store.CustomerFilter{MinSpendE4: 10_000_000}}))

	// Bob turns out to be Ada: his keys, orders and events become hers.
	require.NoError(t, batch(func(tx store.CustomersTx) error {
		found, err := tx.CustomersByKeys(ctx, "acme", []store.CustomerKey{{Kind: store.KeyEmail, Value: "ada@example.com"}, {Kind: store.KeyPhone, Value: "+14155550123"}, {Kind: store.KeyEmail, Value: "none"}})
		if err != nil {
			return err
		}
		require.Equal(t, []string{"c1", "c2"}, customerIDs(found), "oldest first")
		r, err := tx.Customer(ctx, "c2")
		if err != nil {
			return err
		}
		require.Equal(t, "+14155550123", r.Phone)
		_, err = tx.Customer(ctx, "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		if err := tx.MergeCustomer(ctx, "c2", "c1"); err != nil {
			return err
		}
		orders, err := tx.CustomerOrders(ctx, "c1")
		if err != nil {
			return err
		}
		require.Len(t, orders, 4)
		ada.Orders, ada.Keys = 4, []store.CustomerKey{{Kind: store.KeyEmail, Value: "ada@lovelace.example"}}
		return tx.PutCustomer(ctx, ada)
	}))
	got, err = s.GetCustomer(ctx, "c2")
	require.NoError(t, err)
	require.Equal(t, "c1", got.MergedInto)
	got, err = s.CustomerByKey(ctx, "acme", store.CustomerKey{Kind: store.KeyPhone, Value: "+14155550123"})
	require.NoError(t, err)
	require.Equal(t, "c1", got.ID)
	require.Equal(t, 4, got.Orders)
	got, err = s.CustomerByKey(ctx, "acme", store.CustomerKey{Kind: store.KeyEmail, Value: "ada@example.com"})
	require.NoError(t, err)
	require.Equal(t, "c1", got.ID, "keys already held stay")
	evs, err = s.CustomerEvents(ctx, "c1", 10)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	require.Equal(t, []string{"c1", "c3"}, list(store.CustomerQuery{}), "merged profiles are not listed")

	// When c1 merges into c3, the profiles merged into c1 follow.
	require.NoError(t, batch(func(tx store.CustomersTx) error { return tx.MergeCustomer(ctx, "c1", "c3") }))
	got, err = s.GetCustomer(ctx, "c2")
	require.NoError(t, err)
	require.Equal(t, "c3", got.MergedInto, "a merged profile points at the live one")

	require.NoError(t, batch(func(tx store.CustomersTx) error {
		o, err := tx.CustomerOrder(ctx, "acme", "o2")
		if err != nil {
			return err
		}
		require.Equal(t, "c3", o.CustomerID)
		require.True(t, o.Counted)
		_, err = tx.CustomerOrder(ctx, "acme", "nope")
		require.ErrorIs(t, err, store.ErrNotFound)
		ok, err := tx.CheckoutOrdered(ctx, "acme", "tok")
		require.True(t, ok)
		if err != nil {
			return err
		}
		ok, err = tx.CheckoutOrdered(ctx, "acme", "")
		require.False(t, ok, "no token is no checkout")
		return err
	}))

	boom := errors.New("boom")
	require.ErrorIs(t, batch(func(tx store.CustomersTx) error {
		if err := tx.PutCustomer(ctx, store.CustomerRecord{Shop: "acme", ID: "c9", Profile: []byte(`{}`), Keys: []store.CustomerKey{{Kind: store.KeyEmail, Value: "x"}}}); err != nil {
			return err
		}
		return boom
	}), boom)
	_, err = s.GetCustomer(ctx, "c9")
	require.ErrorIs(t, err, store.ErrNotFound, "a failed batch leaves no profile")

	require.NoError(t, s.ResetFollower(ctx, "customers", func(ctx context.Context, tx store.ProjectionTx) error { return tx.Customers().ClearCustomers(ctx) }))
	require.Empty(t, list(store.CustomerQuery{}))
	_, err = s.CustomerByKey(ctx, "acme", store.CustomerKey{Kind: store.KeyEmail, Value: "cy@example.com"})
	require.ErrorIs(t, err, store.ErrNotFound)
	evs, err = s.CustomerEvents(ctx, "c3", 10)
	require.NoError(t, err)
	require.Empty(t, evs)
}
