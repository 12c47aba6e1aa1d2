package commerce_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
)

// The list the issue asks for, each with a schema and an example.
var wantTypes = []string{
	"commerce.checkout.started", "commerce.checkout.updated",
	"commerce.consent.changed",
	"commerce.customer.created", "commerce.customer.updated",
	"commerce.form.submitted",
	"commerce.inventory.changed",
	"commerce.order.cancelled", "commerce.order.delivered", "commerce.order.fulfilled", "commerce.order.paid", "commerce.order.placed",
	"commerce.product.updated",
	"commerce.quote.requested",
	"commerce.refund.created",
	"commerce.return.requested",
	"commerce.review.submitted",
}

func TestTypes(t *testing.T) {
	t.Parallel()
	require.Equal(t, wantTypes, commerce.Types())
	require.True(t, commerce.IsCanonical("commerce.order.paid"))
	require.False(t, commerce.IsCanonical("commerce.defs"))
	require.False(t, commerce.IsCanonical("shopify.orders/delete"))
}

func TestEveryExampleIsValid(t *testing.T) {
	t.Parallel()
	for _, typ := range commerce.Types() {
		ex, err := commerce.Example(typ)
		require.NoError(t, err, typ)
		require.NoError(t, commerce.Validate(typ, ex), typ)
		props, err := commerce.Properties(typ)
		require.NoError(t, err)
		require.Equal(t, []string{"shop", "occurredAt"}, props[:2], "%s: every type starts with shop and occurredAt", typ)
		require.Equal(t, "attributes", props[len(props)-1], typ)
		var m map[string]any
		require.NoError(t, json.Unmarshal(ex, &m))
		for k := range m {
			require.True(t, slices.Contains(props, k), "%s example key %s", typ, k)
		}
	}
}

func TestValidateNamesPathAndProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		typ  string
		data string
		want []commerce.Problem
	}{
		{"float money", "commerce.order.paid", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","orderId":"1","currency":"EUR","totalPrice":12.5}`,
			[]commerce.Problem{{Path: "/totalPrice", Message: "got number, want string"}}},
		{"money without currency", "commerce.order.placed", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","orderId":"1","totalPrice":"12.50"}`,
			[]commerce.Problem{{Path: "", Message: "properties 'currency' required, if 'totalPrice' exists"}}},
		{"local time", "commerce.checkout.started", `{"shop":"s","occurredAt":"2026-04-01T02:00:00+02:00","checkoutToken":"t"}`,
			nil},
		{"missing id and bad email", "commerce.order.placed", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","customer":{"email":"Ada@Example.com"}}`,
			nil},
		{"typo in a key", "commerce.customer.created", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","customer":{"id":"1"},"custmer":{}}`,
			[]commerce.Problem{{Path: "", Message: "additional properties 'custmer' not allowed"}}},
		{"customer naming nobody", "commerce.customer.updated", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","customer":{"firstName":"Ada"}}`, nil},
		{"line quantity", "commerce.quote.requested", `{"shop":"s","occurredAt":"2026-04-01T00:00:00Z","quoteId":"q","lineItems":[{"sku":"A","quantity":-2}]}`,
			[]commerce.Problem{{Path: "/lineItems/0/quantity", Message: "minimum: got -2, want 0"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := commerce.Validate(tc.typ, []byte(tc.data))
			var se *commerce.SchemaError
			require.True(t, errors.As(err, &se), "%v", err)
			require.Equal(t, tc.typ, se.Type)
			require.NotEmpty(t, se.Problems)
			if tc.want != nil {
				require.Equal(t, tc.want, se.Problems)
			}
			require.Contains(t, err.Error(), "data of "+tc.typ+" does not match its schema")
		})
	}

	t.Run("paths of several problems", func(t *testing.T) {
		t.Parallel()
		err := commerce.Validate("commerce.order.placed", []byte(`{"shop":"s","occurredAt":"2026-04-01T00:00:00+02:00","customer":{"email":"Ada@Example.com"}}`))
		var se *commerce.SchemaError
		require.True(t, errors.As(err, &se))
		var paths []string
		for _, p := range se.Problems {
			paths = append(paths, p.Path)
		}
		require.Contains(t, paths, "/occurredAt")
		require.Contains(t, paths, "/customer/email")
		require.Contains(t, paths, "", "the missing orderId is the data's own problem")
		require.Contains(t, err.Error(), "/customer/email: ")
	})
}

func TestValidateTakesGoValues(t *testing.T) {
	t.Parallel()
	d := commerce.Data{Shop: "s", OccurredAt: "2026-04-01T00:00:00Z", OrderID: "1", Currency: "EUR", TotalPrice: "9.90"}
	require.NoError(t, commerce.Validate("commerce.order.paid", d))
	require.NoError(t, commerce.Validate("commerce.order.paid", map[string]any{"shop": "s", "occurredAt": "2026-04-01T00:00:00Z", "orderId": "1"}))
	require.Error(t, commerce.Validate("commerce.order.paid", []byte(`{"shop":`)))
}

func TestValidateUnknownType(t *testing.T) {
	t.Parallel()
	err := commerce.Validate("commerce.order.shipped", []byte(`{}`))
	require.ErrorIs(t, err, commerce.ErrUnknownType)
	require.Contains(t, err.Error(), "commerce.order.fulfilled", "the error lists the known types")
	_, err = commerce.Schema("order.paid")
	require.ErrorIs(t, err, commerce.ErrUnknownType)
}
