package eventkey_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/eventkey"
	"github.com/storeflow/storeflow/store"
)

func TestOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  string
		want []store.EventKey
	}{
		{"an order", `{"type":"commerce.order.placed","shop":"acme","data":{"shop":"acme","orderId":"450789469","checkoutToken":"c0ffee","customer":{"id":"7","email":" Ada@Example.COM "}}}`,
			[]store.EventKey{{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}, {Name: "orderId", Shop: "acme", Value: "450789469"},
				{Name: "email", Shop: "acme", Value: "ada@example.com"}, {Name: "customerId", Shop: "acme", Value: "7"}}},
		{"the shop attribute when data names none", `{"shop":"acme","data":{"checkoutToken":"c0ffee"}}`,
			[]store.EventKey{{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}}},
		{"no shop at all", `{"data":{"orderId":42}}`, []store.EventKey{{Name: "orderId", Value: "42"}}},
		{"empty, fractional and other values give none", `{"data":{"shop":"acme","orderId":" ","checkoutToken":1.5,"customer":{"id":true,"email":["a@b.c"]}}}`, nil},
		{"no data", `{"type":"ping"}`, nil},
		{"not an object", `[1,2]`, nil},
	} {
		require.Equal(t, tc.want, eventkey.OfEnvelope([]byte(tc.env)), tc.name)
		var env map[string]any
		if json.Unmarshal([]byte(tc.env), &env) == nil {
			require.Equal(t, tc.want, eventkey.Of(env), "%s: the decoded event has the same keys", tc.name)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	k, ok := eventkey.Key(eventkey.Email, " acme ", "Ada@Example.com")
	require.True(t, ok)
	require.Equal(t, store.EventKey{Name: "email", Shop: "acme", Value: "ada@example.com"}, k, "normalised as the index has it")
	_, ok = eventkey.Key("sku", "acme", "x")
	require.False(t, ok, "no such key")
	_, ok = eventkey.Key(eventkey.Order, "acme", map[string]any{})
	require.False(t, ok)
}

func TestForExpression(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		".data.checkoutToken":           "checkoutToken",
		"${ .data.checkoutToken }":      "checkoutToken",
		" .data.customer.email ":        "email",
		".data.customer.id":             "customerId",
		".data.orderId":                 "orderId",
		".data.shop":                    eventkey.ShopField,
		".data.checkoutToken | ascii":   "",
		".data.cartToken":               "",
		".subject":                      "",
		"${ .data.customer.email":       "",
		".data.customer.email // \"x\"": "",
	} {
		got, ok := eventkey.ForExpression(src)
		require.Equal(t, want != "", ok, src)
		require.Equal(t, want, got, src)
	}
}
