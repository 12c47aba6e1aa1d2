// Package tasks is the `task.create` built-in: a workflow hands a decision
// to a person or a role of its shop and waits, durably, for the answer
// (package task). The call's output is the outcome: {status: completed or
// rejected, answer, by, at, task, escalated, reason}.
package tasks

import (
	"context"
	_ "embed"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/task"
)

// Name is the built-in's name.
const Name = "task.create"

//go:embed schema.json
var schema []byte

// Builtin declares `task.create` in the default catalog.
var Builtin = connector.Builtin{
	Name:        Name,
	Version:     "1.0.0",
	Description: "opens an approval task for a user or a role of the shop and waits until it is completed or rejected; the output is the answer",
	Schema:      schema,
}

// Connector performs task.create with a task service.
type Connector struct {
	// Tasks keeps the tasks; nil: every call is a configuration problem
	// (the in-memory runner keeps no tasks).
	Tasks *task.Service
}

// Call opens the call's task, or looks at it again: it returns the answer
// once there is one, and defers the call until then.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	if c.Tasks == nil {
		return nil, problem.Newf(problem.TypeConfiguration, 501, "Tasks Not Available",
			"%s: this storeflow keeps no tasks (storeflow serve and storeflow test do)", Name)
	}
	return c.Tasks.Await(ctx, req)
}
