package runtime

import (
	"context"
	"fmt"
	"sync"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// registry holds compiled definitions, and the indexes events need: which
// workflows an event type starts, and how listens for a type correlate.
type registry struct {
	st       store.Store
	builtins dsl.Builtins
	// reloading serialises reloads (see reload).
	reloading sync.Mutex

	mu       sync.RWMutex
	compiled map[engine.WorkflowRef]*dsl.Workflow
	// triggers: event type → the latest enabled versions that start on it.
	triggers map[string][]*dsl.Workflow
	// shapes: event type → the correlation key sets listens use for it.
	shapes map[string][]shape
	// timed: the latest enabled versions with schedule.cron, every or after.
	timed []*dsl.Workflow
	// until: the latest enabled versions whose schedule.on has until.
	until []*dsl.Workflow
	// noted: definitions whose listens are in shapes already.
	noted map[*dsl.Workflow]bool
}

// shape is one set of correlation keys with the expressions that extract
// them from an event.
type shape struct {
	keys  []string
	froms []*dsl.Expr
}

func newRegistry(st store.Store, builtins dsl.Builtins) *registry {
	return &registry{st: st, builtins: builtins, compiled: map[engine.WorkflowRef]*dsl.Workflow{}}
}

// get returns the compiled definition an instance runs on.
func (g *registry) get(ctx context.Context, ref engine.WorkflowRef) (*dsl.Workflow, error) {
	g.mu.RLock()
	wf, ok := g.compiled[ref]
	g.mu.RUnlock()
	if ok {
		return wf, nil
	}
	w, err := g.st.GetWorkflow(ctx, ref.Namespace, ref.Name, ref.Version)
	if err != nil {
		return nil, err
	}
	wf, err = dsl.LoadWith(fmt.Sprintf("%s/%s:%s", w.Namespace, w.Name, w.Version), w.Source, dsl.Options{Builtins: g.builtins})
	if err != nil {
		return nil, fmt.Errorf("compile stored workflow %s: %w", ref, err)
	}
	ref.Version = w.Version
	g.mu.Lock()
	g.compiled[ref] = wf
	g.mu.Unlock()
	return wf, nil
}

// reload rebuilds the trigger and correlation indexes from the store.
// Reloads run one at a time: two that overlapped could otherwise install
// their indexes in the other order, the older list of workflows last, and
// a workflow just published would start nothing until the next reload.
func (g *registry) reload(ctx context.Context) error {
	g.reloading.Lock()
	defer g.reloading.Unlock()
	all, err := g.st.ListWorkflows(ctx)
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	triggers := map[string][]*dsl.Workflow{}
	shapes := map[string][]shape{}
	seen := map[string]bool{}
	var timed, until []*dsl.Workflow
	for _, w := range all {
		wf, err := g.get(ctx, engine.WorkflowRef{Namespace: w.Namespace, Name: w.Name, Version: w.Version})
		if err != nil {
			return err
		}
		if w.Enabled && wf.Schedule != nil && wf.Schedule.On != nil {
			for _, t := range filterTypes(wf.Schedule.On) {
				triggers[t] = append(triggers[t], wf)
			}
		}
		if w.Enabled && scheduleUntil(wf) != nil {
			until = append(until, wf)
		}
		if w.Enabled && wf.Schedule != nil && (wf.Schedule.Cron != "" || wf.Schedule.Every != nil || startsAfter(wf.Schedule)) {
			timed = append(timed, wf)
		}
		addShapes(wf, shapes, seen)
	}
	g.mu.Lock()
	for wf := range g.noted {
		addShapes(wf, shapes, seen)
	}
	g.triggers, g.shapes, g.timed, g.until = triggers, shapes, timed, until
	g.mu.Unlock()
	return nil
}

// addShapes records the correlation shapes of every listen filter of wf.
// Listens of older versions still wait, so every version counts; the caller
// passes all it knows.
func addShapes(wf *dsl.Workflow, shapes map[string][]shape, seen map[string]bool) {
	visit := func(f *dsl.EventFilter) {
		typ := filterType(f)
		sh := shape{}
		for _, key := range sortedCorrKeys(f) {
			c := f.Correlate[key]
			if c.Expect.IsSet() {
				sh.keys = append(sh.keys, key)
				sh.froms = append(sh.froms, c.From)
			}
		}
		id := shapeID(typ, sh)
		if seen[id] {
			return
		}
		seen[id] = true
		shapes[typ] = append(shapes[typ], sh)
	}
	engine.VisitListenFilters(wf, visit)
}

// noteListens adds the correlation shapes of a definition that has a
// waiting listen, so that instances of older versions are matched too.
func (g *registry) noteListens(wf *dsl.Workflow) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.noted[wf] {
		return
	}
	if g.noted == nil {
		g.noted = map[*dsl.Workflow]bool{}
	}
	g.noted[wf] = true
	seen := map[string]bool{}
	for typ, list := range g.shapes {
		for _, sh := range list {
			seen[shapeID(typ, sh)] = true
		}
	}
	if g.shapes == nil {
		g.shapes = map[string][]shape{}
	}
	addShapes(wf, g.shapes, seen)
}

func shapeID(typ string, sh shape) string {
	id := typ + "\x00" + fmt.Sprint(sh.keys)
	for _, from := range sh.froms {
		id += "\x00" + from.Src
	}
	return id
}

// triggerTypes lists the event types that start some workflow.
func (g *registry) triggerTypes() []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]string, 0, len(g.triggers))
	for t := range g.triggers {
		out = append(out, t)
	}
	return out
}

func (g *registry) triggersFor(eventType string) []*dsl.Workflow {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return append(append([]*dsl.Workflow{}, g.triggers[eventType]...), g.triggers[anyType]...)
}

func (g *registry) shapesFor(eventType string) []shape {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := append([]shape{}, g.shapes[eventType]...)
	if eventType != anyType {
		out = append(out, g.shapes[anyType]...)
	}
	if len(out) == 0 {
		out = append(out, shape{})
	}
	return out
}

// anyType indexes filters that do not name a constant event type.
const anyType = "*"

func filterType(f *dsl.EventFilter) string {
	if v, ok := f.With["type"]; ok {
		if s, ok := v.Get().(string); ok && v.Tmpl != nil && v.Tmpl.IsConst() {
			return s
		}
		if s, ok := v.Get().(string); ok && v.Tmpl == nil {
			return s
		}
	}
	return anyType
}

func filterTypes(c *dsl.EventConsumption) []string {
	var out []string
	for _, f := range append(append(append([]*dsl.EventFilter{}, c.All...), c.Any...), c.One) {
		if f != nil {
			out = append(out, filterType(f))
		}
	}
	if c.Any != nil && len(c.Any) == 0 {
		out = append(out, anyType)
	}
	return out
}
