package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func TestMessagesListsTheMessageLog(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "tok")
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for i, m := range []store.Message{
		{Shop: "acme", Channel: "email", Address: "ada@example.com", Instance: "i1", Category: "marketing", Status: store.MessageSent, Subject: "Sale"},
		{Shop: "acme", Channel: "email", Address: "ada@example.com", Instance: "i2", Category: "marketing", Status: store.MessageSuppressed, Reason: "smart-sending"},
		{Shop: "acme", Channel: "sms", Address: "+4915198765432", Instance: "i3", Category: "marketing", Status: store.MessageDeferred, Reason: "quiet-hours"},
		{Shop: "other", Channel: "email", Address: "ada@example.com", Instance: "i4", Category: "transactional", Status: store.MessageSent},
	} {
		m.ID, m.Key, m.At = fmt.Sprintf("m%d", i), fmt.Sprintf("k%d", i), at.Add(time.Duration(i)*time.Minute)
		require.NoError(t, a.st.PutMessage(context.Background(), m))
	}
	auth := []string{"Authorization", "Bearer tok"}
	status, _, _ := a.do(http.MethodGet, "/v1/messages", "", "")
	require.Equal(t, http.StatusUnauthorized, status)

	ids := func(out map[string]any) []string {
		var got []string
		for _, m := range out["messages"].([]any) {
			got = append(got, m.(map[string]any)["id"].(string))
		}
		return got
	}
	status, out, _ := a.do(http.MethodGet, "/v1/messages?shop=acme&address=Ada@Example.com", "", "", auth...)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, []string{"m1", "m0"}, ids(out), "the customer's messages, newest first")
	first := out["messages"].([]any)[0].(map[string]any)
	require.Equal(t, "suppressed", first["status"])
	require.Equal(t, "smart-sending", first["reason"])
	require.Equal(t, "2026-12-04T10:01:00Z", first["at"])

	// A phone number's + read as a space, as a query string without %2B does.
	_, out, _ = a.do(http.MethodGet, "/v1/messages?address=+4915198765432", "", "", auth...)
	require.Equal(t, []string{"m2"}, ids(out))
	_, out, _ = a.do(http.MethodGet, "/v1/messages?instance=i4", "", "", auth...)
	require.Equal(t, []string{"m3"}, ids(out))

	_, out, _ = a.do(http.MethodGet, "/v1/messages?limit=2", "", "", auth...)
	require.Equal(t, []string{"m3", "m2"}, ids(out))
	require.Equal(t, "m2", out["next"])
	_, out, _ = a.do(http.MethodGet, "/v1/messages?limit=2&after=m2", "", "", auth...)
	require.Equal(t, []string{"m1", "m0"}, ids(out))
	require.NotContains(t, out, "next")

	status, out, _ = a.do(http.MethodGet, "/v1/messages?limit=0", "", "", auth...)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, out["detail"], "limit")
}
