package store

import (
	"context"
	"encoding/json"
	"time"
)

// Statuses of a webhook delivery.
const (
	DeliveryAccepted   = "accepted"   // it became events
	DeliveryDeadLetter = "deadletter" // it could not be mapped; see Reason
	DeliveryReplayed   = "replayed"   // a dead letter that became events on replay
)

// WebhookDelivery is a shop's webhook as it was received: the raw body
// and headers kept beside the events it became, or on the dead-letter list
// with the reason it could not be mapped.
type WebhookDelivery struct {
	ID       string // time-ordered
	Shop     string
	Platform string
	Topic    string
	// Key is the delivery's identity at the platform (the events it maps
	// to): a repeated delivery with the same shop and key is kept once.
	// Empty for dead letters, which are kept each time.
	Key     string
	Headers []byte // JSON object of the headers kept
	Body    []byte
	Status  string
	Reason  string
	// Events are the events it became, as "source id" pairs.
	Events     []string
	ReceivedAt time.Time
	UpdatedAt  time.Time
}

// DeliveryQuery filters ListDeliveries: newest first, after the delivery
// of ID After, at most Limit.
type DeliveryQuery struct {
	Shop   string
	Status string
	After  string
	Limit  int
}

// Webhooks keeps webhook deliveries. Retention (Pruner) prunes them with
// the events.
type Webhooks interface {
	// PutDelivery records a delivery; with a Key, one of the same shop and
	// key that exists already is kept instead (recorded is false).
	PutDelivery(ctx context.Context, d WebhookDelivery) (recorded bool, err error)
	GetDelivery(ctx context.Context, id string) (WebhookDelivery, error)
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]WebhookDelivery, error)
	// ResolveDelivery records that a dead letter became events on replay
	// (ErrNotFound when it is no dead letter).
	ResolveDelivery(ctx context.Context, id string, events []string, at time.Time) error
}

// Stored returns the delivery as the backends store it: empty, not nil,
// headers and body, and its events as a JSON array.
func (d WebhookDelivery) Stored() (WebhookDelivery, string) {
	if d.Headers == nil {
		d.Headers = []byte("{}")
	}
	if d.Body == nil {
		d.Body = []byte{}
	}
	return d, EventRefs(d.Events)
}

// EventRefs encodes the events of a delivery as a JSON array.
func EventRefs(events []string) string {
	if len(events) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(events) // strings always encode
	return string(b)
}
