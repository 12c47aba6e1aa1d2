package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const acmeShop = `{"id":"acme","platform":"shopify","domain":"acme.myshopify.com","timeZone":"Europe/Berlin","currency":"EUR",
 "webhooks":{"secret":"whsec-1"},
 "admin":{"url":"https://acme.myshopify.com","apiVersion":"2026-04","accessToken":"shpat_x"},
 "email":{"host":"smtp.example","password":"smtp-pass","from":"shop@acme.example"}}`

func TestShopsAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, hdr := a.do("POST", "/v1/shops", "application/json", acmeShop)
	require.Equal(t, http.StatusCreated, status, body)
	require.Equal(t, "/v1/shops/acme", hdr.Get("Location"))
	require.Equal(t, []any{"admin.accessToken", "email.password", "webhooks.secret"}, body["secretsSet"])

	for _, path := range []string{"/v1/shops", "/v1/shops/acme"} {
		status, raw := a.raw("GET", path)
		require.Equal(t, http.StatusOK, status)
		for _, s := range []string{"whsec-1", "shpat_x", "smtp-pass"} {
			require.NotContains(t, raw, s, "GET %s shows a secret", path)
		}
		require.Contains(t, raw, `"timeZone": "Europe/Berlin"`)
	}

	status, body, _ = a.do("POST", "/v1/shops", "application/json", acmeShop)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body["detail"], "PUT /v1/shops/{id}")

	status, body, _ = a.do("POST", "/v1/shops", "application/json", strings.Replace(acmeShop, `"currency":"EUR"`, `"currency":"EUR","tiemZone":"x"`, 1))
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["detail"], `unknown field "tiemZone"`, "a misspelt setting is refused")

	status, body, _ = a.do("PUT", "/v1/shops/acme", "application/json", `{"platform":"shopify","domain":"acme.myshopify.com","currency":"euro"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, []any{`currency: "EURO" is not an ISO 4217 code (EUR, USD)`}, body["errors"])

	status, body, _ = a.do("PUT", "/v1/shops/acme", "application/json", `{"platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"whsec-2"}}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "USD", body["currency"])
	require.Equal(t, []any{"webhooks.previousSecret", "webhooks.secret"}, body["secretsSet"], "a rotation keeps the old secret for a while; an update without admin drops it")

	status, _, _ = a.do("PUT", "/v1/shops/other", "application/json", `{"id":"acme"}`)
	require.Equal(t, http.StatusBadRequest, status)
	status, _, _ = a.do("DELETE", "/v1/shops/acme", "", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _, _ = a.do("GET", "/v1/shops/acme", "", "")
	require.Equal(t, http.StatusNotFound, status)
}
