package commerce_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
)

func TestPointers(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"a/b": map[string]any{"m~n": []any{"x", "y"}}, "": 1}
	for _, tc := range []struct {
		p    string
		want any
		ok   bool
	}{
		{"/a~1b/m~0n/1", "y", true},
		{"/a~1b/m~0n/2", nil, false},
		{"/a~1b/m~0n/01", nil, false},
		{"/a~1b/m~0n/-1", nil, false},
		{"/", 1, true},
		{"/missing", nil, false},
	} {
		tokens, err := commerce.ParsePointer(tc.p)
		require.NoError(t, err, tc.p)
		got, ok := commerce.Lookup(doc, tokens)
		require.Equal(t, tc.ok, ok, tc.p)
		require.Equal(t, tc.want, got, tc.p)
	}
	whole, err := commerce.ParsePointer("")
	require.NoError(t, err)
	got, ok := commerce.Lookup(doc, whole)
	require.True(t, ok)
	require.Equal(t, doc, got)
	for _, bad := range []string{"a/b", "/a~", "/a~2"} {
		_, err := commerce.ParsePointer(bad)
		require.Error(t, err, bad)
	}
}

func TestDataPath(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"/customer/email", "/lineItems/0/sku", "/lineItems/-/price", "/shippingAddress/countryCode", "/attributes/anything/deep", "/tags/3"} {
		require.NoError(t, commerce.DataPath("commerce.order.paid", ok), ok)
	}
	require.NoError(t, commerce.DataPath("commerce.form.submitted", "/fields/colour"))
	for p, want := range map[string]string{
		"/custmer":          `the data of commerce.order.paid has no property "custmer"`,
		"/customer/mail":    `/customer of commerce.order.paid has no property "mail"`,
		"/lineItems/sku":    `/lineItems of commerce.order.paid is a list`,
		"/lineItems/0/size": `/lineItems/0 of commerce.order.paid has no property "size"`,
		"/orderId/x":        `/orderId of commerce.order.paid is a string: there is no "x" below it`,
	} {
		require.ErrorContains(t, commerce.DataPath("commerce.order.paid", p), want, p)
	}
	require.ErrorIs(t, commerce.DataPath("commerce.nope", "/a"), commerce.ErrUnknownType)
}
