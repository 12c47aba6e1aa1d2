package runtime

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// Lifecycle says which of the DSL's lifecycle CloudEvents the runtime records
// in its event log.
type Lifecycle string

// Lifecycle levels.
const (
	// LifecycleNone records none.
	LifecycleNone Lifecycle = "none"
	// LifecycleWorkflow records the workflow events (io.serverlessworkflow.workflow.*.v1).
	LifecycleWorkflow Lifecycle = "workflow"
	// LifecycleAll records the task events (io.serverlessworkflow.task.*.v1)
	// too: several events per task, so several rows per transition.
	LifecycleAll Lifecycle = "all"
)

// DefaultEventSource is the CloudEvents source of lifecycle events when
// Options.EventSource is empty.
const DefaultEventSource = "storeflow"

// ParseLifecycle reads a lifecycle level; "" is the default, workflow.
func ParseLifecycle(s string) (Lifecycle, error) {
	switch l := Lifecycle(s); l {
	case "":
		return LifecycleWorkflow, nil
	case LifecycleNone, LifecycleWorkflow, LifecycleAll:
		return l, nil
	}
	return "", fmt.Errorf("lifecycle events %q: use none, workflow or all", s)
}

// The DSL's lifecycle event types.
const (
	TypeWorkflowStarted              = "io.serverlessworkflow.workflow.started.v1"
	TypeWorkflowSuspended            = "io.serverlessworkflow.workflow.suspended.v1"
	TypeWorkflowResumed              = "io.serverlessworkflow.workflow.resumed.v1"
	TypeWorkflowCorrelationStarted   = "io.serverlessworkflow.workflow.correlation-started.v1"
	TypeWorkflowCorrelationCompleted = "io.serverlessworkflow.workflow.correlation-completed.v1"
	TypeWorkflowCancelled            = "io.serverlessworkflow.workflow.cancelled.v1"
	TypeWorkflowFaulted              = "io.serverlessworkflow.workflow.faulted.v1"
	TypeWorkflowCompleted            = "io.serverlessworkflow.workflow.completed.v1"
	TypeTaskCreated                  = "io.serverlessworkflow.task.created.v1"
	TypeTaskStarted                  = "io.serverlessworkflow.task.started.v1"
	TypeTaskSuspended                = "io.serverlessworkflow.task.suspended.v1"
	TypeTaskResumed                  = "io.serverlessworkflow.task.resumed.v1"
	TypeTaskRetried                  = "io.serverlessworkflow.task.retried.v1"
	TypeTaskCancelled                = "io.serverlessworkflow.task.cancelled.v1"
	TypeTaskFaulted                  = "io.serverlessworkflow.task.faulted.v1"
	TypeTaskCompleted                = "io.serverlessworkflow.task.completed.v1"
)

// QualifiedName is the name lifecycle events give an instance, shaped like
// the DSL reference's examples: "<workflow>-<instance id>.<namespace>".
func QualifiedName(in *engine.Instance) string {
	return in.Workflow.Name + "-" + in.ID + "." + in.Workflow.Namespace
}

