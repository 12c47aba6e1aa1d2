// Package engine is the interpreter: it advances one workflow instance from
// its checkpoint until the instance ends or blocks, and returns the new state
// with the effects the runtime must perform.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/problem"
)

// Version is reported to workflows as $runtime.version.
var Version = "0.1.0-dev"

// Engine runs instances of compiled workflows. It holds no per-instance
// state and is safe for concurrent use on different instances.
type Engine struct {
	Clock clock.Clock
	// Secrets are the values workflows may read as $secrets, by name.
	Secrets map[string]any
	// SecretSource, when set, adds secrets that change while the engine
	// runs (the shops' credentials, as $secrets.shops); it is read once per
	// advance and must be quick (cached).
	SecretSource func(ctx context.Context) (map[string]any, error)
	// Builtins resolves calls of functions that are neither a DSL call type
	// nor defined in the workflow: the runtime's default catalog of
	// built-ins. Nil: none.
	Builtins dsl.Builtins
	// Limits bound every expression evaluation (zero fields: expr's
	// defaults); past one the task faults with an expression error.
	Limits expr.Limits
	Logger *slog.Logger
}

// New returns an engine reading time from c.
func New(c clock.Clock) *Engine {
	return &Engine{Clock: c, Logger: slog.Default()}
}

// Start creates an instance of wf with the given raw input and advances it
// until it ends or blocks.
func (e *Engine) Start(ctx context.Context, wf *dsl.Workflow, id string, input any) *Transition {
	if id == "" {
		id = NewID()
	}
	now := e.Clock.Now().UTC()
	in := &Instance{
		ID:        id,
		Workflow:  WorkflowRef{Namespace: wf.Document.Namespace, Name: wf.Document.Name, Version: wf.Document.Version},
		Status:    StatusRunning,
		Input:     normalize(input),
		Context:   map[string]any{},
		StartedAt: now,
	}
	r := e.newRun(ctx, wf, in)
	r.history("workflow.started", "", "", nil, nil)
	r.start()
	return r.tr
}

// Resume feeds a completion to a waiting instance and advances it. A
// completion for an effect the instance no longer waits on (a late timer, a
// call of a task that timed out) changes nothing.
func (e *Engine) Resume(ctx context.Context, wf *dsl.Workflow, in *Instance, c Completion) *Transition {
	r := e.newRun(ctx, wf, in)
	if in.Status.Ended() {
		return r.tr
	}
	if in.Status == StatusSuspended {
		in.Inbox = append(in.Inbox, c)
		return r.tr
	}
	if !r.deliver(c) {
		return r.tr
	}
	r.advance()
	return r.tr
}

// Cancel ends an instance as cancelled and withdraws its pending effects.
func (e *Engine) Cancel(ctx context.Context, wf *dsl.Workflow, in *Instance, reason string) *Transition {
	r := e.newRun(ctx, wf, in)
	if in.Status.Ended() {
		return r.tr
	}
	r.cancelAllPending()
	r.runningTasks(true, "task.cancelled")
	in.Root = nil
	in.Status = StatusCancelled
	r.end()
	r.history("workflow.cancelled", "", "", reason, nil)
	return r.tr
}

// Suspend pauses an instance: completions are kept until Resumed.
func (e *Engine) Suspend(ctx context.Context, wf *dsl.Workflow, in *Instance) *Transition {
	r := e.newRun(ctx, wf, in)
	if in.Status.Ended() || in.Status == StatusSuspended {
		return r.tr
	}
	in.Status = StatusSuspended
	r.history("workflow.suspended", "", "", nil, nil)
	r.runningTasks(false, "task.suspended")
	return r.tr
}

// Unsuspend continues a suspended instance with the completions that came
// in meanwhile.
func (e *Engine) Unsuspend(ctx context.Context, wf *dsl.Workflow, in *Instance) *Transition {
	r := e.newRun(ctx, wf, in)
	if in.Status != StatusSuspended {
		return r.tr
	}
	in.Status = StatusWaiting
	r.history("workflow.resumed", "", "", nil, nil)
	r.runningTasks(false, "task.resumed")
	inbox := in.Inbox
	in.Inbox = nil
	for _, c := range inbox {
		r.deliver(c)
	}
	r.advance()
	return r.tr
}

