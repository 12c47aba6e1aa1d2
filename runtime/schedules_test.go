package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

const pollFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: poll
  version: '1.0.0'
schedule:
  after: PT10M
do:
  - work:
      wait: PT2M
`

// chain returns a workflow's instances oldest first.
func (h *harness) chain(name string) []store.Instance {
	h.t.Helper()
	list, err := h.st.ListInstances(context.Background(), store.InstanceQuery{Namespace: "shop", Name: name, Limit: 1000})
	require.NoError(h.t, err)
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func TestAfterStartsSuccessors(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(pollFlow)
		step := 15 * time.Second
		runTo := func(n int) {
			h.t.Helper()
			h.eventually(fmt.Sprintf("%d runs", n), func() bool {
				h.vc.Advance(step) // in steps, so that no loop sleeps through it
				return len(h.chain("poll")) >= n
			})
		}
		// The first run starts as soon as the schedule is seen.
		runTo(1)
		first := h.chain("poll")[0]
		require.Equal(t, "schedule:after:first", first.TriggerKey)
		require.Less(t, first.CreatedAt.Sub(epoch), 10*time.Minute, "the first run does not wait `after`")

		runTo(3)
		// A restart neither starts a run twice nor loses the schedule.
		h.shutdown()
		h.start()
		runTo(4)
		list := h.chain("poll")
		require.Len(t, list, 4)
		for i := 1; i < len(list); i++ {
			prev := h.state(list[i-1].ID)
			require.Equal(t, engine.StatusCompleted, prev.Status, "a run starts only after the one before ended")
			require.NotNil(t, prev.EndedAt)
			require.Equal(t, "schedule:after:"+prev.ID, list[i].TriggerKey)
			gap := list[i].CreatedAt.Sub(*prev.EndedAt)
			require.GreaterOrEqual(t, gap, 10*time.Minute, "run %d starts no sooner than `after` past the end of run %d", i, i-1)
			// The schedule loop looks once a second of clock time; the test
			// moves the clock in steps and may overshoot by some.
			require.Less(t, gap, 20*time.Minute, "run %d starts about `after` past the end of run %d", i, i-1)
		}
	})
}

func TestAfterSuccessorExactlyOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		// No wait: the two runtimes below would otherwise both fire its timer.
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: poll
  version: '1.0.0'
schedule:
  after: PT10M
do:
  - work:
      set: {done: true}
`)
		h.eventually("the first run ends", func() bool {
			h.vc.Advance(15 * time.Second)
			return len(h.instances("completed")) == 1
		})
		// Two runtimes on one store, as two nodes or a restart overlapping the
		// old process, race for the successor: the trigger key lets one win.
		other := newHarnessOn(t, h)
		h.eventually("a successor starts", func() bool {
			h.vc.Advance(15 * time.Second)
			other.vc.Advance(15 * time.Second)
			return len(h.chain("poll")) >= 2
		})
		h.eventually("the successor ends", func() bool {
			h.vc.Advance(15 * time.Second)
			other.vc.Advance(15 * time.Second)
			return len(h.instances("completed")) >= 2
		})
		other.shutdown()
		list := h.chain("poll")
		require.Len(t, list, 2)
		require.Equal(t, "schedule:after:"+list[0].ID, list[1].TriggerKey)
	})
}

// newHarnessOn runs a second runtime on h's store, with a clock of its own
// starting at h's time.
func newHarnessOn(t *testing.T, h *harness) *harness {
	o := &harness{t: t, st: h.st, vc: clock.NewVirtual(h.vc.Now())}
	o.start()
	t.Cleanup(o.shutdown)
	return o
}
