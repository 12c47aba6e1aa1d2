package connector_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/problem"
)

func TestRegistryFindsBuiltinsByNameAndRef(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	echo := connector.Func(func(_ context.Context, req connector.Request) (any, error) { return req.Args, nil })
	require.NoError(t, reg.Define(connector.Builtin{Name: "shop.order.note", Version: "1.0.0",
		Schema: []byte(`{"type":"object","required":["note"],"properties":{"note":{"type":"string"}}}`)}, echo))
	require.Error(t, reg.Define(connector.Builtin{Name: "shop.order.note", Version: "1.0.0"}, echo), "defined twice")
	require.Error(t, reg.Define(connector.Builtin{Name: "Bad Name", Version: "1.0.0"}, echo))
	require.Error(t, reg.Define(connector.Builtin{Name: "no.version"}, echo))
	require.Error(t, reg.Define(connector.Builtin{Name: "bad.schema", Version: "1.0.0", Schema: []byte(`{"type":3}`)}, echo))

	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"shop.order.note", true},
		{"shop.order.note:1.0.0@default", true},
		{"shop.order.note:2.0.0@default", false},
		{"shop.order.note:1.0.0@other", false},
		{"shop.order", false},
	} {
		_, ok := reg.Builtin(tc.ref)
		require.Equal(t, tc.ok, ok, tc.ref)
	}
	b, _ := reg.Builtin("shop.order.note")
	require.NoError(t, b.CheckArgs(map[string]any{"note": "hi"}))
	require.Error(t, b.CheckArgs(map[string]any{"note": 3}))

	out, err := reg.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: "shop.order.note:1.0.0@default", Args: "x"})
	require.NoError(t, err)
	require.Equal(t, "x", out)

	_, err = reg.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: "email.send"})
	require.Equal(t, 501, problem.As(err).Status)
	_, err = reg.Call(context.Background(), connector.Request{Kind: connector.KindHTTP})
	require.Equal(t, 501, problem.As(err).Status)

	require.NoError(t, reg.Replace("shop.order.note", connector.Func(func(context.Context, connector.Request) (any, error) { return "twin", nil })))
	out, err = reg.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: "shop.order.note"})
	require.NoError(t, err)
	require.Equal(t, "twin", out)
	require.Error(t, reg.Replace("nothing.here", echo))
}

func TestDecodeArgsRefusesUnknownProperties(t *testing.T) {
	t.Parallel()
	var v struct {
		To string `json:"to"`
	}
	req := connector.Request{Kind: connector.KindFunction, Function: "email.send", Args: map[string]any{"to": "a@b.c"}}
	require.NoError(t, connector.DecodeArgs(req, &v))
	require.Equal(t, "a@b.c", v.To)
	req.Args = map[string]any{"too": "a@b.c"}
	err := connector.DecodeArgs(req, &v)
	require.ErrorContains(t, err, "email.send")
	require.ErrorContains(t, err, "too")
}

// tag is an interceptor that marks the arguments it passes on, or answers
// itself when told to.
type tag struct {
	name   string
	answer bool
}

func (i tag) Intercept(ctx context.Context, req connector.Request, next connector.Connector) (any, error) {
	if i.answer {
		return "answered by " + i.name, nil
	}
	req.Args = req.Args.(string) + "+" + i.name
	return next.Call(ctx, req)
}

func TestInterceptorsStayInFrontOfReplacedConnectorsAndTwins(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	echo := connector.Func(func(_ context.Context, req connector.Request) (any, error) { return req.Args, nil })
	require.NoError(t, reg.Define(connector.Builtin{Name: "email.send", Version: "1.0.0"}, echo))
	require.NoError(t, reg.Define(connector.Builtin{Name: "slack.post", Version: "1.0.0"}, echo))
	reg.Intercept(tag{name: "outer"}, "email.send")
	reg.Intercept(tag{name: "inner"}, "email.send")
	reg.Intercept(nil, "email.send")
	call := func(r *connector.Registry, fn string) any {
		out, err := r.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: fn, Args: "x"})
		require.NoError(t, err)
		return out
	}
	require.Equal(t, "x+outer+inner", call(reg, "email.send:1.0.0@default"), "outermost first")
	require.Equal(t, "x", call(reg, "slack.post"), "only the named built-ins are intercepted")

	require.NoError(t, reg.Replace("email.send", connector.Func(func(_ context.Context, req connector.Request) (any, error) {
		return "replaced " + req.Args.(string), nil
	})))
	require.Equal(t, "replaced x+outer+inner", call(reg, "email.send"))

	twin := reg.Twin(connector.Func(func(_ context.Context, req connector.Request) (any, error) { return "twin " + req.Args.(string), nil }))
	require.Equal(t, "twin x+outer+inner", call(twin, "email.send"), "a twin sees the same interceptors")
	require.Equal(t, "twin x", call(twin, "slack.post"))

	twin.Intercept(tag{name: "stop", answer: true}, "slack.post")
	require.Equal(t, "answered by stop", call(twin, "slack.post"))
	require.Equal(t, "x", call(reg, "slack.post"), "a twin's interceptors are its own")
}

func TestUnwrapSplitsANotedOutput(t *testing.T) {
	t.Parallel()
	out, note := connector.Unwrap(map[string]any{"a": 1})
	require.Equal(t, map[string]any{"a": 1}, out)
	require.Nil(t, note)
	out, note = connector.Unwrap(connector.Noted{Output: "o", Note: connector.Note{Type: "message.suppressed", Detail: "why"}})
	require.Equal(t, "o", out)
	require.Equal(t, &connector.Note{Type: "message.suppressed", Detail: "why"}, note)
	out, note = connector.Unwrap(&connector.Noted{Output: "p", Note: connector.Note{Type: "t"}})
	require.Equal(t, "p", out)
	require.Equal(t, "t", note.Type)
}
