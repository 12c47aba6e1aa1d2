package commerce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"time"
)

// Mapper holds what the events of one delivery share — platform, topic,
// shop, body, kept headers — and makes them, so that every adapter builds
// events and reports unmappable payloads alike.
type Mapper struct {
	Platform   string
	Topic      string
	Shop       string
	Body       []byte
	Extensions map[string]string
}

// Fail is the delivery's *UnmappableError.
func (m *Mapper) Fail(format string, args ...any) error {
	return Unmappable(m.Platform, m.Topic, format, args...)
}

// Decode reads the body into v; what names v in the error ("an order").
func (m *Mapper) Decode(v any, what string) error {
	if err := json.Unmarshal(m.Body, v); err != nil {
		return m.Fail("the body is not the JSON of %s: %v", what, err)
	}
	return nil
}

// Time reads the first of values that is set; field names them in the
// error. ok is false when none is set.
func (m *Mapper) Time(field string, values ...string) (t time.Time, ok bool, err error) {
	for _, v := range values {
		if v == "" {
			continue
		}
		t, err := ParseTime(v)
		if err != nil {
			return time.Time{}, false, m.Fail("%s: %v", field, err)
		}
		return t, true, nil
	}
	return time.Time{}, false, nil
}

// Canonical makes a canonical event of d, which occurred at occurred:
// it sets d's shop and occurredAt, validates d, and gives the event the
// delivery's source and extensions and the ordering o. Invalid data is the
// delivery's *UnmappableError.
func (m *Mapper) Canonical(typ, id, subject string, d Data, occurred time.Time, o Ordering) (Event, error) {
	d.Shop = m.Shop
	d.OccurredAt = Timestamp(occurred)
	e, err := NewEvent(typ, id, subject, d)
	if err != nil {
		return Event{}, m.Fail("%v", err)
	}
	e.Source = Source(m.Platform, m.Shop)
	e.Extensions = maps.Clone(m.Extensions)
	e.Ordering = o
	return e, nil
}

// Payload keeps the body as the data of the platform's own event type,
// "<platform>.<topic>", for a topic without a canonical mapping. When the
// body is an object it is also read into head (the fields the caller wants
// for the id and subject; fields that do not fit are left empty). The
// caller sets ID, Subject, Time and Ordering.
func (m *Mapper) Payload(head any) (Event, error) {
	body := bytes.TrimSpace(m.Body)
	if !json.Valid(body) {
		return Event{}, m.Fail("the body is not JSON")
	}
	if len(body) > 0 && body[0] == '{' && head != nil {
		_ = json.Unmarshal(body, head) // a field that does not fit simply stays empty
	}
	return Event{
		Source:     Source(m.Platform, m.Shop),
		Type:       m.Platform + "." + m.Topic,
		Shop:       m.Shop,
		Data:       json.RawMessage(body),
		Extensions: maps.Clone(m.Extensions),
	}, nil
}

// BodyHash tells deliveries apart by their body where the payload carries
// no id or version: a retry (the same body) gets the same hash.
func (m *Mapper) BodyHash() string {
	sum := sha256.Sum256(m.Body)
	return hex.EncodeToString(sum[:16])
}
