package dsl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/storeflow/storeflow/expr"
)

var printer = message.NewPrinter(language.English)

// literalArgsProblem checks the arguments of a built-in call as far as
// they are written as literals, and describes what does not fit the
// function's schema ("" when nothing is wrong). Values computed by runtime
// expressions are checked when the call is made: a finding about such a
// value, or one that a computed value might resolve (anyOf, oneOf), is
// left to that check.
func literalArgsProblem(with *Value, check func(any) error) string {
	var args any
	var exprs []string
	if with.IsSet() {
		args = with.Get()
		if s, ok := args.(string); ok && expr.IsExpr(s) {
			return "" // the whole argument object is computed
		}
		exprs = exprPaths(args, "")
	}
	err := check(args)
	if err == nil {
		return ""
	}
	if !with.IsSet() {
		return "the function takes arguments: give them under with"
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var found []string
	undecidable := false
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch e.ErrorKind.(type) {
		case *kind.AnyOf, *kind.OneOf:
			if len(exprs) > 0 {
				undecidable = true
				return
			}
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc := "/" + strings.Join(e.InstanceLocation, "/")
		for _, p := range exprs {
			if loc == p || strings.HasPrefix(loc, p+"/") {
				return
			}
		}
		what := loc
		if what == "/" {
			what = "the arguments"
		} else {
			what = "with" + loc
		}
		found = append(found, fmt.Sprintf("%s: %s", what, e.ErrorKind.LocalizedString(printer)))
	}
	walk(ve)
	if undecidable || len(found) == 0 {
		return ""
	}
	return strings.Join(found, "; ")
}

// exprPaths lists the JSON Pointers of the runtime expressions in a value.
func exprPaths(v any, at string) []string {
	switch x := v.(type) {
	case string:
		if expr.IsExpr(x) {
			return []string{at}
		}
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, exprPaths(e, at+"/"+pointerToken(k))...)
		}
		return out
	case []any:
		var out []string
		for i, e := range x {
			out = append(out, exprPaths(e, fmt.Sprintf("%s/%d", at, i))...)
		}
		return out
	}
	return nil
}
