package shopadmin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

func TestArgumentSchemas(t *testing.T) {
	t.Parallel()
	reg := catalog.Default(catalog.Options{})
	for _, tc := range []struct {
		function string
		args     map[string]any
		bad      string // a part of the error; "" when the arguments fit
	}{
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D"}, ""},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "amount": "5.00", "expiresAt": "2026-05-01T00:00:00Z", "code": "THANKS-5", "customer": map[string]any{"id": "1", "firstName": "Ada"}}, ""},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "freeShipping": true, "expiresIn": "P1D", "prefix": "SHIP-"}, ""},
		{shopadmin.DiscountCreate, map[string]any{"percent": 10, "expiresIn": "P7D"}, "shop"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "expiresIn": "P7D"}, "oneOf"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "amount": "5", "expiresIn": "P7D"}, "oneOf"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10}, "oneOf"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 110, "expiresIn": "P7D"}, "percent"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "amount": "5,00", "expiresIn": "P7D"}, "amount"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D", "code": "A B"}, "code"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D", "code": "ABCD", "prefix": "X"}, "not"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D", "customer": map[string]any{"firstName": "Ada"}}, "customer"},
		{shopadmin.DiscountCreate, map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D", "value": 3}, "additional"},
		{shopadmin.CustomerTag, map[string]any{"shop": "acme", "customer": map[string]any{"email": "ada@example.com"}, "tags": []any{"vip"}}, ""},
		{shopadmin.CustomerTag, map[string]any{"shop": "acme", "customer": map[string]any{"email": "ada@example.com"}, "tags": []any{}}, "tags"},
		{shopadmin.CustomerTag, map[string]any{"shop": "acme", "customer": map[string]any{"email": "ada@example.com"}, "tags": []any{"a,b"}}, "tags"},
		{shopadmin.CustomerTag, map[string]any{"shop": "acme", "tags": []any{"vip"}}, "customer"},
		{shopadmin.OrderNote, map[string]any{"shop": "acme", "orderId": 450789469, "note": "hi"}, ""},
		{shopadmin.OrderNote, map[string]any{"shop": "acme", "orderId": "450789469", "note": ""}, "note"},
		{shopadmin.OrderNote, map[string]any{"shop": "acme", "note": "hi"}, "orderId"},
	} {
		b, ok := reg.Builtin(tc.function + ":1.0.0@default")
		require.True(t, ok, tc.function)
		err := b.CheckArgs(tc.args)
		if tc.bad == "" {
			require.NoError(t, err, "%s %v", tc.function, tc.args)
		} else {
			require.ErrorContains(t, err, tc.bad, "%s %v", tc.function, tc.args)
		}
	}
}

func TestDerivedCodes(t *testing.T) {
	t.Parallel()
	a := shopadmin.DeriveCode("acme", "inst-1/e-3", "")
	require.Equal(t, a, shopadmin.DeriveCode("acme", "inst-1/e-3", ""), "the same call derives the same code")
	require.Regexp(t, `^[A-HJ-NP-Z2-9]{10}$`, a, "no 0, O, 1 or I")
	require.NotEqual(t, a, shopadmin.DeriveCode("acme", "inst-1/e-4", ""))
	require.NotEqual(t, a, shopadmin.DeriveCode("acme-eu", "inst-1/e-3", ""), "shops derive their own codes")
	seen := map[string]bool{}
	for i := range 2000 {
		c := shopadmin.DeriveCode("acme", "inst-"+string(rune('a'+i%26))+"/"+string(rune(i)), "")
		require.False(t, seen[c], "codes do not repeat")
		seen[c] = true
	}
}

