// Package store defines where storeflow keeps its durable state: workflow
// definitions, the event log, instances with their history, timers,
// subscriptions and the outbox of calls to make. Each backend (SQLite,
// PostgreSQL) implements Store and passes the shared storetest suite.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Errors a Store reports.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a change was based on an instance revision that is
	// no longer current: someone else advanced the instance.
	ErrConflict = errors.New("instance changed concurrently")
	// ErrDuplicateTrigger means an instance for the same trigger (event or
	// schedule tick) of the same workflow exists already.
	ErrDuplicateTrigger = errors.New("instance for this trigger exists")
	// ErrVersionExists means a workflow version was posted again with other
	// content: versions are immutable so that instances keep the definition
	// they started on.
	ErrVersionExists = errors.New("workflow version exists with different content")
)

// Workflow is one stored version of a definition.
type Workflow struct {
	Namespace string
	Name      string
	Version   string
	Source    []byte // the definition as posted (YAML or JSON)
	Digest    string // sha256 of Source, hex
	Enabled   bool
	CreatedAt time.Time
}

// Event is a CloudEvent in the append-only event log.
type Event struct {
	Seq        int64 // position in the log, assigned on append
	ID         string
	Source     string
	Type       string
	Subject    string
	Time       time.Time
	Envelope   []byte // the whole event, structured JSON form
	ReceivedAt time.Time
	// Duplicate is set by AppendEvents when (Source, ID) was already logged;
	// Seq is then that of the first copy.
	Duplicate bool
}

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

// Timer completes an instance's effect when due.
type Timer struct {
	ID         string // the effect ID
	InstanceID string
	Due        time.Time
}

// Subscription is a waiting listen, found by event type and correlation key.
type Subscription struct {
	ID         string // the effect ID
	InstanceID string
	EventType  string
	// CorrKey is the canonical form of the correlation values the listen
	// expects ("" when it expects none), so that matching is an index lookup.
	CorrKey string
	Since   time.Time
	Spec    []byte // the engine's subscription, JSON
}

// OutboxItem is an effect to perform after its transition committed.
type OutboxItem struct {
	ID         string // the effect ID, also its idempotency key
	InstanceID string
	Kind       string
	Payload    []byte
	Attempts   int
	NextAt     time.Time
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
	// Fence, when not 0, is the fence of the lease on the instance's slot
	// the change was computed under; the change is refused (ErrFenced)
	// unless that lease is still current.
	Fence int64
}

// InstanceQuery filters ListInstances. Results are newest first; After is
// the ID of the last instance of the previous page.
type InstanceQuery struct {
	Namespace, Name string
	Status          string
	Since, Until    time.Time
	After           string
	Limit           int
}

// StartGroup is a partial match of a `schedule.on.all` strategy: the events
// that have matched some of a workflow version's filters and share one set
// of correlation values. It lives in the store, not in memory, so that a
// restart keeps the matched events and pending groups do not fill memory.
type StartGroup struct {
	ID        string
	Namespace string
	Name      string
	Version   string
	// CorrKey is the canonical form of the correlation values the group's
	// events share ("" when the filters correlate nothing).
	CorrKey string
	// Events are the group's events, by slot (the index of the filter each
	// matched).
	Events []StartEvent
	// Closed means every filter has its event: the group starts an instance
	// and takes no more events.
	Closed    bool
	CreatedAt time.Time
}

// StartEvent is a logged event that filled one filter of a StartGroup.
type StartEvent struct {
	Slot     int
	Seq      int64
	Source   string
	ID       string
	Envelope []byte
}

// StartJoin asks JoinStartGroup to add an event to the open group of a
// workflow version and correlation key.
type StartJoin struct {
	Namespace, Name, Version string
	CorrKey                  string
	// Slots are the filters the event matches, in order of preference; it
	// fills the first one the group has not filled yet.
	Slots []int
	// Need is the number of filters; the group closes when all are filled.
	Need int
	// GroupID names the group when the event opens a new one.
	GroupID string
	Event   StartEvent
	At      time.Time
}

