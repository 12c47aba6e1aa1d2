package httpcall_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/problem"
)

func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/text":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("plain words"))
			return
		case r.URL.Path == "/redirect":
			http.Redirect(w, r, "/echo", http.StatusFound)
			return
		case r.URL.Path == "/teapot":
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("short and stout"))
			return
		case r.URL.Path == "/slow":
			time.Sleep(300 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Answer", "42")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.Query(), "body": string(body),
			"contentType": r.Header.Get("Content-Type"), "auth": r.Header.Get("Authorization"),
			"key": r.Header.Get("Idempotency-Key"), "shop": r.Header.Get("X-Shop"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDo(t *testing.T) {
	t.Parallel()
	srv := echoServer(t)
	c := &httpcall.Client{}
	ctx := context.Background()

	out, err := c.Do(ctx, httpcall.Request{Method: "post", URI: srv.URL + "/echo", Query: map[string]string{"a": "1"},
		Headers: map[string]string{"X-Shop": "demo"}, Body: map[string]any{"sku": "TEE"}, IdempotencyKey: "inst/1"})
	require.NoError(t, err)
	m := out.(map[string]any)
	require.Equal(t, "POST", m["method"])
	require.Equal(t, map[string]any{"a": []any{"1"}}, m["query"])
	require.JSONEq(t, `{"sku":"TEE"}`, m["body"].(string))
	require.Equal(t, "application/json", m["contentType"])
	require.Equal(t, "inst/1", m["key"])
	require.Equal(t, "demo", m["shop"])

	out, err = c.Do(ctx, httpcall.Request{Method: "get", URI: srv.URL + "/text"})
	require.NoError(t, err)
	require.Equal(t, "plain words", out)

	out, err = c.Do(ctx, httpcall.Request{Method: "get", URI: srv.URL + "/text", Output: "raw"})
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("plain words")), out)

	out, err = c.Do(ctx, httpcall.Request{Method: "get", URI: srv.URL + "/echo", Output: "response", Auth: &httpcall.Auth{Bearer: &httpcall.BearerAuth{Token: "s3cret"}}})
	require.NoError(t, err)
	resp := out.(map[string]any)
	require.Equal(t, 200, resp["statusCode"])
	require.Equal(t, "42", resp["headers"].(map[string]any)["X-Answer"])
	require.Equal(t, "Bearer s3cret", resp["content"].(map[string]any)["auth"])
	reqInfo := resp["request"].(map[string]any)
	require.Equal(t, "GET", reqInfo["method"])
	require.NotContains(t, reqInfo["headers"], "Authorization", "credentials never appear in output")

	out, err = c.Do(ctx, httpcall.Request{Method: "get", URI: srv.URL + "/echo", Auth: &httpcall.Auth{Basic: &httpcall.BasicAuth{Username: "ada", Password: "pw"}}})
	require.NoError(t, err)
	require.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("ada:pw")), out.(map[string]any)["auth"])
}

func TestDoFailures(t *testing.T) {
	t.Parallel()
	srv := echoServer(t)
	ctx := context.Background()
	c := &httpcall.Client{}
	cases := []struct {
		name   string
		req    httpcall.Request
		client *httpcall.Client
		typ    string
		status int
	}{
		{"non-2xx", httpcall.Request{Method: "get", URI: srv.URL + "/teapot"}, c, problem.TypeCommunication, 418},
		{"redirect not followed", httpcall.Request{Method: "get", URI: srv.URL + "/redirect"}, c, problem.TypeCommunication, 302},
		{"connection refused", httpcall.Request{Method: "get", URI: "http://127.0.0.1:1/x"}, c, problem.TypeCommunication, 500},
		{"timeout", httpcall.Request{Method: "get", URI: srv.URL + "/slow"}, &httpcall.Client{HTTP: &http.Client{Timeout: 50 * time.Millisecond}}, problem.TypeTimeout, 408},
		{"relative uri", httpcall.Request{Method: "get", URI: "/orders"}, c, problem.TypeConfiguration, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.client.Do(ctx, tc.req)
			var p *problem.Problem
			require.True(t, errors.As(err, &p), "%v", err)
			require.Equal(t, tc.typ, p.Type)
			require.Equal(t, tc.status, p.Status)
			require.NotEmpty(t, p.Detail)
		})
	}
	out, err := c.Do(ctx, httpcall.Request{Method: "get", URI: srv.URL + "/redirect", Redirect: true})
	require.NoError(t, err)
	require.Equal(t, "/echo", out.(map[string]any)["path"])
}

