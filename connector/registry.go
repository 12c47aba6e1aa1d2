package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Builtin declares a function of the runtime's default catalog: what a
// workflow calls as `NAME:VERSION@default`, or as bare `NAME` when it
// defines no function of that name.
type Builtin struct {
	Name    string // dotted, lower case: "email.send"
	Version string // semantic version: "1.0.0"
	// Description says in one line what the function does.
	Description string
	// Schema is the JSON Schema the call's `with` arguments must satisfy.
	// Literal arguments are checked against it when a definition loads,
	// evaluated ones before the call is made.
	Schema json.RawMessage

	compiled *jsonschema.Schema
}

// Ref is the catalog reference of the built-in: NAME:VERSION@default.
func (b *Builtin) Ref() string { return b.Name + ":" + b.Version + "@default" }

// CheckArgs validates arguments against the built-in's schema.
func (b *Builtin) CheckArgs(args any) error {
	if b.compiled == nil {
		return nil
	}
	if err := b.compiled.Validate(args); err != nil {
		return fmt.Errorf("arguments of %s: %w", b.Name, err)
	}
	return nil
}

// Registry finds the connector for a call: by kind for the DSL's call
// types, by name for built-in functions. It is safe for concurrent use
// once filled.
type Registry struct {
	mu       sync.RWMutex
	kinds    map[string]Connector
	builtins map[string]*Builtin // by name
	funcs    map[string]Connector
	// around are the interceptors of built-ins by name, outermost first.
	around map[string][]Interceptor
}

// Interceptor stands in front of the connectors of some built-ins: it sees
// every call of them and decides whether, when and how next performs it
// (the sending rules in front of email.send and sms.send). It stays in
// front when a connector is replaced and in a Twin, so that a recording
// twin sees the same rules as the live connectors.
type Interceptor interface {
	Intercept(ctx context.Context, req Request, next Connector) (any, error)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]Connector{}, builtins: map[string]*Builtin{}, funcs: map[string]Connector{}, around: map[string][]Interceptor{}}
}

// Intercept puts i in front of the named built-ins, inside the
// interceptors put there before. Nil does nothing.
func (r *Registry) Intercept(i Interceptor, functions ...string) {
	if i == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range functions {
		r.around[f] = append(r.around[f], i)
	}
}

// intercepted is a connector behind an interceptor.
type intercepted struct {
	i    Interceptor
	next Connector
}

func (c intercepted) Call(ctx context.Context, req Request) (any, error) {
	return c.i.Intercept(ctx, req, c.next)
}

// Handle registers the connector for a call kind (KindHTTP, KindOpenAPI…).
func (r *Registry) Handle(kind string, c Connector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[kind] = c
}

// Define adds a built-in function with the connector that performs it. It
// fails on a bad name, version or schema, or a name defined twice.
func (r *Registry) Define(b Builtin, c Connector) error {
	if !validName(b.Name) {
		return fmt.Errorf("built-in %q: a name is lower-case words joined by dots (email.send)", b.Name)
	}
	if b.Version == "" {
		return fmt.Errorf("built-in %s: a version is required", b.Name)
	}
	if len(b.Schema) > 0 {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b.Schema)))
		if err != nil {
			return fmt.Errorf("built-in %s: argument schema: %w", b.Name, err)
		}
		comp := jsonschema.NewCompiler()
		url := "storeflow:builtin/" + b.Name + ".json"
		if err := comp.AddResource(url, doc); err != nil {
			return fmt.Errorf("built-in %s: argument schema: %w", b.Name, err)
		}
		if b.compiled, err = comp.Compile(url); err != nil {
			return fmt.Errorf("built-in %s: argument schema: %w", b.Name, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.builtins[b.Name]; dup {
		return fmt.Errorf("built-in %s is defined twice", b.Name)
	}
	r.builtins[b.Name] = &b
	r.funcs[b.Name] = c
	return nil
}

// Replace swaps the connector of a defined built-in or a call kind,
// keeping its declaration: a recording twin takes the place of the live
// connector this way.
func (r *Registry) Replace(kindOrFunction string, c Connector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.builtins[kindOrFunction]; ok {
		r.funcs[kindOrFunction] = c
		return nil
	}
	if _, ok := r.kinds[kindOrFunction]; ok {
		r.kinds[kindOrFunction] = c
		return nil
	}
	return fmt.Errorf("nothing named %q is registered to replace", kindOrFunction)
}

// Builtin returns the declaration of a built-in, given its bare name or
// its catalog reference NAME:VERSION@default (the version must match).
func (r *Registry) Builtin(ref string) (*Builtin, bool) {
	name, version, catalog := ParseRef(ref)
	if catalog != "" && catalog != "default" {
		return nil, false
	}
	r.mu.RLock()
	b, ok := r.builtins[name]
	r.mu.RUnlock()
	if !ok || version != "" && version != b.Version {
		return nil, false
	}
	return b, true
}

// Builtins lists the declared built-ins by name.
func (r *Registry) Builtins() []*Builtin {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := slices.Sorted(maps.Keys(r.builtins))
	out := make([]*Builtin, len(names))
	for i, n := range names {
		out[i] = r.builtins[n]
	}
	return out
}

// Call performs a request with the connector registered for it.
func (r *Registry) Call(ctx context.Context, req Request) (any, error) {
	c, err := r.connectorFor(req)
	if err != nil {
		return nil, err
	}
	return c.Call(ctx, req)
}

func (r *Registry) connectorFor(req Request) (Connector, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if req.Kind != KindFunction {
		if c, ok := r.kinds[req.Kind]; ok {
			return c, nil
		}
		return nil, NotFound(req)
	}
	name, _, _ := ParseRef(req.Function)
	c, ok := r.funcs[name]
	if !ok {
		return nil, NotFound(req)
	}
	around := r.around[name]
	for i := len(around) - 1; i >= 0; i-- {
		c = intercepted{i: around[i], next: c}
	}
	return c, nil
}

// ParseRef splits a function reference NAME[:VERSION][@CATALOG].
func ParseRef(ref string) (name, version, catalog string) {
	name, catalog, _ = strings.Cut(ref, "@")
	name, version, _ = strings.Cut(name, ":")
	return name, version, catalog
}

func validName(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Lookup finds a built-in by bare name or catalog reference and returns
// the check of its arguments; with Names it makes the registry the catalog
// that validation and the interpreter resolve calls in (dsl.Builtins).
func (r *Registry) Lookup(ref string) (func(args any) error, bool) {
	b, ok := r.Builtin(ref)
	if !ok {
		return nil, false
	}
	return b.CheckArgs, true
}

// Names lists the built-ins by name.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.builtins))
}

// Twin returns a registry with the same call kinds and built-in
// declarations as r, every one performed by c: the recording twin of the
// live connectors, for tests and pretests. Interceptors stay in front of
// it, as they are in front of the live ones.
func (r *Registry) Twin(c Connector) *Registry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := NewRegistry()
	for k := range r.kinds {
		t.kinds[k] = c
	}
	for n, b := range r.builtins {
		t.builtins[n] = b
		t.funcs[n] = c
	}
	for n, list := range r.around {
		t.around[n] = slices.Clone(list)
	}
	return t
}
