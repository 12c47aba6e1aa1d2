package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// matchAll feeds an event to a workflow that starts on schedule.on.all: the
// event fills a filter it matches in the pending start group of its
// correlation values, and the instance starts once a group has an event for
// every filter. Groups are kept in the store (store.StartGroup), so a
// restart loses no matched event and pending groups cost no memory.
//
// Exactly once: an event is in at most one group of a workflow, and the
// store returns that group again when the matcher repeats the event after a
// crash; a closed group stays until the matcher's saved position has passed
// it; the instance's trigger key derives from the group's events. So a
// repeat re-starts the same group, which the trigger key turns into nothing.
//
// Groups that never complete are kept for good: `until` applies to `any`
// only, so nothing expires a group of `all`. started reports whether a group
// closed.
func (r *Runtime) matchAll(ctx context.Context, wf *dsl.Workflow, ev store.Event, env map[string]any, hand func(*item)) (started bool, err error) {
	filters := wf.Schedule.On.All
	if len(filters) == 0 {
		return false, nil
	}
	// An event may match several filters, under different correlation
	// values: collect its candidate slots per key, in filter order.
	var keys []string
	slots := map[string][]int{}
	for i, f := range filters {
		key, ok := startKey(ctx, wf, f, env)
		if !ok {
			continue
		}
		if _, seen := slots[key]; !seen {
			keys = append(keys, key)
		}
		slots[key] = append(slots[key], i)
	}
	envelope := ev.Envelope
	if len(envelope) == 0 {
		envelope, _ = json.Marshal(env)
	}
	doc := wf.Document
	for _, key := range keys {
		g, joined, err := r.st.JoinStartGroup(ctx, store.StartJoin{
			Namespace: doc.Namespace, Name: doc.Name, Version: doc.Version, CorrKey: key,
			Slots: slots[key], Need: len(filters), GroupID: engine.NewID(), At: r.clk.Now(),
			Event: store.StartEvent{Seq: ev.Seq, Source: ev.Source, ID: ev.ID, Envelope: envelope},
		})
		if err != nil {
			return false, fmt.Errorf("join start group of %s/%s: %w", doc.Namespace, doc.Name, err)
		}
		if !joined {
			continue // its group has that event already; the event is not needed
		}
		if !g.Closed {
			return false, nil
		}
		input, trigger, origin := groupStart(wf, g)
		id, err := r.newID(-1)
		if err != nil {
			return started, err
		}
		hand(&item{kind: itemStart, id: id, start: &startReq{wf: wf, input: input, trigger: trigger, origin: origin}})
		return true, nil
	}
	return false, nil
}

// startKey reports whether an event matches one filter of schedule.on.all
// and returns the correlation key it groups under: the canonical form of the
// values its correlate expressions extract. A filter without correlate
// groups under "", so events group only with events whose filters extract
// the same names and values. An `expect` narrows what the filter accepts.
func startKey(ctx context.Context, wf *dsl.Workflow, f *dsl.EventFilter, env map[string]any) (string, bool) {
	m := scheduleMatch(f)
	vals := map[string]any{}
	for _, name := range sortedCorrKeys(f) {
		c := f.Correlate[name]
		if c.From == nil || c.From.Prog == nil {
			return "", false
		}
		v, err := c.From.Prog.Eval(ctx, env, nil)
		if err != nil || v == nil {
			return "", false // no value to group by
		}
		vals[name] = v
		if c.Expect.IsSet() {
			want := c.Expect.Get()
			if c.Expect.Tmpl != nil {
				// No instance exists yet: an expression sees null.
				if want, err = c.Expect.Tmpl.Eval(ctx, nil, nil); err != nil {
					return "", false
				}
			}
			if m.Correlate == nil {
				m.Correlate = map[string]any{}
			}
			m.Correlate[name] = want
		}
	}
	if ok, err := engine.MatchEvent(ctx, wf, m, env); err != nil || !ok {
		return "", false
	}
	return corrKey(vals), true
}

// groupStart returns the input and trigger key of the instance a closed
// group starts. The input is the list of consumed events, in the order of
// the filters, each read as schedule.read says; the trigger key derives from
// the set of their (source, id), so that no set of events starts twice.
func groupStart(wf *dsl.Workflow, g store.StartGroup) (any, string, *engine.Origin) {
	events := make([]map[string]any, 0, len(g.Events))
	ids := make([]string, 0, len(g.Events))
	origin := &engine.Origin{}
	for _, e := range g.Events {
		var env map[string]any
		if err := json.Unmarshal(e.Envelope, &env); err != nil || env == nil {
			env = map[string]any{"id": e.ID, "source": e.Source, "specversion": "1.0"}
		}
		events = append(events, env)
		ids = append(ids, e.Source+"\x00"+e.ID)
		origin.Events = append(origin.Events, e.Seq)
		if s, _ := env["time"].(string); s != "" {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil && (origin.Time.IsZero() || t.Before(origin.Time)) {
				origin.Time = t.UTC()
			}
		}
	}
	sort.Strings(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	if origin.Time.IsZero() {
		origin = nil // no time to look back to: the listen looks back to the start
	}
	return engine.StartInput(events, wf.Schedule.Read), "events:" + hex.EncodeToString(sum[:16]), origin
}
