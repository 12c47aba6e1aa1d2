package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplatesListAndInstall(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do(http.MethodGet, "/v1/templates", "", "")
	require.Equal(t, http.StatusOK, status)
	list := body["templates"].([]any)
	byName := map[string]map[string]any{}
	for _, v := range list {
		m := v.(map[string]any)
		byName[m["name"].(string)] = m
	}
	ac := byName["abandoned-checkout"]
	require.NotNil(t, ac)
	require.Equal(t, "", ac["installed"])
	require.NotEmpty(t, ac["parameters"])
	require.NotContains(t, ac, "source", "the list leaves sources out")

	status, body, _ = a.do(http.MethodPost, "/v1/templates/abandoned-checkout/install", "application/json", `{"set": {"firstDelay": "PT2H", "discountPercent": 15}}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Equal(t, "templates", body["namespace"])
	require.Equal(t, "1.0.0", body["version"])
	status, body, _ = a.do(http.MethodGet, "/v1/workflows/templates/abandoned-checkout", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body["source"], `firstDelay: "PT2H"`)
	require.Contains(t, body["source"], "discountPercent: 15")

	// The same settings again change nothing; others need a new version.
	status, _, _ = a.do(http.MethodPost, "/v1/templates/abandoned-checkout/install", "application/json", `{"set": {"firstDelay": "PT2H", "discountPercent": 15}}`)
	require.Equal(t, http.StatusOK, status)
	status, body, _ = a.do(http.MethodPost, "/v1/templates/abandoned-checkout/install", "application/json", `{"set": {"firstDelay": "PT3H"}}`)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body["detail"], "give a new version")
	status, body, _ = a.do(http.MethodPost, "/v1/templates/abandoned-checkout/install", "application/json", `{"set": {"firstDelay": "PT3H"}, "version": "1.0.1"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	status, body, _ = a.do(http.MethodGet, "/v1/templates/abandoned-checkout", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "1.0.1", body["installed"])
	require.Contains(t, body["source"], "cart-reminder-1")
	require.Contains(t, body["test"], "scenarios:")

	for path, want := range map[string]struct {
		status int
		detail string
	}{
		`/v1/templates/abandoned-chekout/install {}`:                           {http.StatusNotFound, "abandoned-checkout"},
		`/v1/templates/abandoned-checkout/install {"set": {"firstDely": "x"}}`: {http.StatusBadRequest, `did you mean "firstDelay"`},
		`/v1/templates/win-back/install {}`:                                    {http.StatusBadRequest, "needs --set shop="},
		`/v1/templates/win-back/install {"set": {"shop": ["a"]}}`:              {http.StatusBadRequest, "string, number or boolean"},
		`/v1/templates/win-back/install {"sett": {}}`:                          {http.StatusBadRequest, "unknown field"},
	} {
		p, b, _ := strings.Cut(path, " ")
		status, body, _ := a.do(http.MethodPost, p, "application/json", b)
		require.Equal(t, want.status, status, "%s: %v", path, body)
		require.Contains(t, body["detail"], want.detail, path)
	}
}
