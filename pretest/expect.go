package pretest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// Suppression is a message the sending rules did not send, as an
// instance's history records it.
type Suppression struct {
	Call     string        `json:"call"`
	Reason   string        `json:"reason"`
	To       []string      `json:"to,omitempty"`
	Workflow string        `json:"workflow,omitempty"`
	Instance string        `json:"instance"`
	Task     string        `json:"task,omitempty"`
	At       string        `json:"at"`
	Offset   time.Duration `json:"-"`
	when     time.Time     // when it was recorded; collect makes Offset of it
}

// suppressionsOf reads the suppressions out of an instance's history.
//
// This is the one place that knows how the sending rules record a
// suppression: a history entry whose type ends in "suppressed"
// ("message.suppressed", "call.suppressed"), its detail naming the call
// (call or function), the reason and the recipients (to). The rules
// record suppressions in the instance history (issue 11); when their
// record takes another shape, adapt this function and every pretest's
// `suppressed` expectations follow.
func suppressionsOf(entries []store.HistoryEntry) []Suppression {
	var out []Suppression
	for _, h := range entries {
		if !strings.HasSuffix(h.Type, "suppressed") {
			continue
		}
		var rec engine.HistoryEntry
		if err := json.Unmarshal(h.Data, &rec); err != nil {
			continue
		}
		detail, _ := normalize(rec.Detail).(map[string]any)
		str := func(keys ...string) string {
			for _, k := range keys {
				if v, ok := detail[k].(string); ok && v != "" {
					return v
				}
			}
			return ""
		}
		call, _, _ := connector.ParseRef(str("call", "function", "name"))
		s := Suppression{Call: call, Reason: str("reason", "rule"), Instance: h.InstanceID, Task: h.Task}
		for _, t := range list(detail["to"]) {
			if ts, ok := t.(string); ok {
				s.To = append(s.To, ts)
			}
		}
		t := h.Time
		if !rec.Time.IsZero() {
			t = rec.Time
		}
		s.At = t.UTC().Format(time.RFC3339Nano)
		s.when = t // made relative by collect (from year 1 it would overflow a Duration)
		out = append(out, s)
	}
	return out
}

// collect gathers what the scenario did: the calls the twin answered and
// the instances with their suppressions.
func (s *scenario) collect(ctx context.Context) error {
	list, err := s.st.ListInstances(ctx, store.InstanceQuery{Limit: 100_000})
	if err != nil {
		return err
	}
	// Oldest first: ids are time-ordered, and the list comes newest first.
	slices.Reverse(list)
	names := map[string]string{}
	for _, rec := range list {
		names[rec.ID] = rec.Name
		ir := InstanceRecord{ID: rec.ID, Workflow: rec.Name, Status: rec.Status, Trigger: rec.TriggerKey}
		if in, err := engine.Unmarshal(rec.State); err == nil {
			ir.Output = normalize(in.Output)
			if in.Error != nil {
				ir.Error = &ProblemMatch{Type: in.Error.Type, Status: in.Error.Status, Title: in.Error.Title, Detail: in.Error.Detail}
			}
		}
		hist, err := s.st.History(ctx, rec.ID)
		if err != nil {
			return err
		}
		for _, sup := range suppressionsOf(hist) {
			sup.Workflow = rec.Name
			sup.Offset = sup.when.Sub(s.start)
			sup.At = FormatOffset(sup.Offset)
			ir.Suppressed = append(ir.Suppressed, sup)
		}
		s.res.Instances = append(s.res.Instances, ir)
	}
	if err := s.collectTasks(ctx); err != nil {
		return err
	}
	for _, c := range s.rec.Calls() {
		fn, _, _ := connector.ParseRef(c.Name())
		off := c.At.Sub(s.start)
		s.res.Calls = append(s.res.Calls, CallRecord{Call: fn, Workflow: names[c.Instance], Instance: c.Instance, Task: c.Task,
			At: FormatOffset(off), Offset: off, Args: normalize(c.Args), Attempt: c.Attempt})
	}
	return nil
}

