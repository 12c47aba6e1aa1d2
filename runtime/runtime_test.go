package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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

var epoch = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	st     store.Store
	vc     *clock.Virtual
	rt     *runtime.Runtime
	stop   context.CancelFunc
	done   chan error
	mu     sync.Mutex
	calls  []string // idempotency keys seen by the sink
	bodies []string // the bodies of those calls
	sink   *httptest.Server
	// configure, when set, adjusts the options of every runtime started.
	configure func(*runtime.Options)
}

func newHarness(t *testing.T, b backend) *harness { return newHarnessWith(t, b, nil) }

// newHarnessWith runs a runtime on a fresh store of backend b.
func newHarnessWith(t *testing.T, b backend, configure func(*runtime.Options)) *harness {
	h := &harness{t: t, vc: clock.NewVirtual(epoch), configure: configure}
	h.st = b.open(t)
	h.sink = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.calls = append(h.calls, r.Header.Get("Idempotency-Key"))
		h.bodies = append(h.bodies, string(body))
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"sent":true,"body":%q}`, body)
	}))
	t.Cleanup(h.sink.Close)
	h.start()
	t.Cleanup(h.shutdown)
	return h
}

func (h *harness) start() {
	opts := runtime.Options{Store: h.st, Clock: h.vc, Shards: 4}
	if h.configure != nil {
		h.configure(&opts)
	}
	h.rt = runtime.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.rt.Run(ctx) }()
}

func (h *harness) shutdown() {
	if h.stop != nil {
		h.stop()
		require.NoError(h.t, <-h.done)
		h.stop = nil
	}
}

func (h *harness) put(src string) {
	_, _, err := h.st.PutWorkflow(context.Background(), store.Workflow{Namespace: "shop", Name: nameOf(src), Version: "1.0.0", Source: []byte(src)})
	require.NoError(h.t, err)
	require.NoError(h.t, h.rt.Reload(context.Background()))
}

func nameOf(src string) string {
	var name string
	_, _ = fmt.Sscanf(src[len("document:\n  dsl: '1.0.3'\n  namespace: shop\n  name: "):], "%s", &name)
	return name
}

func (h *harness) ingest(typ, id string, data any) {
	env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test", "type": typ, "data": data})
	_, err := h.rt.Ingest(context.Background(), []store.Event{{ID: id, Source: "test", Type: typ, Envelope: env}})
	require.NoError(h.t, err)
}

// eventually polls, in real time, until cond holds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) instances(status string) []store.Instance {
	list, err := h.st.ListInstances(context.Background(), store.InstanceQuery{Status: status, Limit: 1000})
	require.NoError(h.t, err)
	return list
}

func (h *harness) state(id string) *engine.Instance {
	rec, err := h.st.GetInstance(context.Background(), id)
	require.NoError(h.t, err)
	in, err := engine.Unmarshal(rec.State)
	require.NoError(h.t, err)
	return in
}

const cartFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: cart
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
  - remind:
      call: http
      with:
        method: post
        endpoint: %s/email
        body:
          cart: ${ .cartId }
      output:
        as: ${ $input }
  - awaitOrder:
      listen:
        to:
          one:
            with:
              type: order.placed
            correlate:
              cart:
                from: .data.cartId
                expect: ${ .cartId }
      output:
        as: '{cart: .[0].cartId, order: .[0].orderId}'
`

