package runtime

import (
	"context"
	"strconv"
	"time"

	"github.com/storeflow/storeflow/cron"
	"github.com/storeflow/storeflow/dsl"
)

// scheduleLoop starts workflows with schedule.cron or schedule.every on
// time, once per tick: the tick is the instance's trigger key, and the last
// tick started is saved, so a restart neither repeats nor (within a day)
// misses ticks.
func (r *Runtime) scheduleLoop(ctx context.Context) {
	for {
		now := r.clk.Now()
		for _, wf := range r.defs.scheduled() {
			r.tick(ctx, wf, now)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.clk.After(time.Second):
		}
	}
}

func (r *Runtime) tick(ctx context.Context, wf *dsl.Workflow, now time.Time) {
	name := "schedule:" + wf.Document.Namespace + "/" + wf.Document.Name
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
