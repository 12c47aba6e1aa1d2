package runtime

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// itemKind is the kind of work a shard worker does on one instance.
type itemKind int

const (
	itemStart itemKind = iota
	itemComplete
	itemCancel
	itemSuspend
	itemResume
)

type item struct {
	kind       itemKind
	id         string
	start      *startReq
	completion engine.Completion
	// deleteTimer and deleteOutbox name the durable row the completion came
	// from; it is deleted in the same commit.
	deleteTimer  string
	deleteOutbox string
	timerDue     time.Time // when the timer deleteTimer names was due
	reason       string
	done         func(error)
}

type startReq struct {
	wf      *dsl.Workflow
	input   any
	trigger string
	parent  *engine.ParentRef
	origin  *engine.Origin // the triggering events, for an event-started instance
}

func (r *Runtime) shardOf(id string) chan *item {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return r.shards[int(h.Sum32()%uint32(len(r.shards)))]
}

// enqueue hands an item to the worker of its instance.
func (r *Runtime) enqueue(ctx context.Context, it *item) error {
	r.act.begin() // ended by the shard once the item is done
	select {
	case r.shardOf(it.id) <- it:
		return nil
	case <-ctx.Done():
		r.act.end()
		return ctx.Err()
	case <-r.stopped:
		r.act.end()
		return errStopped
	}
}

