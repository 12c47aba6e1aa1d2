// Package customer keeps customer profiles: per shop, who a customer is
// (identities merged by platform customer id, email and phone), their
// marketing consent per channel with its history, what they bought, and
// the segments they are in. Profiles are an event-log follower's projection
// (package follower) of the commerce events, so they can be rebuilt from
// the log; workflows read them with the customer.get built-in, sending
// rules ask Directory.Consent.
package customer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Channels of consent.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Consent states, as commerce.consent.changed has them. Only subscribed
// allows marketing; a channel without a record is StateUnknown.
const (
	StateSubscribed = "subscribed"
	StateUnknown    = "unknown"
)

// Segments a profile can be in.
const (
	SegmentNew           = "new"
	SegmentRepeat        = "repeat"
	SegmentVIP           = "vip"
	SegmentLapsed        = "lapsed"
	SegmentCartAbandoner = "cart_abandoner"
)

// Segments lists every segment.
var Segments = []string{SegmentNew, SegmentRepeat, SegmentVIP, SegmentLapsed, SegmentCartAbandoner}

// Profile is one customer of one shop.
type Profile struct {
	ID   string `json:"id"`
	Shop string `json:"shop"`
	// PlatformIDs are the shop platform's customer ids of the person.
	PlatformIDs []string `json:"platformIds,omitempty"`
	// Email and Phone are the newest known; Emails and Phones every one
	// seen, which all find the profile.
	Email     string            `json:"email,omitempty"`
	Emails    []string          `json:"emails,omitempty"`
	Phone     string            `json:"phone,omitempty"`
	Phones    []string          `json:"phones,omitempty"`
	FirstName string            `json:"firstName,omitempty"`
	LastName  string            `json:"lastName,omitempty"`
	Address   *commerce.Address `json:"address,omitempty"`
	Tags      []string          `json:"tags,omitempty"`
	// Consent is the marketing consent per channel (email, sms, whatsapp).
	Consent  map[string]*Consent `json:"consent"`
	Metrics  Metrics             `json:"metrics"`
	Checkout *Checkout           `json:"openCheckout,omitempty"`
	// Segments are computed when the profile is read, with its shop's
	// thresholds.
	Segments       []string  `json:"segments"`
	FirstSeenAt    time.Time `json:"firstSeenAt"`
	LastActivityAt time.Time `json:"lastActivityAt"`
	// MergedFrom are the profiles that turned out to be this person.
	MergedFrom []string `json:"mergedFrom,omitempty"`
	// Versions say when each part was last set (the occurredAt of its
	// event), so that older data, delivered late, never overwrites newer.
	Versions Versions `json:"versions,omitzero"`
	// ClosedCheckouts are tokens of the latest checkouts that were
	// completed or ordered from: a late copy of one never reopens it.
	ClosedCheckouts []string `json:"closedCheckouts,omitempty"`
	// Totals are the sums the metrics' amounts come from, by currency.
	Totals map[string]*Total `json:"totals,omitempty"`

	createdSeq int64
	// saved are the keys the store has for the profile already.
	saved map[store.CustomerKey]bool
}

// Versions are the times of the data each part of a profile holds.
type Versions struct {
	Email   time.Time `json:"email,omitzero"`
	Phone   time.Time `json:"phone,omitzero"`
	Name    time.Time `json:"name,omitzero"`
	Address time.Time `json:"address,omitzero"`
	Tags    time.Time `json:"tags,omitzero"`
}

// Consent is a customer's marketing consent on one channel.
type Consent struct {
	State      string    `json:"state"`
	Source     string    `json:"source,omitempty"` // where it was collected (the shop's form, storeflow's unsubscribe link …)
	OptInLevel string    `json:"optInLevel,omitempty"`
	At         time.Time `json:"at"` // when it changed
	// History holds every change seen, oldest first (the latest
	// maxHistory); one delivered late takes its place in time without
	// replacing a newer state.
	History []ConsentChange `json:"history"`
}

// ConsentChange is one change of consent.
type ConsentChange struct {
	State      string    `json:"state"`
	Source     string    `json:"source,omitempty"`
	OptInLevel string    `json:"optInLevel,omitempty"`
	Address    string    `json:"address,omitempty"`
	At         time.Time `json:"at"`
	// Event is the event that reported it, "source id".
	Event string `json:"event"`
}

const (
	maxHistory = 50
	maxClosed  = 10
)

