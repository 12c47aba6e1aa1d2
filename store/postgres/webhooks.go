package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

const deliveryColumns = `id, shop, platform, topic, key, headers, body, status, reason, events, received_at, updated_at`

// PutDelivery records a webhook delivery.
func (s *Store) PutDelivery(ctx context.Context, d store.WebhookDelivery) (bool, error) {
	d, events := d.Stored()
	tag, err := s.pool.Exec(ctx, `INSERT INTO webhook_deliveries (`+deliveryColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT DO NOTHING`, d.ID, d.Shop, d.Platform, d.Topic, d.Key, d.Headers, d.Body, d.Status, d.Reason, events,
		nanos(d.ReceivedAt), nanos(d.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("record webhook delivery: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

func scanDelivery(row pgx.Row) (store.WebhookDelivery, error) {
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
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("webhook delivery %s: %w", id, store.ErrNotFound)
	}
	return d, err
}

// ListDeliveries returns deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) ([]store.WebhookDelivery, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"shop = $%d", q.Shop}, {"status = $%d", q.Status}, {"id < $%d", q.After}} {
		if f.val != "" {
			args = append(args, f.val)
			where = append(where, fmt.Sprintf(f.col, len(args)))
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
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, query+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
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
	tag, err := s.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = $1, events = $2, updated_at = $3 WHERE id = $4 AND status = $5`,
		store.DeliveryReplayed, store.EventRefs(events), nanos(at), id, store.DeliveryDeadLetter)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("dead letter %s: %w", id, store.ErrNotFound)
	}
	return nil
}
