package runtime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
)

const remindFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: remind
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with:
        type: checkout.started
do:
  - waitAnHour:
      wait: PT1H
  - first:
      call: log
      with:
        message: first reminder
  - waitAWeek:
      wait: P7D
  - second:
      call: log
      with:
        message: second reminder
`

const tickFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: tick
  version: '1.0.0'
schedule:
  every: PT6H
do:
  - note:
      call: log
      with:
        message: tick
`

// drive settles the runtime and jumps its clock to the next due work, until
// the clock would pass end; it returns the times it jumped to.
func drive(t *testing.T, h *harness, end time.Time) []time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var jumps []time.Time
	for {
		require.NoError(t, h.rt.Settle(ctx))
		next, ok, err := h.rt.NextDue(ctx)
		require.NoError(t, err)
		if !ok || next.After(end) {
			return jumps
		}
		require.True(t, next.After(h.vc.Now()), "NextDue %s is not after the clock's %s", next, h.vc.Now())
		h.vc.Set(next)
		jumps = append(jumps, next)
	}
}

func recordingHarness(t *testing.T, b backend) (*harness, *recording.Recorder) {
	rec := recording.New()
	h := newHarnessWith(t, b, func(o *runtime.Options) { o.Connectors = rec.Twin(catalog.Default(catalog.Options{})) })
	return h, rec
}

func TestSettleAndNextDueDriveAVirtualClockFromTimerToTimer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h, rec := recordingHarness(t, b)
		h.put(remindFlow)
		h.ingest("checkout.started", "c-1", map[string]any{"cart": "c-1"})
		ctx := context.Background()
		require.NoError(t, h.rt.Settle(ctx))
		// Settled: the instance waits on its timer and nothing else is due.
		list := h.instances("waiting")
		require.Len(t, list, 1)
		next, ok, err := h.rt.NextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, epoch.Add(time.Hour), next)

		jumps := drive(t, h, epoch.AddDate(1, 0, 0))
		require.Equal(t, []time.Time{epoch.Add(time.Hour), epoch.Add(time.Hour + 7*24*time.Hour)}, jumps,
			"the clock goes straight from timer to timer, not second by second")
		calls := rec.Calls("log")
		require.Len(t, calls, 2)
		require.Equal(t, epoch.Add(time.Hour), calls[0].At, "the call is made the moment its timer fires")
		require.Equal(t, epoch.Add(time.Hour+7*24*time.Hour), calls[1].At)
		require.Equal(t, engine.StatusCompleted, h.state(list[0].ID).Status)
		_, ok, err = h.rt.NextDue(ctx)
		require.NoError(t, err)
		require.False(t, ok, "nothing is due once the instance ended")
	})
}

func TestNextDueWaitsForADeferredCall(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h, rec := recordingHarness(t, b)
		quietUntil := epoch.Add(10 * time.Hour)
		deferred := false
		rec.Handle("log", func(_ context.Context, req connector.Request) (any, error) {
			if !deferred {
				deferred = true
				return nil, connector.Defer(quietUntil, "quiet hours")
			}
			return "sent", nil
		})
		h.put(remindFlow)
		h.ingest("checkout.started", "c-1", map[string]any{"cart": "c-1"})
		jumps := drive(t, h, epoch.Add(24*time.Hour))
		require.Equal(t, []time.Time{epoch.Add(time.Hour), quietUntil}, jumps, "the deferred call is made when the deferral ends, by the runtime's clock")
		calls := rec.Calls("log")
		require.Len(t, calls, 2)
		require.Equal(t, quietUntil, calls[1].At)
		require.Equal(t, calls[0].IdempotencyKey, calls[1].IdempotencyKey)
	})
}

func TestNextDueTicksSchedulesByTheClock(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h, rec := recordingHarness(t, b)
		h.put(tickFlow)
		jumps := drive(t, h, epoch.Add(25*time.Hour))
		require.Len(t, jumps, 4, "every PT6H over 25 hours: %v", jumps)
		for i, j := range jumps {
			require.Equal(t, epoch.Add(time.Duration(i+1)*6*time.Hour), j)
		}
		require.Len(t, rec.Calls("log"), 4)
		require.Len(t, h.instances("completed"), 4)
	})
}

const callFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: calls
  version: '1.0.0'
schedule:
  on:
    one:
      with:
        type: order.paid
do:
  - first:
      call: log
      with:
        message: one
  - second:
      call: log
      with:
        message: two
`

// TestOutboxPassesNeverRepeatACall hammers the outbox with passes (Settle
// asks for one every round) while calls complete: a pass that read the
// outbox just before a call's completion committed must not make the call
// again.
func TestOutboxPassesNeverRepeatACall(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h, rec := recordingHarness(t, b)
		h.put(callFlow)
		const n = 30
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					_ = h.rt.Settle(ctx)
				}
			}
		}()
		for i := range n {
			h.ingest("order.paid", fmt.Sprintf("o-%d", i), map[string]any{"n": i})
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(h.instances("completed")) < n {
			require.True(t, time.Now().Before(deadline), "timed out waiting for every instance to complete")
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
		<-done
		require.NoError(t, h.rt.Settle(ctx))
		seen := map[string]int{}
		for _, c := range rec.Calls("log") {
			seen[c.IdempotencyKey]++
		}
		require.Len(t, seen, 2*n)
		for key, times := range seen {
			require.Equal(t, 1, times, "call %s was made %d times", key, times)
		}
	})
}
