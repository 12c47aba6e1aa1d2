package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// maxStepsPerAdvance bounds the tasks one advance may run, so that a flow
// that jumps in a circle without waiting faults instead of spinning forever.
const maxStepsPerAdvance = 100_000

type outcomeKind int

const (
	done outcomeKind = iota
	blocked
	faulted
)

type outcome struct {
	kind outcomeKind
	err  *problem.Problem
	flow string
}

var (
	okDone    = outcome{kind: done}
	okBlocked = outcome{kind: blocked}
	flowEnd   = outcome{kind: done, flow: dsl.ThenEnd}
)

func fault(p *problem.Problem) outcome { return outcome{kind: faulted, err: p} }

// list runs a task list in frame f. f.Data carries the data from task to
// task; it is the list's output when the list is done.
func (r *run) list(f *Frame, list dsl.TaskList, sc *scope) outcome {
	for f.Index < len(list) {
		item := list[f.Index]
		if f.Child == nil {
			f.Child = &Frame{Path: item.Path, Name: item.Name, RawInput: f.Data}
		}
		out := r.task(f.Child, item, sc)
		if out.kind != done {
			return out
		}
		f.Data = f.Child.Output
		f.Child = nil
		switch out.flow {
		case "", dsl.ThenContinue:
			f.Index++
		case dsl.ThenExit:
			f.Index = len(list)
			f.Exited = true
		case dsl.ThenEnd:
			f.Index = len(list)
			return flowEnd
		default:
			i := list.Index(out.flow)
			if i < 0 {
				return fault(&problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Task",
					Detail: fmt.Sprintf("then: %q names no task of this list", out.flow), Instance: item.Path})
			}
			f.Index = i
		}
	}
	return okDone
}

// The phases of a task.
const (
	phaseStart  = iota // if, input, timeout
	phaseBefore        // extensions' before tasks
	phaseBody          // the task kind's own work
	phaseAfter         // extensions' after tasks
	phaseFinish        // output, export
)

// task runs one task through its phases.
func (r *run) task(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	t := item.Task
	if f.Phase == phaseStart {
		r.steps++
		if r.steps > maxStepsPerAdvance {
			return fault(&problem.Problem{Type: problem.TypeRuntime, Status: 500, Title: "Runaway Workflow",
				Detail: fmt.Sprintf("ran %d tasks without waiting for anything; a `then` loop needs a wait or an exit condition", maxStepsPerAdvance), Instance: item.Path})
		}
		f.StartedAt = r.now
		r.history("task.started", item.Path, item.Name, nil, nil)
		if t.If != nil {
			ok, p := r.evalBool(t.If, f.RawInput, r.vars(f, sc, varsTask))
			if p != nil {
				return r.taskFault(f, item, p)
			}
			if !ok {
				f.Output = f.RawInput
				r.history("task.skipped", item.Path, item.Name, nil, nil)
				return okDone
			}
		}
		f.Input = f.RawInput
		if t.Input != nil {
			if p := r.validateSchema(t.Input.Schema, f.RawInput, item.Path+"/input/schema", "task input"); p != nil {
				return r.taskFault(f, item, p)
			}
			if t.Input.From.IsSet() {
				v, p := r.evalValue(t.Input.From, f.RawInput, r.vars(f, sc, varsTask))
				if p != nil {
					return r.taskFault(f, item, p)
				}
				f.Input = v
			}
		}
		if t.Timeout != nil {
			d, p := r.timeoutDuration(t.Timeout, f.Input)
			if p != nil {
				return r.taskFault(f, item, p)
			}
			f.Timer = r.effect(Effect{Kind: EffectTimer, Task: item.Path, Due: r.now.Add(d), Reason: "timeout"})
		}
		exts, p := r.extensions(f, item, sc)
		if p != nil {
			return r.taskFault(f, item, p)
		}
		f.Exts = exts
		f.Phase = phaseBefore
	}
	if f.TimedOut && f.Phase < phaseFinish {
		return r.taskFault(f, item, &problem.Problem{Type: problem.TypeTimeout, Status: 408, Title: "Task Timeout",
			Detail: fmt.Sprintf("task %q did not finish within its timeout", item.Name)})
	}
	if f.Phase == phaseBefore {
		out, exited := r.runExtensions(f, item, sc, true, f.Input)
		if out.kind != done {
			return out
		}
		f.Phase = phaseBody
		if exited {
			// An extension's `then: exit` stands in for the task itself.
			f.RawOutput = f.ExtData
			f.Phase = phaseAfter
		}
	}
	if f.Phase == phaseBody {
		out := r.body(f, item, sc)
		switch out.kind {
		case blocked:
			return out
		case faulted:
			return r.taskFault(f, item, out.err)
		}
		f.Flow = out.flow
		f.Phase = phaseAfter
	}
	if f.Phase == phaseAfter {
		out, _ := r.runExtensions(f, item, sc, false, f.RawOutput)
		if out.kind != done {
			return out
		}
		f.Phase = phaseFinish
	}
	vars := r.vars(f, sc, varsTask)
	if t.Kind == dsl.KindCall {
		vars["$authorization"] = r.authorization(f, t.Call, vars)
	}
	f.Output = f.RawOutput
	if t.Output != nil {
		if t.Output.As.IsSet() {
			v, p := r.evalValue(t.Output.As, f.RawOutput, vars)
			if p != nil {
				return r.taskFault(f, item, p)
			}
			f.Output = v
		}
		if p := r.validateSchema(t.Output.Schema, f.Output, item.Path+"/output/schema", "task output"); p != nil {
			return r.taskFault(f, item, p)
		}
	}
	if t.Export != nil {
		vars["$output"] = f.Output
		if t.Export.As.IsSet() {
			v, p := r.evalValue(t.Export.As, f.Output, vars)
			if p != nil {
				return r.taskFault(f, item, p)
			}
			r.in.Context = v
		}
		if p := r.validateSchema(t.Export.Schema, r.in.Context, item.Path+"/export/schema", "exported context"); p != nil {
			return r.taskFault(f, item, p)
		}
	}
	r.cancelEffect(f.Timer)
	f.Timer = ""
	r.history("task.completed", item.Path, item.Name, nil, nil)
	flow := f.Flow
	if flow == "" {
		flow = t.Then
	}
	return outcome{kind: done, flow: flow}
}

