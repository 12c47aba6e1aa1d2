package engine_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
)

func TestRunWorkflowChild(t *testing.T) {
	t.Parallel()
	child, err := dsl.Load("child.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: loyalty-points
  version: '1.2.0'
do:
  - award:
      set:
        points: ${ .total * 10 | floor }
`))
	require.NoError(t, err)
	registry := func(ref engine.WorkflowRef) (*dsl.Workflow, error) {
		if ref.Name == "loyalty-points" && ref.Version == "1.2.0" {
			return child, nil
		}
		return nil, fmt.Errorf("no workflow %s", ref)
	}
	parent := load(t, `do:
  - points:
      run:
        workflow:
          namespace: shop
          name: loyalty-points
          version: '1.2.0'
          input:
            total: ${ .order.total }
  - missing:
      try:
        - other:
            run:
              workflow: {namespace: shop, name: nope, version: '1.0.0'}
      catch:
        as: e
        do:
          - note:
              set: '${ {points: $input.points, missing: $e.status} }'
`)
	res := runLocal(t, parent, map[string]any{"order": map[string]any{"total": 12.5}}, roundTrip, func(l *engine.Local) { l.Workflows = registry })
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, jsonValue(t, map[string]any{"points": 125, "missing": 404}), jsonValue(t, res.Instance.Output))
}

func TestLooseModeAndLiterals(t *testing.T) {
	t.Parallel()
	res := runLocal(t, load(t, `evaluate:
  mode: loose
do:
  - greet:
      set:
        greeting: Hello there
        total: .price * 2
        name: ${ .name }
`), map[string]any{"price": 4, "name": "Ada"})
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, map[string]any{"greeting": "Hello there", "total": 8, "name": "Ada"}, res.Instance.Output)

	strict := runLocal(t, load(t, `do:
  - greet:
      set:
        total: .price * 2
`), map[string]any{"price": 4})
	require.Equal(t, map[string]any{"total": ".price * 2"}, strict.Instance.Output, "strict mode keeps bare strings literal")
}

func TestRuntimeDescriptors(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - describe:
      set:
        task: ${ $task.name }
        ref: ${ $task.reference }
        kind: ${ $task.definition | keys }
        wf: ${ $workflow.definition.document.name }
        rawInput: ${ $workflow.input }
        runtime: ${ $runtime.name }
        secret: ${ $secrets.shopify.token }
        started: ${ $workflow.startedAt.iso8601 }
`)
	res := runLocal(t, wf, map[string]any{"x": 1}, func(l *engine.Local) {
		l.Engine.Secrets = map[string]any{"shopify": map[string]any{"token": "shpat_x"}}
	})
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	out := res.Instance.Output.(map[string]any)
	require.Equal(t, "describe", out["task"])
	require.Equal(t, "/do/0/describe", out["ref"])
	require.Equal(t, []any{"set"}, out["kind"])
	require.Equal(t, "t", out["wf"])
	require.Equal(t, map[string]any{"x": 1}, out["rawInput"])
	require.Equal(t, "storeflow", out["runtime"])
	require.Equal(t, "shpat_x", out["secret"])
	require.Equal(t, "2026-11-23T10:00:00Z", out["started"])
}

func TestHistoryRecordsTaskLifecycle(t *testing.T) {
	t.Parallel()
	res := runLocal(t, load(t, `do:
  - a: {set: {x: 1}}
  - b:
      if: ${ false }
      set: {y: 2}
`), nil)
	var types []string
	for _, h := range res.History {
		types = append(types, h.Type+" "+h.Name)
	}
	require.Equal(t, []string{"workflow.started ", "task.started a", "task.completed a", "task.started b", "task.skipped b", "workflow.completed "}, types)
}
