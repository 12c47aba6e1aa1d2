package expr_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/expr"
)

func TestCompileAndEval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		src   string
		vars  []string
		input any
		args  map[string]any
		want  any
	}{
		{"strict form", "${ .a + 1 }", nil, map[string]any{"a": 1}, nil, 2},
		{"bare jq", ".items | length", nil, map[string]any{"items": []any{1, 2, 3}}, nil, 3},
		{"standard variable", "${ $context.total }", nil, nil, map[string]any{"$context": map[string]any{"total": 12.5}}, 12.5},
		{"scope variable", "${ $item.sku }", []string{"$item"}, nil, map[string]any{"$item": map[string]any{"sku": "TEE"}}, "TEE"},
		{"no output is null", "${ empty }", nil, nil, nil, nil},
		{"object result", `${ {id: .id} }`, nil, map[string]any{"id": "o-1"}, nil, map[string]any{"id": "o-1"}},
		{"typed input normalised", "${ .n + 1 }", nil, map[string]any{"n": int64(41)}, nil, 42},
		{"json number", "${ . * 2 }", nil, json.Number("2.5"), nil, 5.0},
		{"missing variable is null", "${ $secrets }", nil, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := expr.Compile(tc.src, tc.vars)
			require.NoError(t, err)
			got, err := e.Eval(context.Background(), tc.input, tc.args)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src    string
		vars   []string
		msg    string
		offset int
	}{
		{"${ .a | }", nil, "jq syntax error", 7},
		{"${ $itme.sku }", []string{"$item"}, "undefined variable $itme; variables in scope: $authorization, $context, $input, $item,", -1},
		{"${ nosuchfn(1) }", nil, "nosuchfn/1", -1},
		{"${ }", nil, "empty", -1},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			t.Parallel()
			_, err := expr.Compile(tc.src, tc.vars)
			var ce *expr.CompileError
			require.True(t, errors.As(err, &ce), "%v", err)
			require.Contains(t, ce.Error(), tc.msg)
			require.Equal(t, tc.offset, ce.Offset)
		})
	}
}

func TestEvalBoolAndErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := expr.Compile(".paid", nil)
	require.NoError(t, err)
	ok, err := e.EvalBool(ctx, map[string]any{"paid": true}, nil)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = e.EvalBool(ctx, map[string]any{"paid": "yes"}, nil)
	var ee *expr.EvalError
	require.True(t, errors.As(err, &ee))
	require.Contains(t, err.Error(), `expected true or false, got "yes"`)

	bad, err := expr.Compile(`${ .x | tonumber }`, nil)
	require.NoError(t, err)
	_, err = bad.Eval(ctx, map[string]any{"x": "abc"}, nil)
	require.True(t, errors.As(err, &ee))
}

func TestEvalHonoursContext(t *testing.T) {
	t.Parallel()
	e, err := expr.Compile("${ def f: f; f }", nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = e.Eval(ctx, nil, nil)
	require.Error(t, err)
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw := map[string]any{
		"to":      "${ .email }",
		"static":  "Hello there",
		"lines":   []any{"${ .first }", 2},
		"${ .k }": "keys are not evaluated",
	}
	strict, err := expr.CompileTemplate(raw, expr.Strict, nil)
	require.NoError(t, err)
	require.False(t, strict.IsConst())
	got, err := strict.Eval(ctx, map[string]any{"email": "a@b.c", "first": "x"}, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"to": "a@b.c", "static": "Hello there", "lines": []any{"x", 2}, "${ .k }": "keys are not evaluated"}, got)

	konst, err := expr.CompileTemplate(map[string]any{"a": []any{1, "b"}}, expr.Strict, nil)
	require.NoError(t, err)
	require.True(t, konst.IsConst())
	v1, _ := konst.Eval(ctx, nil, nil)
	v1.(map[string]any)["a"] = "changed"
	v2, _ := konst.Eval(ctx, nil, nil)
	require.Equal(t, map[string]any{"a": []any{1, "b"}}, v2, "evaluation never hands out the template itself")

	loose, err := expr.CompileTemplate(map[string]any{"total": ".price * 2", "text": "Hello there", "bad": ".missing | tonumber"}, expr.Loose, nil)
	require.NoError(t, err)
	got, err = loose.Eval(ctx, map[string]any{"price": 5, "missing": "x"}, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"total": 10, "text": "Hello there", "bad": ".missing | tonumber"}, got)

	_, err = expr.CompileTemplate(map[string]any{"x": "${ .a | }"}, expr.Strict, nil)
	require.Error(t, err)
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	type line struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	require.Equal(t, map[string]any{"sku": "a", "qty": 2}, expr.Normalize(line{"a", 2}))
	require.Equal(t, []any{1, 2.5, "x"}, expr.Normalize([]any{int32(1), float32(2.5), "x"}))
	require.Equal(t, map[string]any{"k": "v"}, expr.Normalize(map[string]string{"k": "v"}))
	require.Equal(t, 1e20, expr.Normalize(new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)))
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"${ .a }", ".items[] | select(.qty > 1)", "${ {a: $input, b: [range(3)]} }", "${ $item.sku }",
		`${ "Hello \(.name)" }`, "${ .a | }", "reduce .[] as $x (0; . + $x)", "${ def f: 1; f }", "$__loc__", "${ @base64 }", "if . then 1 else 2 end", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		e, err := expr.Compile(src, []string{"$item"})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, _ = e.Eval(ctx, map[string]any{"a": 1, "items": []any{1, "x"}}, nil)
			cancel()
		}
		_, _ = expr.CompileTemplate(map[string]any{"v": src, "l": []any{src}}, expr.Loose, nil)
	})
}

// An expression's result may be a map of its input, which other
// goroutines read at the same moment (the runtime's matcher holds the
// event an instance's input is taken from): evaluating must not write to
// it. Run with -race.
func TestResultsSharingTheInputLeaveItUntouched(t *testing.T) {
	t.Parallel()
	e, err := expr.Compile(".[0].data", nil)
	require.NoError(t, err)
	event := []any{map[string]any{"type": "commerce.order.placed", "data": map[string]any{"orderId": "1", "lines": []any{map[string]any{"qty": 2}}}}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				out, err := e.Eval(context.Background(), event, nil)
				require.NoError(t, err)
				require.Equal(t, "1", out.(map[string]any)["orderId"])
			}
		}()
	}
	wg.Wait()
}