// extensions returns the indexes of the workflow's extensions that apply to
// a task. Tasks run by extensions are not extended themselves.
func (r *run) extensions(f *Frame, item *dsl.TaskItem, sc *scope) ([]int, *problem.Problem) {
	if r.wf.Use == nil || len(r.wf.Use.Extensions) == 0 || inExtension(sc) {
		return nil, nil
	}
	var out []int
	for i, ext := range r.wf.Use.Extensions {
		if !extends(ext.Extend, item.Task.Kind) {
			continue
		}
		if ext.When != nil {
			vars := r.vars(f, sc, varsTask)
			// In `when`, $task also shows the task's definition (`$task.call`).
			task := map[string]any{}
			for k, v := range item.Task.Raw {
				task[k] = v
			}
			for k, v := range vars["$task"].(map[string]any) {
				task[k] = v
			}
			vars["$task"] = task
			ok, p := r.evalBool(ext.When, f.Input, vars)
			if p != nil {
				return nil, p
			}
			if !ok {
				continue
			}
		}
		out = append(out, i)
	}
	return out, nil
}

func extends(extend string, kind dsl.Kind) bool {
	switch extend {
	case "all":
		return true
	case "composite":
		return kind == dsl.KindDo || kind == dsl.KindFork
	}
	return extend == string(kind)
}

const extensionMarker = "\x00extension"

func inExtension(sc *scope) bool {
	for s := sc; s != nil; s = s.up {
		if s.name == extensionMarker {
			return true
		}
	}
	return false
}

// runExtensions runs the before (or after) tasks of the task's extensions,
// in order, each on data, leaving the result in f.Data. It reports whether a
// before list ended with `then: exit`, which skips the task.
func (r *run) runExtensions(f *Frame, item *dsl.TaskItem, sc *scope, before bool, data any) (outcome, bool) {
	if len(f.Exts) == 0 {
		return okDone, false
	}
	if f.ExtPos == 0 && f.Ext == nil {
		f.ExtData = data
	}
	for f.ExtPos < len(f.Exts) {
		ext := r.wf.Use.Extensions[f.Exts[f.ExtPos]]
		list := ext.After
		if before {
			list = ext.Before
		}
		if len(list) == 0 {
			f.ExtPos++
			continue
		}
		if f.Ext == nil {
			f.Ext = &Frame{Path: "/use/extensions/" + ext.Name, StartedAt: r.now, Data: f.ExtData}
		}
		extScope := &scope{name: "$task", val: r.vars(f, sc, varsTask)["$task"], override: true, up: &scope{name: extensionMarker, up: sc}}
		out := r.list(f.Ext, list, extScope)
		if out.kind != done {
			return out, false
		}
		f.ExtData = f.Ext.Data
		exited := f.Ext.Exited
		f.Ext = nil
		f.ExtPos++
		if before && exited {
			f.ExtPos = 0
			return okDone, true
		}
	}
	f.ExtPos = 0
	if !before {
		f.RawOutput = f.ExtData
	}
	return okDone, false
}

