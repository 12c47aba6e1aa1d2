package customer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Directory reads the profiles the projection keeps. Profiles follow the
// event log closely but not in the same transaction: an event just logged
// shows in them a moment later.
type Directory struct {
	Store store.Customers
	// Shops gives a shop's segment thresholds, currency and country; nil
	// or an unknown shop: the defaults.
	Shops ShopFunc
	// Now is the time segments are computed at (time.Now by default).
	Now func() time.Time
	// Sync, when set, waits until the profiles have every event logged
	// before it was called (follower.Runner.CaughtUp, bounded); Find, and
	// so customer.get and Consent, call it first, so that a workflow sees
	// the order it was started by and the sending rules an unsubscription
	// of a moment ago. Its error fails the lookup.
	Sync func(ctx context.Context) error
}

// CatchUp waits, with Sync, until the profiles hold every event logged
// before the call; without a Sync it returns at once. Workflows list
// customers after it (customer.list), as they find them after it; the
// API's listings do not wait.
func (d *Directory) CatchUp(ctx context.Context) error {
	if d.Sync == nil {
		return nil
	}
	if err := d.Sync(ctx); err != nil {
		return fmt.Errorf("customer profiles are behind the event log: %w", err)
	}
	return nil
}

// ErrInvalid is a lookup or query that cannot be answered as asked.
var ErrInvalid = errors.New("invalid customer query")

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Directory) shop(ctx context.Context, id string) (*shop.Shop, error) {
	if d.Shops == nil {
		return nil, nil
	}
	s, err := d.Shops(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("shop %s: %w", id, err)
	}
	return s, nil
}

// view opens a record for a reader: with its segments at now.
func (d *Directory) view(ctx context.Context, r store.CustomerRecord, th *Thresholds) (*Profile, error) {
	p, err := open(r)
	if err != nil {
		return nil, err
	}
	if th == nil {
		s, err := d.shop(ctx, r.Shop)
		if err != nil {
			return nil, err
		}
		t := ThresholdsOf(s)
		th = &t
	}
	p.Segments = p.SegmentsAt(d.now(), *th)
	p.Versions, p.ClosedCheckouts, p.Totals = Versions{}, nil, nil
	return p, nil
}

// Get returns a profile by its ID. The ID of a profile merged into another
// gives the other.
func (d *Directory) Get(ctx context.Context, id string) (*Profile, error) {
	r, err := d.Store.GetCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.MergedInto != "" {
		if r, err = d.Store.GetCustomer(ctx, r.MergedInto); err != nil {
			return nil, err
		}
	}
	return d.view(ctx, r, nil)
}

// Lookup says how to find a customer in a shop: by ID (the platform's
// customer id, or the profile's own cus_… ID), by email or by phone; the
// first given is used.
type Lookup struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Find returns the profile of a customer of a shop (store.ErrNotFound
// when there is none).
func (d *Directory) Find(ctx context.Context, shopID string, l Lookup) (*Profile, error) {
	if shopID == "" {
		return nil, fmt.Errorf("%w: name the shop", ErrInvalid)
	}
	if d.Sync != nil {
		if err := d.Sync(ctx); err != nil {
			return nil, fmt.Errorf("customer profiles: %w", err)
		}
	}
	if id := strings.TrimSpace(l.ID); strings.HasPrefix(id, "cus_") {
		p, err := d.Get(ctx, id)
		if err == nil && p.Shop != shopID {
			return nil, fmt.Errorf("customer %s in shop %s: %w", id, shopID, store.ErrNotFound)
		}
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return p, err
		}
	}
	key, err := d.key(ctx, shopID, l)
	if err != nil {
		return nil, err
	}
	r, err := d.Store.CustomerByKey(ctx, shopID, key)
	if err != nil {
		return nil, err
	}
	return d.view(ctx, r, nil)
}

// key is the identity a lookup names, normalised as the profiles keep it.
func (d *Directory) key(ctx context.Context, shopID string, l Lookup) (store.CustomerKey, error) {
	switch {
	case strings.TrimSpace(l.ID) != "":
		return store.CustomerKey{Kind: store.KeyPlatformID, Value: strings.TrimSpace(l.ID)}, nil
	case strings.TrimSpace(l.Email) != "":
		return store.CustomerKey{Kind: store.KeyEmail, Value: commerce.NormalizeEmail(l.Email)}, nil
	case strings.TrimSpace(l.Phone) != "":
		s, err := d.shop(ctx, shopID)
		if err != nil {
			return store.CustomerKey{}, err
		}
		country := ""
		if s != nil {
			country = s.Country
		}
		return store.CustomerKey{Kind: store.KeyPhone, Value: commerce.NormalizePhone(l.Phone, country)}, nil
	}
	return store.CustomerKey{}, fmt.Errorf("%w: give an id, an email or a phone", ErrInvalid)
}

