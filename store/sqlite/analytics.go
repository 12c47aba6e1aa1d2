package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/storeflow/storeflow/store"
)

// analyticsTx writes event counts in a follower's batch.
type analyticsTx projectionTx

// AddEventCounts adds to the counts of their shop, type and day.
func (a analyticsTx) AddEventCounts(ctx context.Context, counts []store.EventCount) error {
	for _, c := range counts {
		if _, err := a.tx.ExecContext(ctx, `INSERT INTO event_counts (shop, type, day, count) VALUES (?, ?, ?, ?)
			ON CONFLICT (shop, type, day) DO UPDATE SET count = count + excluded.count`, c.Shop, c.Type, c.Day, c.Count); err != nil {
			return fmt.Errorf("add event counts: %w", err)
		}
	}
	return nil
}

// ClearEventCounts removes every count.
func (a analyticsTx) ClearEventCounts(ctx context.Context) error {
	if _, err := a.tx.ExecContext(ctx, `DELETE FROM event_counts`); err != nil {
		return fmt.Errorf("clear event counts: %w", err)
	}
	return nil
}

// EventCounts returns the counts matching q.
func (s *Store) EventCounts(ctx context.Context, q store.EventCountQuery) ([]store.EventCount, error) {
	var where []string
	var args []any
	for _, f := range []struct{ cond, val string }{{"shop = ?", q.Shop}, {"type = ?", q.Type}, {"day >= ?", q.From}, {"day <= ?", q.To}} {
		if f.val != "" {
			where = append(where, f.cond)
			args = append(args, f.val)
		}
	}
	query := `SELECT shop, type, day, count FROM event_counts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY day, shop, type`, args...)
	if err != nil {
		return nil, fmt.Errorf("read event counts: %w", err)
	}
	defer rows.Close()
	out := []store.EventCount{}
	for rows.Next() {
		var c store.EventCount
		if err := rows.Scan(&c.Shop, &c.Type, &c.Day, &c.Count); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
