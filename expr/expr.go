// Package expr compiles and evaluates the DSL's runtime expressions, which
// are jq programs (github.com/itchyny/gojq). Expressions are compiled once,
// when a definition is loaded, and evaluated many times.
package expr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/itchyny/gojq"
)

// Mode is the evaluation mode of a workflow's expressions.
type Mode int

// Evaluation modes.
const (
	// Strict: only strings written as ${ … } are expressions.
	Strict Mode = iota
	// Loose: other strings are tried as jq too, and fall back to their text.
	Loose
)

// StandardVars are the arguments every expression may reference.
var StandardVars = []string{"$context", "$input", "$output", "$secrets", "$task", "$workflow", "$runtime", "$authorization"}

// IsExpr reports whether s is written as a runtime expression: ${ … }.
func IsExpr(s string) bool {
	t := strings.TrimSpace(s)
	return len(t) >= 3 && strings.HasPrefix(t, "${") && strings.HasSuffix(t, "}")
}

// unwrap returns the jq text of an expression written with or without ${ }.
func unwrap(s string) string {
	if IsExpr(s) {
		t := strings.TrimSpace(s)
		return strings.TrimSpace(t[2 : len(t)-1])
	}
	return strings.TrimSpace(s)
}

// Expr is a compiled jq program.
type Expr struct {
	src  string
	code *gojq.Code
	vars []string
	// uses tells, for each of vars, whether the expression mentions it:
	// those it does not are not handed over (nor normalised: walking every
	// variable in scope, $workflow's whole definition among them, on every
	// evaluation cost a tenth of a throughput run's CPU).
	uses []bool
}

// Source returns the jq text of the expression.
func (e *Expr) Source() string { return e.src }

// CompileError is a syntax error or an unknown name in an expression.
type CompileError struct {
	Expr   string
	Offset int // byte offset of the problem in Expr, or -1
	Msg    string
}

func (e *CompileError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("jq syntax error in %q at offset %d: %s", e.Expr, e.Offset, e.Msg)
	}
	return fmt.Sprintf("jq expression %q: %s", e.Expr, e.Msg)
}

// EvalError is a failure while evaluating an expression.
type EvalError struct {
	Expr string
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("evaluate %q: %v", e.Expr, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// maxSource bounds expression size: expressions are written by people.
const maxSource = 64 << 10

// Compile compiles an expression written as ${ … } or as bare jq. vars are
// the variables in scope besides StandardVars ("$item", "$index" …).
func Compile(src string, vars []string) (*Expr, error) {
	q := unwrap(src)
	if q == "" {
		return nil, &CompileError{Expr: src, Offset: -1, Msg: "the expression is empty"}
	}
	if len(q) > maxSource {
		return nil, &CompileError{Expr: src[:64] + "…", Offset: -1, Msg: fmt.Sprintf("the expression is longer than %d bytes", maxSource)}
	}
	query, err := gojq.Parse(q)
	if err != nil {
		ce := &CompileError{Expr: src, Offset: -1, Msg: err.Error()}
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			ce.Offset = strings.Index(src, q) + pe.Offset
		}
		return nil, ce
	}
	if query, err = instrument(query); err != nil {
		return nil, &CompileError{Expr: src, Offset: -1, Msg: err.Error()}
	}
	all := scopeVars(vars)
	opts := append([]gojq.CompilerOption{
		gojq.WithVariables(append(slices.Clone(all), stateVar)),
		gojq.WithEnvironLoader(func() []string { return nil }),
	}, guardOptions...)
	code, err := gojq.Compile(query, opts...)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "variable not defined") {
			name := msg[strings.LastIndex(msg, ":")+1:]
			msg = fmt.Sprintf("undefined variable %s; variables in scope: %s", strings.TrimSpace(name), strings.Join(all, ", "))
		}
		return nil, &CompileError{Expr: src, Offset: -1, Msg: msg}
	}
	uses := make([]bool, len(all))
	for i, v := range all {
		uses[i] = mentions(q, v)
	}
	return &Expr{src: q, code: code, vars: all, uses: uses}, nil
}

