package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// Local runs one instance to its end inside the calling goroutine, with no
// store: it performs calls itself, waits on its clock, and delivers the
// events the workflow emits to its own listens. It backs `storeflow run`,
// the conformance tests and pretests.
type Local struct {
	Engine *Engine
	// Connectors perform the calls (a connector.Registry, or its recording
	// twin in tests).
	Connectors connector.Connector
	// Workflows resolves the definitions that `run: workflow` starts.
	Workflows func(ref WorkflowRef) (*dsl.Workflow, error)
	// Events are delivered to listens as if they had arrived after start.
	Events []map[string]any
	// Virtual, when set, is advanced to each due timer instead of sleeping.
	Virtual *clock.Virtual
	// Snapshot, when set, sees the instance after every transition; tests use
	// it to prove that a serialised copy resumes exactly.
	Snapshot func(*Instance) (*Instance, error)
}

// Result is the end of a local run.
type Result struct {
	Instance *Instance
	History  []HistoryEntry
	// Emitted are the events the workflow emitted, in order.
	Emitted []map[string]any
	// Calls are the calls performed, in order.
	Calls []Effect
}

// ErrStuck means the instance waits for something no one will deliver.
var ErrStuck = errors.New("the instance is waiting for events that nothing will send")

// Run starts wf with input and drives it until it ends.
func (l *Local) Run(ctx context.Context, wf *dsl.Workflow, input any) (*Result, error) {
	e := l.Engine
	res := &Result{}
	st := &localState{timers: map[string]time.Time{}, subs: map[string]*Subscription{}, delivered: map[string]map[int]bool{}}
	events := append([]map[string]any{}, l.Events...)
	tr := e.Start(ctx, wf, "", input)
	in := tr.Instance
	for {
		res.History = append(res.History, tr.History...)
		for _, eff := range tr.Effects {
			switch eff.Kind {
			case EffectEmit:
				res.Emitted = append(res.Emitted, eff.Event)
				events = append(events, eff.Event)
			case EffectCancel:
				delete(st.timers, eff.Cancels)
				delete(st.subs, eff.Cancels)
				st.drop(eff.Cancels)
			case EffectTimer:
				st.timers[eff.ID] = eff.Due
			case EffectSubscribe:
				st.subs[eff.ID] = eff.Subscription
			case EffectCall, EffectChild:
				st.work = append(st.work, eff)
			}
		}
		if in.Status.Ended() {
			res.Instance = in
			return res, nil
		}
		if l.Snapshot != nil {
			cp, err := l.Snapshot(in)
			if err != nil {
				return nil, fmt.Errorf("snapshot instance: %w", err)
			}
			in = cp
		}
		c, err := l.next(ctx, wf, in, st, events, res)
		if err != nil {
			return nil, err
		}
		tr = e.Resume(ctx, wf, in, c)
		in = tr.Instance
	}
}

type localState struct {
	work      []Effect
	timers    map[string]time.Time
	subs      map[string]*Subscription
	delivered map[string]map[int]bool // subscription → event indexes delivered
}

func (st *localState) drop(id string) {
	for i, w := range st.work {
		if w.ID == id {
			st.work = append(st.work[:i], st.work[i+1:]...)
			return
		}
	}
}