// Metrics are what a customer bought. Cancelled and test orders count for
// nothing; refunds are taken off the total spent.
type Metrics struct {
	Orders int `json:"orders"`
	// TotalSpent and AverageOrderValue are decimal strings per currency.
	TotalSpent        map[string]string `json:"totalSpent"`
	AverageOrderValue map[string]string `json:"averageOrderValue"`
	FirstOrderAt      time.Time         `json:"firstOrderAt,omitzero"`
	LastOrderAt       time.Time         `json:"lastOrderAt,omitzero"`
}

// Checkout is a customer's open checkout: started, not completed, and no
// order since.
type Checkout struct {
	Token       string    `json:"token"`
	StartedAt   time.Time `json:"startedAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Currency    string    `json:"currency,omitempty"`
	TotalPrice  string    `json:"totalPrice,omitempty"`
	RecoveryURL string    `json:"recoveryUrl,omitempty"`
}

// Thresholds decide the segments of a shop's customers.
type Thresholds struct {
	// VIPSpend is the total spent from which a customer is a VIP, in
	// Currency (in any one currency when Currency is empty).
	VIPSpend       string
	Currency       string
	LapsedDays     int
	AbandonedAfter time.Duration
}

// ThresholdsOf are a shop's thresholds; nil gives the defaults.
func ThresholdsOf(s *shop.Shop) Thresholds {
	t := Thresholds{VIPSpend: shop.DefaultVIPSpend, LapsedDays: shop.DefaultLapsedDays, AbandonedAfter: shop.DefaultAbandonedAfter}
	if s == nil {
		return t
	}
	t.Currency = s.Currency
	if s.Segments.VIPSpend != "" {
		t.VIPSpend = s.Segments.VIPSpend
	}
	if s.Segments.LapsedDays > 0 {
		t.LapsedDays = s.Segments.LapsedDays
	}
	if d := s.Segments.AbandonedAfter.Duration; d > 0 {
		t.AbandonedAfter = d
	}
	return t
}

func (t Thresholds) lapsedBefore(now time.Time) time.Time {
	return now.Add(-time.Duration(t.LapsedDays) * 24 * time.Hour)
}

// SegmentsAt returns the segments the profile is in at now:
//   - new: fewer than two orders, and not lapsed (a contact who has not
//     bought yet, or a first-time buyer);
//   - repeat: two orders or more, and not lapsed;
//   - vip: a total spent of at least VIPSpend;
//   - lapsed: the last order more than LapsedDays ago;
//   - cart_abandoner: a checkout started more than AbandonedAfter ago, with
//     no order since.
func (p *Profile) SegmentsAt(now time.Time, t Thresholds) []string {
	out := []string{}
	m := p.Metrics
	lapsed := m.Orders > 0 && m.LastOrderAt.Before(t.lapsedBefore(now))
	switch {
	case lapsed:
		out = append(out, SegmentLapsed)
	case m.Orders < 2:
		out = append(out, SegmentNew)
	default:
		out = append(out, SegmentRepeat)
	}
	if p.isVIP(t) {
		out = append(out, SegmentVIP)
	}
	if p.Checkout != nil && p.Checkout.StartedAt.Before(now.Add(-t.AbandonedAfter)) {
		out = append(out, SegmentCartAbandoner)
	}
	sort.Strings(out)
	return out
}

func (p *Profile) isVIP(t Thresholds) bool {
	min, err := toE4(t.VIPSpend)
	if err != nil || min <= 0 {
		return false
	}
	for cur, total := range p.Metrics.TotalSpent {
		if t.Currency != "" && cur != t.Currency {
			continue
		}
		if n, err := toE4(total); err == nil && n >= min {
			return true
		}
	}
	return false
}

// toE4 is an amount in ten-thousandths, rounded half away from zero.
func toE4(amount string) (int64, error) {
	d, err := commerce.Decimal(amount)
	if err != nil {
		return 0, err
	}
	r, _ := new(big.Rat).SetString(d)
	r.Mul(r, big.NewRat(10000, 1))
	return strconv.ParseInt(r.FloatString(0), 10, 64)
}

// newID is a new profile's ID: derived from the shop, the identity it was
// first seen with and the event that was, so that a rebuild gives every
// profile the ID it had, and no two profiles ever get the same.
func newID(shop, kind, value string, seq int64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", shop, kind, value, seq)))
	return "cus_" + hex.EncodeToString(sum[:10])
}

func addUnique(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// setConsent records a change of consent: into the history always, as the
// current state only when it is not older than the current one.
func (p *Profile) setConsent(channel string, c ConsentChange) {
	if p.Consent == nil {
		p.Consent = map[string]*Consent{}
	}
	cur := p.Consent[channel]
	if cur == nil {
		cur = &Consent{History: []ConsentChange{}}
		p.Consent[channel] = cur
	}
	for _, h := range cur.History {
		if h.Event == c.Event && h.State == c.State {
			return // the same report again
		}
	}
	cur.History = append(cur.History, c)
	sort.SliceStable(cur.History, func(i, j int) bool { return cur.History[i].At.Before(cur.History[j].At) })
	if len(cur.History) > maxHistory {
		cur.History = cur.History[len(cur.History)-maxHistory:]
	}
	if cur.State == "" || !c.At.Before(cur.At) {
		cur.State, cur.Source, cur.OptInLevel, cur.At = c.State, c.Source, c.OptInLevel, c.At
	}
}

// absorb merges another profile of the same person into p.
func (p *Profile) absorb(o *Profile) {
	for _, id := range o.PlatformIDs {
		p.PlatformIDs = addUnique(p.PlatformIDs, id)
	}
	for _, e := range o.Emails {
		p.Emails = addUnique(p.Emails, e)
	}
	for _, ph := range o.Phones {
		p.Phones = addUnique(p.Phones, ph)
	}
	if o.Email != "" && (p.Email == "" || o.Versions.Email.After(p.Versions.Email)) {
		p.Email, p.Versions.Email = o.Email, o.Versions.Email
	}
	if o.Phone != "" && (p.Phone == "" || o.Versions.Phone.After(p.Versions.Phone)) {
		p.Phone, p.Versions.Phone = o.Phone, o.Versions.Phone
	}
	if (o.FirstName != "" || o.LastName != "") && (p.FirstName == "" && p.LastName == "" || o.Versions.Name.After(p.Versions.Name)) {
		p.FirstName, p.LastName, p.Versions.Name = o.FirstName, o.LastName, o.Versions.Name
	}
	if o.Address != nil && (p.Address == nil || o.Versions.Address.After(p.Versions.Address)) {
		p.Address, p.Versions.Address = o.Address, o.Versions.Address
	}
	if o.Tags != nil && (p.Tags == nil || o.Versions.Tags.After(p.Versions.Tags)) {
		p.Tags, p.Versions.Tags = o.Tags, o.Versions.Tags
	}
	for ch, c := range o.Consent {
		for _, h := range c.History {
			p.setConsent(ch, h)
		}
	}
	if o.Checkout != nil && (p.Checkout == nil || o.Checkout.UpdatedAt.After(p.Checkout.UpdatedAt)) {
		p.Checkout = o.Checkout
	}
	for _, t := range o.ClosedCheckouts {
		p.closeCheckout(t)
	}
	if p.FirstSeenAt.IsZero() || !o.FirstSeenAt.IsZero() && o.FirstSeenAt.Before(p.FirstSeenAt) {
		p.FirstSeenAt = o.FirstSeenAt
	}
	if o.LastActivityAt.After(p.LastActivityAt) {
		p.LastActivityAt = o.LastActivityAt
	}
	p.MergedFrom = addUnique(p.MergedFrom, o.ID)
	for _, id := range o.MergedFrom {
		p.MergedFrom = addUnique(p.MergedFrom, id)
	}
}

// closeCheckout records that a checkout was completed or ordered from.
func (p *Profile) closeCheckout(token string) {
	if token == "" {
		return
	}
	if p.Checkout != nil && p.Checkout.Token == token {
		p.Checkout = nil
	}
	if slices.Contains(p.ClosedCheckouts, token) {
		return
	}
	p.ClosedCheckouts = append(p.ClosedCheckouts, token)
	if len(p.ClosedCheckouts) > maxClosed {
		p.ClosedCheckouts = p.ClosedCheckouts[len(p.ClosedCheckouts)-maxClosed:]
	}
}

// search is the lower-case text a free-text query matches.
func (p *Profile) search() string {
	parts := []string{p.FirstName, p.LastName}
	parts = append(parts, p.Emails...)
	parts = append(parts, p.Phones...)
	parts = append(parts, p.PlatformIDs...)
	return strings.ToLower(strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " "))
}

// order is what the projection keeps of one order.
type order struct {
	Number        string            `json:"number,omitempty"`
	Currency      string            `json:"currency,omitempty"`
	Total         string            `json:"total,omitempty"`
	At            time.Time         `json:"at,omitzero"` // the version Total comes from
	PlacedAt      time.Time         `json:"placedAt,omitzero"`
	PlacedSeen    bool              `json:"placedSeen,omitempty"` // PlacedAt is the order.placed event's
	Known         bool              `json:"known,omitempty"`      // an order event was seen, not only a refund
	Cancelled     bool              `json:"cancelled,omitempty"`
	Test          bool              `json:"test,omitempty"`
	CheckoutToken string            `json:"checkoutToken,omitempty"`
	Refunds       map[string]string `json:"refunds,omitempty"` // refund id → amount
}

// net is the order's total less its refunds, never below 0.
func (o *order) net() (*big.Rat, int, error) {
	total, scale := new(big.Rat), 0
	if o.Total != "" {
		d, err := commerce.Decimal(o.Total)
		if err != nil {
			return nil, 0, err
		}
		total.SetString(d)
		scale = decimals(d)
	}
	for _, a := range o.Refunds {
		d, err := commerce.Decimal(a)
		if err != nil {
			return nil, 0, err
		}
		r, _ := new(big.Rat).SetString(d)
		total.Sub(total, r)
		scale = max(scale, decimals(d))
	}
	if total.Sign() < 0 {
		total.SetInt64(0)
	}
	return total, scale, nil
}

func (o *order) counted() bool { return o.Known && !o.Cancelled && !o.Test }

func decimals(d string) int {
	if i := strings.IndexByte(d, '.'); i >= 0 {
		return len(d) - i - 1
	}
	return 0
}

// Total is what a customer's counted orders in one currency add up to.
type Total struct {
	Sum    string `json:"sum"`
	Orders int64  `json:"orders"`
	Scale  int    `json:"scale"`
}

// count adds an order's contribution to the profile's metrics (sign 1) or
// takes it off (-1). Taking one off leaves the first and last order times
// as they were: the caller recomputes them (metricsOf) when the order was
// the first or the last.
func (p *Profile) count(o *order, sign int) error {
	if !o.counted() {
		return nil
	}
	m := &p.Metrics
	m.Orders += sign
	if sign > 0 {
		if m.FirstOrderAt.IsZero() || o.PlacedAt.Before(m.FirstOrderAt) {
			m.FirstOrderAt = o.PlacedAt
		}
		if o.PlacedAt.After(m.LastOrderAt) {
			m.LastOrderAt = o.PlacedAt
		}
	}
	if o.Currency == "" {
		return nil
	}
	net, scale, err := o.net()
	if err != nil {
		return err
	}
	if p.Totals == nil {
		p.Totals = map[string]*Total{}
	}
	t := p.Totals[o.Currency]
	if t == nil {
		t = &Total{Sum: "0"}
		p.Totals[o.Currency] = t
	}
	sum, ok := new(big.Rat).SetString(t.Sum)
	if !ok {
		return fmt.Errorf("total %q of %s is no number", t.Sum, o.Currency)
	}
	if sign > 0 {
		sum.Add(sum, net)
	} else {
		sum.Sub(sum, net)
	}
	t.Orders += int64(sign)
	t.Scale = max(t.Scale, scale)
	t.Sum = sum.FloatString(t.Scale)
	if t.Orders <= 0 {
		delete(p.Totals, o.Currency)
	}
	p.derive()
	return nil
}

// derive sets the amounts of the metrics from the totals.
func (p *Profile) derive() {
	p.Metrics.TotalSpent, p.Metrics.AverageOrderValue = map[string]string{}, map[string]string{}
	for cur, t := range p.Totals {
		sum, ok := new(big.Rat).SetString(t.Sum)
		if !ok || t.Orders <= 0 {
			continue
		}
		p.Metrics.TotalSpent[cur] = t.Sum
		p.Metrics.AverageOrderValue[cur] = sum.Quo(sum, big.NewRat(t.Orders, 1)).FloatString(t.Scale)
	}
}

// metricsOf computes a customer's metrics from all their orders.
func (p *Profile) metricsOf(orders []*order) error {
	p.Metrics, p.Totals = Metrics{}, nil
	for _, o := range orders {
		if err := p.count(o, 1); err != nil {
			return err
		}
	}
	p.derive()
	return nil
}

func (p *Profile) String() string { return fmt.Sprintf("customer %s of shop %s", p.ID, p.Shop) }
