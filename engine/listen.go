package engine

import (
	"maps"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// listen opens a subscription and consumes the events it delivers according
// to the consumption strategy, running foreach tasks for each when present.
func (r *run) listen(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	lt := item.Task.Listen
	to := &lt.To
	if !f.Listening {
		sub, p := r.subscription(f, to, sc)
		if p != nil {
			return fault(p)
		}
		f.Listening = true
		f.Events = []any{}
		if to.All != nil {
			f.Matched = make([]bool, len(to.All))
		}
		f.Effect = r.effect(Effect{Kind: EffectSubscribe, Task: item.Path, Subscription: sub})
		r.history("correlation.started", item.Path, item.Name, nil, nil)
	}
	for {
		if f.Child != nil {
			// A foreach iteration is running for the event at the head of the queue.
			it := lt.Foreach
			ev := f.Queue[0]
			inner := sc.with(it.Item, ReadEvent(ev.Event, lt.Read)).with(it.At, len(f.Events))
			out := r.list(f.Child, it.Do, inner)
			if out.kind != done {
				return out
			}
			val := f.Child.Data
			f.Child = nil
			f.Queue = f.Queue[1:]
			v, p := r.iterationOutput(f, it, val, inner)
			if p != nil {
				return fault(p)
			}
			f.Events = append(f.Events, v)
			if finished, p := r.listenFinished(f, to, sc); p != nil || finished {
				return r.listenDone(f, item, p)
			}
			continue
		}
		if len(f.Queue) == 0 {
			return okBlocked
		}
		c := f.Queue[0]
		if c.Until {
			return r.listenDone(f, item, nil)
		}
		idx, ok, p := r.consumes(f, to, c.Event)
		if p != nil {
			return fault(p)
		}
		if !ok {
			f.Queue = f.Queue[1:]
			continue
		}
		if f.Matched != nil {
			f.Matched[idx] = true
		}
		if lt.Foreach != nil && len(lt.Foreach.Do) > 0 {
			f.Child = &Frame{Path: item.Path + "/foreach/do", StartedAt: r.now, Data: ReadEvent(c.Event, lt.Read)}
			continue
		}
		f.Queue = f.Queue[1:]
		val := ReadEvent(c.Event, lt.Read)
		if lt.Foreach != nil {
			v, p := r.iterationOutput(f, lt.Foreach, val, sc.with(lt.Foreach.Item, val).with(lt.Foreach.At, len(f.Events)))
			if p != nil {
				return fault(p)
			}
			val = v
		}
		f.Events = append(f.Events, val)
		if finished, p := r.listenFinished(f, to, sc); p != nil || finished {
			return r.listenDone(f, item, p)
		}
	}
}

func (r *run) listenDone(f *Frame, item *dsl.TaskItem, p *problem.Problem) outcome {
	r.cancelEffect(f.Effect)
	f.Effect = ""
	f.Queue = nil
	if p != nil {
		return fault(p)
	}
	// The detail is what the correlation resolved to, for the DSL's
	// correlation-completed lifecycle event.
	var keys map[string]any
	if len(f.Corr) > 0 {
		keys = maps.Clone(f.Corr)
	}
	r.history("correlation.completed", item.Path, item.Name, keys, nil)
	f.RawOutput = f.Events
	return okDone
}

func (r *run) iterationOutput(f *Frame, it *dsl.SubscriptionIterator, val any, sc *scope) (any, *problem.Problem) {
	vars := r.vars(f, sc, varsTask)
	if it.Output != nil && it.Output.As.IsSet() {
		v, p := r.evalValue(it.Output.As, val, vars)
		if p != nil {
			return nil, p
		}
		val = v
	}
	if it.Export != nil && it.Export.As.IsSet() {
		v, p := r.evalValue(it.Export.As, val, vars)
		if p != nil {
			return nil, p
		}
		r.in.Context = v
	}
	return val, nil
}

func (r *run) listenFinished(f *Frame, to *dsl.EventConsumption, sc *scope) (bool, *problem.Problem) {
	switch {
	case to.One != nil:
		return true, nil
	case to.All != nil:
		for _, m := range f.Matched {
			if !m {
				return false, nil
			}
		}
		return true, nil
	}
	if to.Until == nil {
		return len(to.Any) > 0 || len(f.Events) > 0, nil
	}
	if to.Until.Expr != nil {
		return r.evalBool(to.Until.Expr, f.Events, r.vars(f, sc, varsTask))
	}
	return false, nil // an until strategy ends by its own event
}

// eventMatch evaluates what a filter expects of an event's attributes and
// correlation values, on the listening task's input.
func (r *run) eventMatch(flt *dsl.EventFilter, input any, vars map[string]any) (EventMatch, *problem.Problem) {
	m := EventMatch{Attributes: map[string]any{}, Path: flt.Path}
	for name, v := range flt.With {
		if name == "data" {
			m.HasDataFilter = true
			continue
		}
		val, p := r.evalValue(v, input, vars)
		if p != nil {
			return m, p
		}
		m.Attributes[name] = val
	}
	if len(flt.Correlate) > 0 {
		m.Correlate = map[string]any{}
		for key, c := range flt.Correlate {
			if !c.Expect.IsSet() {
				m.Correlate[key] = nil
				continue
			}
			val, p := r.evalValue(c.Expect, input, vars)
			if p != nil {
				return m, p
			}
			m.Correlate[key] = val
		}
	}
	return m, nil
}

// subscription evaluates the filters' attributes and correlation
// expectations now, while the instance's data is at hand.
func (r *run) subscription(f *Frame, to *dsl.EventConsumption, sc *scope) (*Subscription, *problem.Problem) {
	vars := r.vars(f, sc, varsTask)
	sub := &Subscription{Workflow: r.in.Workflow, Since: r.in.StartedAt}
	build := func(filters []*dsl.EventFilter) ([]EventMatch, *problem.Problem) {
		out := make([]EventMatch, 0, len(filters))
		for _, flt := range filters {
			m, p := r.eventMatch(flt, f.Input, vars)
			if p != nil {
				return nil, p
			}
			out = append(out, m)
		}
		return out, nil
	}
	var p *problem.Problem
	switch {
	case to.One != nil:
		sub.Filters, p = build([]*dsl.EventFilter{to.One})
	case to.All != nil:
		sub.Filters, p = build(to.All)
	default:
		sub.Filters, p = build(to.Any)
	}
	if p != nil {
		return nil, p
	}
	if to.Until != nil && to.Until.Strategy != nil {
		u := to.Until.Strategy
		var fl []*dsl.EventFilter
		switch {
		case u.One != nil:
			fl = []*dsl.EventFilter{u.One}
		case u.All != nil:
			fl = u.All
		default:
			fl = u.Any
		}
		if sub.Until, p = build(fl); p != nil {
			return nil, p
		}
	}
	return sub, nil
}

// consumes finds the filter of the strategy that an event matches.
func (r *run) consumes(f *Frame, to *dsl.EventConsumption, ev map[string]any) (int, bool, *problem.Problem) {
	var filters []*dsl.EventFilter
	switch {
	case to.One != nil:
		filters = []*dsl.EventFilter{to.One}
	case to.All != nil:
		filters = to.All
	default:
		filters = to.Any
		if len(filters) == 0 {
			return 0, true, nil
		}
	}
	vars := r.vars(f, nil, varsTask)
	for i, flt := range filters {
		if f.Matched != nil && f.Matched[i] {
			continue
		}
		m, p := r.eventMatch(flt, f.Input, vars)
		if p != nil {
			return 0, false, p
		}
		ok, corr, err := matchEvent(r.ctx, flt, m, ev, f.Corr)
		if err != nil {
			return 0, false, exprProblem(err)
		}
		if ok {
			for k, v := range corr {
				if f.Corr == nil {
					f.Corr = map[string]any{}
				}
				f.Corr[k] = v
			}
			return i, true, nil
		}
	}
	return 0, false, nil
}

// FilterAt finds the event filter written at a JSON Pointer path.
func FilterAt(wf *dsl.Workflow, path string) *dsl.EventFilter {
	var found *dsl.EventFilter
	visit := func(c *dsl.EventConsumption) {
		for c != nil && found == nil {
			for _, fl := range append(append(append([]*dsl.EventFilter{}, c.All...), c.Any...), c.One) {
				if fl != nil && fl.Path == path {
					found = fl
				}
			}
			if c.Until == nil {
				return
			}
			c = c.Until.Strategy
		}
	}
	if wf.Schedule != nil {
		visit(wf.Schedule.On)
	}
	walkTasks(wf.Do, func(t *dsl.Task) {
		if t.Listen != nil {
			visit(&t.Listen.To)
		}
	})
	return found
}

// walkTasks visits every task of a list, nested ones included.
func walkTasks(list dsl.TaskList, visit func(*dsl.Task)) {
	for _, item := range list {
		t := item.Task
		if t == nil {
			continue
		}
		visit(t)
		walkTasks(t.Do, visit)
		if t.For != nil {
			walkTasks(t.For.Do, visit)
		}
		if t.Fork != nil {
			walkTasks(t.Fork.Branches, visit)
		}
		if t.Try != nil {
			walkTasks(t.Try.Try, visit)
			if t.Try.Catch != nil {
				walkTasks(t.Try.Catch.Do, visit)
			}
		}
		if t.Listen != nil && t.Listen.Foreach != nil {
			walkTasks(t.Listen.Foreach.Do, visit)
		}
	}
}

// VisitListenFilters calls visit for the filters of every listen of wf,
// until strategies included.
func VisitListenFilters(wf *dsl.Workflow, visit func(*dsl.EventFilter)) {
	var consumption func(c *dsl.EventConsumption)
	consumption = func(c *dsl.EventConsumption) {
		if c == nil {
			return
		}
		for _, f := range append(append(append([]*dsl.EventFilter{}, c.All...), c.Any...), c.One) {
			if f != nil {
				visit(f)
			}
		}
		if c.Until != nil {
			consumption(c.Until.Strategy)
		}
	}
	walkTasks(wf.Do, func(t *dsl.Task) {
		if t.Listen != nil {
			consumption(&t.Listen.To)
		}
	})
	if wf.Use != nil {
		for _, fn := range wf.Use.Functions {
			if fn.Listen != nil {
				consumption(&fn.Listen.To)
			}
		}
	}
}
