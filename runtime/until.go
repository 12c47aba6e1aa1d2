package runtime

import (
	"context"
	"sync"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// A schedule.on.any with `until` starts instances for matching events only
// until its until condition is met: by an event matching the until
// strategy, or by an event for which the until expression is true. The
// first such event in the log closes the schedule for that version; events
// before it still start instances, events after it do not. Every node sees
// every event, so all reach the same verdict; the position is also stored
// (a cursor named by untilKey) for restarts.
type untils struct {
	mu     sync.Mutex
	closed map[string]int64 // untilKey → seq of the closing event, 0: open
}

func untilKey(wf *dsl.Workflow) string {
	d := wf.Document
	return "schedule-until:" + d.Namespace + "/" + d.Name + "@" + d.Version
}

// scheduleUntil is a workflow's until condition, if it has one.
func scheduleUntil(wf *dsl.Workflow) *dsl.Until {
	if wf.Schedule == nil || wf.Schedule.On == nil || len(wf.Schedule.On.Any) == 0 && wf.Schedule.On.Any == nil {
		return nil
	}
	return wf.Schedule.On.Until
}

// closedAt returns the seq of the event that closed wf's schedule (0: open).
func (r *Runtime) closedAt(ctx context.Context, wf *dsl.Workflow) (int64, error) {
	key := untilKey(wf)
	r.untils.mu.Lock()
	seq, ok := r.untils.closed[key]
	r.untils.mu.Unlock()
	if ok {
		return seq, nil
	}
	seq, err := r.st.Cursor(ctx, key)
	if err != nil {
		return 0, err
	}
	r.untils.mu.Lock()
	if r.untils.closed == nil {
		r.untils.closed = map[string]int64{}
	}
	r.untils.closed[key] = seq
	r.untils.mu.Unlock()
	return seq, nil
}

// checkUntil closes the schedules whose until condition ev meets. It runs
// for every event before triggers are considered.
func (r *Runtime) checkUntil(ctx context.Context, ev store.Event, env map[string]any) error {
	for _, wf := range r.defs.untilScheduled() {
		closed, err := r.closedAt(ctx, wf)
		if err != nil {
			return err
		}
		if closed != 0 && closed <= ev.Seq || !untilMet(ctx, wf, env) {
			continue
		}
		// The earliest closing event wins, whichever node or replay saw
		// it first.
		if err := r.st.SetCursor(ctx, untilKey(wf), ev.Seq); err != nil {
			return err
		}
		r.untils.mu.Lock()
		r.untils.closed[untilKey(wf)] = ev.Seq
		r.untils.mu.Unlock()
		r.log.Info("event-started schedule closed by its until condition", "workflow", wf.Document.Name, "version", wf.Document.Version, "event", ev.ID)
	}
	return nil
}

// untilMet reports whether an event meets a workflow's until condition.
func untilMet(ctx context.Context, wf *dsl.Workflow, env map[string]any) bool {
	u := scheduleUntil(wf)
	if u == nil {
		return false
	}
	if u.Expr.IsSet() {
		ok, err := u.Expr.Prog.EvalBool(ctx, env, nil)
		return err == nil && ok
	}
	if u.Strategy == nil {
		return false
	}
	filters := append(append([]*dsl.EventFilter{}, u.Strategy.Any...), u.Strategy.All...)
	if u.Strategy.One != nil {
		filters = append(filters, u.Strategy.One)
	}
	for _, f := range filters {
		if ok, err := engine.MatchEvent(ctx, wf, scheduleMatch(f), env); err == nil && ok {
			return true
		}
	}
	return false
}

// startsBeforeUntil reports whether an event may still start wf.
func (r *Runtime) startsBeforeUntil(ctx context.Context, wf *dsl.Workflow, seq int64) (bool, error) {
	if scheduleUntil(wf) == nil {
		return true, nil
	}
	closed, err := r.closedAt(ctx, wf)
	return closed == 0 || seq < closed, err
}

// untilScheduled lists the enabled workflows whose event-started schedule
// has an until condition.
func (g *registry) untilScheduled() []*dsl.Workflow {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.until
}
