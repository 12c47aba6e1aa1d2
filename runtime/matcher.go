package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

func (r *Runtime) logPosition(context.Context) int64 { return r.matched.Load() }

// matchLoop reads the event log in order and hands each event to the
// workflows it starts and the listens it completes. Its position is saved
// only after what it handed over committed, so a crash repeats, never skips;
// repeats are harmless (trigger keys, per-listen event positions).
func (r *Runtime) matchLoop(ctx context.Context) {
	// Each slot has its own position; the matcher reads from the lowest of
	// the slots it holds, and rewinds when it gains a slot that is behind.
	// Repeats are harmless, so one position serves all held slots.
	pos := int64(-1)
	retries := 0
	saved, savedPos := time.Now(), pos
	// closed is set when a start group closed (and at start, for groups a
	// crash left): once the position passed it, it can be pruned.
	var closed atomic.Bool
	closed.Store(true)
	save := func(pos int64) {
		if r.saveCursor(ctx, pos) && closed.Swap(false) {
			if err := r.st.PruneStartGroups(context.WithoutCancel(ctx), pos); err != nil {
				closed.Store(true)
				r.log.Error("prune start groups", "err", err)
			}
		}
	}
	defer func() { save(r.matched.Load()) }()
	for {
		r.act.passStart(loopMatch)
		if rw := r.leases.rewind.Swap(-1); rw >= 0 && (pos < 0 || rw < pos) {
			pos = rw
			r.matched.Store(pos)
		}
		var batch store.Batch
		var err error
		if pos >= 0 {
			// Only the types something may want are read: most of a busy log
			// (lifecycle events, say) concerns nobody, and reading it whole
			// had the matcher fall behind. A listen that opens later looks
			// back for its types itself. Event-log followers step through
			// the log the same way.
			batch, err = store.ReadBatch(ctx, r.st, pos, r.wantedTypes(), 512)
			if err != nil && ctx.Err() == nil {
				r.log.Error("read events", "err", err)
			}
		}
		events := batch.Events
		if len(events) > 0 {
			var wg sync.WaitGroup
			var failed atomic.Bool
			for _, ev := range events {
				r.match(ctx, ev, &wg, &failed, &closed)
			}
			wg.Wait()
			if ctx.Err() != nil {
				return // unsaved: the batch is matched again after restart
			}
			// While the store is unreachable, deliveries are retried for as
			// long as it takes: giving up would lose the events.
			down := r.storeDown.Swap(false)
			if failed.Load() && (retries < 5 || down) {
				// Something it handed over did not commit: match the batch
				// again (repeats are harmless) after a pause.
				retries++
				r.act.passEnd(loopMatch)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(min(retries, 10)) * time.Second):
				}
				continue
			}
			if failed.Load() {
				r.log.Error("giving up on event deliveries that keep failing; see the errors above", "from_seq", events[0].Seq, "to_seq", events[len(events)-1].Seq)
			}
			retries = 0
			pos = batch.Next
			r.matched.Store(pos)
			// Saving the position costs a disk flush; doing it at most a few
			// times a second keeps it off the path of every event. A crash
			// repeats the last moments of matching, which is harmless.
			if time.Since(saved) > 200*time.Millisecond {
				save(pos)
				saved, savedPos = time.Now(), pos
			}
			r.act.passEnd(loopMatch)
			continue
		}
		if err == nil && pos >= 0 && batch.Next > pos {
			// Nothing wanted up to the log's end: pass over the rest.
			pos = batch.Next
			r.matched.Store(pos)
		}
		if pos != savedPos && pos >= 0 {
			save(pos)
			saved, savedPos = time.Now(), pos
		}
		r.act.passEnd(loopMatch)
		select {
		case <-ctx.Done():
			return
		case <-r.wakeMatcher:
		case <-time.After(r.idlePoll):
		}
	}
}

func (r *Runtime) saveCursor(ctx context.Context, pos int64) bool {
	if err := r.st.SaveSlotCursor(context.WithoutCancel(ctx), r.opts.Node, r.leases.list(), pos); err != nil {
		r.log.Error("save matcher position", "err", err)
		return false
	}
	return true
}

func decodeEvent(ev store.Event) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(ev.Envelope, &m); err != nil || m == nil {
		m = map[string]any{"id": ev.ID, "source": ev.Source, "type": ev.Type, "specversion": "1.0"}
	}
	return m
}

