package runtime

import (
	"context"
	"slices"
	"sync"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
)

// openings holds the listens of transitions that are committing now. An
// event logged after such a transition's look-back read the log, but
// matched before its subscription rows are visible, would be missed by
// both; the matcher checks these listens too and hands the instance the
// event, which its worker applies after the opening commit (a worker
// applies an instance's items in order; repeats are dropped by position).
type openings struct {
	mu sync.Mutex
	by map[string][]openListen // instance → its opening listens
	// types counts the opening listens by the event types they wait for
	// (anyType for filters without one), so that events of other types
	// pass without a look.
	types map[string]int
}

type openListen struct {
	wf     *dsl.Workflow
	effect string
	sub    *engine.Subscription
	types  []string
}

// listenTypes lists, once each, the event types a listen waits for
// (anyType for a filter without one, or for a listen to any event).
func listenTypes(sub *engine.Subscription) []string {
	var out []string
	for _, f := range append(append([]engine.EventMatch{}, sub.Filters...), sub.Until...) {
		out = append(out, matchType(f))
	}
	if len(sub.Filters) == 0 {
		out = append(out, anyType)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// typeList returns the event types opening listens wait for.
func (o *openings) typeList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.types))
	for t := range o.types {
		out = append(out, t)
	}
	return out
}

// waitsFor reports whether an opening listen may want an event of typ.
func (o *openings) waitsFor(typ string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.types[typ] > 0 || o.types[anyType] > 0
}

// open registers the listens a transition opens; the returned func
// unregisters them once the transition's commit is over.
func (o *openings) open(wf *dsl.Workflow, tr *engine.Transition) func() {
	var ls []openListen
	for _, e := range tr.Effects {
		if e.Kind == engine.EffectSubscribe && e.Subscription != nil {
			ls = append(ls, openListen{wf: wf, effect: e.ID, sub: e.Subscription, types: listenTypes(e.Subscription)})
		}
	}
	if len(ls) == 0 {
		return func() {}
	}
	id := tr.Instance.ID
	o.mu.Lock()
	if o.by == nil {
		o.by, o.types = map[string][]openListen{}, map[string]int{}
	}
	o.by[id] = append(o.by[id], ls...)
	for _, l := range ls {
		for _, t := range l.types {
			o.types[t]++
		}
	}
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, l := range ls {
			for _, t := range l.types {
				if o.types[t]--; o.types[t] <= 0 {
					delete(o.types, t)
				}
			}
		}
		rest := o.by[id][:0]
		for _, l := range o.by[id] {
			if !containsListen(ls, l.effect) {
				rest = append(rest, l)
			}
		}
		if len(rest) == 0 {
			delete(o.by, id)
		} else {
			o.by[id] = rest
		}
	}
}

func containsListen(ls []openListen, effect string) bool {
	for _, l := range ls {
		if l.effect == effect {
			return true
		}
	}
	return false
}

// deliveries returns the items that give an event to the opening listens
// it matches.
func (r *Runtime) openingDeliveries(ctx context.Context, typ string, env map[string]any, seq int64) []*item {
	if !r.opening.waitsFor(typ) {
		return nil
	}
	r.opening.mu.Lock()
	type cand struct {
		id string
		l  openListen
	}
	var cands []cand
	for id, ls := range r.opening.by {
		for _, l := range ls {
			for _, t := range l.types {
				if t == typ || t == anyType {
					cands = append(cands, cand{id, l})
					break
				}
			}
		}
	}
	r.opening.mu.Unlock()
	var out []*item
	for _, c := range cands {
		if comp, ok := c.l.sub.Match(ctx, c.l.wf, c.l.effect, env); ok {
			comp.Seq = seq
			out = append(out, &item{kind: itemComplete, id: c.id, completion: comp})
		}
	}
	return out
}