func TestEventToCompletion(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(fmt.Sprintf(cartFlow, h.sink.URL))

		h.ingest("checkout.started", "e1", map[string]any{"cartId": "c1"})
		h.ingest("checkout.started", "e1", map[string]any{"cartId": "c1"}) // delivered twice
		h.ingest("checkout.started", "e2", map[string]any{"cartId": "c2"})
		h.eventually("two waiting carts", func() bool { return len(h.instances("waiting")) == 2 })
		require.Len(t, h.instances(""), 2, "a duplicate event starts nothing")

		// An order for c1 placed before its listen opened is not lost.
		h.ingest("order.placed", "o1", map[string]any{"cartId": "c1", "orderId": "o-1"})
		h.eventually("c1 completes", func() bool {
			h.vc.Advance(time.Minute) // in steps, so that no loop sleeps through it
			return len(h.instances("completed")) == 1
		})
		done := h.instances("completed")[0]
		require.Equal(t, map[string]any{"cart": "c1", "order": "o-1"}, h.state(done.ID).Output)

		// Restart: c2 keeps waiting for its order, then finishes.
		h.shutdown()
		h.start()
		h.ingest("order.placed", "o2", map[string]any{"cartId": "c2", "orderId": "o-2"})
		h.eventually("c2 completes", func() bool { return len(h.instances("completed")) == 2 })

		h.mu.Lock()
		defer h.mu.Unlock()
		// One reminder per cart, each with a key of its own; a call made again
		// (cut short by the shutdown) keeps its key, which
		// TestRepeatedCallKeepsItsKey and TestShutdownHandsBackInFlightCalls
		// prove for certain.
		require.Len(t, h.calls, len(h.bodies))
		keyOf := map[string]string{}
		for i, k := range h.calls {
			var body struct{ Cart string }
			require.NoError(t, json.Unmarshal([]byte(h.bodies[i]), &body))
			if prev, ok := keyOf[body.Cart]; ok {
				require.Equal(t, prev, k, "a repeated reminder for cart %s keeps its key", body.Cart)
			}
			keyOf[body.Cart] = k
		}
		require.Len(t, keyOf, 2, "a reminder for each cart")
		require.NotEqual(t, keyOf["c1"], keyOf["c2"], "two calls, two keys")
		hist, err := h.st.History(context.Background(), done.ID)
		require.NoError(t, err)
		require.Equal(t, "workflow.started", hist[0].Type)
		require.Equal(t, "workflow.completed", hist[len(hist)-1].Type)
	})
}

func TestStartCancelSuspendResume(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: pause
  version: '1.0.0'
do:
  - w:
      wait: PT10M
  - after:
      set: {done: true}
`)
		ctx := context.Background()
		ref := engine.WorkflowRef{Namespace: "shop", Name: "pause", Version: "1.0.0"}
		a, err := h.rt.Start(ctx, ref, nil)
		require.NoError(t, err)
		second, err := h.rt.Start(ctx, ref, nil)
		require.NoError(t, err)
		require.NoError(t, h.rt.Cancel(ctx, a, "no longer needed"))
		require.Equal(t, engine.StatusCancelled, h.state(a).Status)
		require.Error(t, h.rt.Cancel(ctx, a, "again"))

		require.NoError(t, h.rt.Suspend(ctx, second))
		// The timer fires while second is suspended: its completion waits in it.
		h.eventually("second's timer fires", func() bool {
			h.vc.Advance(time.Minute)
			return len(h.state(second).Inbox) > 0
		})
		require.Equal(t, engine.StatusSuspended, h.state(second).Status)
		require.NoError(t, h.rt.Resume(ctx, second))
		h.eventually("second completes", func() bool { return h.state(second).Status == engine.StatusCompleted })
	})
}

func TestEmitChainsWorkflowsAndChildRuns(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: points
  version: '1.0.0'
do:
  - award:
      set:
        points: ${ .total * 10 }
`)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: paid
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: order.paid}
do:
  - loyalty:
      run:
        workflow: {namespace: shop, name: points, version: '1.0.0', input: {total: '${ .total }'}}
  - announce:
      emit:
        event:
          with:
            type: loyalty.awarded
            source: storeflow
            data: ${ . }
`)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: thanks
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: loyalty.awarded}
do:
  - note:
      set:
        thanked: ${ .points }
`)
		h.ingest("order.paid", "p1", map[string]any{"total": 7})
		h.eventually("all three ended", func() bool { return len(h.instances("completed")) == 3 })
		for _, in := range h.instances("completed") {
			if in.Name == "thanks" {
				require.Equal(t, map[string]any{"thanked": float64(70)}, h.state(in.ID).Output)
			}
		}
	})
}

