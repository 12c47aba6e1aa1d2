package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnalyticsEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", acmeShop)
	require.Equal(t, http.StatusCreated, status, body)
	// acme's days are Berlin's: 23:30 UTC on the 23rd is the 24th there.
	for i, at := range []string{"2026-11-23T10:00:00Z", "2026-11-23T23:30:00Z", "2026-11-24T12:00:00Z"} {
		status, body, _ := a.do("POST", "/v1/events", "application/cloudevents+json",
			fmt.Sprintf(`{"specversion":"1.0","id":"a%d","source":"test","type":"test.visit","shop":"acme","time":%q}`, i, at))
		require.Equal(t, http.StatusAccepted, status, body)
	}
	status, body, _ = a.do("POST", "/v1/events", "application/cloudevents+json",
		`{"specversion":"1.0","id":"b1","source":"test","type":"test.visit","time":"2026-11-23T23:30:00Z","data":{"shop":"bolt"}}`)
	require.Equal(t, http.StatusAccepted, status, body)

	want := []any{
		map[string]any{"shop": "acme", "type": "test.visit", "day": "2026-11-23", "count": float64(1)},
		map[string]any{"shop": "bolt", "type": "test.visit", "day": "2026-11-23", "count": float64(1)},
		map[string]any{"shop": "acme", "type": "test.visit", "day": "2026-11-24", "count": float64(2)},
	}
	require.Eventually(t, func() bool {
		_, body, _ := a.do("GET", "/v1/analytics/events?type=test.visit", "", "")
		return fmt.Sprint(body["counts"]) == fmt.Sprint(want)
	}, 30*time.Second, 20*time.Millisecond)

	status, body, _ = a.do("GET", "/v1/analytics/events?shop=acme&from=2026-11-24&to=2026-11-24", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, want[2:], body["counts"])
	require.Equal(t, float64(0), body["asOf"].(map[string]any)["lag"])

	for _, q := range []string{"from=yesterday", "to=2026-13-01", "from=2026-11-24&to=2026-11-23"} {
		status, body, _ = a.do("GET", "/v1/analytics/events?"+q, "", "")
		require.Equal(t, http.StatusBadRequest, status, q)
		require.NotEmpty(t, body["detail"])
	}

	status, body, _ = a.do("GET", "/v1/followers", "", "")
	require.Equal(t, http.StatusOK, status)
	fs := body["followers"].([]any)
	require.Len(t, fs, 2)
	require.Equal(t, "analytics", fs[0].(map[string]any)["name"])
	require.Equal(t, "customers", fs[1].(map[string]any)["name"])

	status, _, _ = a.do("POST", "/v1/followers/analytics/rebuild", "", "")
	require.Equal(t, http.StatusAccepted, status)
	require.Eventually(t, func() bool {
		_, body, _ := a.do("GET", "/v1/analytics/events?type=test.visit", "", "")
		return fmt.Sprint(body["counts"]) == fmt.Sprint(want)
	}, 30*time.Second, 20*time.Millisecond, "rebuilt to the same counts")
	status, _, _ = a.do("POST", "/v1/followers/nope/rebuild", "", "")
	require.Equal(t, http.StatusNotFound, status)
}
