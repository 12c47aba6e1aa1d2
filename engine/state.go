package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/problem"
)

// Status is the phase of an instance, as named by the DSL.
type Status string

// Instance statuses.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusWaiting   Status = "waiting"
	StatusSuspended Status = "suspended"
	StatusCompleted Status = "completed"
	StatusFaulted   Status = "faulted"
	StatusCancelled Status = "cancelled"
)

// Ended reports whether the status is final.
func (s Status) Ended() bool {
	return s == StatusCompleted || s == StatusFaulted || s == StatusCancelled
}

// WorkflowRef names the exact definition an instance runs.
type WorkflowRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

func (r WorkflowRef) String() string { return fmt.Sprintf("%s/%s:%s", r.Namespace, r.Name, r.Version) }

// Instance is the whole state of one run of a workflow. It is plain data:
// it serialises to JSON and resumes in any process.
type Instance struct {
	ID        string           `json:"id"`
	Workflow  WorkflowRef      `json:"workflow"`
	Status    Status           `json:"status"`
	Input     any              `json:"input"`
	Context   any              `json:"context"`
	Output    any              `json:"output,omitempty"`
	Error     *problem.Problem `json:"error,omitempty"`
	StartedAt time.Time        `json:"startedAt"`
	EndedAt   *time.Time       `json:"endedAt,omitempty"`
	Root      *Frame           `json:"root,omitempty"`
	// Seq numbers the instance's effects; an effect's ID is the instance ID
	// and its number, so a repeated call carries the same idempotency key.
	Seq int64 `json:"seq"`
	// TimeoutTimer is the effect ID of the workflow's timeout timer.
	TimeoutTimer string `json:"timeoutTimer,omitempty"`
	// Pending are the effects the instance waits on, by ID.
	Pending map[string]PendingEffect `json:"pending,omitempty"`
	// Inbox holds completions that arrived while the instance was suspended.
	Inbox []Completion `json:"inbox,omitempty"`
	// Parent is the instance, and its effect, waiting for this one to end
	// (`run: workflow`).
	Parent *ParentRef `json:"parent,omitempty"`
	// LogSeq is the event log's position when the instance started: a listen
	// looks back at the events logged since.
	LogSeq int64 `json:"logSeq,omitempty"`
	// Origin is set on an instance that events started (schedule.on).
	Origin *Origin `json:"origin,omitempty"`
}

// Origin tells what started an instance that events started: the time of
// the earliest of its triggering events, and their log positions. A
// listen correlated by an event key also looks back at correlated events
// logged before the instance started, if they occurred at or after this
// time (the runtime's look-back); the triggering events themselves are
// never delivered to it.
type Origin struct {
	Time   time.Time `json:"time"`
	Events []int64   `json:"events,omitempty"`
}

// Triggered reports whether the event at seq is one that started the
// instance.
func (o *Origin) Triggered(seq int64) bool { return o != nil && slices.Contains(o.Events, seq) }

// ParentRef names the effect of a parent instance that a child completes.
type ParentRef struct {
	Instance string `json:"instance"`
	Effect   string `json:"effect"`
}

// PendingEffect records an outstanding effect: what kind and which task.
type PendingEffect struct {
	Kind EffectKind `json:"kind"`
	Task string     `json:"task"`
}

