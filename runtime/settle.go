package runtime

import (
	"context"
	"errors"
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
}

func (a *activity) begin() {
	a.epoch.Add(1)
	a.busy.Add(1)
}

func (a *activity) end() { a.busy.Add(-1) }

func (a *activity) passStart(loop int) { a.started[loop].Add(1) }
func (a *activity) passEnd(loop int)   { a.completed[loop].Add(1) }

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

// poll waits, in real time, until cond holds, looking often at first and
// less often the longer it takes.
func (r *Runtime) poll(ctx context.Context, cond func() bool) error {
	wait := 20 * time.Microsecond
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stopped:
			return errStopped
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Millisecond)
	}
	return nil
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