func TestScheduledStarts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: digest
  version: '1.0.0'
schedule:
  every: PT1H
do:
  - report:
      set: {ran: true}
`)
		ctx := context.Background()
		// The first tick comes an hour after the schedule was first seen.
		h.eventually("the schedule is armed", func() bool {
			h.vc.Advance(time.Second) // wakes the schedule loop
			pos, err := h.st.Cursor(ctx, "schedule:shop/digest")
			return err == nil && pos != 0
		})
		// Time moves a minute per poll, so that no loop misses its wake-up.
		tickTo := func(n int) {
			h.eventually(fmt.Sprintf("%d scheduled runs", n), func() bool {
				h.vc.Advance(time.Minute)
				return len(h.instances("completed")) >= n
			})
		}
		tickTo(3)
		require.Len(t, h.instances(""), 3, "one run per tick")
		// A restart neither repeats a tick nor loses the schedule.
		h.shutdown()
		h.start()
		time.Sleep(50 * time.Millisecond)
		require.Len(t, h.instances(""), 3)
		tickTo(4)
		require.Len(t, h.instances(""), 4)
	})
}

func TestOlderVersionStillResumesAfterRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		v1 := `document:
  dsl: '1.0.3'
  namespace: shop
  name: review
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: order.delivered}
do:
  - awaitReview:
      listen:
        to:
          one:
            with: {type: review.submitted}
            correlate:
              order: {from: .data.order, expect: '${ .order }'}
`
		h.put(v1)
		h.ingest("order.delivered", "d1", map[string]any{"order": "o-1"})
		h.eventually("v1 waits", func() bool { return len(h.instances("waiting")) == 1 })

		// v2 no longer correlates by order; v1's instance keeps waiting.
		v2 := strings.Replace(strings.Replace(v1, "1.0.0", "2.0.0", 1), "order: {from: .data.order, expect: '${ .order }'}", "customer: {from: .data.customer, expect: '${ .customer }'}", 1)
		_, _, err := h.st.PutWorkflow(context.Background(), store.Workflow{Namespace: "shop", Name: "review", Version: "2.0.0", Source: []byte(v2)})
		require.NoError(t, err)
		h.shutdown()
		h.start()
		h.ingest("review.submitted", "r1", map[string]any{"order": "o-1"})
		h.eventually("the v1 instance resumes", func() bool { return len(h.instances("completed")) == 1 })
	})
}

func TestShutdownHandsBackInFlightCalls(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		var calls atomic.Int32
		var keysMu sync.Mutex
		var keys []string
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			keysMu.Lock()
			keys = append(keys, r.Header.Get("Idempotency-Key"))
			keysMu.Unlock()
			if calls.Add(1) == 1 {
				<-r.Context().Done() // the first attempt hangs until shutdown cuts it
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
		}))
		t.Cleanup(slow.Close)
		h.put(fmt.Sprintf(`document:
  dsl: '1.0.3'
  namespace: shop
  name: slowcall
  version: '1.0.0'
do:
  - call:
      call: http
      with: {method: post, endpoint: %s/x}
`, slow.URL))
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "slowcall", Version: "1.0.0"}, nil)
		require.NoError(t, err)
		h.eventually("the call is in flight", func() bool { return calls.Load() == 1 })
		h.shutdown()
		require.Equal(t, engine.StatusWaiting, h.state(id).Status, "a call cut short by shutdown is not a failure")
		h.start()
		h.eventually("the call is made again and completes", func() bool { return h.state(id).Status == engine.StatusCompleted })
		require.Equal(t, int32(2), calls.Load())
		keysMu.Lock()
		defer keysMu.Unlock()
		require.NotEmpty(t, keys[0])
		require.Equal(t, keys[0], keys[1], "the call made again after the restart keeps its idempotency key")
	})
}
