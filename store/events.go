package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

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
	// Shop is the shop the event belongs to (package eventkey's ShopOf:
	// data.shop, else the shop extension attribute), "" for none; the
	// runtime sets it on ingest and emit, as it does Keys.
	Shop string
	// Keys are the event's correlation keys (package eventkey computes
	// them), indexed with the event when it is appended so that EventsByKey
	// finds it however many other events were logged since. A duplicate's
	// keys are not indexed again. Not read back.
	Keys []EventKey
	// Duplicate is set by AppendEvents when (Source, ID) was already logged;
	// Seq is then that of the first copy.
	Duplicate bool
}

// EventKey is one correlation key of an event: what the event is about
// (a checkout, an order, a customer) in which shop. Name says which key
// ("checkoutToken", "orderId", "email", "customerId"), Value is its
// normalised value.
type EventKey struct {
	Name  string
	Shop  string
	Value string
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

// EventLog is the append-only log of CloudEvents, with the positions its
// readers have reached.
type EventLog interface {
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
	// EventsByKey returns the logged events that carry key, of the given
	// types (nil: of any type; empty: none), newest first, at most limit. A
	// key with an empty Shop matches the key of every shop. It is an index
	// lookup: the events between do not count.
	EventsByKey(ctx context.Context, key EventKey, types []string, limit int) ([]Event, error)
	// Cursor returns the position a named reader of the log has reached.
	Cursor(ctx context.Context, name string) (int64, error)
	// SetCursor records a reader's position.
	SetCursor(ctx context.Context, name string, seq int64) error
}

// Batch is a reader's next step through the event log (ReadBatch).
type Batch struct {
	// Events are the wanted events after the reader's position, in order.
	Events []Event
	// Next is the position the reader has reached once it has handled
	// Events: the last one's seq, or the log's end when the read found every
	// wanted event up to it (none, or fewer than the limit), so that a
	// reader passes over the events it does not want.
	Next int64
	// Head is the log's end when the batch was read.
	Head int64
}

// ReadBatch reads the next batch of a reader of the log that is at after:
// up to limit events of the given types (nil: of any type). It is how every
// reader that follows the log (the runtime's matcher, event-log followers)
// steps through it. The log's end is read first: since every event up to
// it is visible (EventLog.LastEventSeq), a read that comes back short has
// seen all wanted events up to it.
func ReadBatch(ctx context.Context, log EventLog, after int64, types []string, limit int) (Batch, error) {
	head, err := log.LastEventSeq(ctx)
	if err != nil {
		return Batch{Next: after}, fmt.Errorf("read the end of the event log: %w", err)
	}
	events, err := log.ReadEventsOfTypes(ctx, after, types, limit)
	if err != nil {
		return Batch{Next: after, Head: head}, fmt.Errorf("read events after %d: %w", after, err)
	}
	b := Batch{Events: events, Next: after, Head: head}
	if n := len(events); n > 0 {
		b.Next = events[n-1].Seq
	}
	if len(events) < limit {
		b.Next = max(b.Next, head)
	}
	return b, nil
}

// EventQuery filters ListEvents. Results are newest first; Before, when not
// 0, is the Seq of the last event of the previous page. Limit is 100 when
// not set, and at most MaxEventPage.
type EventQuery struct {
	Type    string
	Shop    string
	Subject string
	Before  int64
	Limit   int
}

// MaxEventPage bounds one ListEvents: the API's largest page (1000) and
// one more, which tells whether another page follows.
const MaxEventPage = 1001

// EventLink records, with the commit of an instance's transition, that an
// event logged at Seq started the instance (Started) or was delivered to
// one of its listens (resumed it).
type EventLink struct {
	Seq     int64
	Started bool
}

// EventInstance is an instance an event started or resumed (EventLink),
// with what a list of them shows.
type EventInstance struct {
	Seq        int64
	Started    bool
	InstanceID string
	Namespace  string
	Name       string
	Version    string
	Status     string
}

// EventQueries browses the event log for people: newest first, by type,
// shop and subject, with the instances each event started or resumed.
type EventQueries interface {
	// ListEvents returns logged events newest first.
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)
	// EventInstances returns the instances the events at seqs started or
	// resumed (oldest instance first per event), at most perEvent of each
	// event.
	EventInstances(ctx context.Context, seqs []int64, perEvent int) ([]EventInstance, error)
}