// lifecycleEvents derives the lifecycle CloudEvents of a transition from its
// history, to be committed with it. rev is the revision the transition
// creates; an event's id is the instance, that revision, the history entry
// and the event type, so deriving the same transition again yields the same
// ids and the log (deduplicating on source and id) cannot hold two copies.
func (r *Runtime) lifecycleEvents(tr *engine.Transition, rev int64, now time.Time) []store.Event {
	level := r.opts.Lifecycle
	if level == LifecycleNone || len(tr.History) == 0 {
		return nil
	}
	in := tr.Instance
	name := QualifiedName(in)
	var out []store.Event
	add := func(i int, typ string, at time.Time, data map[string]any) {
		short := typ[len("io.serverlessworkflow.") : len(typ)-len(".v1")]
		id := in.ID + "/" + strconv.FormatInt(rev, 10) + "/" + strconv.Itoa(i) + "/" + short
		env := map[string]any{"specversion": "1.0", "id": id, "source": r.opts.EventSource, "type": typ,
			"subject": in.ID, "time": at.UTC().Format(time.RFC3339Nano), "datacontenttype": "application/json", "data": data}
		envelope, err := json.Marshal(env)
		if err != nil {
			// Only a value JSON cannot hold (a NaN from a correlation
			// expression) gets here; refusing the transition would leave
			// the instance stuck for good, so the event is the one lost.
			r.log.Error("encode lifecycle event", "instance", in.ID, "type", typ, "err", err)
			return
		}
		out = append(out, store.Event{ID: id, Source: r.opts.EventSource, Type: typ, Subject: in.ID, Time: at.UTC(), Envelope: envelope, ReceivedAt: now})
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	for i, h := range tr.History {
		at := h.Time
		if at.IsZero() {
			at = now
		}
		switch h.Type {
		case "workflow.started":
			add(i, TypeWorkflowStarted, at, map[string]any{"name": name,
				"definition": map[string]any{"name": in.Workflow.Name, "namespace": in.Workflow.Namespace, "version": in.Workflow.Version},
				"startedAt":  stamp(in.StartedAt)})
		case "workflow.suspended":
			add(i, TypeWorkflowSuspended, at, map[string]any{"name": name, "suspendedAt": stamp(at)})
		case "workflow.resumed":
			add(i, TypeWorkflowResumed, at, map[string]any{"name": name, "resumedAt": stamp(at)})
		case "correlation.started":
			add(i, TypeWorkflowCorrelationStarted, at, map[string]any{"name": name, "startedAt": stamp(at)})
		case "correlation.completed":
			data := map[string]any{"name": name, "completedAt": stamp(at)}
			if keys, ok := h.Detail.(map[string]any); ok && len(keys) > 0 {
				data["correlationKeys"] = keys
			}
			add(i, TypeWorkflowCorrelationCompleted, at, data)
		case "workflow.cancelled":
			add(i, TypeWorkflowCancelled, at, map[string]any{"name": name, "cancelledAt": stamp(at)})
		case "workflow.faulted":
			add(i, TypeWorkflowFaulted, at, map[string]any{"name": name, "faultedAt": stamp(at), "error": errorData(h, in)})
		case "workflow.completed":
			add(i, TypeWorkflowCompleted, at, map[string]any{"name": name, "completedAt": stamp(at)})
		}
		if level != LifecycleAll {
			continue
		}
		task := func(key string) map[string]any {
			return map[string]any{"workflow": name, "task": h.Task, key: stamp(at)}
		}
		switch h.Type {
		case "task.started":
			// The engine creates a task's frame and starts it in one step.
			add(i, TypeTaskCreated, at, task("createdAt"))
			add(i, TypeTaskStarted, at, task("startedAt"))
		case "task.completed", "task.skipped":
			// A task skipped by its `if` ends as completed, as the DSL has
			// no skipped phase.
			add(i, TypeTaskCompleted, at, task("completedAt"))
		case "task.faulted":
			data := task("faultedAt")
			data["error"] = errorData(h, in)
			add(i, TypeTaskFaulted, at, data)
		case "task.cancelled":
			add(i, TypeTaskCancelled, at, task("cancelledAt"))
		case "task.suspended":
			add(i, TypeTaskSuspended, at, task("suspendedAt"))
		case "task.resumed":
			add(i, TypeTaskResumed, at, task("resumedAt"))
		case "task.retried":
			add(i, TypeTaskRetried, at, task("retriedAt"))
		}
	}
	return out
}

// errorData is the problem details of a fault as the events carry it.
func errorData(h engine.HistoryEntry, in *engine.Instance) any {
	p := h.Error
	if p == nil {
		p = in.Error
	}
	if p == nil {
		return map[string]any{}
	}
	return p.Map()
}