// Store is durable state. Every method is safe for concurrent use.
type Store interface {
	// PutWorkflow stores a version of a definition; the same source posted
	// again is no new version (created=false), other source under an
	// existing version is ErrVersionExists.
	PutWorkflow(ctx context.Context, w Workflow) (stored Workflow, created bool, err error)
	// GetWorkflow returns a version, or the latest one when version is "".
	GetWorkflow(ctx context.Context, namespace, name, version string) (Workflow, error)
	// ListWorkflows returns the latest version of every workflow.
	ListWorkflows(ctx context.Context) ([]Workflow, error)
	SetWorkflowEnabled(ctx context.Context, namespace, name string, enabled bool) error

	// AppendEvents logs events durably, deduplicating on (Source, ID).
	AppendEvents(ctx context.Context, events []Event) ([]Event, error)
	// ReadEvents returns logged events after a sequence number, in order;
	// with eventType set, only events of that type.
	ReadEvents(ctx context.Context, afterSeq int64, eventType string, limit int) ([]Event, error)
	// LastEventSeq returns the highest sequence number logged (0: none).
	// Every event up to it is visible to reads that follow.
	LastEventSeq(ctx context.Context) (int64, error)
	// ReadEventsOfTypes returns logged events of the given types (nil: of
	// any type; empty: none) after a sequence number, in order.
	ReadEventsOfTypes(ctx context.Context, afterSeq int64, types []string, limit int) ([]Event, error)
	// Cursor returns the position a named reader of the log has reached.
	Cursor(ctx context.Context, name string) (int64, error)
	// SetCursor records a reader's position.
	SetCursor(ctx context.Context, name string, seq int64) error

	// Commit applies changes in one transaction (group commit). The result
	// has one entry per change: nil, ErrConflict or ErrDuplicateTrigger; a
	// change with an error is skipped, the others commit. The error return
	// means nothing was committed.
	Commit(ctx context.Context, changes []Change) ([]error, error)
	GetInstance(ctx context.Context, id string) (Instance, error)
	ListInstances(ctx context.Context, q InstanceQuery) ([]Instance, error)
	History(ctx context.Context, instanceID string) ([]HistoryEntry, error)

	// DueTimers returns timers of instances in slots (nil: all) due at or
	// before until, earliest first, after the timer (afterDue, afterID)
	// exclusive: pages follow each other by passing the last timer of the
	// previous page (zero values: from the start).
	DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]Timer, error)
	// Subscriptions returns the subscriptions for an event type and key.
	Subscriptions(ctx context.Context, eventType, corrKey string) ([]Subscription, error)
	// SubscriptionTypes returns the event types some subscription waits for.
	SubscriptionTypes(ctx context.Context) ([]string, error)
	// ListeningWorkflows returns the definitions (namespace, name, version)
	// whose instances have subscriptions, so that a restarted runtime knows
	// how their listens correlate.
	ListeningWorkflows(ctx context.Context) ([][3]string, error)
	// JoinStartGroup adds an event to the open start group of a workflow
	// version and correlation key, opening one when there is none, and
	// returns the group the event is in. joined is false when the group has
	// already filled every slot the event could take. An event already in a
	// group of the workflow (the matcher repeating the log after a crash)
	// joins nothing again: that group is returned as it is.
	JoinStartGroup(ctx context.Context, j StartJoin) (g StartGroup, joined bool, err error)
	// StartGroups returns the open (still incomplete) start groups of a
	// workflow, oldest first, at most limit.
	StartGroups(ctx context.Context, namespace, name string, limit int) ([]StartGroup, error)
	// PruneStartGroups deletes closed groups whose events are all at or
	// before seq and before every slot's matcher position: the matchers
	// have passed them for good, so no repeat can ask for them again.
	PruneStartGroups(ctx context.Context, seq int64) error
	// Outbox returns items for instances in slots (nil: all) to perform at
	// or before until, oldest first.
	Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]OutboxItem, error)
	// RescheduleOutbox records a failed attempt and when to try again.
	RescheduleOutbox(ctx context.Context, id string, attempts int, next time.Time) error

	// ClaimSlots records the node's heartbeat, renews the leases it still
	// holds, and takes free or expired slots up to its fair share of the
	// live nodes. It returns the leases the node holds afterwards and that
	// share; a node above it should finish its work on the excess and give
	// it back (ReleaseSlots), so that joining nodes get theirs.
	ClaimSlots(ctx context.Context, c Claim) (Grant, error)
	// ReleaseSlots gives leases back at once, so that other nodes need not
	// wait for them to expire; with nil slots the node leaves altogether
	// (its heartbeat goes too).
	ReleaseSlots(ctx context.Context, node string, slots []int) error
	// SlotStates returns every slot: who holds it, until when, and how far
	// its events were matched.
	SlotStates(ctx context.Context) ([]SlotState, error)
	// SaveSlotCursor records that the node matched the event log up to seq
	// for the slots it still holds among slots.
	SaveSlotCursor(ctx context.Context, node string, slots []int, seq int64) error

	Close() error
}

