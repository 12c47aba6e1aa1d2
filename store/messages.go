package store

import (
	"context"
	"time"
)

// Statuses of a message in the message log.
const (
	// MessageSending: the sending rules let it go and the connector is
	// sending it (or a crash cut the call short; the runtime repeats it).
	MessageSending = "sending"
	MessageSent    = "sent"
	// MessageSuppressed: the sending rules stopped it for good (Reason).
	MessageSuppressed = "suppressed"
	// MessageDeferred: held (quiet hours, the send rate) and made later.
	MessageDeferred = "deferred"
	// MessageFailed: the connector failed (Reason is the problem's title).
	MessageFailed = "failed"
)

// Message is one message of a workflow to a customer, as the sending rules
// saw it: one row per call (its idempotency key), with its latest status.
type Message struct {
	// ID is time-ordered, given when the message is first recorded and kept
	// through its later statuses: the log lists by it.
	ID string
	// Key is the call's idempotency key: every attempt of the call is this
	// message.
	Key        string
	Shop       string
	Channel    string // email, sms
	Address    string // the recipient, normalised (lower-case email, E.164 phone)
	CustomerID string
	Workflow   string // namespace/name:version
	Instance   string
	Task       string
	Template   string
	Subject    string
	Category   string // transactional, marketing
	Status     string
	Reason     string
	// At is when the message got its status.
	At time.Time
}

// MessageQuery filters ListMessages: newest first, after the message of ID
// After, at most Limit (100 when 0).
type MessageQuery struct {
	Shop, Address, Instance string
	After                   string
	Limit                   int
}

// MessageClaim asks to send a message: it is recorded as MessageSending unless
// one of the bounds is reached.
type MessageClaim struct {
	Message Message
	// SmartSince, when not zero, refuses the claim if a marketing message
	// of the same shop on the same channel to the same address was sent or
	// is being sent at or after it (smart sending).
	SmartSince time.Time
	// RateLimit, when above 0, refuses the claim if that many messages of
	// the shop were sent or are being sent at or after RateSince.
	RateLimit int
	RateSince time.Time
}

// MessageClaimed is the answer to a MessageClaim.
type MessageClaimed struct {
	Granted bool
	// Recent is the marketing message within the smart-sending window that
	// refused the claim.
	Recent *Message
	// RateFull is set when the shop's send rate refused the claim; Oldest
	// is the time of the oldest message counted: a slot frees when it
	// leaves the window.
	RateFull bool
	Oldest   time.Time
}

// MessageLog is the per-customer log of messages sent, suppressed and
// deferred by the sending rules, which also read it to space marketing
// messages (smart sending) and to bound a shop's send rate.
type MessageLog interface {
	// ClaimMessage records a message as being sent unless smart sending or
	// the send rate refuses it; the check and the record are atomic, so two
	// nodes cannot both send within one window. The claim's own message
	// (same Key) never counts against it, so a repeated call is granted.
	ClaimMessage(ctx context.Context, c MessageClaim) (MessageClaimed, error)
	// PutMessage records a message's status, by Key: a message seen before
	// keeps its ID.
	PutMessage(ctx context.Context, m Message) error
	// GetMessage returns the message of an idempotency key (ErrNotFound).
	GetMessage(ctx context.Context, key string) (Message, error)
	ListMessages(ctx context.Context, q MessageQuery) ([]Message, error)
}

// Kinds of contact facts.
const (
	FactConsent = "consent"
	FactOrder   = "order"
)

// ContactFact is one thing the event log says about a customer that the
// sending rules must know at send time: a consent given or withdrawn on a
// channel, an order placed. A fact is filed under each key that names its
// customer: "email:ada@example.com", "phone:+4915123456789", "customer:<id>",
// and for orders "checkout:<token>".
type ContactFact struct {
	Shop string
	Key  string
	Kind string // FactConsent, FactOrder
	// Seq is the position of the event in the log.
	Seq int64
	// OccurredAt is when it happened in the shop (the data's occurredAt).
	OccurredAt time.Time
	Channel    string // consent: email, sms
	State      string // consent: subscribed, unsubscribed, not_subscribed …
}

// ContactFacts is the index of contact facts, filled by an event-log
// follower. It is never pruned: an unsubscription from years ago still
// holds after the event that recorded it is gone.
type ContactFacts interface {
	// AddContactFacts records facts and moves the follower's cursor to seq
	// (never back), in one transaction. A fact recorded before is kept as
	// it is, so two followers catching up at once do no harm.
	AddContactFacts(ctx context.Context, cursor string, seq int64, facts []ContactFact) error
	// LatestConsent returns the consent fact of a key and channel that
	// occurred last (of equal times, the later in the log); ErrNotFound
	// when there is none.
	LatestConsent(ctx context.Context, shop, key, channel string) (ContactFact, error)
	// OrderAfter returns the earliest order fact filed under one of keys
	// that occurred after since (any, when since is zero); ErrNotFound when
	// there is none.
	OrderAfter(ctx context.Context, shop string, keys []string, since time.Time) (ContactFact, error)
}
