package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// The loops whose passes Settle waits for: together they are everything
// that finds work by itself (events, timers, calls, schedules).
const (
	loopMatch = iota
	loopTimers
	loopOutbox
	loopSchedule
	loopCount
)

// activity counts the work in flight, so that a driver of a virtual clock
// (pretests) can tell when the runtime has done everything due by the
// clock's time and the clock may jump. Production pays two atomic adds
// per item.
type activity struct {
	// busy counts work queued or being done: items handed to a shard and
	// not yet done, ingests not yet appended, calls being performed.
	busy atomic.Int64
	// epoch moves whenever work starts, so that Settle sees work that began
	// and ended between two of its looks.
	epoch atomic.Int64
	// started and completed count each loop's passes: a pass looks for work
	// once and hands over what it found.
	started, completed [loopCount]atomic.Int64

	// watchers counts Settle calls waiting; only then do the counters
	// above wake them, so that production never takes the lock.
	watchers atomic.Int32
	mu       sync.Mutex
	changed  chan struct{}
}

func (a *activity) begin() {
	a.epoch.Add(1)
	a.busy.Add(1)
}

func (a *activity) end() {
	if a.busy.Add(-1) == 0 {
		a.notify()
	}
}

func (a *activity) passStart(loop int) { a.started[loop].Add(1) }

func (a *activity) passEnd(loop int) {
	a.completed[loop].Add(1)
	a.notify()
}

func (a *activity) notify() {
	if a.watchers.Load() == 0 {
		return
	}
	a.mu.Lock()
	if a.changed != nil {
		close(a.changed)
		a.changed = nil
	}
	a.mu.Unlock()
}

// wait returns a channel closed at the next change of the counters.
func (a *activity) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.changed == nil {
		a.changed = make(chan struct{})
	}
	return a.changed
}

// Settle blocks until the runtime has nothing left to do at its clock's
// current time: no event unmatched, no item queued or being applied, no
// commit, ingest or call in flight, and every loop that finds work by
// itself (matcher, timers, outbox, schedules) has looked once more since
// and found none. Then only the clock moving can give the runtime work, at
// NextDue. It is meant for a runtime alone on its store under a virtual
// clock (storeflow test); with other nodes or API callers adding work, the
// answer may be stale as soon as it is given.
func (r *Runtime) Settle(ctx context.Context) error {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.act.watchers.Add(1)
	defer r.act.watchers.Add(-1)
	for {
		if err := r.waitIdle(ctx); err != nil {
			return err
		}
		epoch := r.act.epoch.Load()
		var marks [loopCount]int64
		for i := range marks {
			marks[i] = r.act.started[i].Load()
		}
		// Ask every loop for a pass that starts after the marks: a pending
		// wake is enough, since a loop consumes it only before a pass.
		signal(r.wakeMatcher)
		signal(r.wakeOutbox)
		signal(r.timers.wake)
		signal(r.wakeSchedule)
		for i := range marks {
			if err := r.poll(ctx, func() bool { return r.act.completed[i].Load() > marks[i] }); err != nil {
				return err
			}
		}
		if err := r.waitIdle(ctx); err != nil {
			return err
		}
		if r.act.epoch.Load() != epoch {
			continue // the passes found work: look again once it is done
		}
		head, err := r.st.LastEventSeq(ctx)
		if err != nil {
			return err
		}
		if r.matched.Load() < head {
			continue // the matcher read a full page: more is there
		}
		return nil
	}
}

var errStopped = errors.New("runtime stopped")

func (r *Runtime) waitIdle(ctx context.Context) error {
	return r.poll(ctx, func() bool { return r.act.busy.Load() == 0 })
}

// poll waits until cond holds, looking again whenever the activity
// counters change (and now and then, should a change slip by between the
// look and the wait).
func (r *Runtime) poll(ctx context.Context, cond func() bool) error {
	for {
		changed := r.act.wait()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stopped:
			return errStopped
		case <-changed:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// farAhead bounds the look for the next due timer or call.
const farAhead = 100 * 365 * 24 * time.Hour

// NextDue tells the first time after the clock's now at which the runtime
// has work to do by itself: a timer falls due, a deferred or failed call is
// tried again, a schedule ticks. ok is false when nothing is due ever (only
// an event can start or resume anything). With Settle it drives a virtual
// clock: settle, jump to NextDue, settle again.
func (r *Runtime) NextDue(ctx context.Context) (next time.Time, ok bool, err error) {
	now := r.clk.Now()
	consider := func(t time.Time) {
		if t.After(now) && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	if t, found := r.timers.nextAfter(now); found {
		consider(t)
	}
	slots := r.leases.list()
	timers, err := r.st.DueTimers(ctx, slots, now.Add(time.Nanosecond), "", now.Add(farAhead), 1)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, t := range timers {
		consider(t.Due)
	}
	// Items due now are being performed (Settle waits for them); the first
	// one due later is what the clock waits for.
	items, err := r.st.Outbox(ctx, slots, now.Add(farAhead), 1000)
	if err != nil {
		return time.Time{}, false, err
	}
	for _, o := range items {
		if o.NextAt.After(now) {
			consider(o.NextAt)
			break
		}
	}
	for _, wf := range r.defs.scheduled() {
		if !r.leases.ownsSlot(keySlot(scheduleName(wf))) {
			continue
		}
		if startsAfter(wf.Schedule) {
			newest, err := r.st.ListInstances(ctx, store.InstanceQuery{Namespace: wf.Document.Namespace, Name: wf.Document.Name, Limit: 1})
			if err != nil {
				return time.Time{}, false, err
			}
			if len(newest) == 0 || !engine.Status(newest[0].Status).Ended() {
				continue // started at once, or after the newest ends
			}
			ended := newest[0].UpdatedAt
			if in, err := engine.Unmarshal(newest[0].State); err == nil && in.EndedAt != nil {
				ended = *in.EndedAt
			}
			consider(ended.Add(wf.Schedule.After.Value))
			continue
		}
		last, err := r.st.Cursor(ctx, scheduleName(wf))
		if err != nil {
			return time.Time{}, false, err
		}
		prev := now
		if last != 0 {
			prev = time.Unix(0, last).UTC()
		}
		if t := nextTick(wf.Schedule, prev); !t.IsZero() {
			consider(t)
		}
	}
	return next, ok, nil
}

// nextAfter returns when the earliest timer held in memory after now is
// due.
func (q *timerQueue) nextAfter(now time.Time) (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	found := false
	for _, e := range q.h {
		if q.ids[e.id] && e.due.After(now) && (!found || e.due.Before(next)) {
			next, found = e.due, true
		}
	}
	return next, found
}
