package runtime

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// horizon is how far ahead timers are held in memory; later ones stay in
// the store until they come near.
const horizon = 10 * time.Second

// timerQueue holds near-term timers in due order.
type timerQueue struct {
	mu    sync.Mutex
	h     timerHeap
	ids   map[string]bool
	fired map[string]time.Time // fired but maybe not yet committed
	wake  chan struct{}
	// pruned is when fired was last cleared of old entries.
	pruned time.Time
}

type timerEntry struct {
	id, instance string
	due          time.Time
}

type timerHeap []timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	return h[i].due.Before(h[j].due) || h[i].due.Equal(h[j].due) && h[i].id < h[j].id
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func newTimerQueue() *timerQueue {
	return &timerQueue{ids: map[string]bool{}, fired: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// add holds a timer in memory when it is due within the horizon.
func (q *timerQueue) add(id, instance string, due, now time.Time) {
	if due.After(now.Add(horizon)) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ids[id] {
		return
	}
	if at, ok := q.fired[id]; ok && now.Sub(at) < time.Minute {
		return
	}
	q.ids[id] = true
	heap.Push(&q.h, timerEntry{id: id, instance: instance, due: due})
	signal(q.wake)
}

// retry holds a fired timer again, whose completion did not commit (the
// store was unreachable): its row is still there, but the store scan has
// moved past it.
func (q *timerQueue) retry(e timerEntry, due time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.fired, e.id)
	if q.ids[e.id] {
		return
	}
	q.ids[e.id] = true
	e.due = due
	heap.Push(&q.h, e)
	signal(q.wake)
}

// unfire forgets that a timer was popped, when it did not fire here after
// all (its slot moved): should this node hold the slot again, the timer is
// read again from the store.
func (q *timerQueue) unfire(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.fired, id)
}

func (q *timerQueue) remove(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.ids, id) // the heap entry is skipped when popped
}

// due pops the timers due at now, and tells when the next one is due.
func (q *timerQueue) due(now time.Time) ([]timerEntry, time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []timerEntry
	for len(q.h) > 0 && !q.h[0].due.After(now) {
		e := heap.Pop(&q.h).(timerEntry)
		if !q.ids[e.id] {
			continue
		}
		delete(q.ids, e.id)
		q.fired[e.id] = now
		out = append(out, e)
	}
	// Forget long-fired timers now and then: scanning the map on every
	// call cost a fifth of the CPU with 100,000 timers due together.
	if now.Sub(q.pruned) > 10*time.Second {
		q.pruned = now
		for id, at := range q.fired {
			if now.Sub(at) > time.Minute {
				delete(q.fired, id)
			}
		}
	}
	if len(q.h) == 0 {
		return out, time.Time{}
	}
	return out, q.h[0].due
}

// timerLoop fires due timers: near-term ones from memory, the rest loaded
// from the store as they come near (and after a restart).
func (r *Runtime) timerLoop(ctx context.Context) {
	lastScan := time.Time{}
	// The store is read forward from the last timer loaded: timers created
	// by this process since then went into memory directly when near.
	var afterDue time.Time
	var afterID string
	// One wait on the clock at a time: a new one only when it must end
	// sooner, so that many wakes do not pile up timers on a virtual clock.
	var poll <-chan time.Time
	var pollAt time.Time
	for {
		r.act.passStart(loopTimers)
		now := r.clk.Now()
		if r.leases.gained.Swap(false) {
			// New slots: their timers are read from the start.
			afterDue, afterID, lastScan = time.Time{}, "", time.Time{}
		}
		if now.Sub(lastScan) >= time.Second || lastScan.IsZero() {
			lastScan = now
			for {
				timers, err := r.st.DueTimers(ctx, r.leases.list(), afterDue, afterID, now.Add(horizon), 10_000)
				if err != nil {
					if ctx.Err() == nil {
						r.log.Error("load timers", "err", err)
					}
					break
				}
				for _, t := range timers {
					r.timers.add(t.ID, t.InstanceID, t.Due, now)
				}
				if len(timers) == 0 {
					break
				}
				last := timers[len(timers)-1]
				afterDue, afterID = last.Due, last.ID
				if len(timers) < 10_000 {
					break
				}
			}
		}
		due, next := r.timers.due(now)
		for _, t := range due {
			if !r.leases.owns(t.instance) {
				r.timers.unfire(t.id) // its slot moved: the new holder fires it
				continue
			}
			metricTimerLag.Observe(now.Sub(t.due).Seconds())
			it := &item{kind: itemComplete, id: t.instance, completion: engine.Completion{Effect: t.id}, deleteTimer: t.id, timerDue: t.due}
			it.done = func(err error) {
				switch {
				case err == nil, errors.Is(err, store.ErrNotFound), ctx.Err() != nil:
				case isMoved(err) && r.leases.owns(t.instance):
					// Refused with the fence of before a lapse of this node's
					// own leases, renewed since: the timers read again at the
					// renewal skipped it as in flight, so it is this node's to
					// fire again.
					r.timers.retry(t, r.clk.Now())
				case isMoved(err):
					r.timers.unfire(t.id)
				default:
					r.timers.retry(t, r.clk.Now().Add(time.Second))
				}
			}
			if err := r.enqueue(ctx, it); err != nil {
				return
			}
		}
		wait := time.Second
		if !next.IsZero() {
			if d := next.Sub(now); d < wait {
				wait = max(d, 0)
			}
		}
		if at := now.Add(wait); poll == nil || at.Before(pollAt) {
			poll, pollAt = r.clk.After(wait), at
		}
		r.act.passEnd(loopTimers)
		select {
		case <-ctx.Done():
			return
		case <-r.timers.wake:
		case <-poll:
			poll = nil
		}
	}
}