// Frame is the progress of one task (or task list) in the tree of running
// tasks. Only the fields a task kind needs are set.
type Frame struct {
	Path      string    `json:"path"`
	Name      string    `json:"name,omitempty"`
	Phase     int       `json:"phase,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	RawInput  any       `json:"rawInput,omitempty"`
	Input     any       `json:"input,omitempty"`
	RawOutput any       `json:"rawOutput,omitempty"`
	Output    any       `json:"output,omitempty"`
	Flow      string    `json:"flow,omitempty"`

	// Lists: the current item, the data flowing through and the running child.
	Index int    `json:"index,omitempty"`
	Data  any    `json:"data,omitempty"`
	Child *Frame `json:"child,omitempty"`

	// Fork branches, one frame each; a nil entry has not started.
	Branches []*Frame `json:"branches,omitempty"`

	// For loops.
	Items []any `json:"items,omitempty"`
	Iter  int   `json:"iter,omitempty"`

	// Try: attempts made, when the first attempt started, the caught error.
	Attempt     int              `json:"attempt,omitempty"`
	FirstFailAt *time.Time       `json:"firstFailAt,omitempty"`
	Caught      *problem.Problem `json:"caught,omitempty"`

	// Leaves: the pending effect and what came back.
	Effect string      `json:"effect,omitempty"`
	Result *Completion `json:"result,omitempty"`
	// Listen: events consumed and events waiting for their foreach turn.
	Events []any        `json:"events,omitempty"`
	Queue  []Completion `json:"queue,omitempty"`
	// Matched marks the filters of an `all` that have matched; Corr holds
	// correlation values fixed by the first event when no `expect` was given.
	Matched []bool         `json:"matched,omitempty"`
	Corr    map[string]any `json:"corr,omitempty"`
	// Listening is set once the subscription is open; LastSeq is the log
	// position of the last event delivered to it.
	Listening bool  `json:"listening,omitempty"`
	LastSeq   int64 `json:"lastSeq,omitempty"`

	// Extensions: the indexes of the extensions that apply to this task,
	// the one running, and its task list's frame. Exited marks a list left
	// by `then: exit`.
	Exts    []int  `json:"exts,omitempty"`
	ExtData any    `json:"extData,omitempty"`
	ExtPos  int    `json:"extPos,omitempty"`
	Ext     *Frame `json:"ext,omitempty"`
	Exited  bool   `json:"exited,omitempty"`

	// Timer is the effect ID of this task's timeout timer.
	Timer    string           `json:"timer,omitempty"`
	TimedOut bool             `json:"timedOut,omitempty"`
	Ended    bool             `json:"ended,omitempty"`
	Faulted  *problem.Problem `json:"faulted,omitempty"`
}

// Marshal serialises an instance.
func (in *Instance) Marshal() ([]byte, error) { return json.Marshal(in) }

// Unmarshal restores an instance serialised by Marshal.
func Unmarshal(data []byte) (*Instance, error) {
	var in Instance
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("decode instance state: %w", err)
	}
	return &in, nil
}

// Completion is the result of an effect, fed back to the instance.
type Completion struct {
	Effect string           `json:"effect"`
	Output any              `json:"output,omitempty"`
	Error  *problem.Problem `json:"error,omitempty"`
	// Event is set when the completion delivers an event to a listen.
	Event map[string]any `json:"event,omitempty"`
	// Filter is the index of the filter the event matched (for `all`).
	Filter int `json:"filter,omitempty"`
	// Until marks an event matched by an `until` strategy.
	Until bool `json:"until,omitempty"`
	// Seq is the event's position in the runtime's log. Events reach a
	// listen in log order; one delivered twice (after a crash) is ignored.
	Seq int64 `json:"seq,omitempty"`
	// Note is a line the call asks for in the instance's history (a
	// suppressed message and its reason), written when the task takes the
	// output.
	Note *connector.Note `json:"note,omitempty"`
}

// EffectKind names what the runtime must do for an effect.
type EffectKind string

// Effect kinds.
const (
	EffectCall      EffectKind = "call"      // perform an outbound call, then complete with its output
	EffectTimer     EffectKind = "timer"     // complete at Due
	EffectSubscribe EffectKind = "subscribe" // deliver matching events until cancelled
	EffectEmit      EffectKind = "emit"      // publish Event; no completion
	EffectChild     EffectKind = "child"     // run a child workflow, then complete with its output
	EffectCancel    EffectKind = "cancel"    // the effect Cancels is no longer wanted
)

// Effect is something the runtime performs on the instance's behalf after
// the transition that produced it has been committed.
type Effect struct {
	ID           string         `json:"id"`
	Kind         EffectKind     `json:"kind"`
	Task         string         `json:"task,omitempty"`
	Due          time.Time      `json:"due,omitzero"`
	Call         *Call          `json:"call,omitempty"`
	Subscription *Subscription  `json:"subscription,omitempty"`
	Event        map[string]any `json:"event,omitempty"`
	Child        *ChildStart    `json:"child,omitempty"`
	Cancels      string         `json:"cancels,omitempty"`
	// Reason tells why a timer exists: "wait", "retry", "timeout".
	Reason string `json:"reason,omitempty"`
}

// IdempotencyKey identifies the effect across repeats: a crash between
// performing it and recording its completion repeats it with the same key.
func (e *Effect) IdempotencyKey() string { return e.ID }

// ChildStart asks the runtime to run a child workflow.
type ChildStart struct {
	Workflow WorkflowRef `json:"workflow"`
	Input    any         `json:"input"`
}

// Subscription describes the events a listen waits for. Correlation values
// are already evaluated, so matching needs no expression of the waiting
// instance except data filters.
type Subscription struct {
	// Workflow is the definition whose filters the subscription uses.
	Workflow WorkflowRef  `json:"workflow"`
	Filters  []EventMatch `json:"filters"`
	// Until are filters whose match ends an `any` consumption.
	Until []EventMatch `json:"until,omitempty"`
	// Since is when the instance started: events received since then may be
	// delivered, so that none is lost between start and listen.
	Since time.Time `json:"since"`
}

// EventMatch is one filter with its attributes and correlation values.
type EventMatch struct {
	// Attributes are exact-match context attributes (type, source, subject…).
	Attributes map[string]any `json:"attributes,omitempty"`
	// Correlate maps a key name to the value its expression must produce.
	Correlate map[string]any `json:"correlate,omitempty"`
	// HasDataFilter marks a filter whose `data` expression the engine checks.
	HasDataFilter bool `json:"hasDataFilter,omitempty"`
	// Path is the filter's place in the definition.
	Path string `json:"path"`
}

// HistoryEntry is one line of an instance's history, and the source of the
// DSL's lifecycle events.
type HistoryEntry struct {
	Time   time.Time        `json:"time"`
	Type   string           `json:"type"` // e.g. task.started, task.completed, workflow.faulted
	Task   string           `json:"task,omitempty"`
	Name   string           `json:"name,omitempty"`
	Detail any              `json:"detail,omitempty"`
	Error  *problem.Problem `json:"error,omitempty"`
}

// Transition is what one advance of an instance produced: its new state (the
// instance passed in, updated in place), effects to perform and history.
type Transition struct {
	Instance *Instance
	Effects  []Effect
	History  []HistoryEntry
	// Events are the log positions (Completion.Seq) of the events this
	// transition delivered to the instance's listens, for the record of
	// which events resumed which instances.
	Events []int64
}
