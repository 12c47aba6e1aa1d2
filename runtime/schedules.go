package runtime

import (
	"context"
	"strconv"
	"time"

	"github.com/storeflow/storeflow/cron"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// scheduleLoop starts workflows with schedule.cron or schedule.every on
// time, once per tick: the tick is the instance's trigger key, and the last
// tick started is saved, so a restart neither repeats nor (within a day)
// misses ticks. It also starts the successors of schedule.after workflows.
func (r *Runtime) scheduleLoop(ctx context.Context) {
	var poll <-chan time.Time
	for {
		r.act.passStart(loopSchedule)
		now := r.clk.Now()
		for _, wf := range r.defs.scheduled() {
			if startsAfter(wf.Schedule) {
				r.tickAfter(ctx, wf, now)
				continue
			}
			r.tick(ctx, wf, now)
		}
		if poll == nil {
			poll = r.clk.After(time.Second)
		}
		r.act.passEnd(loopSchedule)
		select {
		case <-ctx.Done():
			return
		case <-r.wakeSchedule:
		case <-poll:
			poll = nil
		}
	}
}

// scheduleName names a workflow's schedule: its cursor, and the key of the
// slot whose holder alone ticks it.
func scheduleName(wf *dsl.Workflow) string {
	return "schedule:" + wf.Document.Namespace + "/" + wf.Document.Name
}

func (r *Runtime) tick(ctx context.Context, wf *dsl.Workflow, now time.Time) {
	name := scheduleName(wf)
	// One node ticks each schedule: the holder of the schedule's slot.
	slot := keySlot(name)
	if !r.leases.ownsSlot(slot) {
		return
	}
	last, err := r.st.Cursor(ctx, name)
	if err != nil {
		return
	}
	prev := time.Unix(0, last).UTC()
	if last == 0 {
		// A new schedule starts from now: no burst of past ticks.
		prev = now
		if err := r.st.SetCursor(ctx, name, now.UnixNano()); err != nil {
			return
		}
	}
	if oldest := now.Add(-24 * time.Hour); prev.Before(oldest) {
		prev = oldest
	}
	next := nextTick(wf.Schedule, prev)
	for !next.IsZero() && !next.After(now) {
		trigger := "schedule:" + strconv.FormatInt(next.Unix(), 10)
		id, err := r.newID(slot)
		if err == nil {
			err = r.do(ctx, &item{kind: itemStart, id: id, start: &startReq{wf: wf, input: map[string]any{}, trigger: trigger}})
		}
		if err != nil && ctx.Err() == nil {
			r.log.Error("start scheduled instance", "workflow", wf.Document.Name, "tick", next, "err", err)
			return
		}
		if err := r.st.SetCursor(ctx, name, next.UnixNano()); err != nil {
			return
		}
		next = nextTick(wf.Schedule, next)
	}
}

func nextTick(s *dsl.Schedule, after time.Time) time.Time {
	switch {
	case s.Cron != "":
		c, err := cron.Parse(s.Cron)
		if err != nil {
			return time.Time{}
		}
		return c.Next(after)
	case s.Every != nil && s.Every.Value > 0:
		return after.Add(s.Every.Value)
	}
	return time.Time{}
}

// scheduled lists the enabled workflows that start on time.
func (g *registry) scheduled() []*dsl.Workflow {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return append([]*dsl.Workflow{}, g.timed...)
}

// startsAfter reports whether schedule.after drives a schedule's starts:
// cron, every and on take precedence when also given, and a delay written
// as a runtime expression has nothing to be evaluated on, so neither starts
// anything here.
func startsAfter(s *dsl.Schedule) bool {
	return s != nil && s.After != nil && s.After.Expr == nil && s.Cron == "" && s.Every == nil && s.On == nil
}

// tickAfter starts a schedule.after workflow: its first instance as soon as
// the schedule is seen (enabled, with no instance yet), then a successor
// once the newest instance has ended and the delay has passed since. An end
// of any kind (completed, faulted, cancelled) counts, so that a failed run
// does not stop the schedule; disabling the workflow does. The successor's
// trigger key names its predecessor, so an instance has at most one
// successor, whichever restart or node gets there first.
func (r *Runtime) tickAfter(ctx context.Context, wf *dsl.Workflow, now time.Time) {
	doc := wf.Document
	// One node starts the successors: the holder of the schedule's slot.
	slot := keySlot(scheduleName(wf))
	if !r.leases.ownsSlot(slot) {
		return
	}
	newest, err := r.st.ListInstances(ctx, store.InstanceQuery{Namespace: doc.Namespace, Name: doc.Name, Limit: 1})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("find the newest instance of an after-scheduled workflow", "workflow", doc.Name, "err", err)
		}
		return
	}
	trigger := "schedule:after:first"
	if len(newest) > 0 {
		prev := newest[0]
		if !engine.Status(prev.Status).Ended() {
			return
		}
		ended := prev.UpdatedAt
		if in, err := engine.Unmarshal(prev.State); err == nil && in.EndedAt != nil {
			ended = *in.EndedAt
		}
		if now.Before(ended.Add(wf.Schedule.After.Value)) {
			return
		}
		trigger = "schedule:after:" + prev.ID
	}
	id, err := r.newID(slot)
	if err == nil {
		err = r.do(ctx, &item{kind: itemStart, id: id, start: &startReq{wf: wf, input: map[string]any{}, trigger: trigger}})
	}
	if err != nil && ctx.Err() == nil {
		r.log.Error("start after-scheduled instance", "workflow", doc.Name, "trigger", trigger, "err", err)
	}
}