// match starts the workflows an event triggers and delivers it to the
// listens waiting for it.
func (r *Runtime) match(ctx context.Context, ev store.Event, wg *sync.WaitGroup, failed, closed *atomic.Bool) {
	if !r.mayConcern(ev.Type) {
		return // most of the log (lifecycle events, say) concerns nobody
	}
	env := decodeEvent(ev)
	hand := func(it *item) {
		wg.Add(1)
		it.done = func(err error) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					r.log.Error("event delivery", "event", ev.ID, "instance", it.id, "err", err)
				}
				// An instance that ended meanwhile no longer wants the event,
				// and one whose slot moved is the new holder's to serve;
				// anything else must be tried again.
				if !errors.Is(err, store.ErrNotFound) && !isMoved(err) {
					failed.Store(true)
				}
				if errors.Is(err, errStoreDown) {
					r.storeDown.Store(true)
				}
			}
			wg.Done()
		}
		if err := r.enqueue(ctx, it); err != nil {
			failed.Store(true)
			wg.Done()
		}
	}
	if ev.Type == commandType {
		if it, ok := r.commandItem(env); ok {
			// A command that no longer applies (the instance ended) is
			// done, not failed.
			it.done = func(err error) {
				if err != nil && !isMoved(err) {
					r.log.Warn("instance command", "instance", it.id, "err", err)
				}
			}
			if err := r.enqueue(ctx, it); err != nil {
				failed.Store(true)
			}
		}
		return
	}
	if err := r.checkUntil(ctx, ev, env); err != nil {
		if ctx.Err() == nil {
			r.log.Error("check schedule until conditions", "event", ev.ID, "err", err)
		}
		failed.Store(true)
		return
	}
	for _, wf := range r.defs.triggersFor(ev.Type) {
		if ok, err := r.startsBeforeUntil(ctx, wf, ev.Seq); err != nil || !ok {
			if err != nil {
				failed.Store(true)
			}
			continue
		}
		// schedule.on.all groups of a workflow are all kept by the node
		// holding the workflow's slot.
		if wf.Schedule.On.All != nil {
			if !r.leases.ownsSlot(triggerSlot(wf, "all")) {
				continue
			}
			started, err := r.matchAll(ctx, wf, ev, env, hand)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("match schedule.on.all", "workflow", wf.Document.Name, "event", ev.ID, "err", err)
				}
				failed.Store(true)
			}
			if started {
				closed.Store(true)
			}
			continue
		}
		trigger := "event:" + ev.Source + "/" + ev.ID
		slot := triggerSlot(wf, trigger)
		if !r.leases.ownsSlot(slot) || !r.triggers(ctx, wf, env) {
			continue
		}
		input := engine.StartInput([]map[string]any{env}, wf.Schedule.Read)
		id, err := r.newID(slot)
		if err != nil {
			failed.Store(true)
			continue
		}
		origin := &engine.Origin{Time: ev.Time, Events: []int64{ev.Seq}}
		hand(&item{kind: itemStart, id: id, start: &startReq{wf: wf, input: input, trigger: trigger, origin: origin}})
	}
	delivered := map[string]bool{}
	for _, it := range r.openingDeliveries(ctx, ev.Type, env, ev.Seq) {
		delivered[it.completion.Effect] = true
		hand(it)
	}
	_, typed := r.listened.Load(ev.Type)
	_, untyped := r.listened.Load(anyType)
	if !typed && !untyped {
		return
	}
	for _, sh := range r.defs.shapesFor(ev.Type) {
		key, ok := eventKey(ctx, sh, env)
		if !ok {
			continue
		}
		for _, typ := range []string{ev.Type, anyType} {
			if _, ok := r.listened.Load(typ); !ok {
				continue
			}
			subs, err := r.st.Subscriptions(ctx, typ, key)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("find subscriptions", "type", typ, "err", err)
				}
				continue
			}
			for _, sub := range subs {
				if !r.leases.owns(sub.InstanceID) {
					continue
				}
				c, ok := r.deliverable(ctx, sub, env)
				if !ok || delivered[c.Effect] {
					continue
				}
				delivered[c.Effect] = true
				c.Seq = ev.Seq
				hand(&item{kind: itemComplete, id: sub.InstanceID, completion: c})
			}
		}
	}
}

// wantedTypes lists the event types some trigger, listen (committed or
// opening), until condition or command may want, or nil when any type may
// be wanted.
func (r *Runtime) wantedTypes() []string {
	if len(r.defs.untilScheduled()) > 0 || r.opening.waitsFor(anyType) {
		return nil
	}
	if _, ok := r.listened.Load(anyType); ok {
		return nil
	}
	types := r.defs.triggerTypes()
	if slices.Contains(types, anyType) {
		return nil
	}
	types = append(types, commandType)
	r.listened.Range(func(k, _ any) bool {
		types = append(types, k.(string))
		return true
	})
	types = append(types, r.opening.typeList()...)
	slices.Sort(types)
	return slices.Compact(types)
}

