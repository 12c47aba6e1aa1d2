package runtime_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
)

// A transition derived twice yields the same lifecycle events, and they are
// logged only with the one commit of the transition that wins.
func TestLifecycleEventsAreDeterministicAndCommitWithTheirTransition(t *testing.T) {
	t.Parallel()
	eachStore(t, testLifecycleEventsCommitWithTheirTransition)
}

func testLifecycleEventsCommitWithTheirTransition(t *testing.T, b backend) {
	ctx := context.Background()
	st := b.open(t)
	r := runtime.New(runtime.Options{Store: st, Clock: clock.NewVirtual(epoch)})
	wf, err := dsl.Load("greet", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: greet
  version: '1.0.0'
do:
  - hello:
      set:
        greeting: ${ "hi " + .name }
`))
	require.NoError(t, err)
	derive := func() store.Change {
		c, err := r.Change(0, "", nil, r.Engine().Start(ctx, wf, "i-1", map[string]any{"name": "ada"}))
		require.NoError(t, err)
		return c
	}
	ids := func(events []store.Event) []string {
		var out []string
		for _, ev := range events {
			out = append(out, ev.ID)
		}
		return out
	}
	first, again := derive(), derive()
	require.Equal(t, []string{"i-1/1/0/workflow.started", "i-1/1/3/workflow.completed"}, ids(first.Emit))
	require.Equal(t, first.Emit, again.Emit, "the same transition, the same events")

	res, err := st.Commit(ctx, []store.Change{first})
	require.NoError(t, err)
	require.NoError(t, res[0])
	// The second derivation loses: its events go with it.
	res, err = st.Commit(ctx, []store.Change{again})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrConflict)
	logged, err := st.ReadEvents(ctx, 0, "", 100)
	require.NoError(t, err)
	require.Equal(t, ids(first.Emit), ids(logged))

	// Logged again by other means, they are recognised as duplicates.
	dup, err := st.AppendEvents(ctx, first.Emit)
	require.NoError(t, err)
	for _, ev := range dup {
		require.True(t, ev.Duplicate, ev.ID)
	}
}
