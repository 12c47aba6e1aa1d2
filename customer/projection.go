package customer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Name is the follower's name.
const Name = "customers"

// ShopFunc finds a shop's configuration (shop.Directory's Get); an unknown
// shop is an error wrapping store.ErrNotFound.
type ShopFunc func(ctx context.Context, id string) (*shop.Shop, error)

// Projection builds the profiles from the commerce events.
type Projection struct {
	// Shops gives a shop's country, in which phone numbers written without
	// a country code are read; nil: such numbers stay as written. The
	// adapters send E.164 already; events posted to /v1/events may not.
	Shops ShopFunc
}

// Name implements follower.Projection.
func (p *Projection) Name() string { return Name }

// types are the events a profile learns from.
var types = []string{
	"commerce.checkout.started", "commerce.checkout.updated", "commerce.consent.changed",
	"commerce.customer.created", "commerce.customer.updated", "commerce.form.submitted",
	"commerce.order.placed", "commerce.order.paid", "commerce.order.fulfilled", "commerce.order.delivered",
	"commerce.order.cancelled", "commerce.refund.created", "commerce.return.requested",
	"commerce.review.submitted", "commerce.quote.requested",
}

// Types implements follower.Projection.
func (p *Projection) Types() []string { return types }

// Reset clears every profile.
func (p *Projection) Reset(ctx context.Context, tx store.ProjectionTx) error {
	return tx.Customers().ClearCustomers(ctx)
}

// Form fields that give consent: a form that asks for it sends the field
// true (or "yes", "on", "subscribed") when the box was ticked.
var consentFields = map[string]string{"emailConsent": ChannelEmail, "smsConsent": ChannelSMS}

// event is what the projection reads of a commerce event.
type event struct {
	seq             int64
	id, source, typ string
	shop            string
	at              time.Time
	data            eventData
}

type eventData struct {
	commerce.Data
	FormID string         `json:"formId"`
	Fields map[string]any `json:"fields"`
}

