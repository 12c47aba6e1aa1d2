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
