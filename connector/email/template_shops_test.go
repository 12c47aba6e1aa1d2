package email_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/shop"
)

func TestShopTemplatesComeFromTheShopThenTheFallback(t *testing.T) {
	t.Parallel()
	acme := &shop.Shop{ID: "acme", EmailTemplates: map[string]shop.EmailTemplate{"welcome": {Subject: "Hi", Text: "Welcome to Acme"}}}
	var fallback email.TemplateSet
	require.NoError(t, fallback.Add("", "welcome", email.Template{Text: "Welcome"}))
	require.NoError(t, fallback.Add("", "cart-reminder", email.Template{Text: "Your cart"}))
	ts := email.ShopTemplates{Shops: shopconfig.Fixed(map[string]*shop.Shop{"acme": acme}), Fallback: &fallback}
	ctx := context.Background()

	got, err := ts.Template(ctx, "acme", "welcome")
	require.NoError(t, err)
	require.Equal(t, "Welcome to Acme", got.Text, "the shop's own template wins")
	got, err = ts.Template(ctx, "acme", "cart-reminder")
	require.NoError(t, err)
	require.Equal(t, "Your cart", got.Text, "storeflow's serves the rest")
	_, err = ts.Template(ctx, "acme", "missing")
	require.ErrorIs(t, err, email.ErrNoTemplate)
	got, err = ts.Template(ctx, "unknown-shop", "welcome")
	require.NoError(t, err, "a shop without configuration uses the fallback")
	require.Equal(t, "Welcome", got.Text)
	_, err = email.ShopTemplates{}.Template(ctx, "acme", "welcome")
	require.ErrorIs(t, err, email.ErrNoTemplate)
}