// Query asks for a page of a shop's customers, by ID.
type Query struct {
	Shop    string
	Email   string // owning this address
	Segment string // in this segment
	Q       string // names, addresses, numbers or ids containing this
	Limit   int    // 50 by default, at most 500
	After   string // the last ID of the previous page
	// LastOrderFrom and LastOrderBefore, when set, keep customers whose
	// last order was placed at or after the one and before the other.
	LastOrderFrom, LastOrderBefore time.Time
}

// List returns a page of profiles.
func (d *Directory) List(ctx context.Context, q Query) ([]*Profile, error) {
	if q.Shop == "" {
		return nil, fmt.Errorf("%w: name the shop (shop=)", ErrInvalid)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 500 {
		return nil, fmt.Errorf("%w: limit is at most 500", ErrInvalid)
	}
	s, err := d.shop(ctx, q.Shop)
	if err != nil {
		return nil, err
	}
	th := ThresholdsOf(s)
	sq := store.CustomerQuery{Shop: q.Shop, Q: strings.TrimSpace(q.Q), After: q.After, Limit: q.Limit}
	if q.Email != "" {
		sq.Key = &store.CustomerKey{Kind: store.KeyEmail, Value: commerce.NormalizeEmail(q.Email)}
	}
	if q.Segment != "" {
		if sq.Segment, err = th.filter(q.Segment, d.now()); err != nil {
			return nil, err
		}
	}
	if !q.LastOrderFrom.IsZero() || !q.LastOrderBefore.IsZero() {
		sq.Segment.MinOrders = max(sq.Segment.MinOrders, 1)
		if t := q.LastOrderFrom; t.After(sq.Segment.OrderedSince) {
			sq.Segment.OrderedSince = t
		}
		if t := q.LastOrderBefore; !t.IsZero() && (sq.Segment.LastOrderBefore.IsZero() || t.Before(sq.Segment.LastOrderBefore)) {
			sq.Segment.LastOrderBefore = t
		}
	}
	recs, err := d.Store.ListCustomers(ctx, sq)
	if err != nil {
		return nil, err
	}
	out := make([]*Profile, 0, len(recs))
	for _, r := range recs {
		p, err := d.view(ctx, r, &th)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// filter is a segment as the store filters it: the same rules as
// SegmentsAt.
func (t Thresholds) filter(segment string, now time.Time) (store.CustomerFilter, error) {
	lapsed := t.lapsedBefore(now)
	switch segment {
	case SegmentNew:
		return store.CustomerFilter{OrdersBelow: 2, OrderedSince: lapsed}, nil
	case SegmentRepeat:
		return store.CustomerFilter{MinOrders: 2, OrderedSince: lapsed}, nil
	case SegmentLapsed:
		return store.CustomerFilter{MinOrders: 1, LastOrderBefore: lapsed}, nil
	case SegmentCartAbandoner:
		return store.CustomerFilter{CheckoutOpenBefore: now.Add(-t.AbandonedAfter)}, nil
	case SegmentVIP:
		min, err := toE4(t.VIPSpend)
		if err != nil || min <= 0 {
			return store.CustomerFilter{}, fmt.Errorf("%w: the shop's VIP spend %q is no positive amount", ErrInvalid, t.VIPSpend)
		}
		return store.CustomerFilter{MinSpendE4: min, SpendCurrency: t.Currency}, nil
	}
	return store.CustomerFilter{}, fmt.Errorf("%w: segment %q: use one of %s", ErrInvalid, segment, strings.Join(Segments, ", "))
}

// Events returns a customer's latest events, newest first.
func (d *Directory) Events(ctx context.Context, id string, limit int) ([]store.CustomerEvent, error) {
	return d.Store.CustomerEvents(ctx, id, limit)
}

// Consent returns the marketing consent state of whoever has an address
// in a shop on a channel: for ChannelEmail an email address, for
// ChannelSMS (and whatsapp) a phone number (national numbers are read in
// the shop's country). Only StateSubscribed allows marketing messages. An
// address no profile has, or a channel without a record, is StateUnknown
// (no consent); err is only for a store that cannot answer. Sending rules
// call it before every marketing message.
func (d *Directory) Consent(ctx context.Context, shopID, channel, address string) (string, error) {
	c, err := d.ConsentOf(ctx, shopID, channel, address)
	if err != nil || c == nil {
		return StateUnknown, err
	}
	return c.State, nil
}

// ConsentOf is Consent with the record: source, time and history; nil when
// there is none.
func (d *Directory) ConsentOf(ctx context.Context, shopID, channel, address string) (*Consent, error) {
	l := Lookup{Phone: address}
	if channel == ChannelEmail {
		l = Lookup{Email: address}
	}
	if strings.TrimSpace(address) == "" {
		return nil, nil
	}
	p, err := d.Find(ctx, shopID, l)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrInvalid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := p.Consent[channel]
	if c == nil || c.State == "" {
		return nil, nil
	}
	c.History = slices.Clone(c.History)
	return c, nil
}

// Messages lists the messages sent to a customer and those suppressed
// (with the reason), newest first, for the profile API: the sending rules'
// message log provides it. Its result is shown as it marshals to JSON.
type Messages func(ctx context.Context, p *Profile, limit int) (any, error)
