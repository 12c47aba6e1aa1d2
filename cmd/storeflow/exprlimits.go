package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/expr"
)

// exprLimitFlags declares the flags that bound expression evaluations and
// returns a function that reads them once parsed.
func exprLimitFlags(fl *flag.FlagSet) func() (expr.Limits, error) {
	timeout := fl.String("expr-timeout", envOr("STOREFLOW_EXPR_TIMEOUT", expr.DefaultTimeout.String()),
		"longest one expression evaluation may run before its task faults (env STOREFLOW_EXPR_TIMEOUT)")
	size := fl.String("expr-max-size", envOr("STOREFLOW_EXPR_MAX_SIZE", expr.FormatSize(expr.DefaultMaxSize)),
		"most one expression evaluation may build (arrays, objects, strings, its own function calls; estimated memory) before its task faults, e.g. 64MiB (env STOREFLOW_EXPR_MAX_SIZE)")
	return func() (expr.Limits, error) {
		d, err := time.ParseDuration(*timeout)
		if err != nil || d <= 0 {
			return expr.Limits{}, fmt.Errorf("--expr-timeout %q: give a positive duration such as 1s or 500ms", *timeout)
		}
		n, err := expr.ParseSize(*size)
		if err != nil {
			return expr.Limits{}, fmt.Errorf("--expr-max-size: %w", err)
		}
		return expr.Limits{Timeout: d, MaxSize: n}, nil
	}
}
