package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/connector/slack"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

const secretPath = "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX"

// hook is a local stand-in for a Slack incoming webhook: it takes a JSON
// POST at its secret path and answers 200 "ok", or what a test scripts.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	got    []posted
	status int
	answer string
}

type posted struct {
	Payload     map[string]any
	Idempotency string
}

func startHook(t *testing.T) *hook {
	t.Helper()
	h := &hook{status: http.StatusOK, answer: "ok"}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != secretPath {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "no_service")
			return
		}
		if r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_payload")
			return
		}
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_payload")
			return
		}
		h.mu.Lock()
		h.got = append(h.got, posted{Payload: p, Idempotency: r.Header.Get("Idempotency-Key")})
		status, answer := h.status, h.answer
		h.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) posts() []posted {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]posted(nil), h.got...)
}

func post(c *slack.Connector, args map[string]any) (any, error) {
	return c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: slack.Name, Args: args, IdempotencyKey: "inst-9/do/3/notify"})
}

func TestPostsToTheShopsWebhook(t *testing.T) {
	t.Parallel()
	shared, own := startHook(t), startHook(t)
	c := &slack.Connector{Webhooks: map[slack.Target]string{
		{Shop: "", Webhook: ""}:           shared.URL + secretPath,
		{Shop: "acme", Webhook: "orders"}: own.URL + secretPath,
	}}
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*Order 1042* paid"}}}
	out, err := post(c, map[string]any{"text": "Order 1042 paid", "blocks": blocks, "shop": "acme", "webhook": "orders"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"ok": true, "webhook": "orders", "shop": "acme"}, out)
	_, err = post(c, map[string]any{"text": "Stock low: SKU-7", "shop": "acme"})
	require.NoError(t, err, "a shop without its own default webhook uses the shared one")

	require.Equal(t, []posted{{Payload: map[string]any{"text": "Order 1042 paid", "blocks": blocks}, Idempotency: "inst-9/do/3/notify"}}, own.posts())
	require.Equal(t, []posted{{Payload: map[string]any{"text": "Stock low: SKU-7"}, Idempotency: "inst-9/do/3/notify"}}, shared.posts())
}

func TestFailuresBecomeProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		answer string
		want   int
		typ    string
	}{
		{400, "invalid_payload", 400, problem.TypeCommunication},
		{403, "action_prohibited", 403, problem.TypeAuthorization},
		{404, "channel_not_found", 404, problem.TypeCommunication},
		{410, "channel_is_archived", 410, problem.TypeCommunication},
		{429, "rate_limited", 503, problem.TypeCommunication},
		{500, "rollup_error", 503, problem.TypeCommunication},
	} {
		h := startHook(t)
		h.status, h.answer = tc.status, tc.answer
		_, err := post(&slack.Connector{Webhooks: map[slack.Target]string{{}: h.URL + secretPath}}, map[string]any{"text": "hi"})
		p := problemtest.Require(t, err, tc.typ, tc.want, tc.answer)
		require.NotContains(t, p.Detail, secretPath, "the webhook URL is a credential")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + l.Addr().String() + secretPath
	require.NoError(t, l.Close())
	_, err = post(&slack.Connector{Webhooks: map[slack.Target]string{{}: gone}}, map[string]any{"text": "hi"})
	p := problemtest.Require(t, err, problem.TypeCommunication, 503, "could not be reached")
	require.NotContains(t, p.Detail, secretPath, "transport errors name the URL too, and must not")
}

func TestBadArgumentsAndConfiguration(t *testing.T) {
	t.Parallel()
	h := startHook(t)
	c := &slack.Connector{Webhooks: map[slack.Target]string{{}: h.URL + secretPath, {Webhook: "plain"}: "http://hooks.example.com" + secretPath}}
	for _, tc := range []struct {
		args   map[string]any
		typ    string
		status int
		want   string
	}{
		{map[string]any{}, problem.TypeValidation, 400, "text: missing"},
		{map[string]any{"text": "x", "channel": "#ops"}, problem.TypeValidation, 400, "channel"},
		{map[string]any{"text": "x", "webhook": "ops"}, problem.TypeConfiguration, 500, `no Slack webhook "ops"`},
		{map[string]any{"text": "x", "webhook": "plain"}, problem.TypeConfiguration, 500, "not an https URL"},
	} {
		_, err := post(c, tc.args)
		p := problemtest.Require(t, err, tc.typ, tc.status, tc.want)
		require.NotContains(t, p.Detail, secretPath)
	}
	require.Empty(t, h.posts())
}

func TestBuiltinSchema(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	require.NoError(t, reg.Define(slack.Builtin, &slack.Connector{}))
	b, ok := reg.Builtin("slack.post:1.0.0@default")
	require.True(t, ok)
	require.NoError(t, b.CheckArgs(map[string]any{"text": "hi"}))
	require.NoError(t, b.CheckArgs(map[string]any{"blocks": []any{map[string]any{"type": "divider"}}, "webhook": "ops", "shop": "acme"}))
	require.Error(t, b.CheckArgs(map[string]any{}))
	require.Error(t, b.CheckArgs(map[string]any{"blocks": []any{map[string]any{"text": "no type"}}}))
	require.Error(t, b.CheckArgs(map[string]any{"text": "hi", "channel": "#ops"}))
}

func TestWebhooksFromTheShopsConfiguration(t *testing.T) {
	t.Parallel()
	own, shared := startHook(t), startHook(t)
	c := &slack.Connector{
		Webhooks: map[slack.Target]string{{Webhook: "ops"}: shared.URL + secretPath},
		Shops: shopconfig.Fixed(map[string]*shop.Shop{
			"acme": {ID: "acme", Slack: &shop.Slack{WebhookURL: own.URL + secretPath}},
		}),
	}
	_, err := post(c, map[string]any{"text": "Order 7 paid", "shop": "acme"})
	require.NoError(t, err)
	_, err = post(c, map[string]any{"text": "Disk full", "shop": "acme", "webhook": "ops"})
	require.NoError(t, err)
	require.Len(t, own.posts(), 1)
	require.Len(t, shared.posts(), 1, "a named webhook the shop lacks is the shared one")

	_, err = post(c, map[string]any{"text": "x", "shop": "nobody"})
	problemtest.Require(t, err, problem.TypeConfiguration, 500, `shop "nobody"`)
}
