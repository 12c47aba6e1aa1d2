package expr_test

import (
	"context"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itchyny/gojq"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/expr"
)

// TestGuardsKeepMeaning evaluates expressions with plain gojq and through
// Compile, whose guards rewrite them: every output must be the same, in the
// same order.
func TestGuardsKeepMeaning(t *testing.T) {
	t.Parallel()
	input := map[string]any{
		"a": 1, "s": "ab", "xs": []any{3, 1, 2}, "o": map[string]any{"k": map[string]any{"x": 1}},
		"lines": []any{map[string]any{"sku": "T", "qty": 2, "price": 5}, map[string]any{"sku": "M", "qty": 1, "price": 7}},
	}
	queries := []string{
		`(1,2) + (10,20)`, `(1,2) * (10,20)`, `"x" * (0, 1, 2.5, -1)`, `(2, 3) * "ab"`, `{a: 1} * {a: {b: 2}}`,
		`[.xs[] * 2]`, `.s + "c"`, `.xs + [4]`, `null + 1`, `.o + {z: 2}`, `9007199254740993 * 3`,
		`.a += 1`, `.a += (1, 2)`, `.xs[0] += 10`, `.xs[] *= 2`, `.o.k *= {y: 2}`, `.s += "!"`, `.new += 1`,
		`.a -= 1`, `.o.k.x |= . + 1`, `.xs[5] = 1`, `del(.xs[0])`, `to_entries`, `with_entries(.value |= tostring)`,
		`[paths]`, `[path(..)]`, `getpath(["o", "k"])`, `setpath(["o", "k", "x"]; 2)`, `[setpath(["a"], ["b"]; 1, 2)]`,
		`getpath(["o"]) |= 3`, `path(getpath(["o", "k"]))`,
		`[.lines[] | {sku, total: (.qty * .price)}]`, `.lines | map(.qty * .price) | add`, `[.lines[].sku] | join(",")`,
		`"total: \(.a) \(.s)"`, `@json "v=\(.xs)"`, `@base64 "\(.s)"`, `@html "<\(.s)>"`, `@csv "\(.xs)"`, `.xs | @csv`, `.xs | @text`,
		`.xs | tojson`, `.xs | tostring`, `[.xs, [.xs]] | flatten`, `[[1, [2]], 3] | flatten(1)`, `[[1, 2], [3]] | transpose`,
		`[65, 66] | implode`, `"AbC" | ascii_downcase, ascii_upcase`, `.xs | format("tsv")`,
		`def f: . * 2; [.xs[] | f]`, `def fac: if . <= 1 then 1 else . * (. - 1 | fac) end; 10 | fac`,
		`def f(g): [g, g]; f(.a, .s)`, `def f($x; $y): $x + $y; f(1, 2; 10, 20)`,
		`reduce .xs[] as $x (0; . + $x)`, `[foreach .xs[] as $x (0; . + $x)]`, `[foreach .xs[] as $x (0; . + $x; [$x, .])]`,
		`[limit(3; repeat(1))]`, `[range(5)]`, `[range(0; 10; 3)]`, `first(range(10; 0; -1))`, `[.xs[] | select(. > 1)]`,
		`.xs | sort`, `.lines | sort_by(.price) | map(.sku)`, `.lines | group_by(.qty) | length`, `[.xs | min, max]`,
		`try error("x") catch .`, `[.[]?]`, `.o.k.x // 5`, `if .a > 0 then "pos" elif .a < 0 then "neg" else "zero" end`,
		`. as {a: $a, s: $s} | [$a, $s]`, `.xs as [$h] | $h`, `label $out | foreach .xs[] as $x (0; . + $x; if . > 3 then ., break $out else . end)`,
		`[.xs[] as $x | .xs[] | $x + .]`, `{(.s): .a}`, `{a, s} | keys`, `{"k\(.a)": 1}`, `-(.a)`, `[.xs[1:]]`, `.xs[1:] = ["z"]`,
		`[splits("b")]`, `"a,b" / ","`, `.lines | map(select(.sku | test("^T")))`, `[.[] | numbers]`,
		`tostream`, `[tostream] | fromstream(.[])`, `env | length`, `ltrimstr("x")`, `{} | .a.b.c = 1`,
		`1 + "a"`, `{} * 2`, `null * 2`, `"a" * "b"`, `[1] + {}`, `100000000000000000000 + 1`, `9223372036854775807 + 1`,
		`-9223372036854775807 - 1 | . * -1`, `4611686018427387904 * 2`, `1.5 * 2`, `2 * 1.5`, `1 + 0.5`, `nan * 1 | isnan`,
		`[1, nan, infinite, -infinite, -0, 1e1000, 0.1] | tojson, tostring`, `{"a": 1.0, "é": "\u0000"} | tojson`, `100000000000000000000 | tojson`,
		`[range(3)] | combinations(2) | tostring`, `walk(if type == "number" then . + 1 else . end)`, `[.xs[] | tostring] | add`,
	}
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			want := plainJQ(t, q, input)
			e, err := expr.Compile("["+q+"]", nil)
			require.NoError(t, err)
			got, err := e.Eval(context.Background(), expr.Normalize(deepCopyJSON(input)), nil)
			if wantErr, ok := want.(error); ok {
				require.Error(t, err)
				require.Contains(t, err.Error(), wantErr.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func plainJQ(t *testing.T, q string, input any) any {
	t.Helper()
	query, err := gojq.Parse("[" + q + "]")
	require.NoError(t, err)
	code, err := gojq.Compile(query, gojq.WithEnvironLoader(func() []string { return nil }))
	require.NoError(t, err)
	v, _ := code.Run(expr.Normalize(deepCopyJSON(input))).Next()
	return bigToFloat(v)
}

// bigToFloat turns big integers into float64, as Eval does with results.
func bigToFloat(v any) any {
	switch x := v.(type) {
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case []any:
		for i, e := range x {
			x[i] = bigToFloat(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = bigToFloat(e)
		}
	}
	return v
}

func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopyJSON(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopyJSON(e)
		}
		return s
	}
	return v
}

// runaways are expressions that would take the process's memory or a core;
// each must stop at a bound, quickly.
var runaways = []struct {
	name, src, limit string
}{
	{"the issue's range", `[range(100000000)] | length`, "size"},
	{"range collected by limit", `[limit(100000000; repeat(1))] | length`, "size"},
	{"string repeated", `"x" * 1000000000 | length`, "size"},
	{"number times string", `1000000000 * "xy" | length`, "size"},
	{"string doubled", `reduce range(40) as $i ("x"; . + .) | length`, "size"},
	{"string doubled by +=", `{s: "x"} | reduce range(40) as $i (.; .s += .s) | .s | length`, "size"},
	{"array doubled", `reduce range(40) as $i ([1]; . + .) | length`, "size"},
	{"array shared and serialized", `reduce range(60) as $i (0; [., .]) | tojson | length`, "size"},
	{"array shared and flattened", `reduce range(60) as $i (0; [., .]) | flatten | length`, "size"},
	{"array shared and returned", `reduce range(60) as $i (0; [., .])`, "size"},
	{"object shared", `reduce range(60) as $i (0; {a: ., b: .}) | tostring | length`, "size"},
	{"string interpolated", `reduce range(40) as $i ("x"; "\(.)\(.)") | length`, "size"},
	{"far array index", `[.[100000000] = 1] | length`, "size"},
	{"far index by setpath", `null | setpath([100000000]; 1) | length`, "size"},
	{"far index by getpath", `null | getpath([100000000]) |= 1 | length`, "size"},
	{"non-tail recursion", `def f: 1 + f; f`, "size"},
	{"recursion building", `def f: [f]; f`, "size"},
	{"integer squared", `reduce range(40) as $i (99999999999; . * .) | tostring | length`, "size"},
	{"caught and retried", `[range(10) | try ([range(10000000)] | length) catch 0]`, "size"},
	{"loop without end", `until(false; .)`, "time"},
	{"repeat consumed", `last(repeat(1))`, "time"},
	{"tail recursion, its calls counted", `def f: f; f`, "size"},
	{"huge reduce", `reduce range(100000000000) as $i (0; . + 1)`, "time"},
}

func TestRunawayExpressionsStop(t *testing.T) {
	// Not parallel: it measures how much memory the runaways take. Those
	// that build must stop at the size limit even with all the time in the
	// world; those that only loop stop at the time limit.
	for _, tc := range runaways {
		t.Run(tc.name, func(t *testing.T) {
			e, err := expr.Compile("${ "+tc.src+" }", nil)
			require.NoError(t, err)
			l := expr.Limits{Timeout: time.Minute, MaxSize: 1 << 20}
			if tc.limit == "time" {
				l.Timeout = 200 * time.Millisecond
			}
			start := time.Now()
			peak := watchHeap(func() {
				_, err = e.Eval(expr.WithLimits(context.Background(), l), nil, nil)
			})
			took := time.Since(start)
			var limit *expr.LimitError
			require.ErrorAs(t, err, &limit, "%v", err)
			require.Equal(t, tc.limit, limit.Limit, "%v", err)
			t.Logf("%s: %v after %v, heap grew by at most %d MiB", tc.src, err, took.Round(time.Millisecond), peak>>20)
			// 1 MiB of values is well under 100 MiB of heap, however the
			// garbage collector runs.
			require.Less(t, peak, uint64(100<<20))
		})
	}
}

// TestIssueExpressionStops runs issue 9's expression with the default
// limits: it faults at a bound, quickly, without taking gigabytes.
func TestIssueExpressionStops(t *testing.T) {
	e, err := expr.Compile("${ [range(100000000)] | length }", nil)
	require.NoError(t, err)
	start := time.Now()
	peak := watchHeap(func() { _, err = e.Eval(context.Background(), nil, nil) })
	took := time.Since(start)
	var limit *expr.LimitError
	require.ErrorAs(t, err, &limit, "%v", err)
	t.Logf("%v after %v, heap grew by at most %d MiB", err, took.Round(time.Millisecond), peak>>20)
	require.Less(t, peak, uint64(400<<20))
}

// watchHeap runs f and returns how far the heap grew above where it started
// while f ran, sampled every millisecond.
func watchHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base && m.HeapAlloc-base > peak {
				peak = m.HeapAlloc - base
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak
}

func TestLimitsFromContext(t *testing.T) {
	t.Parallel()
	e, err := expr.Compile(`${ [range(.)] | length }`, nil)
	require.NoError(t, err)
	small := expr.WithLimits(context.Background(), expr.Limits{MaxSize: 64 << 10, Timeout: time.Minute})
	_, err = e.Eval(small, 20000, nil)
	var limit *expr.LimitError
	require.ErrorAs(t, err, &limit)
	require.Equal(t, int64(64<<10), limit.Max)
	require.Contains(t, err.Error(), `evaluate "[range(.)] | length": it builds more than 64KiB of values, the size limit of an evaluation (raise it with --expr-max-size`)
	got, err := e.Eval(expr.WithLimits(context.Background(), expr.Limits{Timeout: time.Minute}), 20000, nil)
	require.NoError(t, err, "the default size allows 20000 elements")
	require.Equal(t, 20000, got)
}

func TestLimitsShareOneTemplate(t *testing.T) {
	t.Parallel()
	// Each expression alone fits in 64 KiB; the template's together do not.
	tmpl, err := expr.CompileTemplate(map[string]any{
		"a": "${ [range(2500)] | length }",
		"b": "${ [range(2500)] | length }",
	}, expr.Strict, nil)
	require.NoError(t, err)
	ctx := expr.WithLimits(context.Background(), expr.Limits{MaxSize: 64 << 10, Timeout: time.Minute})
	_, err = tmpl.Eval(ctx, nil, nil)
	var limit *expr.LimitError
	require.ErrorAs(t, err, &limit)
	one, err := expr.Compile("${ [range(2500)] | length }", nil)
	require.NoError(t, err)
	_, err = one.Eval(ctx, nil, nil)
	require.NoError(t, err)
}

func TestLooseModeKeepsLimitErrors(t *testing.T) {
	t.Parallel()
	tmpl, err := expr.CompileTemplate(map[string]any{"n": `[range(100000000)] | length`}, expr.Loose, nil)
	require.NoError(t, err)
	_, err = tmpl.Eval(context.Background(), nil, nil)
	var limit *expr.LimitError
	require.ErrorAs(t, err, &limit, "a runaway is not a string that merely failed to evaluate")
}

func TestResultMayHoldTheInput(t *testing.T) {
	t.Parallel()
	big := make([]any, 20000)
	for i := range big {
		big[i] = map[string]any{"sku": "TEE", "qty": i}
	}
	e, err := expr.Compile(`${ {all: ., again: .} }`, nil)
	require.NoError(t, err)
	ctx := expr.WithLimits(context.Background(), expr.Limits{MaxSize: 1 << 20, Timeout: time.Minute})
	_, err = e.Eval(ctx, big, nil)
	var limit *expr.LimitError
	require.ErrorAs(t, err, &limit, "twice an input larger than the limit is too much")
	e, err = expr.Compile(`${ {all: .} }`, nil)
	require.NoError(t, err)
	got, err := e.Eval(ctx, big, nil)
	require.NoError(t, err, "the data an expression reads does not count against what it builds")
	require.Len(t, got.(map[string]any)["all"], len(big))
}

func TestReservedNames(t *testing.T) {
	t.Parallel()
	for _, src := range []string{`$__storeflow`, `_storeflow_element($x)`, `def _storeflow_x: 1; 2`, `. as $__storeflow | 1`, `def f($__storeflow): 1; 2`} {
		_, err := expr.Compile("${ "+src+" }", []string{"$x"})
		var ce *expr.CompileError
		require.ErrorAs(t, err, &ce, src)
		require.Contains(t, err.Error(), "reserved", src)
	}
}

func TestCancelledEvaluationStops(t *testing.T) {
	t.Parallel()
	e, err := expr.Compile(`${ until(false; .) }`, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(expr.WithLimits(context.Background(), expr.Limits{Timeout: time.Hour}))
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = e.Eval(ctx, nil, nil)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"16MiB": 16 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "1000": 1000, "2MB": 2e6} {
		got, err := expr.ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		if in != "1000" && in != "2MB" {
			require.Equal(t, in, expr.FormatSize(got))
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1.5MiB", "MiB", "12 parsecs"} {
		_, err := expr.ParseSize(in)
		require.Error(t, err, in)
	}
}

// FuzzGuardsKeepMeaning checks, on any expression both gojq and Compile
// accept, that the guards change no result within the limits.
func FuzzGuardsKeepMeaning(f *testing.F) {
	for _, q := range []string{`.a + 1`, `[.xs[] * 2]`, `"\(.a)-\(.s)"`, `.a += 1`, `{a, s} * {a: 2}`, `def f: . + 1; [.xs[] | f]`, `.xs | tojson`, `[paths]`, `.xs[1] = 5`} {
		f.Add(q)
	}
	input := map[string]any{"a": 1, "s": "ab", "xs": []any{3, 1, 2}, "o": map[string]any{"k": map[string]any{"x": 1}}}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 512 || strings.Contains(q, "now") || strings.Contains(q, "input") || strings.Contains(q, "debug") || strings.Contains(q, "stderr") {
			return
		}
		query, err := gojq.Parse("[" + q + "]")
		if err != nil {
			return
		}
		code, err := gojq.Compile(query, gojq.WithEnvironLoader(func() []string { return nil }))
		if err != nil {
			return
		}
		e, err := expr.Compile("["+q+"]", nil)
		if err != nil {
			if strings.Contains(err.Error(), "reserved") {
				return
			}
			t.Fatalf("gojq compiles %q, Compile does not: %v", q, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		want, _ := code.RunWithContext(ctx, expr.Normalize(deepCopyJSON(input))).Next()
		if ctx.Err() != nil {
			return
		}
		got, err := e.Eval(expr.WithLimits(context.Background(), expr.Limits{Timeout: time.Second}), expr.Normalize(deepCopyJSON(input)), nil)
		var limit *expr.LimitError
		if errors.As(err, &limit) {
			return
		}
		if wantErr, ok := want.(error); ok {
			if err == nil {
				t.Fatalf("%q: gojq fails with %v, Compile gives %v", q, wantErr, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: gojq gives %v, Compile fails with %v", q, want, err)
		}
		require.Equal(t, bigToFloat(want), got, q)
	})
}
