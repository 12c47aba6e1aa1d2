package engine

import (
	"context"
	"fmt"
	"reflect"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/expr"
)

// ReadEvent returns what a workflow reads of an event (a CloudEvent in
// structured form) under the DSL's `read`: `envelope`, the whole event
// with its context attributes; `raw`, its data as received (data_base64
// when the data is binary); `data` (and anything else), its data.
func ReadEvent(ev map[string]any, read string) any {
	switch read {
	case "envelope":
		return ev
	case "raw":
		if b, ok := ev["data_base64"]; ok {
			return b
		}
	}
	return ev["data"]
}

// StartInput is the input of an instance that schedule.on started: the
// array of the events that triggered it (dsl.md, "Input of event-driven
// scheduled workflows"), each read as schedule.read says. Left unset, read
// gives the whole events, as the spec's text and examples
// ($workflow.input[0].data) have it; `read: data` gives their data.
func StartInput(events []map[string]any, read string) []any {
	if read == "" {
		read = "envelope"
	}
	out := make([]any, len(events))
	for i, ev := range events {
		out[i] = ReadEvent(ev, read)
	}
	return out
}

// MatchEvent reports whether an event satisfies the filter of wf that m
// was evaluated from.
func MatchEvent(ctx context.Context, wf *dsl.Workflow, m EventMatch, ev map[string]any) (bool, error) {
	flt := FilterAt(wf, m.Path)
	if flt == nil {
		return false, fmt.Errorf("no event filter at %s in %s", m.Path, wf.Document.Name)
	}
	ok, _, err := matchEvent(ctx, flt, m, ev, nil)
	return ok, err
}

// Match decides whether an event is one a subscription waits for, and
// returns the completion that delivers it to the listen: a filter of its
// until strategy first, then its filters in order; any event at all when
// it has no filters. Every matcher (the runtime's index lookups, its
// look-back, the local runner) decides through here.
func (s *Subscription) Match(ctx context.Context, wf *dsl.Workflow, effect string, ev map[string]any) (Completion, bool) {
	for i, m := range s.Until {
		if ok, err := MatchEvent(ctx, wf, m, ev); err == nil && ok {
			return Completion{Effect: effect, Event: ev, Filter: i, Until: true}, true
		}
	}
	if len(s.Filters) == 0 {
		return Completion{Effect: effect, Event: ev}, true
	}
	for i, m := range s.Filters {
		if ok, err := MatchEvent(ctx, wf, m, ev); err == nil && ok {
			return Completion{Effect: effect, Event: ev, Filter: i}, true
		}
	}
	return Completion{}, false
}

// matchEvent is the one test of an event against a filter: its context
// attributes equal m's (evaluated when the listen opened), its data passes
// the filter's data expression or value, and the values its correlate
// `from` expressions extract equal the expected ones: m's, or else fixed's
// (set by an earlier event of the same listen). It returns the correlation
// values the event yields. Expressions on the event see no instance
// variables, so that a listen decides the same in every matcher.
func matchEvent(ctx context.Context, flt *dsl.EventFilter, m EventMatch, ev map[string]any, fixed map[string]any) (bool, map[string]any, error) {
	for name, want := range m.Attributes {
		if !valueMatches(ev[name], want) {
			return false, nil, nil
		}
	}
	if v, ok := flt.With["data"]; ok {
		if v.Tmpl != nil && isExprValue(v) {
			pass, err := v.Tmpl.Eval(ctx, ev["data"], nil)
			if err != nil {
				return false, nil, err
			}
			if b, _ := pass.(bool); !b {
				return false, nil, nil
			}
		} else if !valueMatches(ev["data"], v.Get()) {
			return false, nil, nil
		}
	}
	corr := map[string]any{}
	for key, c := range flt.Correlate {
		if c.From == nil || c.From.Prog == nil {
			continue
		}
		got, err := c.From.Prog.Eval(ctx, ev, nil)
		if err != nil {
			return false, nil, err
		}
		want := m.Correlate[key]
		if want == nil {
			want = fixed[key]
		}
		if want != nil && !valueMatches(got, want) {
			return false, nil, nil
		}
		corr[key] = got
	}
	return true, corr, nil
}

func isExprValue(v *dsl.Value) bool {
	s, ok := v.Get().(string)
	return ok && expr.IsExpr(s)
}

// valueMatches compares an event attribute with a filter value: objects
// match when every property of want is present and matches in got.
func valueMatches(got, want any) bool {
	if w, ok := want.(map[string]any); ok {
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !valueMatches(g[k], wv) {
				return false
			}
		}
		return true
	}
	if reflect.DeepEqual(expr.Normalize(got), expr.Normalize(want)) {
		return true
	}
	gn, gok := toFloat(expr.Normalize(got))
	wn, wok := toFloat(expr.Normalize(want))
	return gok && wok && gn == wn
}
