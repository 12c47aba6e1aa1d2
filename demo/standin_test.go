package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/demo"
	"github.com/storeflow/storeflow/shop"
)

// The stand-in answers the real shop built-ins as Shopify's Admin API
// does, a repeated call included.
func TestStandInAnswersTheShopBuiltins(t *testing.T) {
	t.Parallel()
	s, err := demo.StartStandIn("shpat_test")
	require.NoError(t, err)
	defer s.Close()
	shops := shopconfig.Fixed(map[string]*shop.Shop{"demo": {ID: "demo", Platform: shop.Shopify, Domain: "demo.myshopify.com",
		Admin: &shop.Admin{URL: s.URL(), AccessToken: "shpat_test"}}})
	c := &shopadmin.Connector{Shops: shops}
	call := func(fn, key string, args map[string]any) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := c.Call(ctx, connector.Request{Kind: connector.KindFunction, Function: fn, Args: args, IdempotencyKey: key, At: time.Now()})
		require.NoError(t, err, fn)
		return out.(map[string]any)
	}
	first := call(shopadmin.DiscountCreate, "i1/do/3", map[string]any{"shop": "demo", "percent": 10, "expiresIn": "P2D", "prefix": "COMEBACK-"})
	require.Equal(t, true, first["created"])
	again := call(shopadmin.DiscountCreate, "i1/do/3", map[string]any{"shop": "demo", "percent": 10, "expiresIn": "P2D", "prefix": "COMEBACK-"})
	require.Equal(t, first["code"], again["code"])
	require.Equal(t, false, again["created"], "a repeat finds the code its first attempt made")
	free := call(shopadmin.DiscountCreate, "i1/do/9", map[string]any{"shop": "demo", "freeShipping": true, "expiresIn": "P3D"})
	require.NotEqual(t, first["code"], free["code"])

	tagged := call(shopadmin.CustomerTag, "i2/do/1", map[string]any{"shop": "demo", "customer": map[string]any{"email": "ada@example.com"}, "tags": []any{"vip"}})
	require.Equal(t, []any{"vip"}, toAny(tagged["added"]))
	tagged = call(shopadmin.CustomerTag, "i2/do/1", map[string]any{"shop": "demo", "customer": map[string]any{"email": "ada@example.com"}, "tags": []any{"vip"}})
	require.Empty(t, tagged["added"], "a tag the customer has is not added again")

	noted := call(shopadmin.OrderNote, "i3/do/1", map[string]any{"shop": "demo", "orderId": "5001", "note": "recovered by storeflow"})
	require.Equal(t, true, noted["added"])

	resp, err := http.Post(s.URL()+"/slack", "application/json", bytes.NewReader([]byte(`{"text":"hello"}`)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 1, s.Count("slack"))
	// Three codes made or looked up (the repeat: a TAKEN answer and a
	// lookup), two tag calls and a lookup, a note read and written.
	require.Equal(t, 9, s.Count("shopify-admin"))

	for _, path := range []string{"/systems/erp/customers/42", "/systems/erp/customers/42", "/systems/erp/customers/43"} {
		req, err := http.NewRequest(http.MethodPut, s.URL()+path, bytes.NewReader([]byte(`{"customer":{"id":"42"}}`)))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	erp := s.Calls()[len(s.Calls())-3:]
	require.Equal(t, erp[0].Response, erp[1].Response, "a record put again keeps its id")
	require.NotEqual(t, erp[0].Response, erp[2].Response)
	require.Equal(t, 3, s.Count("erp"))

	resp, err = http.Get(s.URL() + "/?service=slack")
	require.NoError(t, err)
	defer resp.Body.Close()
	var listed struct{ Calls []demo.Call }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&listed))
	require.Len(t, listed.Calls, 1)
	require.Equal(t, map[string]any{"text": "hello"}, listed.Calls[0].Request)

	bad := &shopadmin.Connector{Shops: shopconfig.Fixed(map[string]*shop.Shop{"demo": {ID: "demo", Platform: shop.Shopify, Domain: "demo.myshopify.com",
		Admin: &shop.Admin{URL: s.URL(), AccessToken: "wrong"}}})}
	_, err = bad.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: shopadmin.OrderNote, IdempotencyKey: "k",
		Args: map[string]any{"shop": "demo", "orderId": "1", "note": "x"}})
	require.ErrorContains(t, err, "401")
}

func toAny(v any) []any {
	switch x := v.(type) {
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		return x
	}
	return nil
}
