package postgres

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// DueTimers returns timers due by until, after (afterDue, afterID).
func (s *Store) DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]store.Timer, error) {
	from := int64(math.MinInt64)
	if !afterDue.IsZero() {
		from = nanos(afterDue)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, due FROM timers WHERE (due, id) > ($1, $2) AND due <= $3 AND (($5::bigint >> slot) & 1) = 1 ORDER BY due, id LIMIT $4`,
		from, afterID, nanos(until), limit, store.SlotMask(slots))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Timer, error) {
		var t store.Timer
		var due int64
		err := r.Scan(&t.ID, &t.InstanceID, &due)
		t.Due = fromNanos(due)
		return t, err
	})
}
