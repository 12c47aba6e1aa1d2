package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
)

// optNanos stores a time that may be unset as 0.
func optNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func fromOptNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

const customerColumns = `id, shop, merged_into, email, phone, search, orders, last_order_at, open_checkout_at, last_activity_at, created_seq, profile, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanCustomer(row scanner) (store.CustomerRecord, error) {
	var r store.CustomerRecord
	var lastOrder, openCheckout, lastActivity, updated int64
	err := row.Scan(&r.ID, &r.Shop, &r.MergedInto, &r.Email, &r.Phone, &r.Search, &r.Orders, &lastOrder, &openCheckout, &lastActivity, &r.CreatedSeq, &r.Profile, &updated)
	r.LastOrderAt, r.OpenCheckoutAt, r.LastActivityAt, r.UpdatedAt = fromOptNanos(lastOrder), fromOptNanos(openCheckout), fromOptNanos(lastActivity), fromOptNanos(updated)
	return r, err
}

func queryCustomers(ctx context.Context, q queryer, query string, args ...any) ([]store.CustomerRecord, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	defer rows.Close()
	out := []store.CustomerRecord{}
	for rows.Next() {
		r, err := scanCustomer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// GetCustomer returns a profile by ID.
func (s *Store) GetCustomer(ctx context.Context, id string) (store.CustomerRecord, error) {
	r, err := scanCustomer(s.read.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("customer %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

// CustomerByKey returns the live profile owning a key.
func (s *Store) CustomerByKey(ctx context.Context, shop string, key store.CustomerKey) (store.CustomerRecord, error) {
	r, err := scanCustomer(s.read.QueryRowContext(ctx, `SELECT `+prefixed("c.", customerColumns)+` FROM customer_keys k JOIN customers c ON c.id = k.customer_id
		WHERE k.shop = ? AND k.kind = ? AND k.value = ? AND c.merged_into = ''`, shop, key.Kind, key.Value))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("customer with %s %s in shop %s: %w", key.Kind, key.Value, shop, store.ErrNotFound)
	}
	return r, err
}

func prefixed(p, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = p + c
	}
	return strings.Join(cols, ", ")
}

// ListCustomers returns the profiles matching q, by ID.
func (s *Store) ListCustomers(ctx context.Context, q store.CustomerQuery) ([]store.CustomerRecord, error) {
	where := []string{`c.shop = ?`, `c.merged_into = ''`}
	args := []any{q.Shop}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Key != nil {
		add(`c.id IN (SELECT customer_id FROM customer_keys WHERE shop = ? AND kind = ? AND value = ?)`, q.Shop, q.Key.Kind, q.Key.Value)
	}
	if q.Q != "" {
		add(`instr(c.search, ?) > 0`, strings.ToLower(q.Q))
	}
	if q.After != "" {
		add(`c.id > ?`, q.After)
	}
	f := q.Segment
	if f.MinOrders > 0 {
		add(`c.orders >= ?`, f.MinOrders)
	}
	if f.OrdersBelow > 0 {
		add(`c.orders < ?`, f.OrdersBelow)
	}
	if !f.OrderedSince.IsZero() {
		add(`(c.orders = 0 OR c.last_order_at >= ?)`, nanos(f.OrderedSince))
	}
	if !f.LastOrderBefore.IsZero() {
		add(`c.orders > 0 AND c.last_order_at < ?`, nanos(f.LastOrderBefore))
	}
	if !f.CheckoutOpenBefore.IsZero() {
		add(`c.open_checkout_at > 0 AND c.open_checkout_at < ?`, nanos(f.CheckoutOpenBefore))
	}
	if f.MinSpendE4 > 0 {
		add(`EXISTS (SELECT 1 FROM customer_orders o WHERE o.customer_id = c.id AND o.counted = 1 AND (? = '' OR o.currency = ?)
			GROUP BY o.currency HAVING SUM(o.net_e4) >= ?)`, f.SpendCurrency, f.SpendCurrency, f.MinSpendE4)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	return queryCustomers(ctx, s.read, `SELECT `+prefixed("c.", customerColumns)+` FROM customers c WHERE `+strings.Join(where, " AND ")+` ORDER BY c.id LIMIT ?`, args...)
}

// CustomerEvents returns a customer's latest events.
func (s *Store) CustomerEvents(ctx context.Context, customerID string, limit int) ([]store.CustomerEvent, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT customer_id, seq, id, source, type, at, summary FROM customer_events WHERE customer_id = ? ORDER BY at DESC, seq DESC LIMIT ?`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("read customer events: %w", err)
	}
	defer rows.Close()
	out := []store.CustomerEvent{}
	for rows.Next() {
		var e store.CustomerEvent
		var at int64
		if err := rows.Scan(&e.CustomerID, &e.Seq, &e.ID, &e.Source, &e.Type, &at, &e.Summary); err != nil {
			return nil, err
		}
		e.At = fromOptNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// customersTx writes the customers projection in a follower's batch.
type customersTx projectionTx

func (c customersTx) CustomersByKeys(ctx context.Context, shop string, keys []store.CustomerKey) ([]store.CustomerRecord, error) {
	if len(keys) == 0 {
		return []store.CustomerRecord{}, nil
	}
	conds := make([]string, len(keys))
	args := []any{shop}
	for i, k := range keys {
		conds[i] = `(kind = ? AND value = ?)`
		args = append(args, k.Kind, k.Value)
	}
	return queryCustomers(ctx, c.tx, `SELECT `+customerColumns+` FROM customers WHERE merged_into = '' AND id IN
		(SELECT customer_id FROM customer_keys WHERE shop = ? AND (`+strings.Join(conds, " OR ")+`)) ORDER BY created_seq, id`, args...)
}

func (c customersTx) Customer(ctx context.Context, id string) (store.CustomerRecord, error) {
	r, err := scanCustomer(c.tx.QueryRowContext(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("customer %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

func (c customersTx) PutCustomer(ctx context.Context, r store.CustomerRecord) error {
	if _, err := c.tx.ExecContext(ctx, `INSERT INTO customers (`+customerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET shop = excluded.shop, merged_into = excluded.merged_into, email = excluded.email, phone = excluded.phone,
			search = excluded.search, orders = excluded.orders, last_order_at = excluded.last_order_at, open_checkout_at = excluded.open_checkout_at,
			last_activity_at = excluded.last_activity_at, created_seq = excluded.created_seq, profile = excluded.profile, updated_at = excluded.updated_at`,
		r.ID, r.Shop, r.MergedInto, r.Email, r.Phone, r.Search, r.Orders, optNanos(r.LastOrderAt), optNanos(r.OpenCheckoutAt), optNanos(r.LastActivityAt),
		r.CreatedSeq, r.Profile, optNanos(r.UpdatedAt)); err != nil {
		return fmt.Errorf("put customer %s: %w", r.ID, err)
	}
	for _, k := range r.Keys {
		if _, err := c.tx.ExecContext(ctx, `INSERT INTO customer_keys (shop, kind, value, customer_id) VALUES (?, ?, ?, ?)
			ON CONFLICT (shop, kind, value) DO UPDATE SET customer_id = excluded.customer_id`, r.Shop, k.Kind, k.Value, r.ID); err != nil {
			return fmt.Errorf("put customer %s's keys: %w", r.ID, err)
		}
	}
	return nil
}

func (c customersTx) MergeCustomer(ctx context.Context, from, into string) error {
	for _, q := range []string{
		`UPDATE customer_keys SET customer_id = ?2 WHERE customer_id = ?1`,
		`UPDATE customer_orders SET customer_id = ?2 WHERE customer_id = ?1`,
		`UPDATE OR IGNORE customer_events SET customer_id = ?2 WHERE customer_id = ?1`,
		`DELETE FROM customer_events WHERE customer_id = ?1`,
		`UPDATE customers SET merged_into = ?2 WHERE merged_into = ?1 OR id = ?1`,
	} {
		if _, err := c.tx.ExecContext(ctx, q, from, into); err != nil {
			return fmt.Errorf("merge customer %s into %s: %w", from, into, err)
		}
	}
	return nil
}

func scanOrder(row scanner) (store.CustomerOrder, error) {
	var o store.CustomerOrder
	err := row.Scan(&o.Shop, &o.OrderID, &o.CustomerID, &o.Currency, &o.NetE4, &o.Counted, &o.CheckoutToken, &o.Data)
	return o, err
}

const orderColumns = `shop, order_id, customer_id, currency, net_e4, counted, checkout_token, data`

func (c customersTx) CustomerOrder(ctx context.Context, shop, orderID string) (store.CustomerOrder, error) {
	o, err := scanOrder(c.tx.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM customer_orders WHERE shop = ? AND order_id = ?`, shop, orderID))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("order %s of shop %s: %w", orderID, shop, store.ErrNotFound)
	}
	return o, err
}

func (c customersTx) PutCustomerOrder(ctx context.Context, o store.CustomerOrder) error {
	if _, err := c.tx.ExecContext(ctx, `INSERT INTO customer_orders (`+orderColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (shop, order_id) DO UPDATE SET customer_id = excluded.customer_id, currency = excluded.currency, net_e4 = excluded.net_e4,
			counted = excluded.counted, checkout_token = excluded.checkout_token, data = excluded.data`,
		o.Shop, o.OrderID, o.CustomerID, o.Currency, o.NetE4, o.Counted, o.CheckoutToken, o.Data); err != nil {
		return fmt.Errorf("put order %s: %w", o.OrderID, err)
	}
	return nil
}

func (c customersTx) CustomerOrders(ctx context.Context, customerID string) ([]store.CustomerOrder, error) {
	rows, err := c.tx.QueryContext(ctx, `SELECT `+orderColumns+` FROM customer_orders WHERE customer_id = ? ORDER BY order_id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("read customer orders: %w", err)
	}
	defer rows.Close()
	var out []store.CustomerOrder
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func (c customersTx) CheckoutOrdered(ctx context.Context, shop, token string) (bool, error) {
	var n int
	err := c.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_orders WHERE shop = ? AND checkout_token = ? AND checkout_token <> ''`, shop, token).Scan(&n)
	return n > 0, err
}

func (c customersTx) AddCustomerEvent(ctx context.Context, e store.CustomerEvent) error {
	summary := e.Summary
	if summary == nil {
		summary = []byte("{}")
	}
	if _, err := c.tx.ExecContext(ctx, `INSERT INTO customer_events (customer_id, seq, id, source, type, at, summary) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, e.CustomerID, e.Seq, e.ID, e.Source, e.Type, optNanos(e.At), summary); err != nil {
		return fmt.Errorf("add customer event: %w", err)
	}
	return nil
}

func (c customersTx) ClearCustomers(ctx context.Context) error {
	for _, t := range []string{"customers", "customer_keys", "customer_orders", "customer_events"} {
		if _, err := c.tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
	}
	return nil
}
