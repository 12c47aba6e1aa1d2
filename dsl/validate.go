package dsl

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/storeflow/storeflow/cron"
	"github.com/storeflow/storeflow/expr"
)

// CallKinds are the call types defined by the DSL.
var CallKinds = []string{"http", "openapi", "grpc", "asyncapi", "a2a", "mcp"}

// Validate checks what decoding cannot: references between parts of the
// document, flow directives, durations, cron expressions and runtime
// expressions, which it compiles in place. The error, if any, is of type Errors.
func Validate(wf *Workflow) error { return ValidateWith(wf, Options{}) }

// ValidateWith is Validate with options (the built-in catalog).
func ValidateWith(wf *Workflow, opts Options) error {
	v := &validator{wf: wf, src: wf.Source, mode: expr.Strict, builtins: opts.Builtins}
	if wf.Evaluate.Mode == "loose" {
		v.mode = expr.Loose
	}
	v.workflow()
	if len(v.errs) > 0 {
		v.errs.sort()
		return v.errs
	}
	return nil
}

type validator struct {
	wf       *Workflow
	src      *Source
	mode     expr.Mode
	builtins Builtins
	errs     Errors
}

func (v *validator) errorf(path, format string, args ...any) {
	file := ""
	if v.src != nil {
		file = v.src.File
	}
	// Validation findings are about a property's value: point at the value.
	v.errs = append(v.errs, &Error{File: file, Pos: v.src.ValuePos(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) use() *Use {
	if v.wf.Use == nil {
		return &Use{}
	}
	return v.wf.Use
}

func (v *validator) workflow() {
	wf := v.wf
	v.input(wf.Input, nil)
	v.output(wf.Output, nil)
	v.timeoutRef(wf.Timeout)
	if u := wf.Use; u != nil {
		for _, name := range sortedKeys(u.Authentications) {
			v.authPolicy(u.Authentications[name], nil)
		}
		for _, name := range sortedKeys(u.Errors) {
			v.errorDef(u.Errors[name], nil)
		}
		for _, name := range sortedKeys(u.Retries) {
			v.retryPolicy(u.Retries[name], nil)
		}
		for _, name := range sortedKeys(u.Timeouts) {
			v.duration(&u.Timeouts[name].After, nil)
		}
		for _, name := range sortedKeys(u.Functions) {
			v.task(u.Functions[name], "/use/functions/"+pointerToken(name), nil)
		}
		for _, name := range sortedKeys(u.Catalogs) {
			v.endpoint(&u.Catalogs[name].Endpoint, nil)
		}
		for _, e := range u.Extensions {
			v.expr(e.When, nil)
			v.taskList(e.Before, nil)
			v.taskList(e.After, nil)
		}
	}
	if s := wf.Schedule; s != nil {
		v.duration(s.Every, nil)
		v.duration(s.After, nil)
		if s.Cron != "" {
			if _, err := cron.Parse(s.Cron); err != nil {
				v.errorf("/schedule/cron", "%v", err)
			}
		}
		if s.On != nil {
			v.consumption(s.On, nil)
		}
	}
	v.taskList(wf.Do, nil)
}

// taskList validates a list's tasks and the flow directives between them.
func (v *validator) taskList(list TaskList, vars []string) {
	names := make([]string, len(list))
	for i, item := range list {
		names[i] = item.Name
	}
	for _, item := range list {
		v.task(item.Task, item.Path, vars)
		if item.Task != nil {
			v.then(item.Task.Then, item.Path+"/then", names)
			for i, c := range item.Task.Switch {
				v.then(c.Then, fmt.Sprintf("%s/switch/%d/%s/then", item.Path, i, pointerToken(c.Name)), names)
			}
			if item.Task.Try != nil && item.Task.Try.Catch != nil {
				v.then(item.Task.Try.Catch.Then, item.Path+"/catch/then", names)
			}
		}
	}
}

func (v *validator) then(then, path string, names []string) {
	switch then {
	case "", ThenContinue, ThenExit, ThenEnd:
		return
	}
	if contains(names, then) {
		return
	}
	if s := suggest(then, names); s != "" {
		v.errorf(path, "then: %q names no task in this list; did you mean %q? (flow directives can only point at tasks of the same list, or be continue, exit or end)", then, s)
		return
	}
	v.errorf(path, "then: %q names no task in this list; the tasks here are %s (or use continue, exit or end)", then, quoteList(names))
}

func (v *validator) task(t *Task, path string, vars []string) {
	if t == nil {
		return
	}
	v.expr(t.If, vars)
	v.input(t.Input, vars)
	v.output(t.Output, vars)
	if t.Export != nil {
		v.value(t.Export.As, vars)
		v.schema(t.Export.Schema)
	}
	v.timeoutRef(t.Timeout)
	if !t.hasBody() {
		return // decoding already reported what is missing
	}
	switch t.Kind {
	case KindCall:
		v.call(t.Call, path, vars)
	case KindDo:
		v.bodyList(t.Do, path+"/do", "do", vars)
	case KindEmit:
		for _, name := range sortedKeys(t.Emit.With) {
			v.value(t.Emit.With[name], vars)
		}
	case KindFor:
		if t.For.Each == t.For.At {
			v.errorf(path+"/for", "for.each and for.at are both %q; give them different names", t.For.Each)
		}
		v.value(t.For.In, vars)
		inner := withVars(vars, "$"+t.For.Each, "$"+t.For.At)
		v.expr(t.For.While, inner)
		v.bodyList(t.For.Do, path+"/do", "for", inner)
	case KindFork:
		v.bodyList(t.Fork.Branches, path+"/fork/branches", "fork", vars)
	case KindListen:
		v.consumption(&t.Listen.To, vars)
		if it := t.Listen.Foreach; it != nil {
			inner := withVars(vars, "$"+it.Item, "$"+it.At)
			v.taskList(it.Do, inner)
			v.output(it.Output, inner)
			if it.Export != nil {
				v.value(it.Export.As, inner)
				v.schema(it.Export.Schema)
			}
		}
	case KindRaise:
		if t.Raise.Ref != "" {
			if _, ok := v.use().Errors[t.Raise.Ref]; !ok {
				v.undefined(t.Raise.Path, "error", t.Raise.Ref, sortedKeys(v.use().Errors), "use.errors")
			}
		} else {
			v.errorDef(t.Raise.Error, vars)
		}
	case KindRun:
		if w := t.Run.Workflow; w != nil {
			v.value(w.Input, vars)
		}
		if c := t.Run.Container; c != nil {
			v.duration(c.LifetimeAfter, vars)
		}
	case KindSet:
		v.value(t.Set, vars)
	case KindSwitch:
		for _, c := range t.Switch {
			v.expr(c.When, vars)
		}
	case KindTry:
		v.bodyList(t.Try.Try, path+"/try", "try", vars)
		if c := t.Try.Catch; c != nil {
			as := c.As
			if as == "" {
				as = "error"
			}
			inner := withVars(vars, "$"+as)
			for _, name := range sortedKeys(c.Errors) {
				v.value(c.Errors[name], vars)
			}
			v.expr(c.When, inner)
			v.expr(c.ExceptWhen, inner)
			if r := c.Retry; r != nil {
				if r.Ref != "" {
					if _, ok := v.use().Retries[r.Ref]; !ok {
						v.undefined(r.Path, "retry policy", r.Ref, sortedKeys(v.use().Retries), "use.retries")
					}
				} else {
					v.retryPolicy(r.Policy, inner)
				}
			}
			v.taskList(c.Do, inner)
		}
	case KindWait:
		v.duration(t.Wait, vars)
	}
}

// bodyList validates the required task list of a composite task.
func (v *validator) bodyList(list TaskList, path, what string, vars []string) {
	if len(list) == 0 {
		v.errorf(path, "%s has no tasks; give it at least one task to run", what)
	}
	v.taskList(list, vars)
}

func (v *validator) call(c *CallTask, path string, vars []string) {
	switch {
	case c.HTTP != nil:
		v.value(c.HTTP.Method, vars)
		v.endpoint(&c.HTTP.Endpoint, vars)
		v.value(c.HTTP.Headers, vars)
		v.value(c.HTTP.Body, vars)
		v.value(c.HTTP.Query, vars)
		return
	case c.OpenAPI != nil:
		v.endpoint(&c.OpenAPI.Document.Endpoint, vars)
		v.value(c.OpenAPI.Parameters, vars)
		v.authRef(c.OpenAPI.Authentication, vars)
		return
	case c.GRPC != nil:
		v.endpoint(&c.GRPC.Proto.Endpoint, vars)
		v.authRef(c.GRPC.Auth, vars)
		v.value(c.GRPC.Arguments, vars)
		return
	case c.AsyncAPI != nil:
		v.endpoint(&c.AsyncAPI.Document.Endpoint, vars)
		v.authRef(c.AsyncAPI.Authentication, vars)
		return
	case c.A2A != nil:
		if c.A2A.AgentCard != nil {
			v.endpoint(&c.A2A.AgentCard.Endpoint, vars)
		}
		if c.A2A.Server != nil {
			v.endpoint(c.A2A.Server, vars)
		}
		v.value(c.A2A.Parameters, vars)
		return
	case c.MCP != nil:
		v.value(c.MCP.Parameters, vars)
		v.duration(c.MCP.Timeout, vars)
		return
	case contains(CallKinds, c.Call):
		return // arguments missing: reported by the decoder
	}
	v.value(c.With, vars)
	if _, ok := v.use().Functions[c.Call]; ok {
		return
	}
	if u, err := url.Parse(c.Call); err == nil && u.Scheme != "" && (u.Host != "" || u.Scheme == "file") {
		return // a function defined by the document at that URI
	}
	if name, catalog, ok := strings.Cut(c.Call, "@"); ok && name != "" {
		_, declared := v.use().Catalogs[catalog]
		switch {
		case catalog == "default" && !declared && v.builtins != nil:
			v.builtin(c, path)
		case declared || catalog == "default":
		default:
			v.undefined(path+"/call", "catalog", catalog, sortedKeys(v.use().Catalogs), "use.catalogs")
		}
		return
	}
	if v.builtins != nil {
		if _, ok := v.builtins.Lookup(c.Call); ok {
			v.builtin(c, path)
			return
		}
	}
	candidates := append(sortedKeys(v.use().Functions), CallKinds...)
	if v.builtins != nil {
		candidates = append(candidates, v.builtins.Names()...)
	}
	if s := suggest(c.Call, candidates); s != "" {
		v.errorf(path+"/call", "call: %q is not a function defined in use.functions nor a call type; did you mean %q?", c.Call, s)
		return
	}
	v.errorf(path+"/call", "call: %q is not a function defined in use.functions nor a call type (%s); define it under use.functions or reference a cataloged function as name:version@catalog", c.Call, strings.Join(CallKinds, ", "))
}

// builtin checks a call of the default catalog: the function exists in the
// version asked for, and the arguments written as literals fit its schema.
func (v *validator) builtin(c *CallTask, path string) {
	check, ok := v.builtins.Lookup(c.Call)
	if !ok {
		name, _, _ := strings.Cut(strings.SplitN(c.Call, "@", 2)[0], ":")
		if _, found := v.builtins.Lookup(name); found {
			v.errorf(path+"/call", "call: %q: the built-in %q exists, but not in that version; call it as %q, or NAME:VERSION@default with its version", c.Call, name, name)
			return
		}
		if s := suggest(name, v.builtins.Names()); s != "" {
			v.errorf(path+"/call", "call: %q is not a built-in function of this storeflow; did you mean %q?", c.Call, s)
			return
		}
		v.errorf(path+"/call", "call: %q is not a built-in function of this storeflow (built-ins: %s)", c.Call, strings.Join(v.builtins.Names(), ", "))
		return
	}
	if msg := literalArgsProblem(c.With, check); msg != "" {
		at := path + "/with"
		if !c.With.IsSet() {
			at = path + "/call"
		}
		v.errorf(at, "call: %s: %s", c.Call, msg)
	}
}

func (v *validator) undefined(path, what, name string, defined []string, where string) {
	msg := fmt.Sprintf("%s %q is not defined in %s", what, name, where)
	if s := suggest(name, defined); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if len(defined) > 0 {
		msg += "; defined there: " + quoteList(defined)
	} else {
		msg += "; define it there first"
	}
	v.errorf(path, "%s", msg)
}

func (v *validator) input(in *Input, vars []string) {
	if in == nil {
		return
	}
	v.schema(in.Schema)
	v.value(in.From, vars)
}

func (v *validator) output(out *Output, vars []string) {
	if out == nil {
		return
	}
	v.value(out.As, vars)
	v.schema(out.Schema)
}

func (v *validator) timeoutRef(t *TimeoutRef) {
	if t == nil {
		return
	}
	if t.Ref != "" {
		if _, ok := v.use().Timeouts[t.Ref]; !ok {
			v.undefined(t.Path, "timeout", t.Ref, sortedKeys(v.use().Timeouts), "use.timeouts")
		}
		return
	}
	if t.Timeout != nil {
		v.duration(&t.Timeout.After, nil)
	}
}

func (v *validator) duration(d *Duration, vars []string) {
	if d == nil {
		return
	}
	v.expr(d.Expr, vars)
}

func (v *validator) endpoint(e *Endpoint, vars []string) {
	if e == nil {
		return
	}
	if e.URIExpr != nil {
		v.expr(e.URIExpr, vars)
	} else if e.URI != "" {
		if err := checkURITemplate(e.URI); err != nil {
			v.errorf(e.Path, "%v", err)
		}
	}
	v.authRef(e.Authentication, vars)
}

var placeholderRe = regexp.MustCompile(`\{[^{}]*\}`)

func checkURITemplate(uri string) error {
	rest := placeholderRe.ReplaceAllStringFunc(uri, func(p string) string {
		if strings.TrimSpace(p[1:len(p)-1]) == "" {
			return "\x00"
		}
		return "x"
	})
	if strings.ContainsAny(rest, "{}\x00") {
		return fmt.Errorf("endpoint %q has an unbalanced or empty {placeholder}", uri)
	}
	if strings.ContainsAny(strings.TrimSpace(uri), " \t\n") {
		return fmt.Errorf("endpoint %q contains white space; encode it as %%20", uri)
	}
	return nil
}

func (v *validator) authRef(a *AuthRef, vars []string) {
	if a == nil {
		return
	}
	if a.Use != "" {
		if _, ok := v.use().Authentications[a.Use]; !ok {
			v.undefined(a.Path+"/use", "authentication", a.Use, sortedKeys(v.use().Authentications), "use.authentications")
		}
		return
	}
	v.authPolicy(a.Policy, vars)
}

func (v *validator) authPolicy(p *AuthPolicy, vars []string) {
	if p == nil {
		return
	}
	secret := func(name, path string) {
		if name != "" && !contains(v.use().Secrets, name) {
			v.undefined(path, "secret", name, v.use().Secrets, "use.secrets")
		}
	}
	for _, b := range []*BasicAuth{p.Basic, p.Digest} {
		if b != nil {
			secret(b.Use, "")
			v.value(b.Username, vars)
			v.value(b.Password, vars)
		}
	}
	if b := p.Bearer; b != nil {
		secret(b.Use, "")
		v.value(b.Token, vars)
	}
	for _, o := range []*OAuth2Auth{p.OAuth2, p.OIDC} {
		if o != nil {
			secret(o.Use, "")
			for _, val := range []*Value{o.Authority, o.ClientID, o.ClientSecret, o.Username, o.Password} {
				v.value(val, vars)
			}
		}
	}
}

func (v *validator) errorDef(e *ErrorDef, vars []string) {
	if e == nil {
		return
	}
	for _, val := range []*Value{e.Type, e.Status, e.Instance, e.Title, e.Detail} {
		v.value(val, vars)
	}
}

func (v *validator) retryPolicy(r *RetryPolicy, vars []string) {
	if r == nil {
		return
	}
	v.expr(r.When, vars)
	v.expr(r.ExceptWhen, vars)
	v.duration(r.Delay, vars)
	v.duration(r.Limit.AttemptDuration, vars)
	v.duration(r.Limit.Duration, vars)
	if r.Limit.AttemptCount < 0 {
		v.errorf("", "retry limit.attempt.count must not be negative")
	}
	if j := r.Jitter; j != nil {
		v.duration(&j.From, vars)
		v.duration(&j.To, vars)
		if j.From.Expr == nil && j.To.Expr == nil && j.To.Value < j.From.Value {
			v.errorf(j.To.Path, "jitter.to (%s) is shorter than jitter.from (%s)", j.To.Value, j.From.Value)
		}
	}
}

func (v *validator) consumption(c *EventConsumption, vars []string) {
	filters := append(append([]*EventFilter{}, c.All...), c.Any...)
	if c.One != nil {
		filters = append(filters, c.One)
	}
	for _, f := range filters {
		for _, name := range sortedKeys(f.With) {
			v.value(f.With[name], vars)
		}
		for _, name := range sortedKeys(f.Correlate) {
			v.expr(f.Correlate[name].From, vars)
			v.value(f.Correlate[name].Expect, vars)
		}
	}
	if u := c.Until; u != nil {
		v.expr(u.Expr, vars)
		if u.Strategy != nil {
			v.consumption(u.Strategy, vars)
		}
	}
}

// expr compiles an expression-only property; bare jq is allowed there.
func (v *validator) expr(e *Expr, vars []string) {
	if e == nil || e.Src == "" {
		return
	}
	prog, err := expr.Compile(e.Src, vars)
	if err != nil {
		v.exprError(e.Path, err)
		return
	}
	e.Prog = prog
}

// value compiles the runtime expressions inside a value.
func (v *validator) value(val *Value, vars []string) {
	if val == nil {
		return
	}
	raw := val.Get()
	if s, ok := raw.(string); ok && isFilterPath(val.Path) {
		// input.from, output.as and export.as given as a string are always
		// expressions, also when written without ${ }.
		prog, err := expr.Compile(s, vars)
		if err != nil {
			v.exprError(val.Path, err)
			return
		}
		val.Tmpl, err = expr.CompileTemplate("${ "+prog.Source()+" }", expr.Strict, vars)
		if err != nil {
			v.exprError(val.Path, err)
		}
		return
	}
	tmpl, err := expr.CompileTemplate(raw, v.mode, vars)
	if err != nil {
		v.exprError(failingLeaf(raw, val.Path, vars), err)
		return
	}
	val.Tmpl = tmpl
}

// failingLeaf finds the path of the first expression inside raw that does
// not compile, so that the error points at it rather than at its container.
func failingLeaf(raw any, path string, vars []string) string {
	switch x := raw.(type) {
	case string:
		return path
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := path + "/" + pointerToken(k)
			if s, ok := x[k].(string); ok {
				if expr.IsExpr(s) {
					if _, err := expr.Compile(s, vars); err != nil {
						return p
					}
				}
				continue
			}
			if leaf := failingLeaf(x[k], p, vars); leaf != p {
				return leaf
			}
		}
	case []any:
		for i, el := range x {
			p := fmt.Sprintf("%s/%d", path, i)
			if s, ok := el.(string); ok {
				if expr.IsExpr(s) {
					if _, err := expr.Compile(s, vars); err != nil {
						return p
					}
				}
				continue
			}
			if leaf := failingLeaf(el, p, vars); leaf != p {
				return leaf
			}
		}
	}
	return path
}

// isFilterPath tells the properties whose string form is always an
// expression, also when written as bare jq (input.from: .user).
func isFilterPath(path string) bool {
	for _, suffix := range []string{"/input/from", "/output/as", "/export/as", "/for/in"} {
		if strings.HasSuffix(path, suffix) {
			return true
		}
	}
	return false
}

// exprError reports an expression that does not compile at the place its
// text starts.
func (v *validator) exprError(path string, err error) {
	file := ""
	if v.src != nil {
		file = v.src.File
	}
	msg := fmt.Sprintf("runtime expression: %v", err)
	var ce *expr.CompileError
	if errors.As(err, &ce) {
		msg = ce.Error()
	}
	v.errs = append(v.errs, &Error{File: file, Pos: v.src.ValuePos(path), Path: path, Message: msg})
}

func (v *validator) schema(s *Schema) {
	if s == nil || s.Document == nil {
		return
	}
	if s.Format != "" && s.Format != "json" && !strings.HasPrefix(s.Format, "json:") {
		v.errorf(s.Path+"/format", "schema format %q is not supported; use json (JSON Schema)", s.Format)
		return
	}
	c := jsonschema.NewCompiler()
	url := "storeflow:" + s.Path + ".json"
	if err := c.AddResource(url, s.Document); err != nil {
		v.errorf(s.Path+"/document", "schema: %v", err)
		return
	}
	compiled, err := c.Compile(url)
	if err != nil {
		v.errorf(s.Path+"/document", "schema is not a valid JSON Schema: %v", err)
		return
	}
	s.Compiled = compiled
}

func withVars(vars []string, add ...string) []string {
	out := append([]string{}, vars...)
	for _, a := range add {
		if !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
