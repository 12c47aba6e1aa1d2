package runtime_test

// Deterministic tests of the runtime's core promises, each one a
// deliberate bug of `make mutation` must break (see mutation/): calls keep
// their idempotency key across attempts, timers that came due while the
// node was down fire after its restart, a node whose slots were taken over
// cannot commit, and a trigger starts one instance per event — per
// (source, id), and only once however often the event is matched.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
)

// lostCompletion is a store that fails the first commit of a call's
// completion, as if the database went away just after the call was made:
// the runtime must make the call again, as a new attempt, with its key.
type lostCompletion struct {
	store.Store
	failed atomic.Bool
}

func (s *lostCompletion) Commit(ctx context.Context, changes []store.Change) ([]error, error) {
	for _, c := range changes {
		if len(c.DeleteOutbox) > 0 && s.failed.CompareAndSwap(false, true) {
			return nil, errors.New("connection reset (injected by the test)")
		}
	}
	return s.Store.Commit(ctx, changes)
}

func TestRepeatedCallKeepsItsKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.shutdown()
		real := h.st
		flaky := &lostCompletion{Store: real}
		h.st = flaky
		h.start()
		h.put(fmt.Sprintf(`document:
  dsl: '1.0.3'
  namespace: shop
  name: notify
  version: '1.0.0'
do:
  - send:
      call: http
      with: {method: post, endpoint: %s/notify, body: {hello: world}}
`, h.sink.URL))
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "notify", Version: "1.0.0"}, nil)
		require.NoError(t, err)
		h.eventually("the call is made again after its completion was lost, and completes", func() bool {
			h.vc.Advance(time.Second) // past the back-off of the failed attempt
			return h.state(id).Status == engine.StatusCompleted
		})
		require.True(t, flaky.failed.Load(), "the first completion was lost")
		h.mu.Lock()
		defer h.mu.Unlock()
		require.GreaterOrEqual(t, len(h.calls), 2, "the call was repeated")
		for _, k := range h.calls {
			require.Equal(t, h.calls[0], k, "every attempt of one call carries the same idempotency key")
		}
		require.NotEmpty(t, h.calls[0])
	})
}

func TestTimersDueWhileDownFireAfterRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: nap
  version: '1.0.0'
do:
  - nap:
      wait: PT1H
  - after:
      set: {woke: true}
`)
		ref := engine.WorkflowRef{Namespace: "shop", Name: "nap", Version: "1.0.0"}
		var ids []string
		for range 3 {
			id, err := h.rt.Start(context.Background(), ref, nil)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		for _, id := range ids {
			require.Equal(t, engine.StatusWaiting, h.state(id).Status)
		}
		// The node is down while the timers come due, and stays down well past
		// them; after the restart the clock does not move, so only timers read
		// from the store (not ones coming due later) can end these instances.
		h.shutdown()
		h.vc.Advance(3 * time.Hour)
		h.start()
		h.eventually("every overdue timer fires", func() bool {
			for _, id := range ids {
				if h.state(id).Status != engine.StatusCompleted {
					return false
				}
			}
			return true
		})
	})
}

// unnotified hides a store's notifications from a runtime, so that it is
// not told when its slots change hands and keeps believing it holds them:
// a node paused or cut off for longer than its leases.
type unnotified struct{ store.Store }

// logRecords collects the records a runtime logs.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, line)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) has(substrings ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, m := range l.msgs {
		for _, s := range substrings {
			if !strings.Contains(m, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// A node whose slots another node took over cannot commit: not a start,
// not a timer's completion. The runtime names its lease's fence in every
// commit and the store refuses a stale one.
func TestTakenOverNodeCannotCommit(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		st := b.open(t)
		vc := clock.NewVirtual(epoch)
		logs := &logRecords{}
		// Leases of an hour: node a renews none during the test, so it
		// learns of the takeover only from the store's refusals.
		a := runtime.New(runtime.Options{Store: unnotified{st}, Clock: vc, Shards: 2, Node: "a", LeaseTTL: time.Hour,
			Logger: slog.New(logs)})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })

		_, _, err := a.Publish(ctx, "nap.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: nap
  version: '1.0.0'
do:
  - nap:
      wait: PT10M
  - after:
      set: {woke: true}
`))
		require.NoError(t, err)
		ref := engine.WorkflowRef{Namespace: "shop", Name: "nap", Version: "1.0.0"}
		waiting, err := a.Start(ctx, ref, nil)
		require.NoError(t, err)

		// a's leases lapse (as if it paused past them) and node b takes
		// every slot, under new fences.
		require.NoError(t, st.ReleaseSlots(ctx, "a", nil))
		g, err := st.ClaimSlots(ctx, store.Claim{Node: "b", TTL: time.Hour})
		require.NoError(t, err)
		require.Len(t, g.Leases, store.Slots)
		require.Len(t, a.Slots(), store.Slots, "a still believes it holds its slots")

		_, err = a.Start(ctx, ref, nil)
		require.ErrorIs(t, err, store.ErrFenced, "a start by a node that lost its slot is refused")
		list, err := st.ListInstances(ctx, store.InstanceQuery{Limit: 10})
		require.NoError(t, err)
		require.Len(t, list, 1, "the refused start left nothing")

		// a's copy of the timer comes due: its completion is refused too.
		vc.Advance(11 * time.Minute)
		deadline := time.Now().Add(30 * time.Second)
		for !logs.has("instance moved to another node", waiting, store.ErrFenced.Error()) {
			rec, err := st.GetInstance(ctx, waiting)
			require.NoError(t, err)
			require.Equal(t, string(engine.StatusWaiting), rec.Status, "a node that lost its slot advanced an instance in it")
			require.False(t, time.Now().After(deadline), "timed out waiting for a's timer to fire")
			time.Sleep(5 * time.Millisecond)
		}
		rec, err := st.GetInstance(ctx, waiting)
		require.NoError(t, err)
		require.Equal(t, string(engine.StatusWaiting), rec.Status)
	})
}

const paidFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: paid
  version: '1.0.0'
schedule:
  on:
    one:
      with: {type: order.paid}
do:
  - note:
      set: {seen: true}
`

func (h *harness) ingestFrom(source, typ, id string, data any) {
	h.t.Helper()
	env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": source, "type": typ, "data": data})
	_, err := h.rt.Ingest(context.Background(), []store.Event{{ID: id, Source: source, Type: typ, Envelope: env}})
	require.NoError(h.t, err)
}

// Event ids are unique per source only: two shops' events with one id are
// two events, and each starts its instance.
func TestTriggerKeyIncludesTheSource(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(paidFlow)
		h.ingestFrom("https://shop-a.example", "order.paid", "1001", map[string]any{"order": "a"})
		h.ingestFrom("https://shop-b.example", "order.paid", "1001", map[string]any{"order": "b"})
		h.settled()
		list := h.instances("")
		require.Len(t, list, 2, "one instance per event, and events are (source, id)")
		sources := map[string]bool{}
		for _, in := range list {
			input := h.state(in.ID).Input.([]any)
			sources[input[0].(map[string]any)["source"].(string)] = true
		}
		require.Equal(t, map[string]bool{"https://shop-a.example": true, "https://shop-b.example": true}, sources)
	})
}

// An event matched again starts nothing again: after a crash before the
// matcher saved its position, and when a shop redelivers it after
// retention pruned the first copy.
func TestTriggerKeyIsStable(t *testing.T) {
	t.Parallel()
	t.Run("matched again after a crash", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, b backend) {
			h := newHarness(t, b)
			h.put(paidFlow)
			h.shutdown()
			real := h.st
			h.st = frozenCursor{real}
			h.start()
			h.ingestFrom("shop", "order.paid", "1001", nil)
			h.eventually("the event starts its instance", func() bool { return len(h.instances("")) == 1 })
			h.shutdown()
			pos, err := matcherPosition(context.Background(), real)
			require.NoError(t, err)
			require.Zero(t, pos, "the position was never saved")
			h.st = real
			h.start()
			h.settled() // the whole log again, the event included
			require.Len(t, h.instances(""), 1, "the repeat started nothing")
		})
	})
	t.Run("redelivered after retention", func(t *testing.T) {
		t.Parallel()
		eachStore(t, func(t *testing.T, b backend) {
			h := newHarness(t, b)
			h.put(paidFlow)
			h.ingestFrom("shop", "order.paid", "1001", nil)
			h.eventually("the event starts its instance", func() bool { return len(h.instances("")) == 1 })
			h.settled()
			// Past the end of this week: PostgreSQL prunes whole weeks.
			_, err := h.st.(store.Pruner).Prune(context.Background(), time.Now().Add(8*24*time.Hour))
			require.NoError(t, err)
			evs, err := h.st.ReadEvents(context.Background(), 0, "", 10)
			require.NoError(t, err)
			require.Empty(t, evs, "retention dropped the event")
			h.ingestFrom("shop", "order.paid", "1001", nil)
			evs, err = h.st.ReadEvents(context.Background(), 0, "", 10)
			require.NoError(t, err)
			require.Len(t, evs, 1, "the redelivered event is logged anew")
			h.settled()
			require.Len(t, h.instances(""), 1, "the redelivery started nothing")
		})
	})
}
