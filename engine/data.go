package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/problem"
)

// scope holds the variables a task list adds ($item, $index, $error …).
type scope struct {
	name string
	val  any
	up   *scope
	// override lets the variable replace a standard one: tasks run by an
	// extension see the extended task as $task.
	override bool
}

func (s *scope) with(name string, val any) *scope { return &scope{name: "$" + name, val: val, up: s} }

type varsKind int

const (
	varsTask varsKind = iota
	varsWorkflowInput
	varsWorkflowOutput
)

// vars builds the arguments of an expression evaluated in frame f.
func (r *run) vars(f *Frame, sc *scope, kind varsKind) map[string]any {
	v := map[string]any{
		"$context":  r.in.Context,
		"$workflow": r.workflowDescriptor(),
		"$runtime":  map[string]any{"name": "storeflow", "version": Version, "metadata": map[string]any{}},
		"$secrets":  r.secrets(),
	}
	if kind == varsTask && f != nil {
		task := map[string]any{
			"name":      f.Name,
			"reference": f.Path,
			"input":     f.RawInput,
			"output":    f.RawOutput,
			"startedAt": dateTime(f.StartedAt),
		}
		if def := r.taskDefinition(f); def != nil {
			task["definition"] = def
		}
		v["$task"] = task
		v["$input"] = f.Input
		v["$output"] = f.Output
	}
	overridden := map[string]bool{}
	for s := sc; s != nil; s = s.up {
		if _, taken := v[s.name]; !taken || s.override && !overridden[s.name] {
			v[s.name] = s.val
			overridden[s.name] = true
		}
	}
	return v
}

func (r *run) secrets() map[string]any {
	if r.secretsSeen != nil {
		return r.secretsSeen
	}
	m := make(map[string]any, len(r.e.Secrets)+1)
	for k, v := range r.e.Secrets {
		m[k] = v
	}
	if r.e.SecretSource != nil {
		more, err := r.e.SecretSource(r.ctx)
		if err != nil && r.e.Logger != nil {
			r.e.Logger.Warn("read secrets for $secrets", "instance", r.in.ID, "err", err)
		}
		for k, v := range more {
			m[k] = v
		}
	}
	r.secretsSeen = m
	return m
}

func (r *run) workflowDescriptor() map[string]any {
	return map[string]any{
		"id":         r.in.ID,
		"definition": r.wf.Raw,
		"input":      r.in.Input,
		"startedAt":  dateTime(r.in.StartedAt),
	}
}

// taskDefinition finds the raw definition of the task a frame runs.
func (r *run) taskDefinition(f *Frame) map[string]any {
	var node any = r.wf.Raw
	for _, tok := range strings.Split(strings.TrimPrefix(f.Path, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			node = n[tok]
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(n) {
				return nil
			}
			node = n[i]
		default:
			return nil
		}
	}
	m, _ := node.(map[string]any)
	return m
}

func dateTime(t time.Time) map[string]any {
	return map[string]any{
		"iso8601": t.UTC().Format(time.RFC3339Nano),
		"epoch":   map[string]any{"seconds": t.Unix(), "milliseconds": t.UnixMilli()},
	}
}

// limitTitle is the title of the problem of an expression past a limit.
const limitTitle = "Expression Limit Exceeded"

func exprProblem(err error) *problem.Problem {
	var p *problem.Problem
	if errors.As(err, &p) {
		return p
	}
	var limit *expr.LimitError
	if errors.As(err, &limit) {
		// An expression error, so that `catch: errors: with: type:
		// expression` catches it like any other failing expression.
		return &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: limitTitle, Detail: err.Error()}
	}
	return &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Expression Error", Detail: err.Error()}
}

func (r *run) evalValue(v *dsl.Value, input any, vars map[string]any) (any, *problem.Problem) {
	if v == nil {
		return input, nil
	}
	if v.Tmpl == nil {
		return v.Get(), nil
	}
	out, err := v.Tmpl.Eval(r.ctx, input, vars)
	if err != nil {
		return nil, exprProblem(err)
	}
	return out, nil
}

func (r *run) evalExpr(e *dsl.Expr, input any, vars map[string]any) (any, *problem.Problem) {
	if e == nil || e.Prog == nil {
		return nil, nil
	}
	out, err := e.Prog.Eval(r.ctx, input, vars)
	if err != nil {
		return nil, exprProblem(err)
	}
	return out, nil
}

func (r *run) evalBool(e *dsl.Expr, input any, vars map[string]any) (bool, *problem.Problem) {
	if e == nil || e.Prog == nil {
		return true, nil
	}
	ok, err := e.Prog.EvalBool(r.ctx, input, vars)
	if err != nil {
		return false, exprProblem(err)
	}
	return ok, nil
}

func (r *run) validateSchema(s *dsl.Schema, v any, path, what string) *problem.Problem {
	if s == nil {
		return nil
	}
	if s.Compiled == nil {
		return &problem.Problem{Type: problem.TypeConfiguration, Status: 501, Title: "Not Supported",
			Detail: fmt.Sprintf("%s schema at %s: schemas by external resource are not supported yet; give the schema inline under `document`", what, path)}
	}
	if err := s.Compiled.Validate(expr.Normalize(v)); err != nil {
		return &problem.Problem{Type: problem.TypeValidation, Status: 400, Title: "Validation Error",
			Detail: fmt.Sprintf("%s does not match its schema: %v", what, err)}
	}
	return nil
}

// duration resolves a duration, evaluating it when it is an expression.
func (r *run) duration(d *dsl.Duration, input any, vars map[string]any) (time.Duration, *problem.Problem) {
	if d == nil {
		return 0, nil
	}
	if d.Expr == nil {
		return d.Value, nil
	}
	v, p := r.evalExpr(d.Expr, input, vars)
	if p != nil {
		return 0, p
	}
	switch x := v.(type) {
	case string:
		dur, err := dsl.ParseISODuration(x)
		if err != nil {
			return 0, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Duration", Detail: err.Error()}
		}
		return dur, nil
	case map[string]any:
		var total time.Duration
		units := map[string]time.Duration{"days": 24 * time.Hour, "hours": time.Hour, "minutes": time.Minute, "seconds": time.Second, "milliseconds": time.Millisecond}
		for k, val := range x {
			u, ok := units[k]
			n, isNum := toFloat(val)
			if !ok || !isNum {
				return 0, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Duration",
					Detail: fmt.Sprintf("duration expression %s produced %v; expected an ISO 8601 string or an object of days, hours, minutes, seconds, milliseconds", d.Expr.Src, x)}
			}
			total += time.Duration(n * float64(u))
		}
		return total, nil
	}
	return 0, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Duration",
		Detail: fmt.Sprintf("duration expression %s produced %v; expected an ISO 8601 string such as \"PT1H\"", d.Expr.Src, v)}
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func (r *run) timeoutDuration(t *dsl.TimeoutRef, input any) (time.Duration, *problem.Problem) {
	to := t.Timeout
	if t.Ref != "" && r.wf.Use != nil {
		to = r.wf.Use.Timeouts[t.Ref]
	}
	if to == nil {
		return 0, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Timeout", Detail: fmt.Sprintf("timeout %q is not defined", t.Ref)}
	}
	return r.duration(&to.After, input, r.vars(nil, nil, varsWorkflowInput))
}

// normalize makes Go values given as input JSON-compatible.
func normalize(v any) any { return expr.Normalize(v) }