func (r *run) taskFault(f *Frame, item *dsl.TaskItem, p *problem.Problem) outcome {
	if p.Title == limitTitle && !strings.HasPrefix(p.Detail, "task ") {
		c := *p
		c.Detail = fmt.Sprintf("task %s: %s", item.Name, p.Detail)
		p = &c
	}
	p = p.WithInstance(item.Path)
	r.discard(f)
	f.Timer, f.Effect = "", ""
	r.history("task.faulted", item.Path, item.Name, nil, p)
	return fault(p)
}

// body runs the part of a task that its kind defines and sets f.RawOutput.
func (r *run) body(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	t := item.Task
	switch t.Kind {
	case dsl.KindSet:
		v, p := r.evalValue(t.Set, f.Input, r.vars(f, sc, varsTask))
		if p != nil {
			return fault(p)
		}
		f.RawOutput = v
		return okDone
	case dsl.KindSwitch:
		return r.switchTask(f, t, sc)
	case dsl.KindRaise:
		return fault(r.raise(f, item, sc))
	case dsl.KindEmit:
		return r.emit(f, item, sc)
	case dsl.KindWait:
		return r.wait(f, item, sc)
	case dsl.KindCall:
		return r.call(f, item, sc)
	case dsl.KindDo:
		return r.sublist(f, item.Path+"/do", t.Do, sc)
	case dsl.KindFor:
		return r.forTask(f, item, sc)
	case dsl.KindFork:
		return r.fork(f, t.Fork, sc)
	case dsl.KindTry:
		return r.try(f, item, sc)
	case dsl.KindListen:
		return r.listen(f, item, sc)
	case dsl.KindRun:
		return r.runTask(f, item, sc)
	}
	return fault(&problem.Problem{Type: problem.TypeRuntime, Status: 500, Title: "Unknown Task", Detail: fmt.Sprintf("task kind %q", t.Kind)})
}

// sublist runs a composite task's list in a child frame, starting from the
// task's input.
func (r *run) sublist(f *Frame, path string, list dsl.TaskList, sc *scope) outcome {
	if f.Child == nil {
		f.Child = &Frame{Path: path, StartedAt: r.now, Data: f.Input}
	}
	out := r.list(f.Child, list, sc)
	if out.kind == done {
		f.RawOutput = f.Child.Data
		f.Child = nil
	}
	return out
}

func (r *run) switchTask(f *Frame, t *dsl.Task, sc *scope) outcome {
	f.RawOutput = f.Input
	var fallback *dsl.SwitchCase
	for _, c := range t.Switch {
		if c.When == nil {
			if fallback == nil {
				fallback = c
			}
			continue
		}
		ok, p := r.evalBool(c.When, f.Input, r.vars(f, sc, varsTask))
		if p != nil {
			return fault(p)
		}
		if ok {
			return outcome{kind: done, flow: c.Then}
		}
	}
	if fallback != nil {
		return outcome{kind: done, flow: fallback.Then}
	}
	return okDone
}

func (r *run) raise(f *Frame, item *dsl.TaskItem, sc *scope) *problem.Problem {
	def := item.Task.Raise.Error
	if ref := item.Task.Raise.Ref; ref != "" && r.wf.Use != nil {
		def = r.wf.Use.Errors[ref]
	}
	if def == nil {
		return &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Error", Detail: fmt.Sprintf("error %q is not defined", item.Task.Raise.Ref)}
	}
	vars := r.vars(f, sc, varsTask)
	str := func(v *dsl.Value) (string, *problem.Problem) {
		if v == nil {
			return "", nil
		}
		out, p := r.evalValue(v, f.Input, vars)
		if p != nil || out == nil {
			return "", p
		}
		return fmt.Sprint(out), nil
	}
	res := &problem.Problem{}
	var p *problem.Problem
	if res.Type, p = str(def.Type); p != nil {
		return p
	}
	if res.Title, p = str(def.Title); p != nil {
		return p
	}
	if res.Detail, p = str(def.Detail); p != nil {
		return p
	}
	if res.Instance, p = str(def.Instance); p != nil {
		return p
	}
	status, p := r.evalValue(def.Status, f.Input, vars)
	if p != nil {
		return p
	}
	n, ok := toFloat(status)
	if !ok || n != math.Trunc(n) {
		return &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Error", Detail: fmt.Sprintf("error status must be a whole number, got %v", status)}
	}
	res.Status = int(n)
	return res
}

