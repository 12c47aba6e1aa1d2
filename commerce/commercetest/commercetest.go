// Package commercetest holds what the adapters' tests share: reading
// testdata, deriving variants of published samples, signing bodies, and the
// checks every event an adapter makes must pass.
package commercetest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
)

// Sample reads testdata/name.
func Sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// Edit returns the JSON object body with top-level fields replaced (nil
// writes null): how tests derive a variant from a published sample, the
// change written out where it is made.
func Edit(t testing.TB, body []byte, fields map[string]any) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	for k, v := range fields {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		m[k] = b
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// SignBase64 is the base64 HMAC-SHA256 of body under key, as Shopify and
// WooCommerce sign.
func SignBase64(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// CheckEvent holds an event of platform to the promises of commerce.Event:
// an id, the platform's source for its shop, valid data and a time, subject
// and ordering for a canonical type, the platform's prefix otherwise, and
// an envelope.
func CheckEvent(t testing.TB, platform string, e commerce.Event) {
	t.Helper()
	require.NotEmpty(t, e.ID)
	require.NotEmpty(t, e.Shop)
	require.Equal(t, commerce.Source(platform, e.Shop), e.Source)
	if commerce.IsCanonical(e.Type) {
		require.NoError(t, commerce.Validate(e.Type, e.Data))
		require.False(t, e.Time.IsZero(), "a canonical event has a time")
		require.NotEmpty(t, e.Subject)
		require.NotEmpty(t, e.Ordering.Key)
		require.False(t, e.Ordering.At.IsZero())
	} else {
		require.True(t, strings.HasPrefix(e.Type, platform+"."), e.Type)
		require.True(t, json.Valid(e.Data))
	}
	env, err := e.Envelope()
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(env, &m))
	require.Equal(t, "1.0", m["specversion"])
	require.Equal(t, e.Shop, m["shop"])
}

// Data decodes an event's data.
func Data(t testing.TB, e commerce.Event) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Data, &m))
	return m
}

// Types lists the types of a delivery's events, in order.
func Types(d *commerce.Delivery) []string {
	var out []string
	for _, e := range d.Events {
		out = append(out, e.Type)
	}
	return out
}
