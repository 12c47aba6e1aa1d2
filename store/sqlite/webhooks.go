package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
)

const deliveryColumns = `id, shop, platform, topic, key, headers, body, status, reason, events, received_at, updated_at`

// PutDelivery records a webhook delivery.
func (s *Store) PutDelivery(ctx context.Context, d store.WebhookDelivery) (bool, error) {
	d, events := d.Stored()
	res, err := s.w.exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, d.ID, d.Shop, d.Platform, d.Topic, d.Key, d.Headers, d.Body, d.Status, d.Reason, events,
		nanos(d.ReceivedAt), nanos(d.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("record webhook delivery: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func scanDelivery(row interface{ Scan(...any) error }) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var events string
	var received, updated int64
	if err := row.Scan(&d.ID, &d.Shop, &d.Platform, &d.Topic, &d.Key, &d.Headers, &d.Body, &d.Status, &d.Reason, &events, &received, &updated); err != nil {
		return d, err
	}
	d.ReceivedAt, d.UpdatedAt = fromNanos(received), fromNanos(updated)
	return d, json.Unmarshal([]byte(events), &d.Events)
}

// GetDelivery returns a delivery by id.
func (s *Store) GetDelivery(ctx context.Context, id string) (store.WebhookDelivery, error) {
	d, err := scanDelivery(s.read.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("webhook delivery %s: %w", id, store.ErrNotFound)
	}
	return d, err
}

// ListDeliveries returns deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) ([]store.WebhookDelivery, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"shop = ?", q.Shop}, {"status = ?", q.Status}, {"id < ?", q.After}} {
		if f.val != "" {
			where = append(where, f.col)
			args = append(args, f.val)
		}
	}
	query := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.WebhookDelivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ResolveDelivery marks a dead letter replayed.
func (s *Store) ResolveDelivery(ctx context.Context, id string, events []string, at time.Time) error {
	res, err := s.w.exec(ctx, `UPDATE webhook_deliveries SET status = ?, events = ?, updated_at = ? WHERE id = ? AND status = ?`,
		store.DeliveryReplayed, store.EventRefs(events), nanos(at), id, store.DeliveryDeadLetter)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dead letter %s: %w", id, store.ErrNotFound)
	}
	return nil
}