// check collects what happened and holds every expectation to it.
func (s *scenario) check(ctx context.Context) error {
	if err := s.collect(ctx); err != nil {
		return err
	}
	ex := s.sc.Expect
	used := map[int]bool{}
	for i, e := range ex.Sent {
		s.checkSent(fmt.Sprintf("sent[%d]", i), e, used)
	}
	for i, e := range ex.NotSent {
		s.checkNotSent(fmt.Sprintf("notSent[%d]", i), e)
	}
	var sups []Suppression
	for _, in := range s.res.Instances {
		sups = append(sups, in.Suppressed...)
	}
	usedSup := map[int]bool{}
	for i, e := range ex.Suppressed {
		s.checkSuppressed(fmt.Sprintf("suppressed[%d]", i), e, sups, usedSup)
	}
	usedIn := map[int]bool{}
	for i, e := range ex.Instances {
		s.checkInstance(fmt.Sprintf("instances[%d]", i), e, usedIn)
	}
	usedTask := map[int]bool{}
	for i, e := range ex.Tasks {
		s.checkTask(fmt.Sprintf("tasks[%d]", i), e, usedTask)
	}
	return nil
}

// fits tells whether a call has what m asks for.
func (m *CallMatch) fits(c CallRecord) bool {
	if name, _, _ := connector.ParseRef(m.Call); name != c.Call {
		return false
	}
	if m.Workflow != "" && m.Workflow != c.Workflow {
		return false
	}
	args, _ := c.Args.(map[string]any)
	if m.To != "" && !hasRecipient(args["to"], m.To) {
		return false
	}
	for k, want := range map[string]string{"template": m.Template, "subject": m.Subject, "category": m.Category} {
		if want != "" && args[k] != want {
			return false
		}
	}
	if m.Discount != "" && !slices.Contains(discounts(args), any(m.Discount)) {
		return false
	}
	for _, tag := range m.Tags {
		if !slices.Contains(list(args["tags"]), any(tag)) {
			return false
		}
	}
	if m.With.Set && !partial(normalize(m.With.V), c.Args) {
		return false
	}
	return true
}

// hasRecipient tells whether a recipient argument (one address or a list,
// maybe with display names) names addr.
func hasRecipient(v any, addr string) bool {
	for _, r := range list(v) {
		s, ok := r.(string)
		if !ok {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(s), addr) || strings.Contains(strings.ToLower(s), "<"+strings.ToLower(addr)+">") {
			return true
		}
	}
	return false
}

