package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
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

func TestTheLocalRunnerWaitsOutADeferredCall(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	vc := clock.NewVirtual(start)
	var at []time.Time
	calls := connector.Func(func(_ context.Context, req connector.Request) (any, error) {
		at = append(at, req.At)
		if len(at) == 1 {
			return nil, connector.Defer(start.Add(10*time.Hour), "quiet hours")
		}
		if len(at) == 2 {
			return nil, connector.Defer(start, "a time gone by")
		}
		return "sent", nil
	})
	reg := connector.NewRegistry()
	reg.Handle(connector.KindHTTP, calls)
	wf, err := dsl.Load("t.yaml", []byte("document: {dsl: '1.0.3', namespace: t, name: t, version: '1.0.0'}\ndo:\n  - send:\n      call: http\n      with: {method: post, endpoint: 'https://sms.example/send'}\n"))
	require.NoError(t, err)
	l := &Local{Engine: New(vc), Connectors: reg, Virtual: vc}
	res, err := l.Run(context.Background(), wf, nil)
	require.NoError(t, err)
	require.Equal(t, "sent", res.Instance.Output)
	require.Equal(t, []time.Time{start, start.Add(10 * time.Hour), start.Add(10*time.Hour + time.Second)}, at)
}

func TestTheLocalRunnerWritesACallsNoteInTheHistory(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC))
	reg := connector.NewRegistry()
	reg.Handle(connector.KindHTTP, connector.Func(func(context.Context, connector.Request) (any, error) {
		return connector.Noted{Output: "skipped", Note: connector.Note{Type: "message.suppressed", Detail: map[string]any{"reason": "converted"}}}, nil
	}))
	wf, err := dsl.Load("t.yaml", []byte("document: {dsl: '1.0.3', namespace: t, name: t, version: '1.0.0'}\ndo:\n  - send:\n      call: http\n      with: {method: post, endpoint: 'https://sms.example/send'}\n"))
	require.NoError(t, err)
	l := &Local{Engine: New(vc), Connectors: reg, Virtual: vc}
	res, err := l.Run(context.Background(), wf, nil)
	require.NoError(t, err)
	require.Equal(t, "skipped", res.Instance.Output)
	var types []string
	for _, h := range res.History {
		types = append(types, h.Type)
		if h.Type == "message.suppressed" {
			require.Equal(t, "/do/0/send", h.Task)
			require.Equal(t, map[string]any{"reason": "converted"}, h.Detail)
		}
	}
	require.Equal(t, []string{"workflow.started", "task.started", "message.suppressed", "task.completed", "workflow.completed"}, types)
}
