package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/server"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/user"
	"github.com/storeflow/storeflow/webhook"
)

type api struct {
	t   *testing.T
	srv *httptest.Server
	st  store.Store
	rt  *runtime.Runtime
}

// unsubscribeKey signs the test server's unsubscribe links.
var unsubscribeKey = []byte("0123456789abcdef0123456789abcdef")

func newAPI(t *testing.T, tokens ...string) *api {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	rt := runtime.New(runtime.Options{Store: st, Shards: 4})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	key, _, err := secret.GenerateKey()
	require.NoError(t, err)
	shops := shop.NewDirectory(st, key)
	hooks := &webhook.Receiver{Shops: shops, Ingest: rt.Ingest, Deliveries: st}
	links, err := email.NewUnsubscribeLinks("http://127.0.0.1/unsubscribe", unsubscribeKey)
	require.NoError(t, err)
	fr, err := follower.New(follower.Options{Store: st, Poll: 20 * time.Millisecond}, &analytics.Projection{Zone: func(ctx context.Context, id string) (*time.Location, error) {
		sh, err := shops.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return sh.Location(), nil
	}}, &customer.Projection{Shops: shops.Get})
	require.NoError(t, err)
	customers := &customer.Directory{Store: st, Shops: shops.Get}
	followed := make(chan error, 1)
	go func() { followed <- fr.Run(ctx) }()
	srv := httptest.NewServer(server.New(server.Config{Runtime: rt, Store: st, Tokens: tokens, MaxBody: 4096, Shops: shops, Webhooks: hooks, Unsubscribe: links, Followers: fr, Customers: customers,
		CustomerMessages: func(_ context.Context, p *customer.Profile, limit int) (any, error) {
			return []map[string]any{{"to": p.Email, "status": "sent"}}, nil
		},
		Users: &user.Directory{Store: st, KDF: cheapKDF, ShopExists: func(ctx context.Context, id string) error {
			_, err := shops.Get(ctx, id)
			return err
		}}}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		<-followed
		_ = st.Close()
	})
	return &api{t: t, srv: srv, st: st, rt: rt}
}

func (a *api) do(method, path, contentType, body string, headers ...string) (int, map[string]any, http.Header) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	require.NoError(a.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, resp.Header
}

// raw returns a response's status and body as text.
func (a *api) raw(method, path string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	require.NoError(a.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

const welcome = `document:
  dsl: '1.0.3'
  namespace: shop
  name: welcome
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: customer.created}
do:
  - wait:
      wait: PT1H
  - greet:
      set:
        to: ${ .email }
`

func TestEventsIngress(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ce := "application/cloudevents+json"
	status, body, _ := a.do("POST", "/v1/events", ce, `{"specversion":"1.0","id":"1","source":"shop","type":"customer.created","data":{"email":"a@b.c"}}`)
	require.Equal(t, http.StatusAccepted, status, body)
	require.Equal(t, float64(1), body["accepted"])

	status, body, _ = a.do("POST", "/v1/events", "application/cloudevents-batch+json",
		`[{"specversion":"1.0","id":"1","source":"shop","type":"customer.created"},{"specversion":"1.0","id":"2","source":"shop","type":"customer.created"}]`)
	require.Equal(t, http.StatusAccepted, status, body)
	require.Equal(t, float64(1), body["accepted"])
	require.Equal(t, float64(1), body["duplicates"])

	status, body, _ = a.do("POST", "/v1/events", "application/json", `{"sku":"TEE"}`,
		"Ce-Specversion", "1.0", "Ce-Id", "3", "Ce-Source", "shop", "Ce-Type", "inventory.changed")
	require.Equal(t, http.StatusAccepted, status, body)

	cases := []struct {
		name, ct, body string
		status         int
		detail         string
	}{
		{"missing attributes", ce, `{"specversion":"1.0","id":"x"}`, 400, "source, type"},
		{"wrong version", ce, `{"specversion":"0.3","id":"x","source":"s","type":"t"}`, 400, "specversion"},
		{"not json", ce, `{nope`, 400, "not a JSON CloudEvent"},
		{"empty batch", "application/cloudevents-batch+json", `[]`, 400, "empty"},
		{"bad time", ce, `{"specversion":"1.0","id":"x","source":"s","type":"t","time":"yesterday"}`, 400, "RFC 3339"},
		{"too large", ce, `{"specversion":"1.0","id":"x","source":"s","type":"t","data":"` + strings.Repeat("x", 5000) + `"}`, 413, "4096 bytes"},
		{"no event at all", "text/plain", "hello", 400, "no CloudEvent found"},
	}
	for _, tc := range cases {
		status, body, hdr := a.do("POST", "/v1/events", tc.ct, tc.body)
		require.Equal(t, tc.status, status, tc.name)
		require.Equal(t, "application/problem+json", hdr.Get("Content-Type"), tc.name)
		require.Contains(t, body["detail"], tc.detail, tc.name)
	}
}

// An event posted in structured mode is logged as the client sent it
// (whitespace aside): attribute order, numbers and escapes as written.
func TestEventsKeepTheirBytes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	posted := `{
  "type": "order.paid", "specversion": "1.0", "source": "shop", "id": "kept-1",
  "data": {"total": 1.50, "qty": 2e0, "note": "<a & b> \u00e9t\u00e9", "lines": [ ]}
}`
	status, body, _ := a.do("POST", "/v1/events", "application/cloudevents+json", posted)
	require.Equal(t, http.StatusAccepted, status, body)
	status, body, _ = a.do("POST", "/v1/events", "application/cloudevents-batch+json", `[ `+posted[:len(posted)-2]+`, "x": 1}, {"specversion":"1.0","id":"kept-2","source":"shop","type":"t"} ]`)
	require.Equal(t, http.StatusAccepted, status, body)
	evs, err := a.st.ReadEvents(context.Background(), 0, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 2, "the first of the batch repeats kept-1")
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, []byte(posted)))
	require.Equal(t, compact.String(), string(evs[0].Envelope))
	require.Equal(t, `{"specversion":"1.0","id":"kept-2","source":"shop","type":"t"}`, string(evs[1].Envelope))
}