func (r *run) emit(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	vars := r.vars(f, sc, varsTask)
	ev := map[string]any{}
	for name, v := range item.Task.Emit.With {
		out, p := r.evalValue(v, f.Input, vars)
		if p != nil {
			return fault(p)
		}
		if out != nil {
			ev[name] = out
		}
	}
	if _, ok := ev["id"]; !ok {
		ev["id"] = NewID()
	}
	if _, ok := ev["source"]; !ok {
		ev["source"] = "storeflow://" + r.in.Workflow.Namespace + "/" + r.in.Workflow.Name
	}
	if _, ok := ev["time"]; !ok {
		ev["time"] = r.now.Format(time.RFC3339Nano)
	}
	if _, ok := ev["datacontenttype"]; !ok && ev["data"] != nil {
		ev["datacontenttype"] = "application/json"
	}
	ev["specversion"] = "1.0"
	r.effect(Effect{Kind: EffectEmit, Task: item.Path, Event: ev})
	f.RawOutput = ev
	return okDone
}

func (r *run) wait(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	if f.Result != nil {
		f.Result = nil
		f.Effect = ""
		f.RawOutput = f.Input
		return okDone
	}
	if f.Effect == "" {
		d, p := r.duration(item.Task.Wait, f.Input, r.vars(f, sc, varsTask))
		if p != nil {
			return fault(p)
		}
		f.Effect = r.effect(Effect{Kind: EffectTimer, Task: item.Path, Due: r.now.Add(d), Reason: "wait"})
	}
	return okBlocked
}

func (r *run) forTask(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	ft := item.Task.For
	if f.Items == nil && f.Iter == 0 && f.Child == nil && f.Data == nil {
		in, p := r.evalValue(ft.In, f.Input, r.vars(f, sc, varsTask))
		if p != nil {
			return fault(p)
		}
		switch items := in.(type) {
		case []any:
			f.Items = items
		case nil:
			f.Items = []any{}
		case map[string]any:
			// Iterating an object visits its values, as jq's .[] does.
			for _, k := range sortedKeysAny(items) {
				f.Items = append(f.Items, items[k])
			}
		default:
			return fault(&problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Collection",
				Detail: fmt.Sprintf("for.in must produce a list, got %T", in)})
		}
		if f.Items == nil {
			f.Items = []any{}
		}
		f.Data = f.Input
	}
	for f.Iter < len(f.Items) {
		inner := sc.with(ft.Each, f.Items[f.Iter]).with(ft.At, f.Iter)
		if f.Child == nil {
			if ft.While != nil {
				ok, p := r.evalBool(ft.While, f.Data, r.vars(f, inner, varsTask))
				if p != nil {
					return fault(p)
				}
				if !ok {
					break
				}
			}
			f.Child = &Frame{Path: item.Path + "/do", StartedAt: r.now, Data: f.Data}
		}
		out := r.list(f.Child, ft.Do, inner)
		if out.kind != done {
			return out
		}
		f.Data = f.Child.Data
		f.Child = nil
		f.Iter++
		if out.flow == dsl.ThenEnd {
			f.RawOutput = f.Data
			return flowEnd
		}
	}
	f.RawOutput = f.Data
	return okDone
}

