package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// pruneBatch bounds the rows one pruning transaction deletes: SQLite has one
// writer, and a long delete would stall every commit behind it.
const pruneBatch = 1000

var _ store.Pruner = (*Store)(nil)

// Prune deletes events received before olderThan and history entries
// written before it, a batch per transaction. SQLite has no partitions, so
// this is a bounded DELETE; it exists so that --retention means the same on
// both backends. What retention does to running instances is described at
// the PostgreSQL Store's Prune: the same holds here.
func (s *Store) Prune(ctx context.Context, olderThan time.Time) (store.Pruned, error) {
	var out store.Pruned
	cutoff := nanos(olderThan)
	for _, q := range []struct{ table, query string }{
		// events.seq is AUTOINCREMENT: deleting the newest rows never lets a
		// sequence number be handed out again.
		{"events", `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE received_at < ? LIMIT ?)`},
		{"history", `DELETE FROM history WHERE rowid IN (SELECT rowid FROM history WHERE time < ? LIMIT ?)`},
		{"webhook_deliveries", `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE received_at < ? LIMIT ?)`},
		{"messages", `DELETE FROM messages WHERE key IN (SELECT key FROM messages WHERE at < ? LIMIT ?)`},
	} {
		for {
			res, err := s.w.exec(ctx, q.query, cutoff, pruneBatch)
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", q.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", q.table, err)
			}
			out.Rows += n
			if n < pruneBatch {
				break
			}
		}
	}
	return out, nil
}
