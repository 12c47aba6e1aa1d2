package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// Call is an outbound call for the runtime to perform: plain data, so that
// it can wait in an outbox and cross a restart. Kind is a connector kind
// (connector.KindHTTP, KindOpenAPI or KindFunction); Args are, for http,
// the resolved request in connector/httpcall.Request's JSON form, for
// openapi the resolved operation in httpcall.OpenAPIRequest's, and for a
// built-in function its evaluated `with`. The runtime adds the
// idempotency key when it hands the call to a connector.
type Call struct {
	Kind     string `json:"kind"`
	Function string `json:"function,omitempty"`
	Args     any    `json:"args,omitempty"`
}

// UnmarshalJSON also reads calls that outbox rows written before the
// connector seam hold ({"kind":"http","http":{…}}), so that calls
// committed before an upgrade are still made after it.
func (c *Call) UnmarshalJSON(b []byte) error {
	var v struct {
		Kind     string          `json:"kind"`
		Function string          `json:"function"`
		Args     any             `json:"args"`
		HTTP     json.RawMessage `json:"http"`
		OpenAPI  json.RawMessage `json:"openapi"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = Call{Kind: v.Kind, Function: v.Function, Args: v.Args}
	for _, legacy := range []json.RawMessage{v.HTTP, v.OpenAPI} {
		if len(legacy) > 0 && c.Args == nil {
			if err := json.Unmarshal(legacy, &c.Args); err != nil {
				return err
			}
		}
	}
	return nil
}

// Request is the connector request that performs the effect's call, with
// the effect's idempotency key.
func (e *Effect) Request(instance string, at time.Time) connector.Request {
	c := e.Call
	return connector.Request{Kind: c.Kind, Function: c.Function, Args: c.Args, IdempotencyKey: e.IdempotencyKey(),
		Instance: instance, Task: e.Task, At: at}
}

func (r *run) call(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	c := item.Task.Call
	if fn, ok := r.function(c.Call); ok {
		return r.callFunction(f, item, fn, sc)
	}
	if f.Result != nil && f.Result.Note != nil {
		r.history(f.Result.Note.Type, item.Path, item.Name, f.Result.Note.Detail, nil)
	}
	if out, ok := takeResult(f); ok {
		return out
	}
	if f.Effect != "" {
		return okBlocked
	}
	vars := r.vars(f, sc, varsTask)
	var call *Call
	var p *problem.Problem
	switch {
	case c.HTTP != nil:
		call, p = r.httpCall(f, c.HTTP, vars)
	case c.OpenAPI != nil:
		call, p = r.openAPICall(f, c.OpenAPI, vars)
	case c.GRPC != nil || c.AsyncAPI != nil || c.A2A != nil || c.MCP != nil:
		return fault(notSupported(fmt.Sprintf("call: %s is not supported yet by storeflow; use call: http or call: openapi", c.Call)))
	default:
		call, p = r.builtinCall(c, f.Input, vars)
	}
	if p != nil {
		return fault(p)
	}
	f.Effect = r.effect(Effect{Kind: EffectCall, Task: item.Path, Call: call})
	return okBlocked
}

// takeResult consumes the completion a leaf task waited for: its output, or
// its error as the task's fault.
func takeResult(f *Frame) (outcome, bool) {
	res := f.Result
	if res == nil {
		return outcome{}, false
	}
	f.Result, f.Effect = nil, ""
	if res.Error != nil {
		return fault(res.Error), true
	}
	f.RawOutput = res.Output
	return okDone, true
}

func (r *run) function(name string) (*dsl.Task, bool) {
	if r.wf.Use == nil {
		return nil, false
	}
	fn, ok := r.wf.Use.Functions[name]
	return fn, ok
}

// callFunction runs a function defined in use.functions as a task of its
// own, with the call's `with` arguments as input.
func (r *run) callFunction(f *Frame, item *dsl.TaskItem, fn *dsl.Task, sc *scope) outcome {
	if f.Child == nil {
		input := f.Input
		if item.Task.Call.With.IsSet() {
			v, p := r.evalValue(item.Task.Call.With, f.Input, r.vars(f, sc, varsTask))
			if p != nil {
				return fault(p)
			}
			input = v
		}
		f.Child = &Frame{Path: item.Path, Name: item.Task.Call.Call, RawInput: input}
	}
	out := r.task(f.Child, &dsl.TaskItem{Name: item.Task.Call.Call, Task: fn, Path: item.Path}, nil)
	if out.kind == done {
		f.RawOutput = f.Child.Output
		f.Child = nil
		out.flow = ""
	}
	return out
}

func (r *run) httpCall(f *Frame, h *dsl.HTTPCall, vars map[string]any) (*Call, *problem.Problem) {
	method, p := r.evalValue(h.Method, f.Input, vars)
	if p != nil {
		return nil, p
	}
	uri, p := r.endpointURI(&h.Endpoint, f.Input, vars)
	if p != nil {
		return nil, p
	}
	args := args{"method": strings.ToUpper(fmt.Sprint(method)), "uri": uri}
	args.set("output", h.Output)
	args.set("redirect", h.Redirect)
	headers, p := r.stringMap(h.Headers, f.Input, vars, "headers")
	if p != nil {
		return nil, p
	}
	args.set("headers", headers)
	query, p := r.stringMap(h.Query, f.Input, vars, "query")
	if p != nil {
		return nil, p
	}
	args.set("query", query)
	if h.Body.IsSet() {
		body, p := r.evalValue(h.Body, f.Input, vars)
		if p != nil {
			return nil, p
		}
		args.set("body", body)
	}
	auth, p := r.auth(h.Endpoint.Authentication, f.Input, vars)
	if p != nil {
		return nil, p
	}
	args.set("auth", auth)
	return &Call{Kind: connector.KindHTTP, Args: map[string]any(args)}, nil
}

func (r *run) openAPICall(f *Frame, o *dsl.OpenAPICall, vars map[string]any) (*Call, *problem.Problem) {
	doc, p := r.endpointURI(&o.Document.Endpoint, f.Input, vars)
	if p != nil {
		return nil, p
	}
	args := args{"documentUri": doc, "operationId": o.OperationID}
	args.set("output", o.Output)
	args.set("redirect", o.Redirect)
	if o.Parameters.IsSet() {
		v, p := r.evalValue(o.Parameters, f.Input, vars)
		if p != nil {
			return nil, p
		}
		params, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Parameters", Detail: fmt.Sprintf("openapi parameters must be an object, got %T", v)}
		}
		args.set("parameters", params)
	}
	ref := o.Authentication
	if ref == nil {
		ref = o.Document.Endpoint.Authentication
	}
	auth, p := r.auth(ref, f.Input, vars)
	if p != nil {
		return nil, p
	}
	args.set("auth", auth)
	return &Call{Kind: connector.KindOpenAPI, Args: map[string]any(args)}, nil
}

// builtinCall resolves a call of a function of the runtime's default
// catalog (NAME:VERSION@default, or bare NAME) and checks its evaluated
// arguments against the function's schema.
func (r *run) builtinCall(c *dsl.CallTask, input any, vars map[string]any) (*Call, *problem.Problem) {
	if r.e.Builtins == nil {
		return nil, notSupported(fmt.Sprintf("call: %q is neither defined in use.functions nor a built-in function of this storeflow", c.Call))
	}
	if _, _, cat := connector.ParseRef(c.Call); cat != "" && r.wf.Use != nil && r.wf.Use.Catalogs[cat] != nil {
		return nil, notSupported(fmt.Sprintf("call: %q: functions of the catalog %q the workflow declares are not supported yet", c.Call, cat))
	}
	check, ok := r.e.Builtins.Lookup(c.Call)
	if !ok {
		return nil, notSupported(fmt.Sprintf("call: %q is neither defined in use.functions nor a built-in function of this storeflow (built-ins: %s); functions of other catalogs are not supported yet",
			c.Call, strings.Join(r.e.Builtins.Names(), ", ")))
	}
	var args any
	if c.With.IsSet() {
		v, p := r.evalValue(c.With, input, vars)
		if p != nil {
			return nil, p
		}
		args = v
	}
	if err := check(args); err != nil {
		return nil, &problem.Problem{Type: problem.TypeValidation, Status: 400, Title: "Invalid Arguments", Detail: err.Error()}
	}
	name, _, _ := connector.ParseRef(c.Call)
	return &Call{Kind: connector.KindFunction, Function: name, Args: args}, nil
}

// args are a call's resolved arguments, in the JSON form its connector
// decodes; set leaves out empty values, as the connectors' omitempty
// fields do.
type args map[string]any

func (a args) set(key string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case bool:
		if !x {
			return
		}
	case map[string]string:
		if len(x) == 0 {
			return
		}
	case map[string]any:
		if x == nil {
			return
		}
	}
	a[key] = v
}

func (r *run) endpointURI(e *dsl.Endpoint, input any, vars map[string]any) (string, *problem.Problem) {
	if e.URIExpr != nil {
		v, p := r.evalExpr(e.URIExpr, input, vars)
		if p != nil {
			return "", p
		}
		s, ok := v.(string)
		if !ok {
			return "", &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Endpoint", Detail: fmt.Sprintf("endpoint expression %s produced %T, not a URI string", e.URIExpr.Src, v)}
		}
		return s, nil
	}
	if !strings.Contains(e.URI, "{") {
		return e.URI, nil
	}
	uri, err := interpolate(e.URI, input)
	if err != nil {
		return "", problem.As(err)
	}
	return uri, nil
}

func (r *run) stringMap(v *dsl.Value, input any, vars map[string]any, what string) (map[string]string, *problem.Problem) {
	if !v.IsSet() {
		return nil, nil
	}
	out, p := r.evalValue(v, input, vars)
	if p != nil {
		return nil, p
	}
	m, ok := out.(map[string]any)
	if !ok {
		if out == nil {
			return nil, nil
		}
		return nil, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid " + what, Detail: fmt.Sprintf("%s must be an object, got %T", what, out)}
	}
	res := make(map[string]string, len(m))
	for k, val := range m {
		if val == nil {
			continue
		}
		if s, ok := val.(string); ok {
			res[k] = s
		} else {
			res[k] = fmt.Sprint(val)
		}
	}
	return res, nil
}

// auth resolves an authentication policy into credentials, reading
// secrets, in the form of connector/httpcall.Auth.
func (r *run) auth(ref *dsl.AuthRef, input any, vars map[string]any) (map[string]any, *problem.Problem) {
	if ref == nil {
		return nil, nil
	}
	pol := ref.Policy
	if ref.Use != "" {
		if r.wf.Use != nil {
			pol = r.wf.Use.Authentications[ref.Use]
		}
		if pol == nil {
			return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Authentication", Detail: fmt.Sprintf("authentication %q is not defined", ref.Use)}
		}
	}
	str := func(v *dsl.Value, secret map[string]any, key string) (string, *problem.Problem) {
		if secret != nil {
			if s, ok := secret[key]; ok {
				return fmt.Sprint(s), nil
			}
		}
		if v == nil {
			return "", nil
		}
		out, p := r.evalValue(v, input, vars)
		if p != nil || out == nil {
			return "", p
		}
		return fmt.Sprint(out), nil
	}
	secret := func(name string) (map[string]any, *problem.Problem) {
		if name == "" {
			return nil, nil
		}
		m, ok := r.secrets()[name].(map[string]any)
		if !ok {
			return nil, &problem.Problem{Type: problem.TypeAuthentication, Status: 401, Title: "Missing Secret",
				Detail: fmt.Sprintf("secret %q is not configured (or is not an object of credentials); configure it in storeflow's secrets", name)}
		}
		return m, nil
	}
	switch {
	case pol.Basic != nil || pol.Digest != nil:
		b, scheme := pol.Basic, "basic"
		if b == nil {
			b, scheme = pol.Digest, "digest"
		}
		s, p := secret(b.Use)
		if p != nil {
			return nil, p
		}
		user, p := str(b.Username, s, "username")
		if p != nil {
			return nil, p
		}
		pass, p := str(b.Password, s, "password")
		if p != nil {
			return nil, p
		}
		return map[string]any{scheme: map[string]any{"username": user, "password": pass}}, nil
	case pol.Bearer != nil:
		s, p := secret(pol.Bearer.Use)
		if p != nil {
			return nil, p
		}
		tok, p := str(pol.Bearer.Token, s, "token")
		if p != nil {
			return nil, p
		}
		return map[string]any{"bearer": map[string]any{"token": tok}}, nil
	case pol.OAuth2 != nil || pol.OIDC != nil:
		o, oidc := pol.OAuth2, false
		if o == nil {
			o, oidc = pol.OIDC, true
		}
		s, p := secret(o.Use)
		if p != nil {
			return nil, p
		}
		oa := args{}
		oa.set("grant", o.Grant)
		oa.set("clientAuth", o.ClientAuthentication)
		oa.set("encoding", o.RequestEncoding)
		oa.set("tokenEndpoint", o.TokenEndpoint)
		if len(o.Scopes) > 0 {
			oa["scopes"] = o.Scopes
		}
		if len(o.Audiences) > 0 {
			oa["audiences"] = o.Audiences
		}
		flat := flattenSecret(s)
		for _, fl := range []struct {
			name string
			v    *dsl.Value
			key  string
		}{{"authority", o.Authority, "authority"}, {"clientId", o.ClientID, "client.id"}, {"clientSecret", o.ClientSecret, "client.secret"},
			{"username", o.Username, "username"}, {"password", o.Password, "password"}} {
			v, p := str(fl.v, flat, fl.key)
			if p != nil {
				return nil, p
			}
			oa.set(fl.name, v)
		}
		if _, ok := oa["authority"]; !ok {
			oa["authority"] = ""
		}
		if s != nil {
			if g, ok := s["grant"].(string); ok && o.Grant == "" {
				oa["grant"] = g
			}
		}
		if _, ok := oa["grant"]; !ok {
			oa["grant"] = ""
		}
		out := map[string]any{"oauth2": map[string]any(oa)}
		if oidc {
			out["oidc"] = true
		}
		return out, nil
	}
	return nil, nil
}

// flattenSecret turns {client: {id: x}} into {"client.id": x} so that secret
// fields can be looked up by the same dotted names as policy fields.
func flattenSecret(s map[string]any) map[string]any {
	if s == nil {
		return nil
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", s)
	return out
}

func sortedKeysAny(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedPending(m map[string]PendingEffect) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// authorization describes the credentials a call used, for $authorization in
// its output and export expressions. It is computed again rather than kept in
// the instance state, so that secrets are never stored with the instance.
// OAuth2 tokens are obtained by the connector and are not shown.
func (r *run) authorization(f *Frame, c *dsl.CallTask, vars map[string]any) any {
	var ref *dsl.AuthRef
	switch {
	case c.HTTP != nil:
		ref = c.HTTP.Endpoint.Authentication
	case c.OpenAPI != nil:
		ref = c.OpenAPI.Authentication
	}
	a, p := r.auth(ref, f.Input, vars)
	if p != nil || a == nil {
		return nil
	}
	cred := func(scheme string) (map[string]any, bool) { m, ok := a[scheme].(map[string]any); return m, ok }
	if b, ok := cred("basic"); ok {
		return map[string]any{"scheme": "Basic", "parameter": base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(b["username"]) + ":" + fmt.Sprint(b["password"])))}
	}
	if b, ok := cred("bearer"); ok {
		return map[string]any{"scheme": "Bearer", "parameter": b["token"]}
	}
	if _, ok := cred("digest"); ok {
		return map[string]any{"scheme": "Digest"}
	}
	if _, ok := cred("oauth2"); ok {
		return map[string]any{"scheme": "Bearer"}
	}
	return nil
}