func (r *run) fork(f *Frame, fk *dsl.ForkTask, sc *scope) outcome {
	if f.Branches == nil {
		f.Branches = make([]*Frame, len(fk.Branches))
		for i, b := range fk.Branches {
			f.Branches[i] = &Frame{Path: b.Path, Name: b.Name, RawInput: f.Input}
		}
	}
	waiting := false
	for i, b := range fk.Branches {
		bf := f.Branches[i]
		if bf.Ended {
			continue
		}
		out := r.task(bf, b, sc)
		switch out.kind {
		case blocked:
			waiting = true
			continue
		case faulted:
			r.endBranches(f)
			return out
		}
		bf.Ended = true
		if fk.Compete {
			r.endBranches(f)
			f.RawOutput = bf.Output
			f.Branches = nil
			return okDone
		}
	}
	if waiting {
		return okBlocked
	}
	outs := make([]any, len(f.Branches))
	for i, bf := range f.Branches {
		outs[i] = bf.Output
	}
	f.RawOutput = outs
	f.Branches = nil
	return okDone
}

func (r *run) endBranches(f *Frame) {
	for _, b := range f.Branches {
		if !b.Ended {
			r.discard(b)
			if b.Phase > 0 {
				r.history("task.cancelled", b.Path, b.Name, nil, nil)
			}
			b.Ended = true
		}
	}
}

func (r *run) try(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	tt := item.Task.Try
	c := tt.Catch
	if f.Caught == nil {
		if f.Effect != "" {
			if f.Result == nil {
				return okBlocked
			}
			f.Effect, f.Result = "", nil
			r.history("task.retried", item.Path, item.Name, map[string]any{"attempt": f.Attempt}, nil)
		}
		if f.Child == nil {
			f.Child = &Frame{Path: item.Path + "/try", StartedAt: r.now, Data: f.Input}
		}
		out := r.list(f.Child, tt.Try, sc)
		switch out.kind {
		case blocked:
			return out
		case done:
			f.RawOutput = f.Child.Data
			f.Child = nil
			return out
		}
		f.Child = nil
		caught, p := r.catches(f, c, out.err, sc)
		if p != nil {
			return fault(p)
		}
		if !caught {
			return out
		}
		if c.Retry != nil {
			return r.retry(f, item, c, out.err, sc)
		}
		f.Caught = out.err
		r.history("task.caught", item.Path, item.Name, nil, out.err)
	}
	if len(c.Do) == 0 {
		f.RawOutput = f.Input
		return outcome{kind: done, flow: c.Then}
	}
	as := c.As
	if as == "" {
		as = "error"
	}
	if f.Child == nil {
		f.Child = &Frame{Path: item.Path + "/catch/do", StartedAt: r.now, Data: f.Input}
	}
	out := r.list(f.Child, c.Do, sc.with(as, f.Caught.Map()))
	if out.kind != done {
		return out
	}
	f.RawOutput = f.Child.Data
	f.Child = nil
	if out.flow == dsl.ThenEnd {
		return out
	}
	return outcome{kind: done, flow: c.Then}
}

// catches reports whether a catch clause handles an error.
func (r *run) catches(f *Frame, c *dsl.Catch, err *problem.Problem, sc *scope) (bool, *problem.Problem) {
	if c == nil {
		return false, nil
	}
	errMap := err.Map()
	vars := r.vars(f, sc, varsTask)
	for name, want := range c.Errors {
		w, p := r.evalValue(want, f.Input, vars)
		if p != nil {
			return false, p
		}
		if !errorFieldMatches(name, errMap[name], w) {
			return false, nil
		}
	}
	as := c.As
	if as == "" {
		as = "error"
	}
	inner := r.vars(f, sc.with(as, errMap), varsTask)
	if c.When != nil {
		ok, p := r.evalBool(c.When, errMap, inner)
		if p != nil || !ok {
			return false, p
		}
	}
	if c.ExceptWhen != nil {
		ok, p := r.evalBool(c.ExceptWhen, errMap, inner)
		if p != nil || ok {
			return false, p
		}
	}
	return true, nil
}

