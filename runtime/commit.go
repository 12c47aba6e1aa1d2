package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/eventkey"
	"github.com/storeflow/storeflow/store"
)

// change turns a transition into the rows to commit with it; origin, on a
// start, names the events that started the instance.
func (r *Runtime) change(rev int64, trigger string, origin *engine.Origin, tr *engine.Transition) (store.Change, error) {
	in := tr.Instance
	state, err := in.Marshal()
	if err != nil {
		return store.Change{}, fmt.Errorf("encode instance %s: %w", in.ID, err)
	}
	now := r.clk.Now()
	c := store.Change{Instance: store.Instance{ID: in.ID, Namespace: in.Workflow.Namespace, Name: in.Workflow.Name, Version: in.Workflow.Version,
		Status: string(in.Status), State: state, Rev: rev, TriggerKey: trigger, CreatedAt: in.StartedAt, UpdatedAt: now}}
	for _, h := range tr.History {
		data, _ := json.Marshal(h)
		c.History = append(c.History, store.HistoryEntry{Time: h.Time, Type: h.Type, Task: h.Task, Data: data})
	}
	// Lifecycle events join the commit of their transition: none is logged
	// without it, nor it without them. The start comes before what the
	// tasks emit; the rest follows it, as the transition does not say how
	// history and effects interleave.
	lifecycle := r.lifecycleEvents(tr, rev+1, now)
	if len(lifecycle) > 0 && lifecycle[0].Type == TypeWorkflowStarted {
		c.Emit = append(c.Emit, lifecycle[0])
		lifecycle = lifecycle[1:]
	}
	// An effect created and withdrawn in the same transition (a look-back
	// that completed a new listen at once) leaves no row.
	withdrawn := map[string]bool{}
	for _, e := range tr.Effects {
		if e.Kind == engine.EffectCancel {
			withdrawn[e.Cancels] = true
		}
	}
	for _, e := range tr.Effects {
		if withdrawn[e.ID] {
			continue
		}
		switch e.Kind {
		case engine.EffectTimer:
			c.AddTimers = append(c.AddTimers, store.Timer{ID: e.ID, InstanceID: in.ID, Due: e.Due})
		case engine.EffectSubscribe:
			spec, _ := json.Marshal(e.Subscription)
			for i, f := range e.Subscription.Filters {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: fmt.Sprintf("%s#%d", e.ID, i), InstanceID: in.ID,
					EventType: matchType(f), CorrKey: corrKey(f.Correlate), Since: e.Subscription.Since, Spec: spec})
			}
			if len(e.Subscription.Filters) == 0 {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: e.ID + "#0", InstanceID: in.ID, EventType: anyType, Since: e.Subscription.Since, Spec: spec})
			}
			for i, f := range e.Subscription.Until {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: fmt.Sprintf("%s#u%d", e.ID, i), InstanceID: in.ID,
					EventType: matchType(f), CorrKey: corrKey(f.Correlate), Since: e.Subscription.Since, Spec: spec})
			}
		case engine.EffectCall, engine.EffectChild:
			payload, _ := json.Marshal(e)
			c.AddOutbox = append(c.AddOutbox, store.OutboxItem{ID: e.ID, InstanceID: in.ID, Kind: string(e.Kind), Payload: payload, NextAt: now})
		case engine.EffectEmit:
			c.Emit = append(c.Emit, eventFromMap(e.Event, now))
		case engine.EffectCancel:
			c.DeleteTimers = append(c.DeleteTimers, e.Cancels)
			c.DeleteSubscriptions = append(c.DeleteSubscriptions, e.Cancels)
			c.DeleteOutbox = append(c.DeleteOutbox, e.Cancels)
		}
	}
	c.Emit = append(c.Emit, lifecycle...)
	c.Events = eventLinks(origin, tr.Events)
	if in.Status.Ended() && in.Parent != nil {
		payload, _ := json.Marshal(engine.Completion{Effect: in.Parent.Effect, Output: in.Output, Error: in.Error})
		c.AddOutbox = append(c.AddOutbox, store.OutboxItem{ID: in.ID + "/parent", InstanceID: in.Parent.Instance, Kind: "parent", Payload: payload, NextAt: now})
	}
	return c, nil
}