// next performs the next piece of outstanding work and returns its completion.
func (l *Local) next(ctx context.Context, wf *dsl.Workflow, in *Instance, st *localState, events []map[string]any, res *Result) (Completion, error) {
	if err := ctx.Err(); err != nil {
		return Completion{}, err
	}
	if len(st.work) > 0 {
		eff := st.work[0]
		st.work = st.work[1:]
		if eff.Kind == EffectChild {
			return l.child(ctx, eff), nil
		}
		res.Calls = append(res.Calls, eff)
		out, err := l.perform(ctx, in, eff)
		if err != nil {
			return Completion{Effect: eff.ID, Error: problem.As(err)}, nil
		}
		out, note := connector.Unwrap(out)
		return Completion{Effect: eff.ID, Output: out, Note: note}, nil
	}
	if c, ok := l.matchEvent(ctx, wf, st, events); ok {
		return c, nil
	}
	if len(st.timers) > 0 {
		id, due := earliest(st.timers)
		delete(st.timers, id)
		if err := l.sleepUntil(ctx, due); err != nil {
			return Completion{}, err
		}
		return Completion{Effect: id}, nil
	}
	var waiting []string
	for _, sub := range st.subs {
		for _, f := range sub.Filters {
			waiting = append(waiting, fmt.Sprint(f.Attributes["type"]))
		}
	}
	sort.Strings(waiting)
	return Completion{}, fmt.Errorf("%w (instance %s listens for %s)", ErrStuck, in.ID, strings.Join(waiting, ", "))
}

func (l *Local) matchEvent(ctx context.Context, wf *dsl.Workflow, st *localState, events []map[string]any) (Completion, bool) {
	ids := make([]string, 0, len(st.subs))
	for id := range st.subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		sub := st.subs[id]
		if st.delivered[id] == nil {
			st.delivered[id] = map[int]bool{}
		}
		for i, ev := range events {
			if st.delivered[id][i] {
				continue
			}
			if c, ok := sub.Match(ctx, wf, id, ev); ok {
				st.delivered[id][i] = true
				return c, true
			}
		}
	}
	return Completion{}, false
}

func (l *Local) child(ctx context.Context, eff Effect) Completion {
	if l.Workflows == nil {
		return Completion{Effect: eff.ID, Error: notSupported(fmt.Sprintf("run: workflow %s: no workflow registry is configured", eff.Child.Workflow))}
	}
	wf, err := l.Workflows(eff.Child.Workflow)
	if err != nil {
		return Completion{Effect: eff.ID, Error: &problem.Problem{Type: problem.TypeConfiguration, Status: 404, Title: "Workflow Not Found", Detail: err.Error()}}
	}
	sub := *l
	sub.Events = nil
	res, err := sub.Run(ctx, wf, eff.Child.Input)
	if err != nil {
		return Completion{Effect: eff.ID, Error: problem.As(err)}
	}
	if res.Instance.Status == StatusFaulted {
		return Completion{Effect: eff.ID, Error: res.Instance.Error}
	}
	return Completion{Effect: eff.ID, Output: res.Instance.Output}
}

func (l *Local) perform(ctx context.Context, in *Instance, eff Effect) (any, error) {
	if l.Connectors == nil {
		return nil, notSupported(fmt.Sprintf("%s: no connectors are configured", eff.Call.Kind))
	}
	for {
		out, err := l.Connectors.Call(ctx, eff.Request(in.ID, l.Engine.Clock.Now()))
		d, deferred := connector.DeferredUntil(err)
		if !deferred {
			return out, err
		}
		// Called again when the connector said, with time jumping there
		// under a virtual clock; a time gone by waits a second, so that a
		// connector deferring to the past cannot spin.
		until := d.Until
		if now := l.Engine.Clock.Now(); !until.After(now) {
			until = now.Add(time.Second)
		}
		if err := l.sleepUntil(ctx, until); err != nil {
			return nil, err
		}
	}
}

func (l *Local) sleepUntil(ctx context.Context, due time.Time) error {
	if l.Virtual != nil {
		if due.After(l.Virtual.Now()) {
			l.Virtual.Set(due)
		}
		return nil
	}
	d := due.Sub(l.Engine.Clock.Now())
	if d <= 0 {
		return nil
	}
	return l.Engine.Clock.Sleep(ctx, d)
}

func earliest(m map[string]time.Time) (string, time.Time) {
	var id string
	var due time.Time
	for k, t := range m {
		if id == "" || t.Before(due) || t.Equal(due) && k < id {
			id, due = k, t
		}
	}
	return id, due
}
