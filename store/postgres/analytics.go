package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// analyticsTx writes event counts in a follower's batch.
type analyticsTx projectionTx

// AddEventCounts adds to the counts of their shop, type and day, in one
// statement.
func (a analyticsTx) AddEventCounts(ctx context.Context, counts []store.EventCount) error {
	if len(counts) == 0 {
		return nil
	}
	shops, types, days, ns := make([]string, len(counts)), make([]string, len(counts)), make([]string, len(counts)), make([]int64, len(counts))
	for i, c := range counts {
		shops[i], types[i], days[i], ns[i] = c.Shop, c.Type, c.Day, c.Count
	}
	// Rows of the same key would make ON CONFLICT touch a row twice: they
	// are summed first.
	if _, err := a.tx.Exec(ctx, `INSERT INTO event_counts (shop, type, day, count)
		SELECT shop, type, day, SUM(n) FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(shop, type, day, n)
		GROUP BY shop, type, day
		ON CONFLICT (shop, type, day) DO UPDATE SET count = event_counts.count + excluded.count`, shops, types, days, ns); err != nil {
		return fmt.Errorf("add event counts: %w", err)
	}
	return nil
}

// ClearEventCounts removes every count.
func (a analyticsTx) ClearEventCounts(ctx context.Context) error {
	if _, err := a.tx.Exec(ctx, `DELETE FROM event_counts`); err != nil {
		return fmt.Errorf("clear event counts: %w", err)
	}
	return nil
}

// EventCounts returns the counts matching q.
func (s *Store) EventCounts(ctx context.Context, q store.EventCountQuery) ([]store.EventCount, error) {
	var where []string
	var args []any
	for _, f := range []struct{ cond, val string }{{"shop = ", q.Shop}, {"type = ", q.Type}, {"day >= ", q.From}, {"day <= ", q.To}} {
		if f.val != "" {
			args = append(args, f.val)
			where = append(where, fmt.Sprintf("%s$%d", f.cond, len(args)))
		}
	}
	query := `SELECT shop, type, day, count FROM event_counts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.pool.Query(ctx, query+` ORDER BY day, shop COLLATE "C", type COLLATE "C"`, args...)
	if err != nil {
		return nil, fmt.Errorf("read event counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EventCount, error) {
		var c store.EventCount
		err := r.Scan(&c.Shop, &c.Type, &c.Day, &c.Count)
		return c, err
	})
	if out == nil {
		out = []store.EventCount{}
	}
	return out, err
}
