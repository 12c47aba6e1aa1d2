package store

import (
	"context"
	"time"
)

// Instance is the stored form of one workflow run.
type Instance struct {
	ID        string
	Namespace string
	Name      string
	Version   string
	Status    string
	State     []byte // the engine's instance, JSON
	// Rev counts commits of this instance; a change must name the revision
	// it was computed from (0 for a new instance).
	Rev        int64
	TriggerKey string // unique per workflow when set: "event:<source>/<id>", "cron:<tick>"
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// HistoryEntry is one line of an instance's history.
type HistoryEntry struct {
	InstanceID string
	Seq        int64 // order within the instance, assigned on commit
	Time       time.Time
	Type       string
	Task       string
	Data       []byte // JSON details
}

// Change is everything one transition of one instance produced. A Commit
// applies it entirely or not at all.
type Change struct {
	Instance         Instance
	History          []HistoryEntry
	AddTimers        []Timer
	DeleteTimers     []string
	AddSubscriptions []Subscription
	// DeleteSubscriptions removes subscriptions by ID, together with the
	// rows "<ID>#<n>" of a subscription with several filters.
	DeleteSubscriptions []string
	AddOutbox           []OutboxItem
	DeleteOutbox        []string
	Emit                []Event
	// Events are the logged events that started the instance or were
	// delivered to its listens by this transition (EventQueries).
	Events []EventLink
	// Fence, when not 0, is the fence of the lease on the instance's slot
	// the change was computed under; the change is refused (ErrFenced)
	// unless that lease is still current.
	Fence int64
}

// InstanceQuery filters ListInstances. Results are newest first; After is
// the ID of the last instance of the previous page. Limit is 100 when not
// set, and at most MaxInstancePage.
type InstanceQuery struct {
	Namespace, Name string
	Status          string
	Since, Until    time.Time
	After           string
	Limit           int
}

// MaxInstancePage bounds one ListInstances: the API's largest page (1000)
// and one more, which tells whether another page follows.
const MaxInstancePage = 1001

// Instances keeps workflow runs: their state, history and, through Commit,
// everything a transition produced.
type Instances interface {
	// Commit applies changes in one transaction (group commit). The result
	// has one entry per change: nil, ErrConflict or ErrDuplicateTrigger; a
	// change with an error is skipped, the others commit. The error return
	// means nothing was committed.
	Commit(ctx context.Context, changes []Change) ([]error, error)
	GetInstance(ctx context.Context, id string) (Instance, error)
	ListInstances(ctx context.Context, q InstanceQuery) ([]Instance, error)
	History(ctx context.Context, instanceID string) ([]HistoryEntry, error)
}