// Notifier is implemented by stores several nodes share: it tells a node
// at once when another node added work it should look at, so that idle
// nodes need not poll tightly.
type Notifier interface {
	// Listen calls fn with a topic (TopicEvents, TopicWorkflows, or
	// TopicResync once listening and after a lost connection, when anything
	// before may have been missed) until ctx is done. It reconnects by
	// itself.
	Listen(ctx context.Context, fn func(topic string)) error
}

// Topics a Notifier reports.
const (
	TopicEvents    = "events"
	TopicWorkflows = "workflows"
	TopicResync    = "resync"
)

// FreeSlot returns the first of slots the group has not filled, or -1.
func (g StartGroup) FreeSlot(slots []int) int {
	for _, s := range slots {
		taken := false
		for _, e := range g.Events {
			if e.Slot == s {
				taken = true
				break
			}
		}
		if !taken {
			return s
		}
	}
	return -1
}

// NewStartGroup is the group an event opens, before it joins.
func NewStartGroup(j StartJoin) StartGroup {
	at := j.At
	if at.IsZero() {
		at = time.Now()
	}
	return StartGroup{ID: j.GroupID, Namespace: j.Namespace, Name: j.Name, Version: j.Version, CorrKey: j.CorrKey, CreatedAt: at.UTC()}
}

// WithDefaults fills what a store records for an event the caller left
// out: when it was received (now), its time (when received), and a minimal
// structured envelope.
func (e Event) WithDefaults() Event {
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = time.Now().UTC()
	}
	if e.Time.IsZero() {
		e.Time = e.ReceivedAt
	}
	if e.Envelope == nil {
		e.Envelope, _ = json.Marshal(map[string]any{"specversion": "1.0", "id": e.ID, "source": e.Source, "type": e.Type})
	}
	return e
}

// Rows is what both backends' query results offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// FoldStartGroups reads rows of (group id, namespace, name, version, corr
// key, closed, created nanos, event slot, seq, source, id, envelope),
// ordered by group, into groups. The caller closes rows.
func FoldStartGroups(rows Rows) ([]StartGroup, error) {
	var out []StartGroup
	for rows.Next() {
		var g StartGroup
		var e StartEvent
		var created int64
		if err := rows.Scan(&g.ID, &g.Namespace, &g.Name, &g.Version, &g.CorrKey, &g.Closed, &created, &e.Slot, &e.Seq, &e.Source, &e.ID, &e.Envelope); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != g.ID {
			g.CreatedAt = time.Unix(0, created).UTC()
			out = append(out, g)
		}
		last := &out[len(out)-1]
		last.Events = append(last.Events, e)
	}
	return out, rows.Err()
}
