// Package task holds approval tasks: a workflow hands a decision to a
// person or a role of its shop with the task.create built-in (package
// connector/tasks), and waits, durably, until someone completes or
// rejects it. The Service opens tasks for calls, sends their reminders and
// escalates them on the runtime's clock, and lets users claim, complete,
// reject and reassign them, recording every action with who and when.
//
// How the wait is durable: the call of task.create opens the task and
// defers itself (connector.Defer) until the task's next reminder or
// deadline, or for good when it has none. The call's outbox item is what
// waits, as any deferred call does, across restarts and nodes. Completing
// or rejecting the task makes that item due in the same transaction
// (store.TaskChange.Wake); the runtime performs the call again, finds the
// task done and completes the call with the answer, so the workflow goes
// on with it as the call's output. A plain DSL document needs nothing
// more than the call.
package task

import (
	"encoding/json"
	"time"

	"github.com/storeflow/storeflow/store"
)

// Task is an approval task as the API shows it.
type Task struct {
	ID          string    `json:"id"`
	Shop        string    `json:"shop"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Data        any       `json:"data,omitempty"`
	Form        *Form     `json:"form"`
	User        string    `json:"user,omitempty"`
	Role        string    `json:"role,omitempty"`
	Status      string    `json:"status"`
	ClaimedBy   string    `json:"claimedBy,omitempty"`
	Due         time.Time `json:"due,omitzero"`
	Overdue     bool      `json:"overdue"`
	Escalated   bool      `json:"escalated"`
	Plan        Plan      `json:"plan"`
	Answer      any       `json:"answer,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	By          string    `json:"by,omitempty"`
	At          time.Time `json:"at,omitzero"`
	Instance    string    `json:"instance"`
	Workflow    string    `json:"workflow,omitempty"`
	Position    string    `json:"position,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	History     []Entry   `json:"history,omitempty"`

	rev    int64
	callID string
}

// Plan is a task's schedule: when to remind, when to escalate to whom,
// and how far it has come.
type Plan struct {
	Reminders []time.Time `json:"reminders,omitempty"`
	// Reminded counts the reminders sent.
	Reminded   int       `json:"reminded"`
	EscalateAt time.Time `json:"escalateAt,omitzero"`
	EscalateTo string    `json:"escalateTo,omitempty"`
}

// Entry is one line of a task's history.
type Entry struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	By     string    `json:"by,omitempty"`
	Detail any       `json:"detail,omitempty"`
}

// Done reports whether the task has its outcome.
func (t *Task) Done() bool {
	switch t.Status {
	case store.TaskCompleted, store.TaskRejected, store.TaskCancelled:
		return true
	}
	return false
}

// next is the next moment the task has something to do by itself: a
// reminder or its escalation.
func (t *Task) next() (time.Time, bool) {
	var next time.Time
	ok := false
	consider := func(at time.Time) {
		if !at.IsZero() && (!ok || at.Before(next)) {
			next, ok = at, true
		}
	}
	if t.Plan.Reminded < len(t.Plan.Reminders) {
		consider(t.Plan.Reminders[t.Plan.Reminded])
	}
	if !t.Escalated {
		consider(t.Plan.EscalateAt)
	}
	return next, ok
}

func fromRecord(r store.TaskRecord, now time.Time) (*Task, error) {
	t := &Task{ID: r.ID, Shop: r.Shop, Title: r.Title, Description: r.Description, User: r.User, Role: r.Role, Status: r.Status,
		ClaimedBy: r.ClaimedBy, Due: r.DueAt, Escalated: r.Escalated, Reason: r.Reason, By: r.DoneBy, At: r.DoneAt, Instance: r.Instance,
		Workflow: r.Workflow, Position: r.Position, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, rev: r.Rev, callID: r.CallID}
	t.Overdue = !t.Done() && !t.Due.IsZero() && now.After(t.Due)
	for _, x := range []struct {
		b  []byte
		to any
	}{{r.Data, &t.Data}, {r.Answer, &t.Answer}, {r.Plan, &t.Plan}} {
		if len(x.b) > 0 {
			if err := json.Unmarshal(x.b, x.to); err != nil {
				return nil, err
			}
		}
	}
	t.Form = &Form{Schema: json.RawMessage(anyObject)}
	if len(r.Form) > 0 {
		if err := json.Unmarshal(r.Form, t.Form); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Task) record() (store.TaskRecord, error) {
	r := store.TaskRecord{ID: t.ID, CallID: t.callID, Shop: t.Shop, Instance: t.Instance, Workflow: t.Workflow, Position: t.Position,
		Title: t.Title, Description: t.Description, User: t.User, Role: t.Role, Status: t.Status, ClaimedBy: t.ClaimedBy, DueAt: t.Due,
		Escalated: t.Escalated, Reason: t.Reason, DoneBy: t.By, DoneAt: t.At, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Rev: t.rev}
	var err error
	if t.Data != nil {
		if r.Data, err = json.Marshal(t.Data); err != nil {
			return r, err
		}
	}
	if t.Answer != nil {
		if r.Answer, err = json.Marshal(t.Answer); err != nil {
			return r, err
		}
	}
	if r.Plan, err = json.Marshal(t.Plan); err != nil {
		return r, err
	}
	if r.Form, err = json.Marshal(t.Form); err != nil {
		return r, err
	}
	return r, nil
}

// Result is what the task.create call gives the workflow once the task
// is done.
func (t *Task) Result() map[string]any {
	answer := t.Answer
	if answer == nil {
		answer = map[string]any{}
	}
	out := map[string]any{"status": t.Status, "answer": answer, "by": t.By, "at": t.At.UTC().Format(time.RFC3339Nano),
		"task": t.ID, "escalated": t.Escalated}
	if t.Reason != "" {
		out["reason"] = t.Reason
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
