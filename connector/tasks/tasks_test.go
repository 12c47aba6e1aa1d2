package tasks_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/tasks"
	"github.com/storeflow/storeflow/problem"
)

// Where no tasks are kept (storeflow run), the call says so.
func TestWithoutTasksTheCallIsAConfigurationProblem(t *testing.T) {
	t.Parallel()
	reg := catalog.Default(catalog.Options{})
	_, err := reg.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: tasks.Name, Args: map[string]any{"title": "x", "role": "admin"}})
	var p *problem.Problem
	require.True(t, errors.As(err, &p), "%v", err)
	require.Equal(t, 501, p.Status)
	require.Equal(t, problem.TypeConfiguration, p.Type)
}

// The schema refuses what a workflow writes wrong, when it is loaded.
func TestArgumentSchema(t *testing.T) {
	t.Parallel()
	b, ok := catalog.Default(catalog.Options{}).Builtin("task.create:1.0.0@default")
	require.True(t, ok)
	for _, tc := range []struct {
		name string
		args map[string]any
		ok   bool
	}{
		{"a role's task", map[string]any{"title": "x", "role": "admin"}, true},
		{"a person's, with all", map[string]any{"title": "x", "user": "alice", "shop": "acme", "description": "d", "data": []any{1},
			"form": []any{map[string]any{"name": "ok", "type": "boolean", "required": true}}, "due": "P1D", "reminders": []any{"PT1H"},
			"escalate": map[string]any{"after": "PT8H", "role": "admin"}}, true},
		{"a schema form", map[string]any{"title": "x", "role": "admin", "form": map[string]any{"type": "object"}}, true},
		{"no title", map[string]any{"role": "admin"}, false},
		{"nobody", map[string]any{"title": "x"}, false},
		{"both", map[string]any{"title": "x", "role": "admin", "user": "alice"}, false},
		{"a field of an unknown type", map[string]any{"title": "x", "role": "admin", "form": []any{map[string]any{"name": "a", "type": "colour"}}}, false},
		{"an escalation to no one", map[string]any{"title": "x", "role": "admin", "escalate": map[string]any{"after": "PT1H"}}, false},
		{"a reminder that is no duration", map[string]any{"title": "x", "role": "admin", "reminders": []any{"1h"}}, false},
		{"an unknown argument", map[string]any{"title": "x", "role": "admin", "assignee": "bob"}, false},
	} {
		err := b.CheckArgs(tc.args)
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.name, err)
	}
}
