package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

func scanCustomer(row pgx.Row) (store.CustomerRecord, error) {
	var r store.CustomerRecord
	var lastOrder, openCheckout, lastActivity, updated int64
	err := row.Scan(&r.ID, &r.Shop, &r.MergedInto, &r.Email, &r.Phone, &r.Search, &r.Orders, &lastOrder, &openCheckout, &lastActivity, &r.CreatedSeq, &r.Profile, &updated)
	r.LastOrderAt, r.OpenCheckoutAt, r.LastActivityAt, r.UpdatedAt = fromOptNanos(lastOrder), fromOptNanos(openCheckout), fromOptNanos(lastActivity), fromOptNanos(updated)
	return r, err
}

func queryCustomers(ctx context.Context, q querier, query string, args ...any) ([]store.CustomerRecord, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CustomerRecord, error) { return scanCustomer(r) })
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	if out == nil {
		out = []store.CustomerRecord{}
	}
	return out, nil
}

func prefixed(p, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = p + c
	}
	return strings.Join(cols, ", ")
}

// GetCustomer returns a profile by ID.
func (s *Store) GetCustomer(ctx context.Context, id string) (store.CustomerRecord, error) {
	r, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("customer %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

// CustomerByKey returns the live profile owning a key.
func (s *Store) CustomerByKey(ctx context.Context, shop string, key store.CustomerKey) (store.CustomerRecord, error) {
	r, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+prefixed("c.", customerColumns)+` FROM customer_keys k JOIN customers c ON c.id = k.customer_id
		WHERE k.shop = $1 AND k.kind = $2 AND k.value = $3 AND c.merged_into = ''`, shop, key.Kind, key.Value))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("customer with %s %s in shop %s: %w", key.Kind, key.Value, shop, store.ErrNotFound)
	}
	return r, err
}

// ListCustomers returns the profiles matching q, by ID.
func (s *Store) ListCustomers(ctx context.Context, q store.CustomerQuery) ([]store.CustomerRecord, error) {
	var where []string
	var args []any
	// add appends a condition whose $ placeholders are written as ? in
	// order.
	add := func(cond string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		where = append(where, cond)
	}
	add(`c.shop = ?`, q.Shop)
	add(`c.merged_into = ''`)
	if q.Key != nil {
		add(`c.id IN (SELECT customer_id FROM customer_keys WHERE shop = ? AND kind = ? AND value = ?)`, q.Shop, q.Key.Kind, q.Key.Value)
	}
	if q.Q != "" {
		add(`strpos(c.search, ?) > 0`, strings.ToLower(q.Q))
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
		add(`EXISTS (SELECT 1 FROM customer_orders o WHERE o.customer_id = c.id AND o.counted AND (?::text = '' OR o.currency = ?)
			GROUP BY o.currency HAVING SUM(o.net_e4) >= ?)`, f.SpendCurrency, f.SpendCurrency, f.MinSpendE4)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	return queryCustomers(ctx, s.pool, fmt.Sprintf(`SELECT %s FROM customers c WHERE %s ORDER BY c.id LIMIT $%d`,
		prefixed("c.", customerColumns), strings.Join(where, " AND "), len(args)), args...)
}

// CustomerEvents returns a customer's latest events.
func (s *Store) CustomerEvents(ctx context.Context, customerID string, limit int) ([]store.CustomerEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT customer_id, seq, id, source, type, at, summary FROM customer_events WHERE customer_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("read customer events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CustomerEvent, error) {
		var e store.CustomerEvent
		var at int64
		err := r.Scan(&e.CustomerID, &e.Seq, &e.ID, &e.Source, &e.Type, &at, &e.Summary)
		e.At = fromOptNanos(at)
		return e, err
	})
	if out == nil {
		out = []store.CustomerEvent{}
	}
	return out, err
}

// customersTx writes the customers projection in a follower's batch.
type customersTx projectionTx

func (c customersTx) CustomersByKeys(ctx context.Context, shop string, keys []store.CustomerKey) ([]store.CustomerRecord, error) {
	if len(keys) == 0 {
		return []store.CustomerRecord{}, nil
	}
	kinds, values := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	return queryCustomers(ctx, c.tx, `SELECT `+customerColumns+` FROM customers WHERE merged_into = '' AND id IN
		(SELECT k.customer_id FROM customer_keys k JOIN unnest($2::text[], $3::text[]) AS u(kind, value) ON k.kind = u.kind AND k.value = u.value
		 WHERE k.shop = $1) ORDER BY created_seq, id`, shop, kinds, values)
}

