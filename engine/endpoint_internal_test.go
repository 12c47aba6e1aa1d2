package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInterpolate(t *testing.T) {
	t.Parallel()
	data := map[string]any{"id": 42, "name": "a b/c", "ok": true, "obj": map[string]any{}}
	cases := []struct {
		tmpl, want, err string
	}{
		{"https://x/orders/{id}", "https://x/orders/42", ""},
		{"https://x/p/{name}?v={ok}", "https://x/p/a%20b%2Fc?v=true", ""},
		{"https://x/plain", "https://x/plain", ""},
		{"https://x/{missing}", "", "no top-level field \"missing\""},
		{"https://x/{obj}", "", "only strings, numbers"},
		{"https://x/{id", "", "unclosed"},
	}
	for _, tc := range cases {
		got, err := interpolate(tc.tmpl, data)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestCallsOfOutboxRowsBeforeTheConnectorSeamStillDecode(t *testing.T) {
	t.Parallel()
	var e Effect
	require.NoError(t, json.Unmarshal([]byte(`{"id":"i/3","kind":"call","task":"/do/0/remind","call":{"kind":"http","http":{"method":"POST","uri":"https://shop.example/mail","body":{"to":"ada"}}}}`), &e))
	require.Equal(t, "http", e.Call.Kind)
	require.Equal(t, map[string]any{"method": "POST", "uri": "https://shop.example/mail", "body": map[string]any{"to": "ada"}}, e.Call.Args)
	req := e.Request("i", time.Time{})
	require.Equal(t, "i/3", req.IdempotencyKey)
	require.Equal(t, "/do/0/remind", req.Task)
}