// NewID returns a time-ordered unique identifier (UUIDv7).
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// run is one advance of one instance.
type run struct {
	e   *Engine
	ctx context.Context
	wf  *dsl.Workflow
	in  *Instance
	tr  *Transition
	now time.Time
	// steps counts the tasks started in this advance.
	steps int
	// secretsSeen are the secrets of this advance, read once.
	secretsSeen map[string]any
}

func (e *Engine) newRun(ctx context.Context, wf *dsl.Workflow, in *Instance) *run {
	if in.Pending == nil {
		in.Pending = map[string]PendingEffect{}
	}
	ctx = expr.WithLimits(ctx, e.Limits)
	return &run{e: e, ctx: ctx, wf: wf, in: in, tr: &Transition{Instance: in}, now: e.Clock.Now().UTC()}
}

func (r *run) history(typ, task, name string, detail any, err *problem.Problem) {
	r.tr.History = append(r.tr.History, HistoryEntry{Time: r.now, Type: typ, Task: task, Name: name, Detail: detail, Error: err})
}

func (r *run) effect(e Effect) string {
	r.in.Seq++
	e.ID = r.in.ID + "/" + strconv.FormatInt(r.in.Seq, 10)
	if e.Kind != EffectEmit && e.Kind != EffectCancel {
		r.in.Pending[e.ID] = PendingEffect{Kind: e.Kind, Task: e.Task}
	}
	r.tr.Effects = append(r.tr.Effects, e)
	return e.ID
}

func (r *run) cancelEffect(id string) {
	if id == "" {
		return
	}
	if _, ok := r.in.Pending[id]; !ok {
		return
	}
	delete(r.in.Pending, id)
	r.in.Seq++
	r.tr.Effects = append(r.tr.Effects, Effect{ID: r.in.ID + "/" + strconv.FormatInt(r.in.Seq, 10), Kind: EffectCancel, Cancels: id})
}

func (r *run) cancelAllPending() {
	for _, id := range sortedPending(r.in.Pending) {
		r.cancelEffect(id)
	}
}

func (r *run) start() {
	in, wf := r.in, r.wf
	if wf.Input != nil {
		if err := r.validateSchema(wf.Input.Schema, in.Input, "/input/schema", "workflow input"); err != nil {
			r.fault(err.WithInstance("/input"))
			return
		}
	}
	input := in.Input
	if wf.Input != nil && wf.Input.From.IsSet() {
		v, err := r.evalValue(wf.Input.From, in.Input, r.vars(nil, nil, varsWorkflowInput))
		if err != nil {
			r.fault(err.WithInstance("/input/from"))
			return
		}
		input = v
	}
	if wf.Timeout != nil {
		d, err := r.timeoutDuration(wf.Timeout, in.Input)
		if err != nil {
			r.fault(err.WithInstance("/timeout"))
			return
		}
		in.TimeoutTimer = r.effect(Effect{Kind: EffectTimer, Due: r.now.Add(d), Reason: "timeout"})
	}
	in.Root = &Frame{Path: "/do", StartedAt: r.now, RawInput: input, Input: input, Data: input}
	r.advance()
}

// advance runs the root task list until it ends or blocks.
func (r *run) advance() {
	in := r.in
	if in.Root == nil {
		return
	}
	in.Status = StatusRunning
	out := r.list(in.Root, r.wf.Do, nil)
	switch out.kind {
	case blocked:
		in.Status = StatusWaiting
	case faulted:
		r.fault(out.err)
	case done:
		r.complete(in.Root.Data)
	}
}

func (r *run) complete(output any) {
	in, wf := r.in, r.wf
	if wf.Output != nil {
		if wf.Output.As.IsSet() {
			v, err := r.evalValue(wf.Output.As, output, r.vars(nil, nil, varsWorkflowOutput))
			if err != nil {
				r.fault(err.WithInstance("/output/as"))
				return
			}
			output = v
		}
		if err := r.validateSchema(wf.Output.Schema, output, "/output/schema", "workflow output"); err != nil {
			r.fault(err.WithInstance("/output"))
			return
		}
	}
	in.Output = output
	in.Status = StatusCompleted
	in.Root = nil
	r.cancelAllPending()
	r.end()
	r.history("workflow.completed", "", "", nil, nil)
}

