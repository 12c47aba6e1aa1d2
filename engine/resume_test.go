package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/problem"
)

// roundTrip serialises and restores the instance after every transition,
// as a fresh process reading it from a store would.
func roundTrip(l *engine.Local) {
	l.Snapshot = func(in *engine.Instance) (*engine.Instance, error) {
		data, err := in.Marshal()
		if err != nil {
			return nil, err
		}
		return engine.Unmarshal(data)
	}
}

func TestResumeFromSerialisedState(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	wf := load(t, fmt.Sprintf(`do:
  - lines:
      for: {each: line, in: .lines}
      do:
        - pause:
            wait: PT1H
        - reserve:
            call: http
            with:
              method: post
              endpoint: %s/reserve/{sku}
              body: ${ $line }
            input:
              from: ${ $line }
            output:
              as: ${ $input.sku }
  - par:
      fork:
        branches:
          - a:
              wait: PT2H
          - b:
              call: http
              with: {method: get, endpoint: %s/b}
              output: {as: .path}
  - done:
      set:
        branches: ${ . }
`, s.srv.URL, s.srv.URL))
	res := runLocal(t, wf, map[string]any{"lines": []any{map[string]any{"sku": "a"}, map[string]any{"sku": "b"}}}, roundTrip)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, jsonValue(t, map[string]any{"branches": []any{"b", "/b"}}), jsonValue(t, res.Instance.Output))
	require.Equal(t, 3, s.count())
	// Each call carried its own idempotency key.
	keys := map[string]bool{}
	for _, c := range res.Calls {
		keys[c.IdempotencyKey()] = true
	}
	require.Len(t, keys, 3)
}

func TestRetryBackoffAndExhaustion(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	s.failures["/flaky"] = 2
	s.failures["/down"] = 100
	body := `do:
  - guarded:
      try:
        - get:
            call: http
            with: {method: get, endpoint: %s%s}
      catch:
        errors:
          with: {status: 503}
        retry:
          delay: {seconds: 10}
          backoff: {exponential: {}}
          limit:
            attempt: {count: 3}
`
	vc := clock.NewVirtual(epoch)
	l := &engine.Local{Engine: engine.New(vc), Connectors: catalog.Default(catalog.Options{}), Virtual: vc}
	res, err := l.Run(context.Background(), load(t, fmt.Sprintf(body, s.srv.URL, "/flaky")), nil)
	require.NoError(t, err)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	// Two failures: retries after 10s and 20s.
	require.Equal(t, epoch.Add(30*time.Second), vc.Now())

	// Linear backoff with a fixed jitter: 10s+1s, then 20s+1s.
	s.failures["/flaky2"] = 2
	linear := strings.Replace(strings.Replace(body, "exponential", "linear", 1), "limit:", "jitter: {from: PT1S, to: PT1S}\n          limit:", 1)
	vc = clock.NewVirtual(epoch)
	l = &engine.Local{Engine: engine.New(vc), Connectors: catalog.Default(catalog.Options{}), Virtual: vc}
	res, err = l.Run(context.Background(), load(t, fmt.Sprintf(linear, s.srv.URL, "/flaky2")), nil)
	require.NoError(t, err)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, epoch.Add(32*time.Second), vc.Now())

	res = runLocal(t, load(t, fmt.Sprintf(body, s.srv.URL, "/down")), nil)
	require.Equal(t, engine.StatusFaulted, res.Instance.Status)
	require.Equal(t, 503, res.Instance.Error.Status)
	require.Equal(t, "/do/0/guarded/try/0/get", res.Instance.Error.Instance)
	var exhausted bool
	for _, h := range res.History {
		exhausted = exhausted || h.Type == "task.retries_exhausted"
	}
	require.True(t, exhausted, "history records exhausted retries")
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("task timeout interrupts a wait", func(t *testing.T) {
		t.Parallel()
		res := runLocal(t, load(t, `do:
  - slow:
      timeout:
        after: PT1M
      wait: PT1H
`), nil)
		require.Equal(t, engine.StatusFaulted, res.Instance.Status)
		require.Equal(t, "timeout", problem.ShortType(res.Instance.Error.Type))
		require.Equal(t, 408, res.Instance.Error.Status)
		require.Equal(t, "/do/0/slow", res.Instance.Error.Instance)
	})
	t.Run("workflow timeout", func(t *testing.T) {
		t.Parallel()
		res := runLocal(t, load(t, `timeout:
  after: PT10M
do:
  - slow:
      wait: PT1H
`), nil)
		require.Equal(t, engine.StatusFaulted, res.Instance.Status)
		require.Equal(t, "timeout", problem.ShortType(res.Instance.Error.Type))
	})
	t.Run("caught timeout continues", func(t *testing.T) {
		t.Parallel()
		res := runLocal(t, load(t, `use:
  timeouts:
    short: {after: PT5S}
do:
  - guard:
      try:
        - slow:
            timeout: short
            wait: PT1H
      catch:
        errors:
          with: {type: https://open-workflow-specification.org/spec/1.0.0/errors/timeout}
        do:
          - note: {set: {timedOut: true}}
`), nil)
		require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
		require.Equal(t, map[string]any{"timedOut": true}, res.Instance.Output)
	})
}

