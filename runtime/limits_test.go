package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/runtime"
)

const runawayFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: runaway
  version: '1.0.0'
do:
  - compute:
      set:
        x: '${ %s }'
`

const normalFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: normal
  version: '1.0.0'
do:
  - total:
      set:
        total: ${ [.lines[] | .price * .qty] | add }
`

// ended records the order in which instances end.
type ended struct {
	mu  sync.Mutex
	ids []string
}

func (e *ended) observe(o runtime.Observation) {
	if o.Ended {
		e.mu.Lock()
		e.ids = append(e.ids, o.Instance)
		e.mu.Unlock()
	}
}

func (e *ended) index(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.ids {
		if x == id {
			return i
		}
	}
	return -1
}

func (h *harness) startNormal(n int) []string {
	var ids []string
	for i := range n {
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "normal", Version: "1.0.0"},
			map[string]any{"lines": []any{map[string]any{"price": 5, "qty": i}}})
		require.NoError(h.t, err)
		ids = append(ids, id)
	}
	return ids
}

// TestRunawayExpressionFaultsWhileOthersRun publishes a runaway workflow
// with a normal one: the runaway faults at the size limit, a problem that
// names the task, the expression and the limit, and the normal instances
// complete.
func TestRunawayExpressionFaultsWhileOthersRun(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarnessWith(t, b, func(o *runtime.Options) {
			o.ExprLimits = expr.Limits{MaxSize: 256 << 10, Timeout: time.Minute}
		})
		h.put(fmt.Sprintf(runawayFlow, "[range(100000000)] | length"))
		h.put(normalFlow)
		bad, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "runaway", Version: "1.0.0"}, nil)
		require.NoError(t, err)
		normal := h.startNormal(5)
		h.eventually("all end", func() bool { return len(h.instances("completed")) == 5 && len(h.instances("faulted")) == 1 })
		for i, id := range normal {
			require.Equal(t, map[string]any{"total": float64(5 * i)}, h.state(id).Output)
		}
		p := h.state(bad).Error
		require.Equal(t, "Expression Limit Exceeded", p.Title)
		require.Equal(t, "/do/0/compute", p.Instance)
		require.Contains(t, p.Detail, `task compute: evaluate "[range(100000000)] | length": it builds more than 256KiB of values, the size limit of an evaluation`)
	})
}

// TestOthersCompleteWhileARunawayIsStopped starts an expression that loops
// until its time limit and, while it runs, normal instances: they complete
// before the runaway is stopped (all but those waiting for the runaway's
// worker; the instances are spread over four).
func TestOthersCompleteWhileARunawayIsStopped(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var order ended
		// The engine reads secrets just before it evaluates a task's
		// expressions: the first read is the runaway's.
		evaluating := make(chan struct{})
		var once sync.Once
		h := newHarnessWith(t, b, func(o *runtime.Options) {
			o.ExprLimits = expr.Limits{Timeout: 4 * time.Second}
			o.Observe = order.observe
			o.SecretSource = func(context.Context) (map[string]any, error) {
				once.Do(func() { close(evaluating) })
				return nil, nil
			}
		})
		h.put(fmt.Sprintf(runawayFlow, "until(false; .)"))
		h.put(normalFlow)
		badc := make(chan string, 1)
		go func() {
			id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "runaway", Version: "1.0.0"}, nil)
			assert.NoError(t, err)
			badc <- id
		}()
		select {
		case <-evaluating:
		case <-time.After(30 * time.Second):
			t.Fatal("the runaway never started")
		}
		var wg sync.WaitGroup
		normal := make([]string, 12)
		for i := range normal {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "normal", Version: "1.0.0"},
					map[string]any{"lines": []any{map[string]any{"price": 5, "qty": i}}})
				assert.NoError(t, err)
				normal[i] = id
			}()
		}
		wg.Wait()
		bad := <-badc
		h.eventually("all end", func() bool { return len(h.instances("completed")) == 12 && len(h.instances("faulted")) == 1 })
		before := 0
		for _, id := range normal {
			if order.index(id) < order.index(bad) {
				before++
			}
		}
		t.Logf("%d of %d normal instances completed while the runaway ran", before, len(normal))
		require.Positive(t, before, "normal instances complete while the runaway runs")
		require.Contains(t, h.state(bad).Error.Detail, "it ran longer than 4s, the time limit of an evaluation")
	})
}
