package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func testWebhooks(t *testing.T, s store.Store) {
	ctx := context.Background()
	accepted := store.WebhookDelivery{ID: "d1", Shop: "acme", Platform: "shopify", Topic: "orders/create", Key: "order/1/placed",
		Headers: []byte(`{"X-Shopify-Topic":"orders/create"}`), Body: []byte(`{"id":1}`), Status: store.DeliveryAccepted,
		Events: []string{"shopify://acme order/1/placed"}, ReceivedAt: t0, UpdatedAt: t0}
	recorded, err := s.PutDelivery(ctx, accepted)
	require.NoError(t, err)
	require.True(t, recorded)
	again := accepted
	again.ID, again.Body = "d2", []byte(`{"id":1,"retry":true}`)
	recorded, err = s.PutDelivery(ctx, again)
	require.NoError(t, err)
	require.False(t, recorded, "a repeated delivery is kept once")
	other := again
	other.Shop = "other"
	recorded, err = s.PutDelivery(ctx, other)
	require.NoError(t, err)
	require.True(t, recorded, "keys are per shop")

	for i, id := range []string{"d3", "d4"} {
		dead := store.WebhookDelivery{ID: id, Shop: "acme", Platform: "shopify", Topic: "orders/create", Body: []byte(`not json`),
			Status: store.DeliveryDeadLetter, Reason: "malformed", ReceivedAt: t0.Add(time.Duration(i+1) * time.Hour), UpdatedAt: t0}
		recorded, err := s.PutDelivery(ctx, dead)
		require.NoError(t, err)
		require.True(t, recorded, "dead letters without a key are each kept")
	}

	got, err := s.GetDelivery(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, accepted, got)
	_, err = s.GetDelivery(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := s.ListDeliveries(ctx, store.DeliveryQuery{Status: store.DeliveryDeadLetter})
	require.NoError(t, err)
	require.Equal(t, []string{"d4", "d3"}, deliveryIDs(list), "newest first")
	require.Equal(t, []string{}, []string(list[0].Events))
	list, err = s.ListDeliveries(ctx, store.DeliveryQuery{Shop: "acme", After: "d4", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{"d3", "d1"}, deliveryIDs(list))

	require.NoError(t, s.ResolveDelivery(ctx, "d3", []string{"shopify://acme order/1/placed"}, t0.Add(time.Hour)))
	got, err = s.GetDelivery(ctx, "d3")
	require.NoError(t, err)
	require.Equal(t, store.DeliveryReplayed, got.Status)
	require.Equal(t, []string{"shopify://acme order/1/placed"}, got.Events)
	require.ErrorIs(t, s.ResolveDelivery(ctx, "d3", nil, t0), store.ErrNotFound, "a replayed delivery is no dead letter")
	require.ErrorIs(t, s.ResolveDelivery(ctx, "d1", nil, t0), store.ErrNotFound)

	p, ok := s.(store.Pruner)
	require.True(t, ok)
	_, err = p.Prune(ctx, t0.Add(90*time.Minute))
	require.NoError(t, err)
	list, err = s.ListDeliveries(ctx, store.DeliveryQuery{})
	require.NoError(t, err)
	require.Equal(t, []string{"d4"}, deliveryIDs(list), "retention prunes deliveries received before it")
}

func deliveryIDs(ds []store.WebhookDelivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}
