package commerce_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ada@example.com", commerce.NormalizeEmail("  Ada@Example.COM\n"))
	require.Equal(t, "", commerce.NormalizeEmail("   "))
}

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, country, want string }{
		{"(415) 555-0132", "US", "+14155550132"},
		{"+1 415 555 0132", "", "+14155550132"},
		{"030 901820", "DE", "+4930901820"},
		{"0049 30 901820", "DE", "+4930901820"},
		{"07400 123456", "gb", "+447400123456"},
		{"555-555-SHIP", "US", "555-555-SHIP"}, // not a number: kept as sent
		{"12345", "US", "12345"},               // not a valid one either
		{"030 901820", "", "030 901820"},       // national, and no country to read it in
		{"  ", "US", ""},
	} {
		require.Equal(t, tc.want, commerce.NormalizePhone(tc.raw, tc.country), "%q in %q", tc.raw, tc.country)
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	at, err := commerce.ParseTime("2021-12-31T19:00:00-05:00")
	require.NoError(t, err)
	require.Equal(t, "2022-01-01T00:00:00Z", commerce.Timestamp(at))
	at, err = commerce.ParseTime("2017-03-22T19:28:08")
	require.NoError(t, err)
	require.Equal(t, "2017-03-22T19:28:08Z", commerce.Timestamp(at), "a time without a zone is UTC")
	require.Equal(t, "2025-07-10T16:15:47.5Z", commerce.Timestamp(time.Date(2025, 7, 10, 18, 15, 47, 5e8, time.FixedZone("", 7200))))
	_, err = commerce.ParseTime("31/12/2021")
	require.Error(t, err)
	require.Equal(t, "", commerce.Timestamp(time.Time{}))
}

func TestDecimals(t *testing.T) {
	t.Parallel()
	sum, err := commerce.AddDecimals("75.00", "10.00")
	require.NoError(t, err)
	require.Equal(t, "85.00", sum)
	sum, err = commerce.AddDecimals("0.1", "0.2", "3")
	require.NoError(t, err)
	require.Equal(t, "3.3", sum, "exact, not 3.3000000000000003")
	sum, err = commerce.AddDecimals()
	require.NoError(t, err)
	require.Equal(t, "0", sum)
	_, err = commerce.AddDecimals("1,50")
	require.Error(t, err)
	abs, err := commerce.AbsDecimal("-10.00")
	require.NoError(t, err)
	require.Equal(t, "10.00", abs)
	for _, bad := range []string{"", "1e3", "01.5", ".5", "12.", "NaN"} {
		_, err := commerce.Decimal(bad)
		require.Error(t, err, bad)
	}
}

func TestWireValues(t *testing.T) {
	t.Parallel()
	var v struct {
		A, B, C commerce.WireID
		D, E, F commerce.WireAmount
	}
	require.NoError(t, json.Unmarshal([]byte(`{"A":820982911946154508,"B":"gid://shopify/Order/1","C":null,"D":3,"E":"29.35","F":null}`), &v))
	require.Equal(t, commerce.WireID("820982911946154508"), v.A, "exact beyond 2^53")
	require.Equal(t, commerce.WireID("gid://shopify/Order/1"), v.B)
	require.Empty(t, v.C)
	require.Equal(t, commerce.WireAmount("3"), v.D)
	require.Equal(t, commerce.WireAmount("29.35"), v.E)
	require.Empty(t, v.F)
	require.Error(t, json.Unmarshal([]byte(`{"A":{}}`), &v))
	require.Error(t, json.Unmarshal([]byte(`{"D":"12,50"}`), &v))
	require.Error(t, json.Unmarshal([]byte(`{"D":true}`), &v))
}

func TestCheckHMAC(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":1}`)
	mac := hmac.New(sha256.New, []byte("old"))
	mac.Write(body)
	sig := mac.Sum(nil)
	require.NoError(t, commerce.CheckHMAC(sha256.New, sig, body, [][]byte{[]byte("new"), []byte("old")}))
	require.ErrorIs(t, commerce.CheckHMAC(sha256.New, sig, body, [][]byte{[]byte("new")}), commerce.ErrSignature)
	require.ErrorIs(t, commerce.CheckHMAC(sha256.New, sig, body, nil), commerce.ErrNoSecret)
	require.ErrorIs(t, commerce.CheckHMAC(sha256.New, nil, body, [][]byte{[]byte("old")}), commerce.ErrSignature)
}

func TestHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("shopify-topic", " orders/create ")
	v, name := commerce.Header(h, "X-Shopify-Topic", "Shopify-Topic")
	require.Equal(t, "orders/create", v)
	require.Equal(t, "Shopify-Topic", name)
	v, name = commerce.Header(h, "X-Missing")
	require.Empty(t, v)
	require.Empty(t, name)
}
