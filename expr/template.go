package expr

import (
	"context"
	"errors"
	"fmt"
)

// Template is a JSON-like value in which strings may be expressions. Map
// keys are never evaluated.
type Template struct {
	root  node
	konst bool
}

type node interface {
	eval(ev *evaluation, input any, vars map[string]any) (any, error)
}

type constNode struct{ v any }
type exprNode struct {
	e        *Expr
	fallback *string // loose mode: the text to return when evaluation fails
}
type mapNode struct {
	keys []string
	vals []node
}
type listNode []node

func (n constNode) eval(*evaluation, any, map[string]any) (any, error) { return deepCopy(n.v), nil }

func (n exprNode) eval(ev *evaluation, input any, vars map[string]any) (any, error) {
	v, err := n.e.eval(ev, input, vars)
	var limit *LimitError
	if err != nil && n.fallback != nil && ev.err == nil && !errors.As(err, &limit) {
		return *n.fallback, nil
	}
	return v, err
}

func (n mapNode) eval(ev *evaluation, input any, vars map[string]any) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, err := n.vals[i].eval(ev, input, vars)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (n listNode) eval(ev *evaluation, input any, vars map[string]any) (any, error) {
	out := make([]any, len(n))
	for i, el := range n {
		v, err := el.eval(ev, input, vars)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// CompileTemplate compiles every expression inside v. In Strict mode only
// ${ … } strings are expressions; in Loose mode any other string that
// compiles as jq is one too, evaluating to its own text when it fails.
func CompileTemplate(v any, mode Mode, vars []string) (*Template, error) {
	konst := true
	n, err := compileNode(Normalize(v), mode, vars, &konst, 0)
	if err != nil {
		return nil, err
	}
	return &Template{root: n, konst: konst}, nil
}

const maxTemplateDepth = 256

func compileNode(v any, mode Mode, vars []string, konst *bool, depth int) (node, error) {
	if depth > maxTemplateDepth {
		return nil, &CompileError{Expr: "", Offset: -1, Msg: fmt.Sprintf("value nests deeper than %d levels", maxTemplateDepth)}
	}
	switch x := v.(type) {
	case string:
		if IsExpr(x) {
			e, err := Compile(x, vars)
			if err != nil {
				return nil, err
			}
			*konst = false
			return exprNode{e: e}, nil
		}
		if mode == Loose && x != "" {
			if e, err := Compile(x, vars); err == nil {
				*konst = false
				text := x
				return exprNode{e: e, fallback: &text}, nil
			}
		}
		return constNode{v: x}, nil
	case map[string]any:
		keys := sortedKeys(x)
		m := mapNode{keys: keys, vals: make([]node, len(keys))}
		allConst := true
		for i, k := range keys {
			c := true
			n, err := compileNode(x[k], mode, vars, &c, depth+1)
			if err != nil {
				return nil, err
			}
			m.vals[i] = n
			allConst = allConst && c
		}
		if allConst {
			return constNode{v: x}, nil
		}
		*konst = false
		return m, nil
	case []any:
		l := make(listNode, len(x))
		allConst := true
		for i, el := range x {
			c := true
			n, err := compileNode(el, mode, vars, &c, depth+1)
			if err != nil {
				return nil, err
			}
			l[i] = n
			allConst = allConst && c
		}
		if allConst {
			return constNode{v: x}, nil
		}
		*konst = false
		return l, nil
	}
	return constNode{v: v}, nil
}

// Eval evaluates the template into a new value. Its expressions share one
// evaluation's Limits (see Expr.Eval).
func (t *Template) Eval(ctx context.Context, input any, vars map[string]any) (any, error) {
	if t.konst {
		return t.root.eval(nil, input, vars)
	}
	return t.root.eval(newEvaluation(ctx), input, vars)
}

// IsConst reports whether the template holds no expression.
func (t *Template) IsConst() bool { return t.konst }

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = deepCopy(val)
		}
		return s
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