// afterCommit acts on what a committed transition asked for.
func (r *Runtime) afterCommit(ctx context.Context, wf *dsl.Workflow, in *engine.Instance, tr *engine.Transition) {
	wakeOutbox, wakeMatcher := false, false
	for _, e := range tr.Effects {
		switch e.Kind {
		case engine.EffectTimer:
			r.timers.add(e.ID, in.ID, e.Due, r.clk.Now())
		case engine.EffectCancel:
			r.timers.remove(e.Cancels)
		case engine.EffectCall, engine.EffectChild:
			wakeOutbox = true
		case engine.EffectEmit:
			wakeMatcher = true
		case engine.EffectSubscribe:
			for _, t := range listenTypes(e.Subscription) {
				r.listened.Store(t, true)
			}
			r.defs.noteListens(wf)
		}
	}
	if in.Status.Ended() && in.Parent != nil {
		wakeOutbox = true
	}
	if wakeOutbox {
		signal(r.wakeOutbox)
	}
	if wakeMatcher {
		signal(r.wakeMatcher)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

type commitReq struct {
	change store.Change
	// done gets the commit's outcome; it runs off the committer, which
	// goes on with the next commit meanwhile.
	done func(error)
}

// commitAsync queues a change for the next group commit; done is called
// with its outcome (ctx's error when ctx ends before it could queue).
func (r *Runtime) commitAsync(ctx context.Context, c store.Change, done func(error)) {
	select {
	case r.commit <- &commitReq{change: c, done: done}:
	case <-ctx.Done():
		done(ctx.Err())
	}
}

// commitLoop commits the transitions of many instances together: whatever
// queued while the previous commit ran goes into the next one. What
// follows a commit runs on another goroutine, so that the committer does
// only what must be serial.
func (r *Runtime) commitLoop(ctx context.Context) {
	var after sync.WaitGroup
	defer after.Wait()
	for {
		batch := make([]*commitReq, 0, r.opts.BatchSize)
		select {
		case <-ctx.Done():
			return
		case req := <-r.commit:
			batch = append(batch, req)
		}
	fill:
		for len(batch) < r.opts.BatchSize {
			select {
			case req := <-r.commit:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		changes := make([]store.Change, len(batch))
		for i, req := range batch {
			changes[i] = req.change
		}
		results, err := r.st.Commit(context.WithoutCancel(ctx), changes)
		metricCommitBatch.Observe(float64(len(batch)))
		after.Add(1)
		go func() {
			defer after.Done()
			for i, req := range batch {
				if err != nil {
					req.done(fmt.Errorf("%w: %w", errStoreDown, err))
					continue
				}
				req.done(results[i])
			}
		}()
	}
}

func eventFromMap(ev map[string]any, now time.Time) store.Event {
	str := func(k string) string { s, _ := ev[k].(string); return s }
	out := store.Event{ID: str("id"), Source: str("source"), Type: str("type"), Subject: str("subject"), ReceivedAt: now}
	if t, err := time.Parse(time.RFC3339Nano, str("time")); err == nil {
		out.Time = t.UTC()
	}
	out.Envelope, _ = json.Marshal(ev)
	out.Keys = eventkey.Of(ev)
	out.Shop = eventkey.ShopOf(ev)
	return out
}

// eventLinks records which events started (origin) and resumed
// (delivered) an instance, each event once, a start before a resume.
func eventLinks(origin *engine.Origin, delivered []int64) []store.EventLink {
	if (origin == nil || len(origin.Events) == 0) && len(delivered) == 0 {
		return nil
	}
	seen := map[int64]bool{}
	var out []store.EventLink
	if origin != nil {
		for _, seq := range origin.Events {
			if seq > 0 && !seen[seq] {
				seen[seq] = true
				out = append(out, store.EventLink{Seq: seq, Started: true})
			}
		}
	}
	for _, seq := range delivered {
		if seq > 0 && !seen[seq] {
			seen[seq] = true
			out = append(out, store.EventLink{Seq: seq})
		}
	}
	return out
}