// mayConcern tells, without decoding it, whether an event of a type can
// start, resume, close or command anything.
func (r *Runtime) mayConcern(typ string) bool {
	if typ == commandType || len(r.defs.triggersFor(typ)) > 0 || len(r.defs.untilScheduled()) > 0 || r.opening.waitsFor(typ) {
		return true
	}
	_, typed := r.listened.Load(typ)
	_, untyped := r.listened.Load(anyType)
	return typed || untyped
}

// triggers reports whether an event starts a workflow (schedule.on one/any;
// matchAll handles all).
func (r *Runtime) triggers(ctx context.Context, wf *dsl.Workflow, env map[string]any) bool {
	on := wf.Schedule.On
	filters := on.Any
	if on.One != nil {
		filters = []*dsl.EventFilter{on.One}
	}
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if ok, err := engine.MatchEvent(ctx, wf, scheduleMatch(f), env); err == nil && ok {
			return true
		}
	}
	return false
}

// scheduleMatch is the match of a schedule.on filter: its attributes are
// taken as written, since there is no input to evaluate them on.
func scheduleMatch(f *dsl.EventFilter) engine.EventMatch {
	m := engine.EventMatch{Attributes: map[string]any{}, Path: f.Path}
	for name, v := range f.With {
		if name != "data" {
			m.Attributes[name] = v.Get()
		}
	}
	return m
}

// deliverable checks a candidate subscription fully and returns the
// completion that delivers the event to it.
func (r *Runtime) deliverable(ctx context.Context, sub store.Subscription, env map[string]any) (engine.Completion, bool) {
	var spec engine.Subscription
	if err := json.Unmarshal(sub.Spec, &spec); err != nil {
		return engine.Completion{}, false
	}
	wf, err := r.defs.get(ctx, spec.Workflow)
	if err != nil {
		return engine.Completion{}, false
	}
	effect, _, _ := strings.Cut(sub.ID, "#")
	return spec.Match(ctx, wf, effect, env)
}

// eventKey computes the correlation key an event has under a shape.
func eventKey(ctx context.Context, sh shape, env map[string]any) (string, bool) {
	if len(sh.keys) == 0 {
		return "", true
	}
	vals := map[string]any{}
	for i, k := range sh.keys {
		if sh.froms[i] == nil || sh.froms[i].Prog == nil {
			return "", false
		}
		v, err := sh.froms[i].Prog.Eval(ctx, env, nil)
		if err != nil || v == nil {
			return "", false
		}
		vals[k] = v
	}
	return corrKey(vals), true
}

// lookBack feeds a new listen the events it may have missed (see
// lookBackEvents), so that an event arriving before the listen opened is
// not lost. It runs before the transition that opened the listen commits,
// and its deliveries join that transition: a crash cannot separate the
// listen from them.
func (r *Runtime) lookBack(ctx context.Context, wf *dsl.Workflow, tr *engine.Transition) error {
	in := tr.Instance
	for i := 0; i < len(tr.Effects); i++ {
		e := tr.Effects[i]
		if e.Kind != engine.EffectSubscribe || in.Status.Ended() {
			continue
		}
		events, err := r.lookBackEvents(ctx, wf, in, e.Subscription)
		if err != nil {
			return fmt.Errorf("look back for events: %w", err)
		}
		for _, ev := range events {
			c, ok := e.Subscription.Match(ctx, wf, e.ID, decodeEvent(ev))
			if !ok {
				continue
			}
			c.Seq = ev.Seq
			next := r.eng.Resume(ctx, wf, in, c)
			tr.Effects = append(tr.Effects, next.Effects...)
			tr.History = append(tr.History, next.History...)
			tr.Events = append(tr.Events, next.Events...)
		}
	}
	return nil
}

func matchType(m engine.EventMatch) string {
	if t, ok := m.Attributes["type"].(string); ok {
		return t
	}
	return anyType
}

// corrKey is the canonical form of the correlation values a listen expects.
func corrKey(values map[string]any) string {
	m := map[string]any{}
	for k, v := range values {
		if v != nil {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // map keys marshal sorted
	return string(b)
}

func sortedCorrKeys(f *dsl.EventFilter) []string {
	keys := make([]string, 0, len(f.Correlate))
	for k := range f.Correlate {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