func (r *run) fault(err *problem.Problem) {
	r.in.Error = err
	r.in.Status = StatusFaulted
	r.in.Root = nil
	r.cancelAllPending()
	r.end()
	r.history("workflow.faulted", "", "", nil, err)
}

func (r *run) end() {
	t := r.now
	r.in.EndedAt = &t
}

// deliver records a completion in the frame waiting for it. It reports
// whether the instance had been waiting for it.
func (r *run) deliver(c Completion) bool {
	in := r.in
	if c.Effect == in.TimeoutTimer && in.TimeoutTimer != "" {
		delete(in.Pending, c.Effect)
		in.TimeoutTimer = ""
		// The tasks still running are cut short by the workflow's fault.
		r.runningTasks(true, "task.cancelled")
		d := ""
		if r.wf.Timeout != nil && r.wf.Timeout.Timeout != nil {
			d = r.wf.Timeout.Timeout.After.Value.String()
		}
		r.fault(&problem.Problem{Type: problem.TypeTimeout, Status: 408, Title: "Workflow Timeout",
			Detail: fmt.Sprintf("the workflow did not finish within its timeout %s", d), Instance: "/"})
		return false
	}
	pe, ok := in.Pending[c.Effect]
	if !ok {
		return false
	}
	f := findFrame(in.Root, func(f *Frame) bool { return f.Effect == c.Effect || f.Timer == c.Effect })
	if f == nil {
		delete(in.Pending, c.Effect)
		return false
	}
	if f.Timer == c.Effect {
		delete(in.Pending, c.Effect)
		f.Timer = ""
		f.TimedOut = true
		return true
	}
	if pe.Kind == EffectSubscribe {
		// A subscription stays open: events queue up in its frame.
		if c.Seq > 0 {
			if c.Seq <= f.LastSeq {
				return false
			}
			f.LastSeq = c.Seq
			r.tr.Events = append(r.tr.Events, c.Seq)
		}
		cc := c
		f.Queue = append(f.Queue, cc)
		return true
	}
	delete(in.Pending, c.Effect)
	cc := c
	f.Result = &cc
	return true
}

// runningTasks records a history entry of type typ for every task that has
// started and not ended, so that a workflow-wide change (suspend, resume,
// cancel) shows on each task it touches. Inner tasks come first when
// innerFirst, as they end before the tasks that contain them.
func (r *run) runningTasks(innerFirst bool, typ string) {
	var walk func(f *Frame)
	walk = func(f *Frame) {
		if f == nil {
			return
		}
		// Frames without a name are task lists and extension runs, not tasks;
		// a task in phaseStart has not started.
		task := f.Name != "" && f.Phase > phaseStart && !f.Ended
		if task && !innerFirst {
			r.history(typ, f.Path, f.Name, nil, nil)
		}
		walk(f.Child)
		walk(f.Ext)
		for _, b := range f.Branches {
			walk(b)
		}
		if task && innerFirst {
			r.history(typ, f.Path, f.Name, nil, nil)
		}
	}
	walk(r.in.Root)
}

func findFrame(f *Frame, match func(*Frame) bool) *Frame {
	if f == nil {
		return nil
	}
	if match(f) {
		return f
	}
	if g := findFrame(f.Child, match); g != nil {
		return g
	}
	if g := findFrame(f.Ext, match); g != nil {
		return g
	}
	for _, b := range f.Branches {
		if g := findFrame(b, match); g != nil {
			return g
		}
	}
	return nil
}

// discard withdraws every pending effect of a frame subtree.
func (r *run) discard(f *Frame) {
	if f == nil {
		return
	}
	r.cancelEffect(f.Effect)
	r.cancelEffect(f.Timer)
	r.discard(f.Child)
	r.discard(f.Ext)
	for _, b := range f.Branches {
		r.discard(b)
	}
}