// discounts are the discount codes a call carries: with.discount,
// with.data.discount or with.data.discountCode, a code or an object with
// a code.
func discounts(args map[string]any) []any {
	data, _ := args["data"].(map[string]any)
	var out []any
	for _, v := range []any{args["discount"], data["discount"], data["discountCode"]} {
		if m, ok := v.(map[string]any); ok {
			v = m["code"]
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// partial tells whether got has want: objects by the keys want gives,
// lists element by element, anything else by equality.
func partial(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !partial(wv, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !partial(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(want) == fmt.Sprint(got) && (want == nil) == (got == nil)
}

// describe writes what an expectation asks for, as the file says it.
func (m *CallMatch) describe() string {
	var parts []string
	if m.To != "" {
		parts = append(parts, "to "+m.To)
	}
	for _, kv := range [][2]string{{"template", m.Template}, {"subject", m.Subject}, {"category", m.Category}, {"discount", m.Discount}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+quoteIfSpaced(kv[1]))
		}
	}
	if len(m.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(m.Tags, ", "))
	}
	if m.With.Set {
		b, _ := json.Marshal(m.With.V)
		parts = append(parts, "with "+string(b))
	}
	if m.Workflow != "" {
		parts = append(parts, "by "+m.Workflow)
	}
	if len(parts) == 0 {
		return m.Call
	}
	return m.Call + " " + strings.Join(parts, ", ")
}

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " ,") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// describe writes a call as a report shows it.
func (c CallRecord) describe() string {
	args, _ := c.Args.(map[string]any)
	var parts []string
	if to := args["to"]; to != nil {
		var rs []string
		for _, r := range list(to) {
			rs = append(rs, fmt.Sprint(r))
		}
		parts = append(parts, "to "+strings.Join(rs, ", "))
	}
	for _, k := range []string{"template", "subject", "category"} {
		if v, ok := args[k].(string); ok && v != "" {
			parts = append(parts, k+" "+quoteIfSpaced(v))
		}
	}
	if d := discounts(args); len(d) > 0 {
		parts = append(parts, fmt.Sprintf("discount %v", d[0]))
	}
	if tags := list(args["tags"]); len(tags) > 0 {
		parts = append(parts, fmt.Sprintf("tags %v", strings.Trim(fmt.Sprint(tags), "[]")))
	}
	if len(parts) == 0 && c.Args != nil {
		b, _ := json.Marshal(c.Args)
		if len(b) > 120 {
			b = append(b[:117], "..."...)
		}
		parts = append(parts, "with "+string(b))
	}
	s := c.Call + " at " + c.At
	if len(parts) > 0 {
		s += " " + strings.Join(parts, ", ")
	}
	if c.Workflow != "" {
		s += " (" + c.Workflow + ")"
	}
	return s
}

func (s *scenario) span(w When, within *Duration) (time.Time, time.Duration) {
	tol := DefaultWithin
	if within != nil {
		tol = within.D
	}
	return w.At(s.start, s.zone), tol
}

func onTime(at time.Time, tol time.Duration, got time.Duration, start time.Time) bool {
	d := start.Add(got).Sub(at)
	return d <= tol && d >= -tol
}

func (s *scenario) whenText(w When, within *Duration) string {
	_, tol := s.span(w, within)
	return fmt.Sprintf("at %s (±%s)", w.Raw, FormatOffset(tol))
}

func (s *scenario) checkSent(name string, e SentExpect, used map[int]bool) {
	want := e.describe()
	if !e.At.IsZero() {
		want += " " + s.whenText(e.At, e.Within)
	}
	var fitting, timed []int
	for i, c := range s.res.Calls {
		if !e.fits(c) {
			continue
		}
		fitting = append(fitting, i)
		if e.At.IsZero() {
			timed = append(timed, i)
			continue
		}
		at, tol := s.span(e.At, e.Within)
		if onTime(at, tol, c.Offset, s.start) {
			timed = append(timed, i)
		}
	}
	if e.Count > 0 {
		if len(timed) != e.Count {
			s.fail(e.Line, name, "expected %d× %s; %s", e.Count, want, s.madeInstead(e.Call, timed, len(timed)))
		}
		for _, i := range timed {
			used[i] = true
		}
		return
	}
	for _, i := range timed {
		if !used[i] {
			used[i] = true
			return
		}
	}
	switch {
	case len(timed) > 0:
		s.fail(e.Line, name, "expected %s; the only fitting call is taken by an earlier entry: %s", want, s.res.Calls[timed[0]].describe())
	case len(fitting) > 0:
		var when []string
		for _, i := range fitting {
			when = append(when, s.res.Calls[i].At)
		}
		s.fail(e.Line, name, "expected %s; it was made at %s instead", want, strings.Join(when, ", "))
	default:
		s.fail(e.Line, name, "expected %s; %s", want, s.madeInstead(e.Call, nil, -1))
	}
}

// madeInstead says what calls of a kind were made (all of them, or those
// listed), or which calls were made at all when none was.
func (s *scenario) madeInstead(call string, only []int, n int) string {
	name, _, _ := connector.ParseRef(call)
	var same []string
	if only != nil {
		for _, i := range only {
			same = append(same, s.res.Calls[i].describe())
		}
	} else {
		for _, c := range s.res.Calls {
			if c.Call == name {
				same = append(same, c.describe())
			}
		}
	}
	if len(same) > 0 {
		if n < 0 {
			return "made instead: " + strings.Join(same, "; ")
		}
		return fmt.Sprintf("made %d: %s", len(same), strings.Join(same, "; "))
	}
	if n >= 0 && only != nil {
		return fmt.Sprintf("made %d", n)
	}
	counts := map[string]int{}
	for _, c := range s.res.Calls {
		counts[c.Call]++
	}
	if len(counts) == 0 {
		return fmt.Sprintf("no %s was made, nor any other call", name)
	}
	var made []string
	for k, v := range counts {
		made = append(made, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(made)
	return fmt.Sprintf("no %s was made (calls made: %s)", name, strings.Join(made, ", "))
}

func (s *scenario) checkNotSent(name string, e NotSentExpect) {
	var bad []string
	for _, c := range s.res.Calls {
		if !e.fits(c) {
			continue
		}
		at := s.start.Add(c.Offset)
		if !e.After.IsZero() && at.Before(e.After.At(s.start, s.zone)) {
			continue
		}
		if !e.Before.IsZero() && !at.Before(e.Before.At(s.start, s.zone)) {
			continue
		}
		bad = append(bad, c.describe())
	}
	if len(bad) > 0 {
		s.fail(e.Line, name, "expected no %s; made %d: %s", e.describe(), len(bad), strings.Join(bad, "; "))
	}
}

func (s *scenario) checkSuppressed(name string, e SuppressedExpect, sups []Suppression, used map[int]bool) {
	fits := func(x Suppression) bool {
		if c, _, _ := connector.ParseRef(e.Call); c != x.Call {
			return false
		}
		if e.Reason != "" && !strings.EqualFold(e.Reason, x.Reason) {
			return false
		}
		if e.Workflow != "" && e.Workflow != x.Workflow {
			return false
		}
		if e.To != "" && !hasRecipient(anyList(x.To), e.To) {
			return false
		}
		if !e.At.IsZero() {
			at, tol := s.span(e.At, e.Within)
			if !onTime(at, tol, x.Offset, s.start) {
				return false
			}
		}
		return true
	}
	for i, x := range sups {
		if fits(x) && !used[i] {
			used[i] = true
			return
		}
	}
	want := e.Call
	if e.Reason != "" {
		want += " (" + e.Reason + ")"
	}
	if e.To != "" {
		want += " to " + e.To
	}
	if !e.At.IsZero() {
		want += " " + s.whenText(e.At, e.Within)
	}
	var got []string
	for _, x := range sups {
		got = append(got, fmt.Sprintf("%s (%s) at %s (%s)", x.Call, x.Reason, x.At, x.Workflow))
	}
	if len(got) == 0 {
		c, _, _ := connector.ParseRef(e.Call)
		sent := 0
		for _, call := range s.res.Calls {
			if call.Call == c {
				sent++
			}
		}
		s.fail(e.Line, name, "expected %s to be suppressed; nothing was suppressed (%d %s made)", want, sent, c)
		return
	}
	s.fail(e.Line, name, "expected %s to be suppressed; suppressed instead: %s", want, strings.Join(got, "; "))
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (e *InstanceExpect) fits(in InstanceRecord) bool {
	if e.Workflow != in.Workflow {
		return false
	}
	if e.Status != "" && e.Status != in.Status {
		return false
	}
	if e.Output.Set && !partial(normalize(e.Output.V), in.Output) {
		return false
	}
	if p := e.Error; p != nil {
		got := in.Error
		if got == nil {
			return false
		}
		if p.Type != "" && errorType(p.Type) != got.Type || p.Status != 0 && p.Status != got.Status ||
			p.Title != "" && p.Title != got.Title || p.Detail != "" && !strings.Contains(got.Detail, p.Detail) {
			return false
		}
	}
	return true
}

func (in InstanceRecord) describe() string {
	s := in.Workflow + " " + in.Status
	if in.Output != nil {
		b, _ := json.Marshal(in.Output)
		if len(b) > 160 {
			b = append(b[:157], "..."...)
		}
		s += " with output " + string(b)
	}
	if in.Error != nil {
		s += fmt.Sprintf(" with error %q (%d %s)", in.Error.Title, in.Error.Status, in.Error.Detail)
	}
	return s
}

func (e *InstanceExpect) describe() string {
	s := "an instance of " + e.Workflow
	if e.Status != "" {
		s += " " + e.Status
	}
	if e.Output.Set {
		b, _ := json.Marshal(e.Output.V)
		s += " with output " + string(b)
	}
	if p := e.Error; p != nil {
		b, _ := json.Marshal(p)
		s += " with error " + string(b)
	}
	return s
}

func (s *scenario) checkInstance(name string, e InstanceExpect, used map[int]bool) {
	var fitting, same []int
	for i, in := range s.res.Instances {
		if in.Workflow == e.Workflow {
			same = append(same, i)
		}
		if e.fits(in) {
			fitting = append(fitting, i)
		}
	}
	others := func() string {
		if len(same) == 0 {
			started := map[string]bool{}
			for _, in := range s.res.Instances {
				started[in.Workflow] = true
			}
			if len(started) == 0 {
				return "no instance of any workflow was started"
			}
			return "no instance of " + e.Workflow + " was started (started: " + strings.Join(slices.Sorted(maps.Keys(started)), ", ") + ")"
		}
		var d []string
		for _, i := range same {
			d = append(d, s.res.Instances[i].describe())
		}
		return fmt.Sprintf("%d instance(s) of %s: %s", len(same), e.Workflow, strings.Join(d, "; "))
	}
	if e.Count != nil {
		if len(fitting) != *e.Count {
			s.fail(e.Line, name, "expected %d× %s; %s", *e.Count, e.describe(), others())
		}
		for _, i := range fitting {
			used[i] = true
		}
		return
	}
	for _, i := range fitting {
		if !used[i] {
			used[i] = true
			return
		}
	}
	if len(fitting) > 0 {
		s.fail(e.Line, name, "expected %s; the only one is taken by an earlier entry", e.describe())
		return
	}
	s.fail(e.Line, name, "expected %s; %s", e.describe(), others())
}
