package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// Outbox returns items due by until, oldest first.
func (s *Store) Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.query(ctx, `SELECT id, instance_id, kind, payload, attempts, next_at FROM outbox WHERE next_at <= ? AND ((? >> slot) & 1) = 1 ORDER BY next_at, id LIMIT ?`,
		nanos(until), store.SlotMask(slots), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.OutboxItem
	for rows.Next() {
		var o store.OutboxItem
		var next int64
		if err := rows.Scan(&o.ID, &o.InstanceID, &o.Kind, &o.Payload, &o.Attempts, &next); err != nil {
			return nil, err
		}
		o.NextAt = fromNanos(next)
		out = append(out, o)
	}
	return out, rows.Err()
}

// RescheduleOutbox records a failed attempt.
func (s *Store) RescheduleOutbox(ctx context.Context, id string, attempts int, next time.Time) error {
	res, err := s.w.exec(ctx, `UPDATE outbox SET attempts = ?, next_at = ? WHERE id = ?`, attempts, nanos(next), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("outbox item %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeferOutbox moves an item to next unless it was woken since it was read
// at from.
func (s *Store) DeferOutbox(ctx context.Context, id string, from, next time.Time) (bool, error) {
	res, err := s.w.exec(ctx, `UPDATE outbox SET next_at = ? WHERE id = ? AND next_at = ?`, nanos(next), id, nanos(from))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
