package apicall_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/problem"
)

func TestFailureSaysWhetherARetryCanHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   int
		typ    string
	}{
		{429, 503, problem.TypeCommunication},
		{500, 503, problem.TypeCommunication},
		{503, 503, problem.TypeCommunication},
		{401, 401, problem.TypeAuthentication},
		{403, 403, problem.TypeAuthorization},
		{400, 400, problem.TypeCommunication},
		{404, 404, problem.TypeCommunication},
		{302, 302, problem.TypeCommunication},
	} {
		p := apicall.Failure("Acme API", tc.status, "  said so  ")
		require.Equal(t, tc.want, p.Status, tc.status)
		require.Equal(t, tc.typ, p.Type, tc.status)
		require.Contains(t, p.Detail, "Acme API answered ")
		require.Contains(t, p.Detail, ": said so")
	}
}

func TestDoReadsAnyAnswerAndBoundsIt(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write([]byte(strings.Repeat("x", apicall.MaxBody+1)))
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/moved", nil)
	resp, err := apicall.Do(context.Background(), apicall.Client, req, "Acme API")
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.Status, "redirects are not followed")

	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/big", nil)
	_, err = apicall.Do(context.Background(), apicall.Client, req, "Acme API")
	require.Equal(t, 502, problem.As(err).Status)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = apicall.Do(ctx, apicall.Client, req, "Acme API")
	require.ErrorIs(t, err, context.Canceled, "a cancelled call is not the service's failure")
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{
		"https://api.example.com":    true,
		"http://127.0.0.1:8080/x":    true,
		"http://localhost/x":         true,
		"http://[::1]:99/":           true,
		"http://api.example.com":     false,
		"ftp://api.example.com":      false,
		"/relative":                  false,
		"https://api.example.com/#x": false,
		"https://%zz":                false,
	} {
		_, err := apicall.CheckURL(raw)
		require.Equal(t, ok, err == nil, "%s: %v", raw, err)
	}
}