func errorFieldMatches(name string, got, want any) bool {
	if name == "type" {
		gs, _ := got.(string)
		ws, _ := want.(string)
		return problem.SameType(gs, ws)
	}
	if gn, ok := toFloat(got); ok {
		wn, ok := toFloat(want)
		return ok && gn == wn
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func (r *run) retry(f *Frame, item *dsl.TaskItem, c *dsl.Catch, err *problem.Problem, sc *scope) outcome {
	policy := c.Retry.Policy
	if ref := c.Retry.Ref; ref != "" && r.wf.Use != nil {
		policy = r.wf.Use.Retries[ref]
	}
	if policy == nil {
		return fault(&problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Unknown Retry Policy", Detail: fmt.Sprintf("retry policy %q is not defined", c.Retry.Ref)})
	}
	as := c.As
	if as == "" {
		as = "error"
	}
	errMap := err.Map()
	inner := r.vars(f, sc.with(as, errMap), varsTask)
	if policy.When != nil {
		if ok, p := r.evalBool(policy.When, errMap, inner); p != nil || !ok {
			return r.exhausted(item, err, p)
		}
	}
	if policy.ExceptWhen != nil {
		if ok, p := r.evalBool(policy.ExceptWhen, errMap, inner); p != nil || ok {
			return r.exhausted(item, err, p)
		}
	}
	if f.FirstFailAt == nil {
		t := r.now
		f.FirstFailAt = &t
	}
	if n := policy.Limit.AttemptCount; n > 0 && f.Attempt >= n {
		return r.exhausted(item, err, nil)
	}
	for _, lim := range []*dsl.Duration{policy.Limit.Duration, policy.Limit.AttemptDuration} {
		if lim == nil {
			continue
		}
		d, p := r.duration(lim, f.Input, inner)
		if p != nil {
			return fault(p)
		}
		if r.now.Sub(f.StartedAt) >= d {
			return r.exhausted(item, err, nil)
		}
	}
	delay, p := r.duration(policy.Delay, f.Input, inner)
	if p != nil {
		return fault(p)
	}
	delay = backoff(policy.Backoff.Kind, delay, f.Attempt+1)
	if j := policy.Jitter; j != nil {
		from, p := r.duration(&j.From, f.Input, inner)
		if p != nil {
			return fault(p)
		}
		to, p := r.duration(&j.To, f.Input, inner)
		if p != nil {
			return fault(p)
		}
		if to > from {
			delay += from + rand.N(to-from)
		} else {
			delay += from
		}
	}
	f.Attempt++
	r.history("task.retrying", item.Path, item.Name, map[string]any{"attempt": f.Attempt, "delay": delay.String()}, err)
	f.Effect = r.effect(Effect{Kind: EffectTimer, Task: item.Path, Due: r.now.Add(delay), Reason: "retry"})
	return okBlocked
}

// exhausted faults a task whose retries are used up with the last error.
func (r *run) exhausted(item *dsl.TaskItem, err, p *problem.Problem) outcome {
	if p != nil {
		return fault(p)
	}
	r.history("task.retries_exhausted", item.Path, item.Name, nil, err)
	return fault(err)
}

// backoff returns the delay before retry number attempt (1-based).
func backoff(kind string, base time.Duration, attempt int) time.Duration {
	switch kind {
	case "linear":
		return base * time.Duration(attempt)
	case "exponential":
		f := math.Pow(2, float64(attempt-1))
		if f*float64(base) > float64(24*time.Hour*365) {
			return 24 * time.Hour * 365
		}
		return time.Duration(f * float64(base))
	}
	return base
}

func (r *run) runTask(f *Frame, item *dsl.TaskItem, sc *scope) outcome {
	rt := item.Task.Run
	if rt.Workflow == nil {
		kind := "container"
		switch {
		case rt.Script != nil:
			kind = "script"
		case rt.Shell != nil:
			kind = "shell"
		}
		return fault(notSupported(fmt.Sprintf("run: %s is not supported yet by storeflow; call an HTTP service instead, or run a child workflow", kind)))
	}
	if out, ok := takeResult(f); ok {
		return out
	}
	if f.Effect == "" {
		input := f.Input
		if rt.Workflow.Input.IsSet() {
			v, p := r.evalValue(rt.Workflow.Input, f.Input, r.vars(f, sc, varsTask))
			if p != nil {
				return fault(p)
			}
			input = v
		}
		ref := WorkflowRef{Namespace: rt.Workflow.Namespace, Name: rt.Workflow.Name, Version: rt.Workflow.Version}
		f.Effect = r.effect(Effect{Kind: EffectChild, Task: item.Path, Child: &ChildStart{Workflow: ref, Input: input}})
	}
	if !rt.Await {
		// Fire and forget: the child runs on its own; this task goes on.
		delete(r.in.Pending, f.Effect)
		f.Effect = ""
		f.RawOutput = f.Input
		return okDone
	}
	return okBlocked
}

func notSupported(detail string) *problem.Problem {
	return &problem.Problem{Type: problem.TypeRuntime, Status: 501, Title: "Not Supported", Detail: detail}
}