func (c customersTx) Customer(ctx context.Context, id string) (store.CustomerRecord, error) {
	r, err := scanCustomer(c.tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("customer %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

func (c customersTx) PutCustomer(ctx context.Context, r store.CustomerRecord) error {
	if _, err := c.tx.Exec(ctx, `INSERT INTO customers (`+customerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (id) DO UPDATE SET shop = excluded.shop, merged_into = excluded.merged_into, email = excluded.email, phone = excluded.phone,
			search = excluded.search, orders = excluded.orders, last_order_at = excluded.last_order_at, open_checkout_at = excluded.open_checkout_at,
			last_activity_at = excluded.last_activity_at, created_seq = excluded.created_seq, profile = excluded.profile, updated_at = excluded.updated_at`,
		r.ID, r.Shop, r.MergedInto, r.Email, r.Phone, r.Search, r.Orders, optNanos(r.LastOrderAt), optNanos(r.OpenCheckoutAt), optNanos(r.LastActivityAt),
		r.CreatedSeq, r.Profile, optNanos(r.UpdatedAt)); err != nil {
		return fmt.Errorf("put customer %s: %w", r.ID, err)
	}
	if len(r.Keys) == 0 {
		return nil
	}
	kinds, values := make([]string, len(r.Keys)), make([]string, len(r.Keys))
	for i, k := range r.Keys {
		kinds[i], values[i] = k.Kind, k.Value
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO customer_keys (shop, kind, value, customer_id)
		SELECT DISTINCT $1, kind, value, $4 FROM unnest($2::text[], $3::text[]) AS u(kind, value)
		ON CONFLICT (shop, kind, value) DO UPDATE SET customer_id = excluded.customer_id`, r.Shop, kinds, values, r.ID); err != nil {
		return fmt.Errorf("put customer %s's keys: %w", r.ID, err)
	}
	return nil
}

func (c customersTx) MergeCustomer(ctx context.Context, from, into string) error {
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE customer_keys SET customer_id = $2 WHERE customer_id = $1`, []any{from, into}},
		{`UPDATE customer_orders SET customer_id = $2 WHERE customer_id = $1`, []any{from, into}},
		{`INSERT INTO customer_events (customer_id, seq, id, source, type, at, summary)
			SELECT $2, seq, id, source, type, at, summary FROM customer_events WHERE customer_id = $1 ON CONFLICT DO NOTHING`, []any{from, into}},
		{`DELETE FROM customer_events WHERE customer_id = $1`, []any{from}},
		{`UPDATE customers SET merged_into = $2 WHERE merged_into = $1 OR id = $1`, []any{from, into}},
	} {
		if _, err := c.tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("merge customer %s into %s: %w", from, into, err)
		}
	}
	return nil
}

const orderColumns = `shop, order_id, customer_id, currency, net_e4, counted, checkout_token, data`

func scanOrder(row pgx.Row) (store.CustomerOrder, error) {
	var o store.CustomerOrder
	err := row.Scan(&o.Shop, &o.OrderID, &o.CustomerID, &o.Currency, &o.NetE4, &o.Counted, &o.CheckoutToken, &o.Data)
	return o, err
}

func (c customersTx) CustomerOrder(ctx context.Context, shop, orderID string) (store.CustomerOrder, error) {
	o, err := scanOrder(c.tx.QueryRow(ctx, `SELECT `+orderColumns+` FROM customer_orders WHERE shop = $1 AND order_id = $2`, shop, orderID))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("order %s of shop %s: %w", orderID, shop, store.ErrNotFound)
	}
	return o, err
}

func (c customersTx) PutCustomerOrder(ctx context.Context, o store.CustomerOrder) error {
	if _, err := c.tx.Exec(ctx, `INSERT INTO customer_orders (`+orderColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (shop, order_id) DO UPDATE SET customer_id = excluded.customer_id, currency = excluded.currency, net_e4 = excluded.net_e4,
			counted = excluded.counted, checkout_token = excluded.checkout_token, data = excluded.data`,
		o.Shop, o.OrderID, o.CustomerID, o.Currency, o.NetE4, o.Counted, o.CheckoutToken, o.Data); err != nil {
		return fmt.Errorf("put order %s: %w", o.OrderID, err)
	}
	return nil
}

func (c customersTx) CustomerOrders(ctx context.Context, customerID string) ([]store.CustomerOrder, error) {
	rows, err := c.tx.Query(ctx, `SELECT `+orderColumns+` FROM customer_orders WHERE customer_id = $1 ORDER BY order_id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("read customer orders: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CustomerOrder, error) { return scanOrder(r) })
}

func (c customersTx) CheckoutOrdered(ctx context.Context, shop, token string) (bool, error) {
	var ok bool
	err := c.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM customer_orders WHERE shop = $1 AND checkout_token = $2 AND checkout_token <> '')`, shop, token).Scan(&ok)
	return ok, err
}

func (c customersTx) AddCustomerEvent(ctx context.Context, e store.CustomerEvent) error {
	summary := e.Summary
	if summary == nil {
		summary = []byte("{}")
	}
	if _, err := c.tx.Exec(ctx, `INSERT INTO customer_events (customer_id, seq, id, source, type, at, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`, e.CustomerID, e.Seq, e.ID, e.Source, e.Type, optNanos(e.At), summary); err != nil {
		return fmt.Errorf("add customer event: %w", err)
	}
	return nil
}

func (c customersTx) ClearCustomers(ctx context.Context) error {
	if _, err := c.tx.Exec(ctx, `TRUNCATE customers, customer_keys, customer_orders, customer_events`); err != nil {
		return fmt.Errorf("clear customers: %w", err)
	}
	return nil
}