func TestConfigurationProblems(t *testing.T) {
	t.Parallel()
	shops := shopconfig.Fixed(map[string]*shop.Shop{
		"bare":    {ID: "bare", Platform: shop.Shopify, Domain: "bare.myshopify.com"},
		"plain":   {ID: "plain", Platform: shop.Shopify, Admin: &shop.Admin{URL: "http://plain.example", AccessToken: "t"}},
		"notoken": {ID: "notoken", Platform: shop.Shopify, Admin: &shop.Admin{URL: "https://notoken.myshopify.com"}},
		"nokeys":  {ID: "nokeys", Platform: shop.WooCommerce, SiteURL: "https://woo.example", Admin: &shop.Admin{URL: "https://woo.example", ConsumerKey: "ck"}},
		"hooks":   {ID: "hooks", Platform: shop.Generic, Admin: &shop.Admin{URL: "https://erp.example"}},
	})
	c := &shopadmin.Connector{Shops: shops}
	for _, tc := range []struct {
		shop string
		typ  string
		code int
		says string
	}{
		{"", problem.TypeValidation, 400, "shop: missing"},
		{"nowhere", problem.TypeConfiguration, 500, "not configured"},
		{"bare", problem.TypeConfiguration, 500, "no Admin API credentials"},
		{"plain", problem.TypeConfiguration, 500, "not an https URL"},
		{"notoken", problem.TypeConfiguration, 500, "access token"},
		{"nokeys", problem.TypeConfiguration, 500, "consumer key and secret"},
		{"hooks", problem.TypeConfiguration, 500, "no Admin API storeflow speaks"},
	} {
		_, err := call(c, shopadmin.DiscountCreate, "k", map[string]any{"shop": tc.shop, "percent": 10, "expiresIn": "P1D"})
		problemtest.Require(t, err, tc.typ, tc.code, tc.says)
	}
	_, err := call(&shopadmin.Connector{}, shopadmin.OrderNote, "k", map[string]any{"shop": "acme", "orderId": "1", "note": "x"})
	problemtest.Require(t, err, problem.TypeConfiguration, 500, "no shops")
}

func TestDiscountArgumentsTheSchemaCannotCheck(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	c := shopifyConnector(f)
	for _, tc := range []struct {
		args map[string]any
		says string
	}{
		{map[string]any{"shop": "acme", "percent": 10, "expiresAt": "next week"}, "RFC 3339"},
		{map[string]any{"shop": "acme", "percent": 10, "expiresAt": "2026-03-01T00:00:00Z"}, "not after the call"},
		{map[string]any{"shop": "acme", "percent": 10, "expiresIn": "7 days"}, "ISO 8601"},
		{map[string]any{"shop": "acme", "percent": 10}, "expires"},
		{map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D", "customer": map[string]any{"id": "ada"}}, "not a Shopify customer id"},
	} {
		_, err := call(c, shopadmin.DiscountCreate, "k", tc.args)
		problemtest.Require(t, err, problem.TypeValidation, 400, tc.says)
	}
	_, err := c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: shopadmin.DiscountCreate,
		Args: map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D"}})
	problemtest.Require(t, err, problem.TypeValidation, 400, "idempotency key")
	require.Empty(t, f.got(), "nothing reached the shop")
}

func TestRecordingTwinAnswersAsTheShopWould(t *testing.T) {
	t.Parallel()
	rec := recording.New()
	shopadmin.Record(rec)
	reg := rec.Twin(catalog.Default(catalog.Options{}))
	out, err := call(reg, shopadmin.DiscountCreate+":1.0.0@default", "inst-1/e-3", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P7D", "prefix": "BACK-"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"shop": "acme", "code": shopadmin.DeriveCode("acme", "inst-1/e-3", "BACK-"), "title": shopadmin.DeriveCode("acme", "inst-1/e-3", "BACK-"),
		"kind": "percent", "percent": float64(10), "startsAt": "2026-04-01T12:00:00Z", "endsAt": "2026-04-08T12:00:00Z", "created": true, "recorded": true}, out)

	out, err = call(reg, shopadmin.CustomerTag, "k", map[string]any{"shop": "acme", "customer": map[string]any{"id": "7"}, "tags": []any{"vip", "VIP"}})
	require.NoError(t, err)
	require.Equal(t, []any{"vip"}, out["added"])
	out, err = call(reg, shopadmin.OrderNote, "k", map[string]any{"shop": "acme", "orderId": 5, "note": "hi"})
	require.NoError(t, err)
	require.Equal(t, "5", out["orderId"])

	calls := rec.Calls(shopadmin.DiscountCreate, shopadmin.CustomerTag, shopadmin.OrderNote)
	require.Len(t, calls, 3, "every call is recorded")
	require.Equal(t, "inst-1/e-3", calls[0].IdempotencyKey)
}
