package commerce

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Event is one event an adapter made of a webhook: a CloudEvent in Go form.
type Event struct {
	// ID is stable for the fact the event reports, so that a repeated
	// delivery — or the same fact reported by two topics — gets the same
	// (Source, ID) and the event log keeps it once. Adapters document how
	// they derive it.
	ID string
	// Source is the platform and shop, "shopify://acme.myshopify.com".
	Source string
	// Type is a canonical type (Types) or a platform's own, kept as it came
	// ("shopify.orders/delete", "woocommerce.coupon.created").
	Type string
	// Subject is the id of the resource the event is about: the order id,
	// the checkout token, the customer id …
	Subject string
	// Time is when it happened in the shop (the data's occurredAt), UTC.
	Time time.Time
	// Shop is the shop the event belongs to, the "shop" extension attribute.
	Shop string
	// Data is the event's data, JSON. For a canonical type it has been
	// validated against the type's schema; a platform type carries the
	// webhook body as it came.
	Data json.RawMessage
	// Extensions are further CloudEvents extension attributes: the platform
	// headers kept with the event (shopifywebhookid, wcdeliveryid …).
	// Names are lower-case letters and digits.
	Extensions map[string]string
	// Ordering says which version of which resource the event carries.
	Ordering Ordering
}

// Ordering lets a later layer refuse older data than it holds: shops retry
// with the original payload and do not keep order, so a delivery can carry
// a resource older than one already seen.
type Ordering struct {
	// Key names the resource, "order/820982911946154508".
	Key string
	// At is the resource's version: its updated_at / date_modified, or the
	// time the shop triggered the delivery when the payload has none.
	At time.Time
}

// Supersedes reports whether o is a newer version of the same resource
// than p. Versions of different resources never supersede each other; an
// equal time is not newer, so a repeated delivery replaces nothing.
func (o Ordering) Supersedes(p Ordering) bool {
	return o.Key != "" && o.Key == p.Key && o.At.After(p.At)
}

// Delivery is what an adapter made of one webhook request.
type Delivery struct {
	Platform string
	Shop     string
	// Topic is the platform's name for what happened ("orders/create",
	// "order.updated").
	Topic string
	// Headers are the platform headers kept, by canonical header name.
	Headers map[string]string
	// Body is the raw request body, unchanged: the record of what the shop
	// sent, for the dead-letter list and replays.
	Body []byte
	// Events are the events the webhook maps to, in the order they
	// happened. A webhook that reports nothing new maps to none.
	Events []Event
}

var extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// reserved attributes cannot be set as extensions.
var reserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true, "shop": true,
	"orderingkey": true, "orderingtime": true,
}

// Envelope renders the event in CloudEvents 1.0 structured JSON: the
// attributes, the "shop" extension, the ordering as "orderingkey" and
// "orderingtime", the other extensions, and the data. The runtime ingests
// it as store.Event{ID: e.ID, Source: e.Source, Type: e.Type, Subject:
// e.Subject, Time: e.Time, Envelope: envelope}.
func (e Event) Envelope() ([]byte, error) {
	if e.ID == "" || e.Source == "" || e.Type == "" {
		return nil, fmt.Errorf("event %q from %q of type %q: a CloudEvent needs id, source and type", e.ID, e.Source, e.Type)
	}
	m := map[string]any{
		"specversion": "1.0",
		"id":          e.ID,
		"source":      e.Source,
		"type":        e.Type,
	}
	if e.Subject != "" {
		m["subject"] = e.Subject
	}
	if !e.Time.IsZero() {
		m["time"] = Timestamp(e.Time)
	}
	if e.Shop != "" {
		m["shop"] = e.Shop
	}
	if e.Ordering.Key != "" {
		m["orderingkey"] = e.Ordering.Key
		if !e.Ordering.At.IsZero() {
			m["orderingtime"] = Timestamp(e.Ordering.At)
		}
	}
	for k, v := range e.Extensions {
		if !extensionName.MatchString(k) || reserved[k] {
			return nil, fmt.Errorf("event %s: %q cannot be a CloudEvents extension attribute name (lower-case letters and digits, at most 20, not a reserved attribute)", e.ID, k)
		}
		m[k] = v
	}
	if len(e.Data) > 0 {
		if !json.Valid(e.Data) {
			return nil, fmt.Errorf("event %s: data is not JSON", e.ID)
		}
		m["datacontenttype"] = "application/json"
		m["data"] = e.Data
	}
	return json.Marshal(m)
}

// Source is the CloudEvents source of a platform's shop,
// "shopify://acme.myshopify.com".
func Source(platform, shop string) string { return platform + "://" + shop }

// NewEvent makes a canonical event of data (a Data, or any value that
// marshals to the type's data): it validates the data against the type's
// schema and takes Shop and Time from its shop and occurredAt. The caller
// sets Source, Ordering and Extensions.
func NewEvent(typ, id, subject string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("data of %s: %w", typ, err)
	}
	if err := Validate(typ, raw); err != nil {
		return Event{}, err
	}
	var head struct {
		Shop       string `json:"shop"`
		OccurredAt string `json:"occurredAt"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Event{}, fmt.Errorf("data of %s: %w", typ, err)
	}
	at, err := ParseTime(head.OccurredAt)
	if err != nil {
		return Event{}, fmt.Errorf("data of %s: occurredAt: %w", typ, err)
	}
	return Event{ID: id, Type: typ, Subject: subject, Time: at, Shop: head.Shop, Data: raw}, nil
}
