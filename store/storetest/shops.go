package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func testShops(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme := store.ShopRecord{ID: "acme", Platform: "shopify", Domain: "acme.myshopify.com", Config: []byte(`{"id":"acme"}`), Sealed: []byte{1, 2, 3}, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.PutShop(ctx, acme, true))
	require.ErrorIs(t, s.PutShop(ctx, acme, true), store.ErrShopExists, "the same id twice")
	twin := acme
	twin.ID = "acme-twin"
	require.ErrorIs(t, s.PutShop(ctx, twin, true), store.ErrShopExists, "the same platform and domain twice")
	twin.Platform = "woocommerce"
	require.NoError(t, s.PutShop(ctx, twin, true), "another platform may use the domain")
	plain := store.ShopRecord{ID: "plain", Platform: "generic", Config: []byte(`{}`), Sealed: []byte{}, CreatedAt: t0, UpdatedAt: t0}
	other := plain
	other.ID = "plain-2"
	require.NoError(t, s.PutShop(ctx, plain, true))
	require.NoError(t, s.PutShop(ctx, other, true), "shops without a domain do not clash")

	got, err := s.GetShop(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, acme, got)
	got, err = s.ShopByDomain(ctx, "shopify", "acme.myshopify.com")
	require.NoError(t, err)
	require.Equal(t, "acme", got.ID)
	_, err = s.ShopByDomain(ctx, "shopify", "other.myshopify.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ShopByDomain(ctx, "generic", "")
	require.ErrorIs(t, err, store.ErrNotFound, "an empty domain names no shop")

	acme.Config, acme.Sealed, acme.UpdatedAt = []byte(`{"id":"acme","v":2}`), []byte{4}, t0.Add(1)
	require.NoError(t, s.PutShop(ctx, acme, false))
	got, err = s.GetShop(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, acme, got)
	require.Equal(t, t0, got.CreatedAt, "an update keeps the creation time")
	missing := acme
	missing.ID = "nobody"
	require.ErrorIs(t, s.PutShop(ctx, missing, false), store.ErrNotFound)

	list, err := s.ListShops(ctx)
	require.NoError(t, err)
	var ids []string
	for _, r := range list {
		ids = append(ids, r.ID)
	}
	require.Equal(t, []string{"acme", "acme-twin", "plain", "plain-2"}, ids)

	require.NoError(t, s.DeleteShop(ctx, "acme"))
	require.ErrorIs(t, s.DeleteShop(ctx, "acme"), store.ErrNotFound)
	_, err = s.GetShop(ctx, "acme")
	require.ErrorIs(t, err, store.ErrNotFound)
}
