package store

import (
	"context"
	"errors"
	"time"
)

// Task statuses. Open and claimed tasks wait for an answer; the others
// are done.
const (
	TaskOpen      = "open"
	TaskClaimed   = "claimed"
	TaskCompleted = "completed"
	TaskRejected  = "rejected"
	// TaskCancelled is a task whose workflow stopped waiting for it (the
	// instance was cancelled, or the call's task timed out).
	TaskCancelled = "cancelled"
)

// ErrCallGone means the call a task answers is no longer pending: its
// instance stopped waiting for it. A change that would wake it is refused.
var ErrCallGone = errors.New("the workflow no longer waits for this task")

// TaskRecord is an approval task as stored (package task makes them).
type TaskRecord struct {
	ID string
	// CallID is the idempotency key of the task.create call that opened
	// the task, which is also the ID of that call's outbox item: one task
	// per call, and completing the task makes that item due.
	CallID      string
	Shop        string
	Instance    string
	Workflow    string
	Position    string // the JSON Pointer of the calling task
	Title       string
	Description string
	Data        []byte // JSON: what to review
	Form        []byte // JSON: the form of the answer
	User        string // assigned to a person …
	Role        string // … or to a role of the shop
	Status      string
	ClaimedBy   string
	DueAt       time.Time // zero: no due date
	Escalated   bool
	// Plan is the task's schedule (reminders, escalation) and how far it
	// has come, in package task's JSON.
	Plan      []byte
	Answer    []byte // JSON, when completed
	Reason    string // given when rejected
	DoneBy    string
	DoneAt    time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Rev counts changes of the task: an update names the revision it was
	// made from.
	Rev int64
}

// TaskEntry is one line of a task's history: who did what, when.
type TaskEntry struct {
	TaskID string
	Seq    int64 // order within the task, assigned when stored
	At     time.Time
	Action string // created, claimed, reassigned, reminded, escalated, completed, rejected, cancelled
	By     string // the user; empty for storeflow itself
	Detail []byte // JSON
}

// TaskChange is a task's new state with what goes with it, stored in one
// transaction.
type TaskChange struct {
	// Task is the new state. For UpdateTask its Rev is the revision it was
	// made from; the stored one becomes Rev+1.
	Task    TaskRecord
	Entries []TaskEntry
	// Events are logged with the change (deduplicated on source and id).
	Events []Event
	// Wake, when set, makes the task's call due at Wake, so that the
	// runtime performs it again and the workflow continues; see
	// Outbox.DeferOutbox. If the call is no longer pending the change is
	// refused with ErrCallGone.
	Wake time.Time
}

// TaskQuery filters ListTasks; every field set narrows the list. Results
// are newest first; After is the ID of the last task of the previous page.
type TaskQuery struct {
	Shop     string
	Statuses []string
	Role     string // assigned to this role
	// Mine is a user: tasks assigned to or claimed by them.
	Mine string
	// DueBefore keeps tasks with a due date before it.
	DueBefore time.Time
	// Visible, when set, keeps what a user may see.
	Visible *TaskVisibility
	After   string
	Limit   int // 100 when not set
}

// TaskVisibility is what one user may see: tasks assigned to or claimed
// by them, tasks of roles they hold in a shop, and every task of the shops
// they administer.
type TaskVisibility struct {
	User  string
	Roles []UserRole
	Shops []string
}

// Tasks keeps approval tasks and their history.
type Tasks interface {
	// CreateTask stores a new task with its first entries and events,
	// unless a task for its call exists: then it returns that one, and
	// created is false.
	CreateTask(ctx context.Context, c TaskChange) (t TaskRecord, created bool, err error)
	GetTask(ctx context.Context, id string) (TaskRecord, error)
	TaskByCall(ctx context.Context, callID string) (TaskRecord, error)
	ListTasks(ctx context.Context, q TaskQuery) ([]TaskRecord, error)
	// UpdateTask stores a task's new state if it is still at c.Task.Rev
	// (ErrConflict otherwise), with its entries, events and wake.
	UpdateTask(ctx context.Context, c TaskChange) error
	// TaskHistory returns a task's entries in order.
	TaskHistory(ctx context.Context, id string) ([]TaskEntry, error)
}
