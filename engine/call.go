package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// Call is an outbound call for the runtime to perform. It is plain data so
// that it can wait in an outbox; the runtime adds the idempotency key.
type Call struct {
	Kind     string                   `json:"kind"` // "http", "openapi" or "function"
	HTTP     *httpcall.Request        `json:"http,omitempty"`
	OpenAPI  *httpcall.OpenAPIRequest `json:"openapi,omitempty"`
	Function string                   `json:"function,omitempty"`
	Args     any                      `json:"args,omitempty"`
}

func (r *run) call(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	c := item.Task.Call
	if fn, ok := r.function(c.Call); ok {
		return r.callFunction(f, item, fn, sc)
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
		if r.e.Functions == nil || !r.e.Functions(c.Call) {
			return fault(notSupported(fmt.Sprintf("call: %q is neither defined in use.functions nor a built-in function of this storeflow; cataloged functions are not supported yet", c.Call)))
		}
		args, p2 := r.evalValue(c.With, f.Input, vars)
		if p2 != nil {
			return fault(p2)
		}
		call = &Call{Kind: "function", Function: c.Call, Args: args}
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

// Perform makes an HTTP or OpenAPI call with the effect's idempotency key.
// Other kinds are the caller's to perform.
func (c *Call) Perform(ctx context.Context, client *httpcall.Client, key string) (any, error) {
	switch c.Kind {
	case "http":
		req := *c.HTTP
		req.IdempotencyKey = key
		return client.Do(ctx, req)
	case "openapi":
		req := *c.OpenAPI
		req.IdempotencyKey = key
		return client.DoOpenAPI(ctx, req)
	}
	return nil, notSupported(fmt.Sprintf("call kind %q has no connector in this storeflow", c.Kind))
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
	req := &httpcall.Request{Method: strings.ToUpper(fmt.Sprint(method)), URI: uri, Output: h.Output, Redirect: h.Redirect}
	if req.Headers, p = r.stringMap(h.Headers, f.Input, vars, "headers"); p != nil {
		return nil, p
	}
	if req.Query, p = r.stringMap(h.Query, f.Input, vars, "query"); p != nil {
		return nil, p
	}
	if h.Body.IsSet() {
		if req.Body, p = r.evalValue(h.Body, f.Input, vars); p != nil {
			return nil, p
		}
	}
	if req.Auth, p = r.auth(h.Endpoint.Authentication, f.Input, vars); p != nil {
		return nil, p
	}
	return &Call{Kind: "http", HTTP: req}, nil
}

func (r *run) openAPICall(f *Frame, o *dsl.OpenAPICall, vars map[string]any) (*Call, *problem.Problem) {
	doc, p := r.endpointURI(&o.Document.Endpoint, f.Input, vars)
	if p != nil {
		return nil, p
	}
	req := &httpcall.OpenAPIRequest{DocumentURI: doc, OperationID: o.OperationID, Output: o.Output, Redirect: o.Redirect}
	if o.Parameters.IsSet() {
		v, p := r.evalValue(o.Parameters, f.Input, vars)
		if p != nil {
			return nil, p
		}
		params, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Parameters", Detail: fmt.Sprintf("openapi parameters must be an object, got %T", v)}
		}
		req.Parameters = params
	}
	auth := o.Authentication
	if auth == nil {
		auth = o.Document.Endpoint.Authentication
	}
	if req.Auth, p = r.auth(auth, f.Input, vars); p != nil {
		return nil, p
	}
	return &Call{Kind: "openapi", OpenAPI: req}, nil
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
	uri, err := httpcall.Interpolate(e.URI, input)
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

// auth resolves an authentication policy into credentials, reading secrets.
func (r *run) auth(ref *dsl.AuthRef, input any, vars map[string]any) (*httpcall.Auth, *problem.Problem) {
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
	a := &httpcall.Auth{}
	var p *problem.Problem
	switch {
	case pol.Basic != nil || pol.Digest != nil:
		b := pol.Basic
		if b == nil {
			b = pol.Digest
		}
		s, p := secret(b.Use)
		if p != nil {
			return nil, p
		}
		cred := &httpcall.BasicAuth{}
		if cred.Username, p = str(b.Username, s, "username"); p != nil {
			return nil, p
		}
		if cred.Password, p = str(b.Password, s, "password"); p != nil {
			return nil, p
		}
		if pol.Basic != nil {
			a.Basic = cred
		} else {
			a.Digest = cred
		}
	case pol.Bearer != nil:
		s, p := secret(pol.Bearer.Use)
		if p != nil {
			return nil, p
		}
		tok, p := str(pol.Bearer.Token, s, "token")
		if p != nil {
			return nil, p
		}
		a.Bearer = &httpcall.BearerAuth{Token: tok}
	case pol.OAuth2 != nil || pol.OIDC != nil:
		o := pol.OAuth2
		if o == nil {
			o = pol.OIDC
			a.OIDC = true
		}
		s, p := secret(o.Use)
		if p != nil {
			return nil, p
		}
		oa := &httpcall.OAuth2{Grant: o.Grant, ClientAuth: o.ClientAuthentication, Encoding: o.RequestEncoding,
			TokenEndpoint: o.TokenEndpoint, Scopes: o.Scopes, Audiences: o.Audiences}
		for _, f := range []struct {
			dst *string
			v   *dsl.Value
			key string
		}{{&oa.Authority, o.Authority, "authority"}, {&oa.ClientID, o.ClientID, "client.id"}, {&oa.ClientSecret, o.ClientSecret, "client.secret"},
			{&oa.Username, o.Username, "username"}, {&oa.Password, o.Password, "password"}} {
			if *f.dst, p = str(f.v, flattenSecret(s), f.key); p != nil {
				return nil, p
			}
		}
		if s != nil {
			if g, ok := s["grant"].(string); ok && oa.Grant == "" {
				oa.Grant = g
			}
		}
		a.OAuth2 = oa
	default:
		return nil, nil
	}
	return a, p
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
	switch {
	case a.Basic != nil:
		return map[string]any{"scheme": "Basic", "parameter": base64.StdEncoding.EncodeToString([]byte(a.Basic.Username + ":" + a.Basic.Password))}
	case a.Bearer != nil:
		return map[string]any{"scheme": "Bearer", "parameter": a.Bearer.Token}
	case a.Digest != nil:
		return map[string]any{"scheme": "Digest"}
	case a.OAuth2 != nil:
		return map[string]any{"scheme": "Bearer"}
	}
	return nil
}
