package runtime_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
)

// lateOutbox is a store whose outbox reads can be held back: a read that
// saw an item while its call was being made returns only after the call's
// outcome committed and the runtime let go of the item, as a slow query
// on a busy database does.
type lateOutbox struct {
	store.Store
	calling     chan struct{} // closed while the first call is being made
	rescheduled chan struct{} // closed once its deferral committed
	held        atomic.Bool
}

func (s *lateOutbox) Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]store.OutboxItem, error) {
	items, err := s.Store.Outbox(ctx, slots, until, limit)
	select {
	case <-s.calling:
	default:
		return items, err
	}
	if len(items) == 0 || !s.held.CompareAndSwap(false, true) {
		return items, err
	}
	// This read saw the item whose call is in flight: hand it over only
	// after the deferral committed and the runtime released the item.
	<-s.rescheduled
	time.Sleep(100 * time.Millisecond)
	return items, err
}

func (s *lateOutbox) DeferOutbox(ctx context.Context, id string, from, next time.Time) (bool, error) {
	deferred, err := s.Store.DeferOutbox(ctx, id, from, next)
	close(s.rescheduled)
	return deferred, err
}

// A read of the outbox from before a call was deferred must not make the
// call again before its time (nor, from before it completed, again at all).
func TestAStaleOutboxReadMakesNoCallEarly(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		rec := recording.New()
		var calls atomic.Int32
		late := &lateOutbox{Store: b.open(t), calling: make(chan struct{}), rescheduled: make(chan struct{})}
		var once sync.Once
		proceed := make(chan struct{})
		rec.Handle("log", func(_ context.Context, req connector.Request) (any, error) {
			if calls.Add(1) == 1 {
				once.Do(func() { close(late.calling) })
				<-proceed
				return nil, connector.Defer(req.At.Add(time.Hour), "quiet hours")
			}
			return map[string]any{"sent": true}, nil
		})
		h := &harness{t: t, st: late, vc: clock.NewVirtual(epoch), configure: func(o *runtime.Options) { o.Connectors = rec.Twin(catalog.Default(catalog.Options{})) }}
		h.start()
		t.Cleanup(h.shutdown)
		h.put(logFlow)
		_, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "logs"}, map[string]any{"cart": "c-1"})
		require.NoError(t, err)
		select {
		case <-late.calling:
		case <-time.After(30 * time.Second):
			t.Fatal("the call was never made")
		}
		// The next outbox pass reads while the call is in flight.
		h.eventually("an outbox read is held back", func() bool {
			h.vc.Advance(time.Second)
			return late.held.Load()
		})
		close(proceed)
		<-late.rescheduled
		time.Sleep(500 * time.Millisecond) // the held read is handed over meanwhile
		require.Equal(t, int32(1), calls.Load(), "the deferred call is not made again before its time")
	})
}