func TestListenCorrelatesEvents(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - awaitPayment:
      listen:
        to:
          all:
            - with:
                type: order.paid
              correlate:
                order: {from: .data.orderId, expect: '${ .orderId }'}
            - with:
                type: order.fulfilled
                data: ${ .carrier == "dhl" }
              correlate:
                order: {from: .data.orderId, expect: '${ .orderId }'}
      output:
        as: 'map(.status)'
`)
	events := []map[string]any{
		{"type": "order.paid", "data": map[string]any{"orderId": "o-2", "status": "other-order"}},
		{"type": "order.fulfilled", "data": map[string]any{"orderId": "o-1", "carrier": "ups", "status": "wrong-carrier"}},
		{"type": "order.paid", "data": map[string]any{"orderId": "o-1", "status": "paid"}},
		{"type": "order.fulfilled", "data": map[string]any{"orderId": "o-1", "carrier": "dhl", "status": "shipped"}},
	}
	res := runLocal(t, wf, map[string]any{"orderId": "o-1"}, roundTrip, func(l *engine.Local) { l.Events = events })
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, []any{"paid", "shipped"}, res.Instance.Output)
}

func TestListenAnyUntilWithForeach(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - collect:
      listen:
        to:
          any:
            - with: {type: review.submitted}
          until: ${ length >= 2 }
      foreach:
        item: review
        do:
          - score:
              set:
                stars: ${ $review.stars }
                index: ${ $index }
`)
	events := []map[string]any{
		{"type": "review.submitted", "data": map[string]any{"stars": 5}},
		{"type": "review.submitted", "data": map[string]any{"stars": 3}},
		{"type": "review.submitted", "data": map[string]any{"stars": 1}},
	}
	res := runLocal(t, wf, nil, roundTrip, func(l *engine.Local) { l.Events = events })
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, jsonValue(t, []any{map[string]any{"stars": 5, "index": 0}, map[string]any{"stars": 3, "index": 1}}), jsonValue(t, res.Instance.Output))
}

func TestEmittedEventResumesOwnListen(t *testing.T) {
	t.Parallel()
	wf := load(t, `do:
  - both:
      fork:
        branches:
          - waiter:
              listen:
                to:
                  one:
                    with: {type: stock.low}
          - announcer:
              emit:
                event:
                  with:
                    type: stock.low
                    data: {sku: TEE}
`)
	res := runLocal(t, wf, nil)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Len(t, res.Emitted, 1)
}

func TestStuckListenIsReported(t *testing.T) {
	t.Parallel()
	vc := clock.NewVirtual(epoch)
	l := &engine.Local{Engine: engine.New(vc), Connectors: catalog.Default(catalog.Options{}), Virtual: vc}
	_, err := l.Run(context.Background(), load(t, `do:
  - w:
      listen:
        to:
          one:
            with: {type: never.comes}
`), nil)
	require.ErrorIs(t, err, engine.ErrStuck)
	require.Contains(t, err.Error(), "never.comes")
}

func TestCancelSuspendResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vc := clock.NewVirtual(epoch)
	e := engine.New(vc)
	wf := load(t, `do:
  - w:
      wait: PT1H
  - after:
      set: {done: true}
`)
	tr := e.Start(ctx, wf, "i-1", nil)
	in := tr.Instance
	require.Equal(t, engine.StatusWaiting, in.Status)
	require.Len(t, tr.Effects, 1)
	timer := tr.Effects[0]
	require.Equal(t, engine.EffectTimer, timer.Kind)
	require.Equal(t, epoch.Add(time.Hour), timer.Due)

	e.Suspend(ctx, wf, in)
	require.Equal(t, engine.StatusSuspended, in.Status)
	e.Resume(ctx, wf, in, engine.Completion{Effect: timer.ID})
	require.Equal(t, engine.StatusSuspended, in.Status, "a suspended instance holds its completions")
	e.Unsuspend(ctx, wf, in)
	require.Equal(t, engine.StatusCompleted, in.Status)
	require.Equal(t, map[string]any{"done": true}, in.Output)

	// The timer delivered again (a repeat after a crash) changes nothing.
	again := e.Resume(ctx, wf, in, engine.Completion{Effect: timer.ID})
	require.Equal(t, engine.StatusCompleted, in.Status)
	require.Empty(t, again.Effects)
	require.Empty(t, again.History)

	tr = e.Start(ctx, wf, "i-2", nil)
	in = tr.Instance
	own := tr.Effects[0]
	require.Equal(t, engine.EffectTimer, own.Kind)
	require.Contains(t, in.Pending, own.ID, "i-2 waits on its own timer")
	tr = e.Cancel(ctx, wf, in, "customer bought elsewhere")
	require.Equal(t, engine.StatusCancelled, in.Status)
	require.Equal(t, engine.EffectCancel, tr.Effects[0].Kind)
	require.Equal(t, own.ID, tr.Effects[0].Cancels)
	// Its own timer, fired before the cancel withdrew it, completes late:
	// that changes nothing.
	late := e.Resume(ctx, wf, in, engine.Completion{Effect: own.ID})
	require.Equal(t, engine.StatusCancelled, in.Status)
	require.Empty(t, late.Effects)
	require.Empty(t, late.History)
	require.Nil(t, in.Output)
}

func TestRunawayLoopFaults(t *testing.T) {
	t.Parallel()
	res := runLocal(t, load(t, `do:
  - a:
      set: {x: 1}
      then: a
`), nil)
	require.Equal(t, engine.StatusFaulted, res.Instance.Status)
	require.Contains(t, res.Instance.Error.Detail, "without waiting")
}

// Suspending, resuming, cancelling or timing out a workflow shows on each
// task running at the time; a listen records when it starts and completes
// correlating, with the keys it resolved.
func TestHistoryOfRunningTasksAndCorrelations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := engine.New(clock.NewVirtual(epoch))
	wf := load(t, `timeout:
  after: PT1H
do:
  - outer:
      do:
        - order:
            listen:
              to:
                one:
                  with: {type: order.placed}
                  correlate:
                    cart: {from: .data.cartId, expect: '${ .cartId }'}
`)
	entries := func(tr *engine.Transition) []string {
		var out []string
		for _, h := range tr.History {
			out = append(out, strings.TrimSpace(h.Type+" "+h.Task))
		}
		return out
	}
	start := func(id string) (*engine.Instance, *engine.Transition) {
		tr := e.Start(ctx, wf, id, map[string]any{"cartId": "c1"})
		require.Equal(t, engine.StatusWaiting, tr.Instance.Status)
		return tr.Instance, tr
	}
	in, tr := start("i-1")
	require.Equal(t, []string{"workflow.started", "task.started /do/0/outer", "task.started /do/0/outer/do/0/order", "correlation.started /do/0/outer/do/0/order"}, entries(tr))
	var sub, timeout string
	for _, ef := range tr.Effects {
		if ef.Kind == engine.EffectSubscribe {
			sub = ef.ID
		}
	}
	require.Equal(t, []string{"workflow.suspended", "task.suspended /do/0/outer", "task.suspended /do/0/outer/do/0/order"}, entries(e.Suspend(ctx, wf, in)))
	require.Equal(t, []string{"workflow.resumed", "task.resumed /do/0/outer", "task.resumed /do/0/outer/do/0/order"}, entries(e.Unsuspend(ctx, wf, in)))
	tr = e.Resume(ctx, wf, in, engine.Completion{Effect: sub, Event: map[string]any{"type": "order.placed", "data": map[string]any{"cartId": "c1"}}})
	require.Equal(t, []string{"correlation.completed /do/0/outer/do/0/order", "task.completed /do/0/outer/do/0/order", "task.completed /do/0/outer", "workflow.completed"}, entries(tr))
	require.Equal(t, map[string]any{"cart": "c1"}, tr.History[0].Detail)

	in, _ = start("i-2")
	require.Equal(t, []string{"task.cancelled /do/0/outer/do/0/order", "task.cancelled /do/0/outer", "workflow.cancelled"}, entries(e.Cancel(ctx, wf, in, "gone")))

	in, tr = start("i-3")
	for _, ef := range tr.Effects {
		if ef.Kind == engine.EffectTimer {
			timeout = ef.ID
		}
	}
	tr = e.Resume(ctx, wf, in, engine.Completion{Effect: timeout})
	require.Equal(t, []string{"task.cancelled /do/0/outer/do/0/order", "task.cancelled /do/0/outer", "workflow.faulted"}, entries(tr))
	require.Equal(t, engine.StatusFaulted, in.Status)
}
