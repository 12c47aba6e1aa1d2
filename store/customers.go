package store

import (
	"context"
	"time"
)

// Kinds of customer keys: what identifies a customer within a shop.
const (
	KeyPlatformID = "id"    // the shop platform's customer id
	KeyEmail      = "email" // normalised (trimmed, lower-case)
	KeyPhone      = "phone" // E.164 where it parses
)

// CustomerKey is one identity of a customer within a shop.
type CustomerKey struct {
	Kind  string
	Value string
}

// CustomerRecord is a customer's profile as the customers projection
// (package customer) stores it: the profile itself as JSON, and the columns
// lists filter on.
type CustomerRecord struct {
	Shop string
	ID   string
	// MergedInto is set when the profile turned out to be the same person
	// as another one and was merged into it: the record stays so that its
	// ID still resolves.
	MergedInto string
	Email      string
	Phone      string
	// Search is what a free-text query matches: lower-case names,
	// addresses and numbers.
	Search         string
	Orders         int
	LastOrderAt    time.Time // zero: never ordered
	OpenCheckoutAt time.Time // when the open checkout started; zero: none
	LastActivityAt time.Time
	// CreatedSeq is the log position of the profile's first event: of two
	// profiles that merge, the older survives.
	CreatedSeq int64
	Profile    []byte // JSON
	UpdatedAt  time.Time
	// Keys are the identities the profile owns; PutCustomer adds them to
	// those it had.
	Keys []CustomerKey
}

// CustomerOrder is what the customers projection keeps of one order, for
// the metrics of its customer.
type CustomerOrder struct {
	Shop       string
	OrderID    string
	CustomerID string
	Currency   string
	// NetE4 is what the order counts towards the total spent: its total
	// less refunds, in ten-thousandths of the currency.
	NetE4 int64
	// Counted is false for orders that count for nothing: cancelled, test
	// orders, or ones known only from a refund so far.
	Counted       bool
	CheckoutToken string
	Data          []byte // JSON: the projection's own facts of the order
}

// CustomerEvent is an event of a customer's activity.
type CustomerEvent struct {
	CustomerID string    `json:"-"`
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	Type       string    `json:"type"`
	At         time.Time `json:"at"`
	// Summary is a few facts of the event (an order's number and total,
	// a consent's state) as a JSON object.
	Summary []byte `json:"-"`
}

// CustomerQuery filters ListCustomers: the live (not merged) profiles of a
// shop, by ID, after the ID After, at most Limit, that match every filter
// set.
type CustomerQuery struct {
	Shop    string
	Key     *CustomerKey // owning this key
	Q       string       // Search containing this (lower-case) text
	After   string
	Limit   int
	Segment CustomerFilter
}

// CustomerFilter is a segment as columns: every condition set must hold.
type CustomerFilter struct {
	MinOrders   int // orders ≥ MinOrders
	OrdersBelow int // orders < OrdersBelow, when above 0
	// OrderedSince: no orders at all, or the last at or after it.
	OrderedSince time.Time
	// LastOrderBefore: the last order before it (so at least one).
	LastOrderBefore time.Time
	// CheckoutOpenBefore: an open checkout started before it.
	CheckoutOpenBefore time.Time
	// MinSpendE4 > 0: net spend in SpendCurrency (any one currency when
	// empty) of at least MinSpendE4 ten-thousandths.
	MinSpendE4    int64
	SpendCurrency string
}

// Customers reads the customers projection (package customer).
type Customers interface {
	// GetCustomer returns a profile by ID, a merged one too (see
	// MergedInto); ErrNotFound when there is none.
	GetCustomer(ctx context.Context, id string) (CustomerRecord, error)
	// CustomerByKey returns the live profile owning a key in a shop.
	CustomerByKey(ctx context.Context, shop string, key CustomerKey) (CustomerRecord, error)
	ListCustomers(ctx context.Context, q CustomerQuery) ([]CustomerRecord, error)
	// CustomerEvents returns a customer's latest events, newest first.
	CustomerEvents(ctx context.Context, customerID string, limit int) ([]CustomerEvent, error)
}

// CustomersTx writes the customers projection in a follower's batch; its
// reads see the batch's writes so far.
type CustomersTx interface {
	// CustomersByKeys returns the live profiles of a shop owning any of
	// the keys, oldest (CreatedSeq) first.
	CustomersByKeys(ctx context.Context, shop string, keys []CustomerKey) ([]CustomerRecord, error)
	// Customer returns a profile by ID (ErrNotFound when there is none).
	Customer(ctx context.Context, id string) (CustomerRecord, error)
	// PutCustomer creates or replaces a profile and adds its keys.
	PutCustomer(ctx context.Context, r CustomerRecord) error
	// MergeCustomer makes from a part of into: from's keys, orders, events
	// and the profiles merged into it go to into, and from is marked
	// merged. into's record is the caller's to update.
	MergeCustomer(ctx context.Context, from, into string) error
	// CustomerOrder returns an order (ErrNotFound when unknown).
	CustomerOrder(ctx context.Context, shop, orderID string) (CustomerOrder, error)
	PutCustomerOrder(ctx context.Context, o CustomerOrder) error
	// CustomerOrders returns a customer's orders.
	CustomerOrders(ctx context.Context, customerID string) ([]CustomerOrder, error)
	// CheckoutOrdered reports whether an order placed from the checkout is
	// known.
	CheckoutOrdered(ctx context.Context, shop, checkoutToken string) (bool, error)
	// AddCustomerEvent records an event of a customer (once per seq).
	AddCustomerEvent(ctx context.Context, e CustomerEvent) error
	// ClearCustomers removes every profile, key, order and event (a
	// rebuild).
	ClearCustomers(ctx context.Context) error
}