func TestWorkflowsAndInstances(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/workflows", "application/yaml", welcome)
	require.Equal(t, http.StatusCreated, status, body)
	status, _, _ = a.do("POST", "/v1/workflows", "application/yaml", welcome)
	require.Equal(t, http.StatusOK, status, "the same definition is no new version")
	status, body, _ = a.do("POST", "/v1/workflows", "application/yaml", strings.Replace(welcome, "PT1H", "PT2H", 1))
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body["detail"], "change document.version")

	status, body, _ = a.do("POST", "/v1/workflows", "application/yaml", strings.Replace(welcome, "wait: PT1H", "wiat: PT1H", 1))
	require.Equal(t, http.StatusBadRequest, status)
	errs := body["errors"].([]any)
	require.Contains(t, errs[0].(map[string]any)["message"], `did you mean "wait"`)
	require.Equal(t, float64(13), errs[0].(map[string]any)["line"])

	status, body, _ = a.do("GET", "/v1/workflows", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["workflows"], 1)
	status, body, _ = a.do("GET", "/v1/workflows/shop/welcome", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body["source"], "PT1H")

	status, body, hdr := a.do("POST", "/v1/instances", "application/json", `{"workflow":{"namespace":"shop","name":"welcome"},"input":[{"data":{"email":"ada@example.com"}}]}`)
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)
	require.Equal(t, "/v1/instances/"+id, hdr.Get("Location"))

	status, body, _ = a.do("GET", "/v1/instances/"+id, "", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "waiting", body["status"])
	require.Equal(t, []any{map[string]any{"data": map[string]any{"email": "ada@example.com"}}}, body["input"])
	require.NotEmpty(t, body["history"])

	status, body, _ = a.do("GET", "/v1/instances?namespace=shop&name=welcome&status=waiting&limit=10", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["instances"], 1)
	status, _, _ = a.do("GET", "/v1/instances?limit=0", "", "")
	require.Equal(t, http.StatusBadRequest, status)
	status, _, _ = a.do("GET", "/v1/instances?since=yesterday", "", "")
	require.Equal(t, http.StatusBadRequest, status)

	status, body, _ = a.do("POST", "/v1/instances/"+id+"/suspend", "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "suspended", body["status"])
	status, body, _ = a.do("POST", "/v1/instances/"+id+"/resume", "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "waiting", body["status"])
	status, body, _ = a.do("POST", "/v1/instances/"+id+"/cancel?reason=test", "", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "cancelled", body["status"])
	status, _, _ = a.do("POST", "/v1/instances/"+id+"/cancel", "", "")
	require.Equal(t, http.StatusConflict, status)
	status, _, _ = a.do("GET", "/v1/instances/nope", "", "")
	require.Equal(t, http.StatusNotFound, status)

	status, _, _ = a.do("POST", "/v1/workflows/shop/welcome/disable", "", "")
	require.Equal(t, http.StatusOK, status)
	status, body, _ = a.do("POST", "/v1/instances", "application/json", `{"workflow":{"namespace":"shop","name":"welcome"}}`)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, body["detail"], "disabled")

	// The event trigger starts the workflow once enabled.
	status, _, _ = a.do("POST", "/v1/workflows/shop/welcome/enable", "", "")
	require.Equal(t, http.StatusOK, status)
	status, _, _ = a.do("POST", "/v1/events", "application/cloudevents+json", `{"specversion":"1.0","id":"c1","source":"shop","type":"customer.created","data":{"email":"b@c.d"}}`)
	require.Equal(t, http.StatusAccepted, status)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body, _ = a.do("GET", "/v1/instances?status=waiting", "", "")
		if len(body["instances"].([]any)) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.Len(t, body["instances"], 1)
}

