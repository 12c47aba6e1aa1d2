package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/user"
)

// cheapKDF keeps logins in tests quick.
var cheapKDF = user.KDF{Time: 1, Memory: 1024, Threads: 1}

func TestUsersAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "admin-token")
	admin := []string{"Authorization", "Bearer admin-token"}
	status, body, _ := a.do("POST", "/v1/shops", "application/json", acmeShop, admin...)
	require.Equal(t, http.StatusCreated, status, body)

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		auth   []string
		status int
		want   string // in the detail or errors
	}{
		{"needs the API token", "POST", "/v1/users", `{"id":"alice"}`, nil, http.StatusUnauthorized, "API token"},
		{"adds a user", "POST", "/v1/users", `{"id":"alice","name":"Alice","password":"long enough password","roles":{"acme":["sales-manager","operator"]}}`, admin, http.StatusCreated, ""},
		{"refuses the same id", "POST", "/v1/users", `{"id":"alice"}`, admin, http.StatusConflict, "PUT /v1/users/{id}"},
		{"lists every problem", "POST", "/v1/users", `{"id":"Bob Smith","password":"short","roles":{"nowhere":["admin"]}}`, admin, http.StatusBadRequest, "no shop \"nowhere\""},
		{"refuses unknown fields", "POST", "/v1/users", `{"id":"bob","role":"admin"}`, admin, http.StatusBadRequest, `unknown field "role"`},
		{"a wrong password", "POST", "/v1/login", `{"user":"alice","password":"wrong password"}`, nil, http.StatusUnauthorized, "unknown user or wrong password"},
		{"an unknown user", "POST", "/v1/login", `{"user":"mallory","password":"long enough password"}`, nil, http.StatusUnauthorized, "unknown user or wrong password"},
		{"changes roles", "PUT", "/v1/users/alice", `{"name":"Alice A.","roles":{"acme":["admin"]}}`, admin, http.StatusOK, ""},
		{"an id that is not the path's", "PUT", "/v1/users/alice", `{"id":"bob"}`, admin, http.StatusBadRequest, "cannot change"},
		{"an unknown user to change", "PUT", "/v1/users/nobody", `{}`, admin, http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		status, body, _ := a.do(tc.method, tc.path, "application/json", tc.body, tc.auth...)
		require.Equal(t, tc.status, status, "%s: %v", tc.name, body)
		if tc.want != "" {
			require.Contains(t, body["detail"].(string)+" "+toText(body["errors"]), tc.want, tc.name)
		}
		if status < 300 {
			require.NotContains(t, body, "password", "%s: a password is never shown", tc.name)
			require.Equal(t, true, body["hasPassword"], tc.name)
		}
	}

	status, body, _ = a.do("GET", "/v1/users?shop=acme", "", "", admin...)
	require.Equal(t, http.StatusOK, status)
	users := body["users"].([]any)
	require.Len(t, users, 1)
	require.Equal(t, map[string]any{"acme": []any{"admin"}}, users[0].(map[string]any)["roles"])

	// A login needs no API token; its token opens no admin endpoint.
	status, body, _ = a.do("POST", "/v1/login", "application/json", `{"user":"alice","password":"long enough password"}`)
	require.Equal(t, http.StatusOK, status, body)
	token := body["token"].(string)
	require.True(t, user.IsToken(token))
	require.Equal(t, "alice", body["user"].(map[string]any)["id"])
	status, _, _ = a.do("GET", "/v1/users", "", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusUnauthorized, status, "a user's token is no API token")

	status, _, _ = a.do("POST", "/v1/logout", "", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = a.do("DELETE", "/v1/users/alice", "", "", admin...)
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = a.do("GET", "/v1/users/alice", "", "", admin...)
	require.Equal(t, http.StatusNotFound, status)
}

func toText(v any) string {
	list, _ := v.([]any)
	out := ""
	for _, x := range list {
		out += x.(string) + "; "
	}
	return out
}
