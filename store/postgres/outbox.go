package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// Outbox returns items due by until, oldest first.
func (s *Store) Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, kind, payload, attempts, next_at FROM outbox WHERE next_at <= $1 AND (($3::bigint >> slot) & 1) = 1 ORDER BY next_at, id LIMIT $2`,
		nanos(until), limit, store.SlotMask(slots))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.OutboxItem, error) {
		var o store.OutboxItem
		var next int64
		err := r.Scan(&o.ID, &o.InstanceID, &o.Kind, &o.Payload, &o.Attempts, &next)
		o.NextAt = fromNanos(next)
		return o, err
	})
}

// RescheduleOutbox records a failed attempt.
func (s *Store) RescheduleOutbox(ctx context.Context, id string, attempts int, next time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET attempts = $1, next_at = $2 WHERE id = $3`, attempts, nanos(next), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("outbox item %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeferOutbox moves an item to next unless it was woken since it was read
// at from.
func (s *Store) DeferOutbox(ctx context.Context, id string, from, next time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET next_at = $1 WHERE id = $2 AND next_at = $3`, nanos(next), id, nanos(from))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}
