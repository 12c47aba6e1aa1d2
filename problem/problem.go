// Package problem holds RFC 7807 problem details: the one error shape shared by
// workflow faults (the DSL's error model) and the HTTP API.
package problem

import (
	"errors"
	"fmt"
	"strings"
)

// Standard error types defined by the Open Workflow DSL 1.0.
const (
	TypeConfiguration  = "https://open-workflow-specification.org/spec/1.0.0/errors/configuration"
	TypeValidation     = "https://open-workflow-specification.org/spec/1.0.0/errors/validation"
	TypeExpression     = "https://open-workflow-specification.org/spec/1.0.0/errors/expression"
	TypeAuthentication = "https://open-workflow-specification.org/spec/1.0.0/errors/authentication"
	TypeAuthorization  = "https://open-workflow-specification.org/spec/1.0.0/errors/authorization"
	TypeTimeout        = "https://open-workflow-specification.org/spec/1.0.0/errors/timeout"
	TypeCommunication  = "https://open-workflow-specification.org/spec/1.0.0/errors/communication"
	TypeRuntime        = "https://open-workflow-specification.org/spec/1.0.0/errors/runtime"
)

// standardPrefixes are the URI prefixes under which the spec and its
// conformance kit spell the standard error types. Both spellings appear in
// published documents, so a catch filter written with either must match.
var standardPrefixes = []string{
	"https://open-workflow-specification.org/spec/1.0.0/errors/",
	"https://open-workflow-specification.org/dsl/errors/types/",
	"https://serverlessworkflow.io/spec/1.0.0/errors/",
	"https://serverlessworkflow.io/dsl/errors/types/",
}

// Problem is an RFC 7807 problem details object.
type Problem struct {
	Type     string `json:"type"`
	Status   int    `json:"status"`
	Title    string `json:"title,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// New returns a problem of the given type and status.
func New(typ string, status int, title, detail string) *Problem {
	return &Problem{Type: typ, Status: status, Title: title, Detail: detail}
}

// Newf returns a problem whose detail is formatted.
func Newf(typ string, status int, title, format string, args ...any) *Problem {
	return New(typ, status, title, fmt.Sprintf(format, args...))
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Title)
	if b.Len() == 0 {
		b.WriteString(ShortType(p.Type))
	}
	fmt.Fprintf(&b, " (%d)", p.Status)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	if p.Instance != "" {
		b.WriteString(" at ")
		b.WriteString(p.Instance)
	}
	return b.String()
}

// Map returns the problem as a JSON-compatible map, the form workflow
// expressions see (for example as the variable named by catch.as).
func (p *Problem) Map() map[string]any {
	m := map[string]any{"type": p.Type, "status": p.Status}
	if p.Title != "" {
		m["title"] = p.Title
	}
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if p.Instance != "" {
		m["instance"] = p.Instance
	}
	return m
}

// WithInstance returns a copy with Instance set when it was empty.
func (p *Problem) WithInstance(instance string) *Problem {
	if p.Instance != "" {
		return p
	}
	c := *p
	c.Instance = instance
	return &c
}

// As extracts a *Problem from err, wrapping any other error as a runtime
// problem so that every failure has the one shape.
func As(err error) *Problem {
	if err == nil {
		return nil
	}
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	return New(TypeRuntime, 500, "Runtime Error", err.Error())
}

// ShortType returns the last segment of a standard error type
// ("communication"), or the type unchanged when it is not standard.
func ShortType(typ string) string {
	for _, prefix := range standardPrefixes {
		if rest, ok := strings.CutPrefix(typ, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			return rest
		}
	}
	return typ
}

// SameType reports whether two error type URIs name the same error, treating
// the different published spellings of the standard types as one.
func SameType(a, b string) bool {
	return a == b || ShortType(a) == ShortType(b) && ShortType(a) != a
}
