package sqlite

import (
	"context"
	"math"
	"time"

	"github.com/storeflow/storeflow/store"
)

// DueTimers returns timers due by until, earliest first.
func (s *Store) DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]store.Timer, error) {
	from := int64(math.MinInt64)
	if !afterDue.IsZero() {
		from = nanos(afterDue)
	}
	rows, err := s.query(ctx, `SELECT id, instance_id, due FROM timers WHERE (due, id) > (?, ?) AND due <= ? AND ((? >> slot) & 1) = 1 ORDER BY due, id LIMIT ?`,
		from, afterID, nanos(until), store.SlotMask(slots), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Timer
	for rows.Next() {
		var t store.Timer
		var due int64
		if err := rows.Scan(&t.ID, &t.InstanceID, &due); err != nil {
			return nil, err
		}
		t.Due = fromNanos(due)
		out = append(out, t)
	}
	return out, rows.Err()
}