// mentions reports whether the jq text q holds the variable name v ("$x")
// as a whole token. A variable can only be read where it is written out,
// so a false answer is certain; a mention inside a string literal merely
// counts as a use.
func mentions(q, v string) bool {
	for i := 0; ; {
		j := strings.Index(q[i:], v)
		if j < 0 {
			return false
		}
		end := i + j + len(v)
		if end == len(q) || !isIdentChar(q[end]) {
			return true
		}
		i = end
	}
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// scopeVars returns StandardVars plus vars, deduplicated and sorted so that
// compile and evaluation agree on the order.
func scopeVars(vars []string) []string {
	seen := map[string]bool{}
	var all []string
	for _, v := range append(append([]string{}, StandardVars...), vars...) {
		if !strings.HasPrefix(v, "$") {
			v = "$" + v
		}
		if !seen[v] {
			seen[v] = true
			all = append(all, v)
		}
	}
	sort.Strings(all)
	return all
}

// Eval runs the expression and returns its first result (nil when it
// produces none). The evaluation is bounded by the Limits of ctx (see
// WithLimits); past one it fails with a *LimitError.
func (e *Expr) Eval(ctx context.Context, input any, vars map[string]any) (any, error) {
	return e.eval(newEvaluation(ctx), input, vars)
}

func (e *Expr) eval(ev *evaluation, input any, vars map[string]any) (out any, err error) {
	// read is the size of the data the expression is given: a result may
	// hold all of it besides what it builds.
	var read int64
	values := make([]any, len(e.vars)+1)
	for i, name := range e.vars {
		if e.uses[i] {
			values[i] = normalize(vars[name], &read)
		}
	}
	values[len(e.vars)] = ev
	in := normalize(input, &read)
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &EvalError{Expr: e.src, Err: fmt.Errorf("internal error: %v", p)}
		}
	}()
	v, ok := e.code.RunWithContext(ev, in, values...).Next()
	if ev.err != nil {
		return nil, &EvalError{Expr: e.src, Err: ev.err}
	}
	if !ok {
		return nil, nil
	}
	if err, ok := v.(error); ok {
		var halt *gojq.HaltError
		if errors.As(err, &halt) && halt.Value() == nil {
			return nil, nil
		}
		return nil, &EvalError{Expr: e.src, Err: err}
	}
	max := ev.limits.MaxSize + read
	if n, deep := deepSize(v, max); deep {
		return nil, &EvalError{Expr: e.src, Err: ev.failFixed(fmt.Sprintf("its result nests deeper than %d levels", maxDepth), maxDepth)}
	} else if n > max {
		return nil, &EvalError{Expr: e.src, Err: ev.fail(fmt.Sprintf("its result is more than %s larger than the data it reads", FormatSize(ev.limits.MaxSize)))}
	}
	return fromJQ(v), nil
}

// EvalBool runs the expression and requires a boolean result.
func (e *Expr) EvalBool(ctx context.Context, input any, vars map[string]any) (bool, error) {
	v, err := e.Eval(ctx, input, vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Expr: e.src, Err: fmt.Errorf("expected true or false, got %s", describe(v))}
	}
	return b, nil
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return fmt.Sprintf("a value of type %T", v)
	}
	return string(b)
}

// fromJQ turns gojq results into the values the rest of storeflow uses:
// integers stay int, big integers become float64. A result may be (or
// hold) the very maps and lists of the input, which other goroutines read
// at the same time (an event the matcher holds, which an instance's input
// was taken from): only a value that changes is written.
func fromJQ(v any) any {
	switch x := v.(type) {
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case map[string]any:
		for k, val := range x {
			if n := fromJQ(val); !same(n, val) {
				x[k] = n
			}
		}
		return x
	case []any:
		for i, val := range x {
			if n := fromJQ(val); !same(n, val) {
				x[i] = n
			}
		}
		return x
	}
	return v
}

// Normalize converts a Go value into the JSON-compatible shape jq accepts:
// map[string]any, []any, string, bool, nil, int or float64. Other numeric
// types, json.Number, typed maps and slices, and structs (through JSON) are
// converted; integral floats stay float64.
func Normalize(v any) any { return normalize(v, nil) }

// normalize is Normalize that adds the size of v to *size when size is not
// nil.
func normalize(v any, size *int64) any {
	switch x := v.(type) {
	case nil, string, bool, int, float64:
		if size != nil {
			*size += shallowSize(v)
		}
		return v
	case map[string]any:
		if size != nil {
			*size += 48
		}
		for k, val := range x {
			if size != nil {
				*size += memberCost + int64(len(k))
			}
			if n := normalize(val, size); !same(n, val) {
				x[k] = n
			}
		}
		return x
	case []any:
		if size != nil {
			*size += 24 + elementCost*int64(len(x))
		}
		for i, val := range x {
			if n := normalize(val, size); !same(n, val) {
				x[i] = n
			}
		}
		return x
	case int8:
		return int(x)
	case int16:
		return int(x)
	case int32:
		return int(x)
	case int64:
		if x >= math.MinInt && x <= math.MaxInt {
			return int(x)
		}
		return float64(x)
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return int(x)
	case uint16:
		return int(x)
	case uint32:
		return uintValue(uint64(x))
	case uint64:
		return uintValue(x)
	case float32:
		return float64(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return normalize(i, size)
		}
		f, _ := x.Float64()
		return f
	case *big.Int:
		return fromJQ(x)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return m
	case []string:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = e
		}
		return s
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = normalize(val, size)
		}
		return m
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		s := make([]any, rv.Len())
		for i := range s {
			s[i] = normalize(rv.Index(i).Interface(), size)
		}
		return s
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for _, k := range rv.MapKeys() {
				m[k.String()] = normalize(rv.MapIndex(k).Interface(), size)
			}
			return m
		}
	}
	// Anything else goes through its JSON form.
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return fmt.Sprint(v)
	}
	return normalize(out, size)
}

func uintValue(u uint64) any {
	if u <= math.MaxInt {
		return int(u)
	}
	return float64(u)
}

// same reports whether Normalize left a value as it was, without comparing
// uncomparable values.
func same(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return true
	}
	return a == b
}
