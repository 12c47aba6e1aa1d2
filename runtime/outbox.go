package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/store"
)

// outboxLoop performs the calls, child starts and parent notifications that
// committed transitions left in the outbox. Each is done at least once: an
// item stays until the completion it produced commits, so a crash in
// between repeats it with the same idempotency key.
func (r *Runtime) outboxLoop(ctx context.Context) {
	sem := make(chan struct{}, r.opts.CallWorkers)
	// The poll goes by the runtime's clock, so that calls deferred or
	// backed off to a time are made when a virtual clock gets there.
	var poll <-chan time.Time
	for {
		r.act.passStart(loopOutbox)
		r.newOutboxRead()
		items, err := r.st.Outbox(ctx, r.leases.list(), r.clk.Now(), 500)
		if err != nil && ctx.Err() == nil {
			r.log.Error("read outbox", "err", err)
		}
		metricOutbox.Set(float64(len(items)))
		for _, o := range items {
			if !r.claim(o) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			r.dispatching.Add(1)
			r.act.begin()
			go func() {
				defer r.dispatching.Done()
				defer r.act.end()
				defer func() { <-sem }()
				r.dispatch(ctx, o)
			}()
		}
		if poll == nil {
			poll = r.clk.After(time.Second)
		}
		r.act.passEnd(loopOutbox)
		select {
		case <-ctx.Done():
			return
		case <-r.wakeOutbox:
		case <-poll:
			poll = nil
		}
	}
}

// claim marks an item in flight unless it is already, or its slot is not
// this node's (any more). Ownership is checked under the lock handBack
// reads in-flight calls under: once a slot drains no call starts in it, so
// a slot handBack finds idle stays idle.
func (r *Runtime) claim(o store.OutboxItem) bool {
	r.inflightMu.Lock()
	defer r.inflightMu.Unlock()
	if _, busy := r.inflight[o.ID]; busy || !r.leases.owns(o.InstanceID) {
		return false
	}
	if _, done := r.performed[o.ID]; done {
		return false // the list is older than the item's completion
	}
	r.inflight[o.ID] = o.InstanceID
	return true
}

// dispatchingIn returns the slots among slots with items being performed.
func (r *Runtime) dispatchingIn(slots []int) []int {
	want := map[int]bool{}
	for _, s := range slots {
		want[s] = true
	}
	r.inflightMu.Lock()
	defer r.inflightMu.Unlock()
	busy := map[int]bool{}
	for _, instance := range r.inflight {
		if s := store.SlotOf(instance); want[s] {
			busy[s] = true
		}
	}
	out := make([]int, 0, len(busy))
	for s := range busy {
		out = append(out, s)
	}
	return out
}

// newOutboxRead starts a read of the outbox. An item released before it
// began is listed again only if its row says it is due again (deferred or
// retried), so only items released from now on are remembered.
func (r *Runtime) newOutboxRead() {
	r.inflightMu.Lock()
	defer r.inflightMu.Unlock()
	r.outboxRead++
	clear(r.performed)
}

func (r *Runtime) release(id string) {
	r.inflightMu.Lock()
	instance := r.inflight[id]
	delete(r.inflight, id)
	// A list read before this item's completion committed may still hold
	// it; claim refuses it until a read that cannot.
	r.performed[id] = r.outboxRead
	r.inflightMu.Unlock()
	if r.leases.isDraining(store.SlotOf(instance)) {
		signal(r.wakeHandBack) // its slot may be free to go now
	}
}

func (r *Runtime) dispatch(ctx context.Context, o store.OutboxItem) {
	err := r.perform(ctx, o)
	// Released only once its row is deleted or rescheduled: until then a
	// read of the outbox lists it as due.
	defer r.release(o.ID)
	if err == nil || ctx.Err() != nil {
		return
	}
	// The item could not even be handed over (bad payload, unknown
	// workflow): try again later, backing off, and say so.
	delay := min(time.Duration(1<<min(o.Attempts, 8))*time.Second, 5*time.Minute)
	r.log.Error("outbox item failed", "item", o.ID, "instance", o.InstanceID, "attempt", o.Attempts+1, "retry_in", delay, "err", err)
	if err := r.st.RescheduleOutbox(ctx, o.ID, o.Attempts+1, r.clk.Now().Add(delay)); err != nil && ctx.Err() == nil {
		r.log.Error("reschedule outbox item", "item", o.ID, "err", err)
	}
	signal(r.wakeOutbox)
}

func (r *Runtime) perform(ctx context.Context, o store.OutboxItem) error {
	switch o.Kind {
	case "parent":
		var c engine.Completion
		if err := json.Unmarshal(o.Payload, &c); err != nil {
			return fmt.Errorf("decode parent notification: %w", err)
		}
		return r.do(ctx, &item{kind: itemComplete, id: o.InstanceID, completion: c, deleteOutbox: o.ID})
	}
	var eff engine.Effect
	if err := json.Unmarshal(o.Payload, &eff); err != nil {
		return fmt.Errorf("decode outbox effect: %w", err)
	}
	switch eff.Kind {
	case engine.EffectChild:
		wf, err := r.defs.get(ctx, eff.Child.Workflow)
		if err != nil {
			c := engine.Completion{Effect: eff.ID, Error: &problem.Problem{Type: problem.TypeConfiguration, Status: 404, Title: "Workflow Not Found",
				Detail: fmt.Sprintf("run: workflow %s: %v", eff.Child.Workflow, err)}}
			return r.do(ctx, &item{kind: itemComplete, id: o.InstanceID, completion: c, deleteOutbox: o.ID})
		}
		// The child starts in its parent's slot, whose outbox row its start
		// deletes in the same commit.
		id, err := r.newID(store.SlotOf(o.InstanceID))
		if err != nil {
			return err
		}
		return r.do(ctx, &item{kind: itemStart, id: id, deleteOutbox: o.ID, start: &startReq{
			wf: wf, input: eff.Child.Input, trigger: "child:" + eff.ID, parent: &engine.ParentRef{Instance: o.InstanceID, Effect: eff.ID}}})
	case engine.EffectCall:
		req := eff.Request(o.InstanceID, r.clk.Now())
		req.Attempt = o.Attempts + 1
		out, err := r.calls.Call(ctx, req)
		if ctx.Err() != nil {
			// Shutting down: a call cut short is not the service's failure.
			// The item stays and is performed again, with the same key,
			// after the restart.
			return ctx.Err()
		}
		if d, ok := connector.DeferredUntil(err); ok {
			// Not now (quiet hours, a send rate): the call stays pending and
			// is made again then, with the same key. It is no failed attempt.
			r.log.Info("call deferred", "instance", o.InstanceID, "task", eff.Task, "until", d.Until, "reason", d.Reason)
			metricDeferred.Inc()
			deferred, err := r.st.DeferOutbox(ctx, o.ID, o.NextAt, d.Until)
			if err != nil {
				return fmt.Errorf("defer call %s: %w", o.ID, err)
			}
			if !deferred {
				// Woken while the connector looked (a task answered), or
				// gone (the instance was cancelled): look again at once.
				signal(r.wakeOutbox)
			}
			return nil
		}
		out, note := connector.Unwrap(out)
		c := engine.Completion{Effect: eff.ID, Output: out, Note: note}
		if err != nil {
			c = engine.Completion{Effect: eff.ID, Error: problem.As(err)}
		}
		return r.do(ctx, &item{kind: itemComplete, id: o.InstanceID, completion: c, deleteOutbox: o.ID})
	}
	return fmt.Errorf("outbox item of unknown kind %q", eff.Kind)
}
