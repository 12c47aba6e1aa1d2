package sending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/store"
)

// FactsCursor is the name of the facts follower's position in the event log.
const FactsCursor = "sending-facts"

// factTypes are the events the follower reads: consents, and orders for the
// conversion guard (a shop may send the paid order first).
var factTypes = []string{"commerce.consent.changed", "commerce.order.placed", "commerce.order.paid"}

const factsBatch = 1000

// Facts is an event-log follower that files consents and orders under the
// keys that name their customer (store.ContactFacts), and answers the
// sending rules' questions from that index: the latest consent of an
// address, an order since a checkout. Every answer first catches up with
// the log, so a consent or an order logged before the send is seen by it,
// however late its webhook came.
//
// Consent here is what commerce.consent.changed events say, the latest by
// the time it happened in the shop. Customer profiles, once they merge
// identities, can answer Consents instead; the conversion guard stays here.
type Facts struct {
	Store  FactStore
	Logger *slog.Logger

	mu sync.Mutex // one catch-up at a time in this process
}

// CatchUp files the facts of every event logged since the follower's
// cursor. Several nodes may catch up at once: facts are filed once, and the
// cursor only moves forward.
func (f *Facts) CatchUp(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	cursor, err := f.Store.Cursor(ctx, FactsCursor)
	if err != nil {
		return fmt.Errorf("sending facts: read cursor: %w", err)
	}
	for {
		evs, err := f.Store.ReadEventsOfTypes(ctx, cursor, factTypes, factsBatch)
		if err != nil {
			return fmt.Errorf("sending facts: read events after %d: %w", cursor, err)
		}
		if len(evs) == 0 {
			return nil
		}
		var facts []store.ContactFact
		for _, ev := range evs {
			got, err := FactsOf(ev)
			if err != nil {
				// A canonical event was checked against its schema on the way
				// in; one that still does not read is skipped, not retried
				// forever.
				f.logger().Warn("sending facts: event skipped", "seq", ev.Seq, "type", ev.Type, "err", err)
				continue
			}
			facts = append(facts, got...)
		}
		last := evs[len(evs)-1].Seq
		if err := f.Store.AddContactFacts(ctx, FactsCursor, last, facts); err != nil {
			return fmt.Errorf("sending facts: %w", err)
		}
		cursor = last
		if len(evs) < factsBatch {
			return nil
		}
	}
}

// FactStore is what the follower reads and fills: the event log and the
// index of contact facts.
type FactStore interface {
	store.EventLog
	store.ContactFacts
}

// Run catches up now and then until ctx ends, so that a send after a quiet
// spell finds little left to read.
func (f *Facts) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := f.CatchUp(ctx); err != nil && ctx.Err() == nil {
			f.logger().Error("sending facts: catch up", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *Facts) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.Default()
	}
	return f.Logger
}

// Consent returns the latest consent state of an address on a channel
// ("" when the log holds none).
func (f *Facts) Consent(ctx context.Context, shop, channel, address string) (string, error) {
	if err := f.CatchUp(ctx); err != nil {
		return "", err
	}
	fact, err := f.Store.LatestConsent(ctx, shop, addressKey(channel, address), channel)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("consent of %s: %w", address, err)
	}
	return fact.State, nil
}

// Converted reports whether the customer of a checkout ordered since it
// occurred: an order from the checkout itself (whenever the shop dates it),
// or an order of the same customer (id, email or phone) that occurred after
// the checkout did.
func (f *Facts) Converted(ctx context.Context, shop string, c Checkout) (*Conversion, error) {
	if err := f.CatchUp(ctx); err != nil {
		return nil, err
	}
	if c.Token != "" {
		fact, err := f.Store.OrderAfter(ctx, shop, []string{"checkout:" + c.Token}, time.Time{})
		if err == nil {
			return &Conversion{By: "checkout", OrderedAt: fact.OccurredAt}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("orders of checkout %s: %w", c.Token, err)
		}
	}
	keys := customerKeys(c.CustomerID, c.Email, c.Phone)
	if len(keys) == 0 {
		return nil, nil
	}
	fact, err := f.Store.OrderAfter(ctx, shop, keys, c.OccurredAt)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("orders since checkout %s: %w", c.Token, err)
	}
	return &Conversion{By: strings.SplitN(fact.Key, ":", 2)[0], OrderedAt: fact.OccurredAt}, nil
}

// FactsOf returns the contact facts an event holds: a consent filed under
// its address, an order under its checkout and its customer's keys.
func FactsOf(ev store.Event) ([]store.ContactFact, error) {
	var env struct {
		Time time.Time     `json:"time"`
		Data commerce.Data `json:"data"`
	}
	if err := json.Unmarshal(ev.Envelope, &env); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	d := env.Data
	if d.Shop == "" {
		return nil, errors.New("the event names no shop")
	}
	at := ev.Time
	if d.OccurredAt != "" {
		t, err := commerce.ParseTime(d.OccurredAt)
		if err != nil {
			return nil, fmt.Errorf("occurredAt: %w", err)
		}
		at = t
	}
	var c commerce.Customer
	if d.Customer != nil {
		c = *d.Customer
	}
	if ev.Type == "commerce.consent.changed" {
		var address string
		switch d.Channel {
		case ChannelEmail:
			address = c.Email
		case ChannelSMS:
			address = c.Phone
		}
		if address == "" {
			return nil, nil // a channel storeflow does not send on, or no address to file it under
		}
		return []store.ContactFact{{Shop: d.Shop, Key: addressKey(d.Channel, address), Kind: store.FactConsent, Seq: ev.Seq,
			OccurredAt: at, Channel: d.Channel, State: d.State}}, nil
	}
	keys := customerKeys(c.ID, c.Email, c.Phone)
	if d.CheckoutToken != "" {
		keys = append(keys, "checkout:"+d.CheckoutToken)
	}
	out := make([]store.ContactFact, 0, len(keys))
	for _, k := range keys {
		out = append(out, store.ContactFact{Shop: d.Shop, Key: k, Kind: store.FactOrder, Seq: ev.Seq, OccurredAt: at})
	}
	return out, nil
}

// addressKey is the key a channel's address is filed under.
func addressKey(channel, address string) string {
	if channel == ChannelSMS {
		return "phone:" + strings.TrimSpace(address)
	}
	return "email:" + commerce.NormalizeEmail(address)
}

func customerKeys(id, email, phone string) []string {
	var keys []string
	if id != "" {
		keys = append(keys, "customer:"+id)
	}
	if email != "" {
		keys = append(keys, addressKey(ChannelEmail, email))
	}
	if phone != "" {
		keys = append(keys, addressKey(ChannelSMS, phone))
	}
	return keys
}
