package engine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/problem"
)

func TestExpressionPastALimitFaultsTheTask(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - compute:
      set:
        x: '${ [range(100000000)] | length }'
`)
	limits := func(l *engine.Local) { l.Engine.Limits = expr.Limits{MaxSize: 256 << 10, Timeout: time.Minute} }
	res := runLocal(t, wf, nil, limits)
	require.Equal(t, engine.StatusFaulted, res.Instance.Status)
	p := res.Instance.Error
	require.Equal(t, problem.TypeExpression, p.Type)
	require.Equal(t, 400, p.Status)
	require.Equal(t, "Expression Limit Exceeded", p.Title)
	require.Equal(t, "/do/0/compute", p.Instance)
	require.Contains(t, p.Detail, `task compute: evaluate "[range(100000000)] | length": it builds more than 256KiB of values, the size limit of an evaluation`)

	wf = load(t, `do:
  - spin:
      set:
        x: '${ until(false; .) }'
`)
	res = runLocal(t, wf, nil, func(l *engine.Local) { l.Engine.Limits = expr.Limits{Timeout: 50 * time.Millisecond} })
	require.Equal(t, engine.StatusFaulted, res.Instance.Status)
	require.Contains(t, res.Instance.Error.Detail, "it ran longer than 50ms, the time limit of an evaluation")
}

func TestExpressionLimitIsCaught(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - guarded:
      try:
        - compute:
            set:
              x: '${ [range(100000000)] | length }'
      catch:
        errors:
          with:
            type: expression
        as: err
        do:
          - fallback:
              set:
                x: 0
                caught: ${ $err.title }
                where: ${ $err.instance }
  - after:
      set:
        x: ${ .x + 1 }
        caught: ${ .caught }
        where: ${ .where }
`)
	res := runLocal(t, wf, nil, func(l *engine.Local) { l.Engine.Limits = expr.Limits{MaxSize: 256 << 10, Timeout: time.Minute} })
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, map[string]any{"x": 1, "caught": "Expression Limit Exceeded", "where": "/do/0/guarded/try/0/compute"}, res.Instance.Output)
}

func TestEngineLimitsDefault(t *testing.T) {
	t.Parallel()
	// Without Limits the engine still bounds expressions: the defaults.
	wf := load(t, `do:
  - compute:
      set:
        x: '${ "x" * 1000000000 | length }'
`)
	res := runLocal(t, wf, nil)
	require.Equal(t, engine.StatusFaulted, res.Instance.Status)
	require.Contains(t, res.Instance.Error.Detail, "more than 16MiB")
}
