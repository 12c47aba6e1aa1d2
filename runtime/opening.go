package runtime

import (
	"context"
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
}

type openListen struct {
	wf     *dsl.Workflow
	effect string
	sub    *engine.Subscription
}

// open registers the listens a transition opens; the returned func
// unregisters them once the transition's commit is over.
func (o *openings) open(wf *dsl.Workflow, tr *engine.Transition) func() {
	var ls []openListen
	for _, e := range tr.Effects {
		if e.Kind == engine.EffectSubscribe && e.Subscription != nil {
			ls = append(ls, openListen{wf: wf, effect: e.ID, sub: e.Subscription})
		}
	}
	if len(ls) == 0 {
		return func() {}
	}
	id := tr.Instance.ID
	o.mu.Lock()
	if o.by == nil {
		o.by = map[string][]openListen{}
	}
	o.by[id] = append(o.by[id], ls...)
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
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
func (r *Runtime) openingDeliveries(ctx context.Context, env map[string]any, seq int64) []*item {
	r.opening.mu.Lock()
	type cand struct {
		id string
		l  openListen
	}
	var cands []cand
	for id, ls := range r.opening.by {
		for _, l := range ls {
			cands = append(cands, cand{id, l})
		}
	}
	r.opening.mu.Unlock()
	var out []*item
	for _, c := range cands {
		if comp, ok := r.match1(ctx, c.l.wf, c.l.sub, c.l.effect, env); ok {
			comp.Seq = seq
			out = append(out, &item{kind: itemComplete, id: c.id, completion: comp})
		}
	}
	return out
}