// do enqueues an item and waits until its transition committed.
func (r *Runtime) do(ctx context.Context, it *item) error {
	errc := make(chan error, 1)
	it.done = func(err error) { errc <- err }
	if err := r.enqueue(ctx, it); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shardLoop advances instances one item at a time. A transition commits
// while the worker goes on with the next item (many transitions in flight
// are what fill a group commit: a worker that waited for each commit put at
// most one transition per worker into it), except that an item of an
// instance whose previous transition is still committing waits for that
// commit, so that it starts from the committed state.
func (r *Runtime) shardLoop(ctx context.Context, ch chan *item) {
	var mu sync.Mutex
	committing := map[string]chan struct{}{} // instance → closed when its commit is over
	var pending sync.WaitGroup
	for it := range ch {
		mu.Lock()
		wait := committing[it.id]
		mu.Unlock()
		if wait != nil {
			<-wait
		}
		over := make(chan struct{})
		mu.Lock()
		committing[it.id] = over
		mu.Unlock()
		pending.Add(1)
		r.apply(ctx, it, func(err error) {
			switch {
			case err == nil, errors.Is(err, context.Canceled):
			case errors.Is(err, errNotOwner), errors.Is(err, store.ErrFenced):
				// Another node holds the slot now and does this work itself.
				r.log.Debug("instance moved to another node", "instance", it.id, "err", err)
			default:
				r.log.Error("advance instance", "instance", it.id, "err", err)
			}
			mu.Lock()
			if committing[it.id] == over {
				delete(committing, it.id)
			}
			mu.Unlock()
			close(over)
			if it.done != nil {
				it.done(err)
			}
			r.act.end()
			pending.Done()
		})
	}
	// Commits still in flight end before the worker does, so that the
	// committer outlives them.
	pending.Wait()
}

// errStoreDown marks failures of the store itself (unreachable, commit
// failed), after which work is retried rather than given up.
var errStoreDown = errors.New("store unavailable")

// apply advances an instance by one item and hands the transition to the
// committer; finish is called once with the outcome, after the commit and
// what follows it (at once when nothing is to be committed).
func (r *Runtime) apply(ctx context.Context, it *item, finish func(error)) {
	// Work already handed to a worker still commits while its slot drains.
	if _, ok := r.leases.fence(it.id); !ok {
		finish(errNotOwner)
		return
	}
	began := time.Now()
	var (
		in   *engine.Instance
		wf   *dsl.Workflow
		rev  int64
		tr   *engine.Transition
		trig string
	)
	if it.kind == itemStart {
		wf = it.start.wf
		tr = r.eng.Start(ctx, wf, it.id, it.start.input)
		in = tr.Instance
		in.Parent = it.start.parent
		in.LogSeq = r.logPosition(ctx)
		in.Origin = it.start.origin
		trig = it.start.trigger
	} else {
		rec, err := r.st.GetInstance(ctx, it.id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", errStoreDown, err)
			}
			finish(err)
			return
		}
		if in, err = engine.Unmarshal(rec.State); err != nil {
			finish(err)
			return
		}
		rev = rec.Rev
		if wf, err = r.defs.get(ctx, in.Workflow); err != nil {
			finish(err)
			return
		}
		switch it.kind {
		case itemComplete:
			tr = r.eng.Resume(ctx, wf, in, it.completion)
		case itemCancel:
			if in.Status.Ended() {
				finish(fmt.Errorf("instance %s has already ended (%s)", in.ID, in.Status))
				return
			}
			tr = r.eng.Cancel(ctx, wf, in, it.reason)
		case itemSuspend:
			if in.Status.Ended() {
				finish(fmt.Errorf("instance %s has already ended (%s)", in.ID, in.Status))
				return
			}
			tr = r.eng.Suspend(ctx, wf, in)
		case itemResume:
			if in.Status != engine.StatusSuspended {
				finish(fmt.Errorf("instance %s is not suspended (%s)", in.ID, in.Status))
				return
			}
			tr = r.eng.Unsuspend(ctx, wf, in)
		}
	}
	// Registered before the look-back reads the log, unregistered once the
	// commit is over: see openings.
	closeOpening := r.opening.open(wf, tr)
	fail := func(err error) {
		closeOpening()
		finish(err)
	}
	if err := r.lookBack(ctx, wf, tr); err != nil {
		fail(err)
		return
	}
	var origin *engine.Origin
	if it.kind == itemStart {
		origin = it.start.origin
	}
	change, err := r.change(rev, trig, origin, tr)
	if err != nil {
		fail(err)
		return
	}
	fence, ok := r.leases.fence(in.ID)
	if !ok {
		fail(errNotOwner)
		return
	}
	change.Fence = fence
	if it.deleteTimer != "" {
		change.DeleteTimers = append(change.DeleteTimers, it.deleteTimer)
	}
	if it.deleteOutbox != "" {
		change.DeleteOutbox = append(change.DeleteOutbox, it.deleteOutbox)
	}
	r.commitAsync(ctx, change, func(err error) {
		defer closeOpening()
		if err != nil {
			if errors.Is(err, store.ErrDuplicateTrigger) {
				err = nil // this trigger started its instance before
			}
			finish(err)
			return
		}
		r.committed(ctx, it, wf, in, tr, &change, began)
		finish(nil)
	})
}

// committed does what follows the commit of an item's transition.
func (r *Runtime) committed(ctx context.Context, it *item, wf *dsl.Workflow, in *engine.Instance, tr *engine.Transition, change *store.Change, began time.Time) {
	metricStep.Observe(time.Since(began).Seconds())
	if it.kind == itemStart {
		metricStarted.Inc()
	}
	ended := false
	for _, h := range tr.History {
		switch h.Type {
		case "workflow.completed", "workflow.faulted", "workflow.cancelled":
			metricEnded.WithLabelValues(string(in.Status)).Inc()
			ended = true
		}
	}
	if r.opts.Observe != nil {
		r.opts.Observe(Observation{Instance: in.ID, Status: in.Status, StartedAt: in.StartedAt, Input: in.Input,
			Started: it.kind == itemStart, Ended: ended, Completion: it.completion.Effect, TimerDue: it.timerDue, CommittedAt: time.Now()})
	}
	r.afterCommit(ctx, wf, in, tr)
	if len(change.Emit) > 0 {
		// Lifecycle events may start or resume other instances.
		signal(r.wakeMatcher)
	}
}
