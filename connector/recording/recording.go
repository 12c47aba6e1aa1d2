// Package recording is the recording twin of storeflow's connectors: it
// makes no call, records every one (function, arguments, idempotency key,
// instance, task, time) and answers with scripted outputs or errors. Tests
// use it to see what a workflow did; pretests to prove a flow on
// fictitious customers without reaching anyone.
package recording

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/storeflow/storeflow/connector"
)

// Call is one recorded call.
type Call struct {
	Kind           string
	Function       string // the built-in's name, for connector.KindFunction
	Args           any
	IdempotencyKey string
	Instance       string
	Task           string
	Attempt        int
	At             time.Time
}

// Name is the function's name, or the call kind for the DSL's call types.
func (c Call) Name() string {
	if c.Kind == connector.KindFunction {
		return c.Function
	}
	return c.Kind
}

// Answer is a scripted response: an output, or an error (a
// *problem.Problem keeps its type and status for the workflow to catch).
type Answer struct {
	Output any
	Err    error
}

// Recorder records calls and answers them. The zero value is not ready;
// use New.
type Recorder struct {
	mu       sync.Mutex
	calls    []Call
	answers  map[string][]Answer
	handlers map[string]connector.Func
	notify   chan struct{}
}

// New returns a recorder that answers every call with a null output until
// told otherwise.
func New() *Recorder {
	return &Recorder{answers: map[string][]Answer{}, handlers: map[string]connector.Func{}, notify: make(chan struct{})}
}

// Twin returns a registry with live's declarations whose every call this
// recorder answers.
func (r *Recorder) Twin(live *connector.Registry) *connector.Registry { return live.Twin(r) }

// Answer scripts the answers to calls of a function (or call kind), one
// per call in order; the last one answers every call after it.
func (r *Recorder) Answer(name string, answers ...Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[name] = append(r.answers[name], answers...)
}

// Handle answers calls of a function (or call kind) by computing the
// answer from the request, ahead of scripted answers.
func (r *Recorder) Handle(name string, fn connector.Func) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[name] = fn
}

// Call records a request and answers it.
func (r *Recorder) Call(ctx context.Context, req connector.Request) (any, error) {
	fn, _, _ := connector.ParseRef(req.Function)
	c := Call{Kind: req.Kind, Function: fn, Args: req.Args, IdempotencyKey: req.IdempotencyKey,
		Instance: req.Instance, Task: req.Task, Attempt: req.Attempt, At: req.At}
	name := c.Name()
	r.mu.Lock()
	r.calls = append(r.calls, c)
	close(r.notify)
	r.notify = make(chan struct{})
	h := r.handlers[name]
	var a Answer
	if q := r.answers[name]; len(q) > 0 {
		a = q[0]
		if len(q) > 1 {
			r.answers[name] = q[1:]
		}
	}
	r.mu.Unlock()
	if h != nil {
		return h(ctx, req)
	}
	return a.Output, a.Err
}

// Calls returns the calls recorded so far, in the order they were made;
// with names, only calls of those functions or call kinds.
func (r *Recorder) Calls(names ...string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(names) == 0 {
		return slices.Clone(r.calls)
	}
	var out []Call
	for _, c := range r.calls {
		if slices.Contains(names, c.Name()) {
			out = append(out, c)
		}
	}
	return out
}

// Wait blocks until at least n calls (of names, when given) are recorded,
// or ctx ends; it returns those recorded by then.
func (r *Recorder) Wait(ctx context.Context, n int, names ...string) ([]Call, error) {
	for {
		r.mu.Lock()
		ch := r.notify
		r.mu.Unlock()
		if got := r.Calls(names...); len(got) >= n {
			return got, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Calls(names...), ctx.Err()
		}
	}
}