func TestAuthAndHealth(t *testing.T) {
	t.Parallel()
	a := newAPI(t, "s3cret")
	status, _, _ := a.do("GET", "/healthz", "", "")
	require.Equal(t, http.StatusOK, status)
	status, _, _ = a.do("GET", "/readyz", "", "")
	require.Equal(t, http.StatusOK, status)
	status, body, hdr := a.do("GET", "/v1/workflows", "", "")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, `Bearer realm="storeflow"`, hdr.Get("WWW-Authenticate"))
	require.NotContains(t, body["detail"], "s3cret")
	status, _, _ = a.do("GET", "/v1/workflows", "", "", "Authorization", "Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = a.do("GET", "/v1/workflows", "", "", "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, status)
	status, _, _ = a.do("GET", "/v1/nothing", "", "", "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusNotFound, status)

	resp, err := http.Get(a.srv.URL + "/metrics")
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(data), "storeflow_events_in_total")

	require.NoError(t, server.CheckExposure("127.0.0.1:8080", nil))
	require.NoError(t, server.CheckExposure("localhost:8080", nil))
	require.NoError(t, server.CheckExposure("[::1]:8080", nil))
	require.ErrorContains(t, server.CheckExposure("0.0.0.0:8080", nil), "needs API tokens")
	require.NoError(t, server.CheckExposure("0.0.0.0:8080", []string{"t"}))
}

func FuzzDecodeEvents(f *testing.F) {
	f.Add("application/cloudevents+json", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":1}}`)
	f.Add("application/cloudevents-batch+json", `[{"specversion":"1.0","id":"1","source":"s","type":"t"}]`)
	f.Add("application/json", `{"a":1}`)
	f.Fuzz(func(t *testing.T, ct, body string) {
		h := http.Header{}
		h.Set("Content-Type", ct)
		evs, err := server.DecodeEvents(h, []byte(body))
		if err == nil {
			for _, e := range evs {
				if e.ID == "" || e.Source == "" || e.Type == "" {
					t.Fatalf("accepted an event without id, source or type: %+v", e)
				}
			}
		}
	})
}

// A page has a next only when another page follows: not on a last page
// that happens to be full.
func TestInstancePagesEndWithoutNext(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/workflows", "application/yaml", welcome)
	require.Equal(t, http.StatusCreated, status, body)
	want := map[string]bool{}
	for range 4 {
		status, body, _ = a.do("POST", "/v1/instances", "application/json", `{"workflow":{"namespace":"shop","name":"welcome"},"input":[{"data":{"email":"ada@example.com"}}]}`)
		require.Equal(t, http.StatusCreated, status, body)
		want[body["id"].(string)] = true
	}
	for _, tc := range []struct {
		limit int
		pages []int
	}{{1, []int{1, 1, 1, 1}}, {2, []int{2, 2}}, {3, []int{3, 1}}, {4, []int{4}}, {5, []int{4}}} {
		seen := map[string]bool{}
		after := ""
		for i, size := range tc.pages {
			status, body, _ := a.do("GET", fmt.Sprintf("/v1/instances?limit=%d&after=%s", tc.limit, after), "", "")
			require.Equal(t, http.StatusOK, status, body)
			list := body["instances"].([]any)
			require.Len(t, list, size, "limit %d, page %d", tc.limit, i+1)
			for _, in := range list {
				seen[in.(map[string]any)["id"].(string)] = true
			}
			next, ok := body["next"].(string)
			if i == len(tc.pages)-1 {
				require.False(t, ok, "limit %d: the last page has no next (%q)", tc.limit, next)
				break
			}
			require.True(t, ok, "limit %d, page %d: another page follows", tc.limit, i+1)
			require.Equal(t, list[len(list)-1].(map[string]any)["id"], next)
			after = next
		}
		require.Equal(t, want, seen, "limit %d: the pages hold every instance once", tc.limit)
	}
}