func TestOAuth2ClientCredentialsIsCached(t *testing.T) {
	t.Parallel()
	var tokenCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/oauth2/token":
			tokenCalls.Add(1)
			require.NoError(t, r.ParseForm())
			if r.Form.Get("client_id") != "app" || r.Form.Get("client_secret") != "pw" || r.Form.Get("grant_type") != "client_credentials" {
				http.Error(w, "bad client", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"tok-` + r.Form.Get("scope") + `","expires_in":3600}`))
		case "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"token_endpoint":"http://` + r.Host + `/auth/oauth2/token"}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"auth":"` + r.Header.Get("Authorization") + `"}`))
		}
	}))
	t.Cleanup(srv.Close)
	c := &httpcall.Client{}
	auth := &httpcall.Auth{OAuth2: &httpcall.OAuth2{Authority: srv.URL + "/auth", Grant: "client_credentials", ClientID: "app", ClientSecret: "pw", Scopes: []string{"orders"}}}
	for range 2 {
		out, err := c.Do(context.Background(), httpcall.Request{Method: "get", URI: srv.URL + "/api", Auth: auth})
		require.NoError(t, err)
		require.Equal(t, "Bearer tok-orders", out.(map[string]any)["auth"])
	}
	require.Equal(t, int32(1), tokenCalls.Load())

	oidc := &httpcall.Auth{OIDC: true, OAuth2: &httpcall.OAuth2{Authority: srv.URL, Grant: "client_credentials", ClientID: "app", ClientSecret: "pw"}}
	out, err := c.Do(context.Background(), httpcall.Request{Method: "get", URI: srv.URL + "/api", Auth: oidc})
	require.NoError(t, err)
	require.Equal(t, "Bearer tok-", out.(map[string]any)["auth"])

	bad := &httpcall.Auth{OAuth2: &httpcall.OAuth2{Authority: srv.URL + "/auth", Grant: "client_credentials", ClientID: "app", ClientSecret: "wrong"}}
	_, err = c.Do(context.Background(), httpcall.Request{Method: "get", URI: srv.URL + "/api", Auth: bad})
	var p *problem.Problem
	require.True(t, errors.As(err, &p))
	require.Equal(t, problem.TypeAuthentication, p.Type)
	require.NotContains(t, p.Detail, "wrong", "secrets never appear in errors")
}

func TestDigestAuth(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if !strings.HasPrefix(h, "Digest ") {
			w.Header().Set("WWW-Authenticate", `Digest realm="shop", qop="auth", nonce="abc123", algorithm=SHA-256`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for _, want := range []string{`username="ada"`, `realm="shop"`, `nonce="abc123"`, `qop=auth`, `algorithm=SHA-256`, `response="`} {
			if !strings.Contains(h, want) {
				http.Error(w, "missing "+want, http.StatusUnauthorized)
				return
			}
		}
		_, _ = w.Write([]byte("welcome"))
	}))
	t.Cleanup(srv.Close)
	out, err := (&httpcall.Client{}).Do(context.Background(), httpcall.Request{Method: "get", URI: srv.URL + "/x",
		Auth: &httpcall.Auth{Digest: &httpcall.BasicAuth{Username: "ada", Password: "pw"}}})
	require.NoError(t, err)
	require.Equal(t, "welcome", out)
}