func decode(ev store.Event) (event, bool) {
	var env struct {
		Shop string          `json:"shop"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(ev.Envelope, &env); err != nil {
		return event{}, false
	}
	e := event{seq: ev.Seq, id: ev.ID, source: ev.Source, typ: ev.Type, at: ev.Time}
	if len(env.Data) == 0 || json.Unmarshal(env.Data, &e.data) != nil {
		return event{}, false
	}
	e.shop = env.Shop
	if e.shop == "" {
		e.shop = e.data.Shop
	}
	if t, err := commerce.ParseTime(e.data.OccurredAt); err == nil && !t.IsZero() {
		e.at = t
	}
	if e.at.IsZero() {
		e.at = ev.ReceivedAt
	}
	return e, e.shop != ""
}

// Apply projects a batch of events into the profiles. Events that name no
// shop or no customer, or whose data cannot be read, are passed over.
func (p *Projection) Apply(ctx context.Context, tx store.ProjectionTx, events []store.Event) error {
	ap := &applier{p: p, tx: tx.Customers(), countries: map[string]string{}}
	for _, raw := range events {
		ev, ok := decode(raw)
		if !ok {
			continue
		}
		if err := ap.apply(ctx, ev); err != nil {
			return fmt.Errorf("event %s (%s/%s): %w", raw.Type, raw.Source, raw.ID, err)
		}
	}
	return nil
}

type applier struct {
	p         *Projection
	tx        store.CustomersTx
	countries map[string]string
}

func (a *applier) country(ctx context.Context, id string) (string, error) {
	if a.p.Shops == nil {
		return "", nil
	}
	if c, ok := a.countries[id]; ok {
		return c, nil
	}
	s, err := a.p.Shops(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s = &shop.Shop{}
	case err != nil:
		return "", fmt.Errorf("shop %s: %w", id, err)
	}
	a.countries[id] = s.Country
	return s.Country, nil
}

// identity is who an event is about.
type identity struct {
	id, email, phone, first, last string
}

func (i identity) keys() []store.CustomerKey {
	var out []store.CustomerKey
	if i.id != "" {
		out = append(out, store.CustomerKey{Kind: store.KeyPlatformID, Value: i.id})
	}
	if i.email != "" {
		out = append(out, store.CustomerKey{Kind: store.KeyEmail, Value: i.email})
	}
	if i.phone != "" {
		out = append(out, store.CustomerKey{Kind: store.KeyPhone, Value: i.phone})
	}
	return out
}

func (a *applier) apply(ctx context.Context, ev event) error {
	var who identity
	if c := ev.data.Customer; c != nil {
		country, err := a.country(ctx, ev.shop)
		if err != nil {
			return err
		}
		who = identity{id: strings.TrimSpace(c.ID), email: commerce.NormalizeEmail(c.Email), phone: commerce.NormalizePhone(c.Phone, country),
			first: strings.TrimSpace(c.FirstName), last: strings.TrimSpace(c.LastName)}
	}
	recs, err := a.tx.CustomersByKeys(ctx, ev.shop, who.keys())
	if err != nil {
		return err
	}
	// An order already known names its customer too: an event about it
	// without one (a refund) finds them, and one with another identity
	// shows that both are the same person.
	var known *store.CustomerOrder
	if ev.data.OrderID != "" {
		o, err := a.tx.CustomerOrder(ctx, ev.shop, ev.data.OrderID)
		switch {
		case err == nil:
			known = &o
			if o.CustomerID != "" && !slices.ContainsFunc(recs, func(r store.CustomerRecord) bool { return r.ID == o.CustomerID }) {
				r, err := a.tx.Customer(ctx, o.CustomerID)
				if err != nil {
					return fmt.Errorf("customer of order %s: %w", o.OrderID, err)
				}
				recs = append(recs, r)
				sort.SliceStable(recs, func(i, j int) bool {
					return recs[i].CreatedSeq < recs[j].CreatedSeq || recs[i].CreatedSeq == recs[j].CreatedSeq && recs[i].ID < recs[j].ID
				})
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	if len(recs) == 0 && len(who.keys()) == 0 {
		if ev.data.OrderID != "" && (ev.typ == "commerce.refund.created" || strings.HasPrefix(ev.typ, "commerce.order.")) {
			// Kept for the customer whose order event is still to come
			// (webhooks come out of order).
			_, err := a.order(ctx, &Profile{}, ev, known)
			return err
		}
		return nil // about nobody we can tell
	}
	var prof *Profile
	metrics := false
	if len(recs) == 0 {
		k := who.keys()[0]
		prof = &Profile{ID: newID(ev.shop, k.Kind, k.Value, ev.seq), Shop: ev.shop, Consent: map[string]*Consent{}, createdSeq: ev.seq, FirstSeenAt: ev.at,
			Metrics: Metrics{TotalSpent: map[string]string{}, AverageOrderValue: map[string]string{}}}
	} else {
		if prof, err = open(recs[0]); err != nil {
			return err
		}
		for _, r := range recs[1:] {
			other, err := open(r)
			if err != nil {
				return err
			}
			if err := a.tx.MergeCustomer(ctx, other.ID, prof.ID); err != nil {
				return err
			}
			prof.absorb(other)
			for k := range other.saved {
				prof.saved[k] = true // moved by the merge
			}
			metrics = true
		}
	}
	prof.observe(who, ev.at)
	summary := map[string]any{}
	switch {
	case ev.typ == "commerce.consent.changed":
		addr := who.email
		if ev.data.Channel != ChannelEmail {
			addr = who.phone
		}
		at := ev.at
		if t, err := commerce.ParseTime(ev.data.ConsentUpdatedAt); err == nil && !t.IsZero() {
			at = t
		}
		prof.setConsent(ev.data.Channel, ConsentChange{State: ev.data.State, Source: ev.data.CollectedFrom, OptInLevel: ev.data.OptInLevel,
			Address: addr, At: at, Event: ev.source + " " + ev.id})
		summary["channel"], summary["state"] = ev.data.Channel, ev.data.State
	case ev.typ == "commerce.form.submitted":
		for field, channel := range consentFields {
			if !truthy(ev.data.Fields[field]) {
				continue
			}
			addr := who.email
			if channel == ChannelSMS {
				addr = who.phone
			}
			prof.setConsent(channel, ConsentChange{State: StateSubscribed, Source: "form " + ev.data.FormID, Address: addr, At: ev.at, Event: ev.source + " " + ev.id})
		}
		summary["formId"] = ev.data.FormID
	case ev.typ == "commerce.customer.created" || ev.typ == "commerce.customer.updated":
		if !ev.data.Address.Empty() && !ev.at.Before(prof.Versions.Address) {
			prof.Address, prof.Versions.Address = ev.data.Address, ev.at
		}
		if ev.data.Tags != nil && !ev.at.Before(prof.Versions.Tags) {
			prof.Tags, prof.Versions.Tags = ev.data.Tags, ev.at
		}
	case ev.typ == "commerce.checkout.started" || ev.typ == "commerce.checkout.updated":
		if err := a.checkout(ctx, prof, ev); err != nil {
			return err
		}
		summary["checkoutToken"], summary["totalPrice"], summary["currency"] = ev.data.CheckoutToken, ev.data.TotalPrice, ev.data.Currency
	case strings.HasPrefix(ev.typ, "commerce.order.") || ev.typ == "commerce.refund.created":
		full, err := a.order(ctx, prof, ev, known)
		if err != nil {
			return err
		}
		metrics = metrics || full
		summary["orderId"], summary["orderNumber"], summary["currency"] = ev.data.OrderID, ev.data.OrderNumber, ev.data.Currency
		if ev.typ == "commerce.refund.created" {
			summary["amount"] = ev.data.Amount
		} else {
			summary["totalPrice"] = ev.data.TotalPrice
		}
	}
	if metrics {
		if err := a.metrics(ctx, prof); err != nil {
			return err
		}
	}
	if ev.at.After(prof.LastActivityAt) {
		prof.LastActivityAt = ev.at
	}
	if ev.at.Before(prof.FirstSeenAt) {
		prof.FirstSeenAt = ev.at
	}
	for k, v := range summary {
		if v == "" {
			delete(summary, k)
		}
	}
	sum, _ := json.Marshal(summary) // strings only
	if err := a.tx.AddCustomerEvent(ctx, store.CustomerEvent{CustomerID: prof.ID, Seq: ev.seq, ID: ev.id, Source: ev.source, Type: ev.typ, At: ev.at, Summary: sum}); err != nil {
		return err
	}
	return a.save(ctx, prof, ev.at)
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "yes", "on", "1", "subscribed":
			return true
		}
	case float64:
		return v == 1
	}
	return false
}

// observe takes who an event names into the profile; an event older than
// the data a part holds changes nothing of it but the lists of addresses.
func (p *Profile) observe(who identity, at time.Time) {
	p.PlatformIDs = addUnique(p.PlatformIDs, who.id)
	if who.email != "" {
		p.Emails = addUnique(p.Emails, who.email)
		if p.Email == "" || !at.Before(p.Versions.Email) {
			p.Email, p.Versions.Email = who.email, at
		}
	}
	if who.phone != "" {
		p.Phones = addUnique(p.Phones, who.phone)
		if p.Phone == "" || !at.Before(p.Versions.Phone) {
			p.Phone, p.Versions.Phone = who.phone, at
		}
	}
	if (who.first != "" || who.last != "") && !at.Before(p.Versions.Name) {
		p.FirstName, p.LastName, p.Versions.Name = who.first, who.last, at
	}
}

func (a *applier) checkout(ctx context.Context, p *Profile, ev event) error {
	token := ev.data.CheckoutToken
	if token == "" {
		return nil
	}
	if ev.data.CompletedAt != "" {
		p.closeCheckout(token)
		return nil
	}
	if slices.Contains(p.ClosedCheckouts, token) {
		return nil
	}
	ordered, err := a.tx.CheckoutOrdered(ctx, ev.shop, token)
	if err != nil {
		return err
	}
	if ordered {
		p.closeCheckout(token)
		return nil
	}
	if !p.Metrics.LastOrderAt.IsZero() && !p.Metrics.LastOrderAt.Before(ev.at) {
		return nil // the customer ordered after this
	}
	c := p.Checkout
	switch {
	case c != nil && c.Token == token:
		if ev.at.Before(c.StartedAt) {
			c.StartedAt = ev.at
		}
		if !ev.at.Before(c.UpdatedAt) {
			c.UpdatedAt, c.Currency, c.TotalPrice = ev.at, ev.data.Currency, ev.data.TotalPrice
			if ev.data.RecoveryURL != "" {
				c.RecoveryURL = ev.data.RecoveryURL
			}
		}
	case c == nil || !ev.at.Before(c.UpdatedAt):
		p.Checkout = &Checkout{Token: token, StartedAt: ev.at, UpdatedAt: ev.at, Currency: ev.data.Currency, TotalPrice: ev.data.TotalPrice, RecoveryURL: ev.data.RecoveryURL}
	}
	return nil
}

// order takes an order event (or a refund) into the order's record and the
// profile's metrics. full says the metrics must be computed again from all
// the customer's orders: the first or the last order changed.
func (a *applier) order(ctx context.Context, p *Profile, ev event, known *store.CustomerOrder) (full bool, err error) {
	d := ev.data
	o := &order{}
	if known != nil {
		if err := json.Unmarshal(known.Data, o); err != nil {
			return false, fmt.Errorf("order %s: %w", d.OrderID, err)
		}
	}
	// What the order counted for so far, if for this profile (one of
	// another had it merged in, which computes everything again).
	var before *order
	if known != nil && known.CustomerID == p.ID {
		b := *o
		b.Refunds = maps.Clone(o.Refunds)
		before = &b
	}
	if ev.typ == "commerce.refund.created" {
		if d.RefundID != "" && d.Amount != "" {
			if o.Refunds == nil {
				o.Refunds = map[string]string{}
			}
			amount, err := commerce.AbsDecimal(d.Amount)
			if err != nil {
				return false, nil // unreadable amount: nothing to take off
			}
			o.Refunds[d.RefundID] = amount
			if o.Currency == "" {
				o.Currency = d.Currency
			}
		}
	} else {
		o.Known = true
		if ev.typ == "commerce.order.cancelled" {
			o.Cancelled = true // an order is never uncancelled
		}
		if !ev.at.Before(o.At) {
			o.At, o.Test = ev.at, d.Test
			if d.Currency != "" && d.TotalPrice != "" {
				if _, err := commerce.Decimal(d.TotalPrice); err == nil {
					o.Currency, o.Total = d.Currency, d.TotalPrice
				}
			}
			if d.OrderNumber != "" {
				o.Number = d.OrderNumber
			}
		}
		if d.CheckoutToken != "" {
			o.CheckoutToken = d.CheckoutToken
		}
		switch {
		case ev.typ == "commerce.order.placed" && (!o.PlacedSeen || ev.at.Before(o.PlacedAt)):
			o.PlacedAt, o.PlacedSeen = ev.at, true
		case !o.PlacedSeen && (o.PlacedAt.IsZero() || ev.at.Before(o.PlacedAt)):
			o.PlacedAt = ev.at
		}
	}
	net, _, err := o.net()
	if err != nil {
		return false, fmt.Errorf("order %s: %w", d.OrderID, err)
	}
	netE4, err := toE4(net.FloatString(4))
	if err != nil {
		return false, err
	}
	data, err := json.Marshal(o)
	if err != nil {
		return false, err
	}
	if err := a.tx.PutCustomerOrder(ctx, store.CustomerOrder{Shop: ev.shop, OrderID: d.OrderID, CustomerID: p.ID, Currency: o.Currency,
		NetE4: netE4, Counted: o.counted(), CheckoutToken: o.CheckoutToken, Data: data}); err != nil {
		return false, err
	}
	if before != nil {
		if err := p.count(before, -1); err != nil {
			return false, err
		}
		extreme := before.PlacedAt.Equal(p.Metrics.FirstOrderAt) || before.PlacedAt.Equal(p.Metrics.LastOrderAt)
		full = before.counted() && extreme && (!o.counted() || !o.PlacedAt.Equal(before.PlacedAt))
	}
	if err := p.count(o, 1); err != nil {
		return false, err
	}
	if o.counted() {
		p.closeCheckout(o.CheckoutToken)
		if p.Checkout != nil && !o.PlacedAt.Before(p.Checkout.StartedAt) {
			p.Checkout = nil // ordered since the checkout started
		}
	}
	return full, nil
}

func (a *applier) metrics(ctx context.Context, p *Profile) error {
	rows, err := a.tx.CustomerOrders(ctx, p.ID)
	if err != nil {
		return err
	}
	orders := make([]*order, 0, len(rows))
	for _, r := range rows {
		o := &order{}
		if err := json.Unmarshal(r.Data, o); err != nil {
			return fmt.Errorf("order %s: %w", r.OrderID, err)
		}
		orders = append(orders, o)
	}
	if err := p.metricsOf(orders); err != nil {
		return err
	}
	m := p.Metrics
	if p.Checkout != nil && !m.LastOrderAt.IsZero() && !m.LastOrderAt.Before(p.Checkout.StartedAt) {
		p.Checkout = nil
	}
	return nil
}

// open reads a stored profile.
func open(r store.CustomerRecord) (*Profile, error) {
	p := &Profile{}
	if err := json.Unmarshal(r.Profile, p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", r.ID, err)
	}
	p.ID, p.Shop, p.createdSeq = r.ID, r.Shop, r.CreatedSeq
	p.saved = map[store.CustomerKey]bool{}
	for _, k := range p.keys() {
		p.saved[k] = true
	}
	if p.Consent == nil {
		p.Consent = map[string]*Consent{}
	}
	if p.Metrics.TotalSpent == nil {
		p.Metrics.TotalSpent = map[string]string{}
	}
	if p.Metrics.AverageOrderValue == nil {
		p.Metrics.AverageOrderValue = map[string]string{}
	}
	return p, nil
}

func (a *applier) save(ctx context.Context, p *Profile, at time.Time) error {
	p.Segments = nil // computed when read
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var keys []store.CustomerKey
	for _, k := range p.keys() {
		if !p.saved[k] {
			keys = append(keys, k)
		}
	}
	r := store.CustomerRecord{Shop: p.Shop, ID: p.ID, Email: p.Email, Phone: p.Phone, Search: p.search(), Orders: p.Metrics.Orders,
		LastOrderAt: p.Metrics.LastOrderAt, LastActivityAt: p.LastActivityAt, CreatedSeq: p.createdSeq, Profile: body, UpdatedAt: at, Keys: keys}
	if p.Checkout != nil {
		r.OpenCheckoutAt = p.Checkout.StartedAt
	}
	if err := a.tx.PutCustomer(ctx, r); err != nil {
		return err
	}
	if p.saved == nil {
		p.saved = map[store.CustomerKey]bool{}
	}
	for _, k := range keys {
		p.saved[k] = true
	}
	return nil
}

// keys are the identities the profile owns.
func (p *Profile) keys() []store.CustomerKey {
	keys := make([]store.CustomerKey, 0, len(p.PlatformIDs)+len(p.Emails)+len(p.Phones))
	for _, id := range p.PlatformIDs {
		keys = append(keys, store.CustomerKey{Kind: store.KeyPlatformID, Value: id})
	}
	for _, e := range p.Emails {
		keys = append(keys, store.CustomerKey{Kind: store.KeyEmail, Value: e})
	}
	for _, ph := range p.Phones {
		keys = append(keys, store.CustomerKey{Kind: store.KeyPhone, Value: ph})
	}
	return keys
}
