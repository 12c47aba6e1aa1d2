// Package connector is the seam between workflows and the outside world:
// every action a workflow calls (an HTTP request, an email, a shop's Admin
// API) is performed by a Connector found in a Registry, by call kind and,
// for built-in functions, by name. The engine only describes calls as plain
// data; the durable runtime and the in-memory runner dispatch them through
// the same registry, and tests and pretests swap in a recording twin.
package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/problem"
)

// Call kinds. KindFunction is a call of a built-in function of the
// runtime's default catalog; the others are the DSL's call types.
const (
	KindHTTP     = "http"
	KindOpenAPI  = "openapi"
	KindFunction = "function"
)

// Request is one call to perform. Everything in it is plain data: it waited
// in an outbox, possibly across a restart, before it got here.
type Request struct {
	Kind string `json:"kind"`
	// Function is the built-in's name ("email.send") for KindFunction.
	Function string `json:"function,omitempty"`
	// Args are the call's resolved arguments: for a function its `with`,
	// for http and openapi the connector's own request shape.
	Args any `json:"args,omitempty"`
	// IdempotencyKey is the same for every attempt of the same call of the
	// same instance: a connector that passes it on (a header, a Message-ID)
	// makes a repeated attempt harmless.
	IdempotencyKey string `json:"idempotencyKey"`
	// Instance and Task say who calls: the instance ID and the task's JSON
	// Pointer. Attempt counts deliveries of this call from 1.
	Instance string    `json:"instance,omitempty"`
	Task     string    `json:"task,omitempty"`
	Attempt  int       `json:"attempt,omitempty"`
	At       time.Time `json:"at,omitzero"`
}

// Connector performs calls. A failure is returned as an error; a
// *problem.Problem keeps its type and status, so that a workflow can catch
// it, and any other error becomes a runtime problem.
type Connector interface {
	Call(ctx context.Context, req Request) (any, error)
}

// Func adapts a function to Connector.
type Func func(ctx context.Context, req Request) (any, error)

// Call calls f.
func (f Func) Call(ctx context.Context, req Request) (any, error) { return f(ctx, req) }

// DecodeArgs decodes a request's arguments into v, refusing properties v
// does not know, and reports a bad argument as a validation problem naming
// the function.
func DecodeArgs(req Request, v any) error {
	b, err := json.Marshal(req.Args)
	if err != nil {
		return problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", "%s: arguments cannot be encoded: %v", req.name(), err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", "%s: %v", req.name(), err)
	}
	return nil
}

func (req Request) name() string {
	if req.Kind == KindFunction {
		return req.Function
	}
	return "call: " + req.Kind
}

// NotFound is the problem of a call nothing in the registry performs.
func NotFound(req Request) *problem.Problem {
	if req.Kind == KindFunction {
		return problem.Newf(problem.TypeConfiguration, 501, "Function Not Available",
			"no connector performs the built-in function %q in this storeflow", req.Function)
	}
	return problem.Newf(problem.TypeConfiguration, 501, "Not Supported",
		"call: %s is not supported by this storeflow", req.Kind)
}

// ErrorOf turns what a connector returned into the problem a workflow sees.
func ErrorOf(err error) *problem.Problem {
	if err == nil {
		return nil
	}
	return problem.As(err)
}

func (req Request) String() string {
	return fmt.Sprintf("%s (instance %s, task %s, key %s)", req.name(), req.Instance, req.Task, req.IdempotencyKey)
}

// Deferred is what a connector returns to have a call made later, at
// Until, rather than now: an SMS held until the shop's quiet hours end, a
// message over the shop's send rate. It is neither a result nor a failure:
// the call stays pending and is made again then, with the same
// idempotency key.
type Deferred struct {
	Until  time.Time
	Reason string
}

func (d *Deferred) Error() string {
	return fmt.Sprintf("deferred until %s: %s", d.Until.UTC().Format(time.RFC3339), d.Reason)
}

// Defer returns the error that defers a call until a time.
func Defer(until time.Time, reason string) error { return &Deferred{Until: until, Reason: reason} }

// DeferredUntil reports whether err defers the call, and until when.
func DeferredUntil(err error) (*Deferred, bool) {
	var d *Deferred
	if errors.As(err, &d) {
		return d, true
	}
	return nil, false
}

// Noted is an output that leaves a line in the calling instance's history
// besides: a message the sending rules suppressed says so there, with its
// reason. The workflow sees Output; the history gets Note.
type Noted struct {
	Output any
	Note   Note
}

// Note is a line a call adds to its instance's history: an entry of Type
// (such as "message.suppressed") with Detail, for the call's task.
type Note struct {
	Type   string `json:"type"`
	Detail any    `json:"detail,omitempty"`
}

// Unwrap splits what a connector returned into the output the workflow sees
// and the note for the history, if any.
func Unwrap(out any) (any, *Note) {
	switch n := out.(type) {
	case Noted:
		return n.Output, &n.Note
	case *Noted:
		if n == nil {
			return nil, nil
		}
		return n.Output, &n.Note
	}
	return out, nil
}
