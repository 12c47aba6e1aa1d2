package sqlite

import (
	"context"
	"errors"
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
	n, err := s.pruneHistory(ctx, olderThan)
	out.Rows += n
	return out, err
}

// pruneHistory deletes the history entries written before cutoff, a batch
// of rows per transaction. A row of several entries (a transition's) some
// of which are newer keeps those, as rows of one entry each.
func (s *Store) pruneHistory(ctx context.Context, cutoff time.Time) (int64, error) {
	type old struct {
		rowid, seq, time int64
		id, typ, task    string
		data             []byte
		n                int
	}
	var pruned int64
	for {
		tx, err := s.w.begin(ctx)
		if err != nil {
			return pruned, fmt.Errorf("prune history: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT rowid, instance_id, seq, time, type, task, data, entries FROM history WHERE time < ? LIMIT ?`, nanos(cutoff), pruneBatch)
		if err != nil {
			tx.rollback()
			return pruned, fmt.Errorf("prune history: %w", err)
		}
		var found []old
		for rows.Next() {
			var o old
			if err := rows.Scan(&o.rowid, &o.id, &o.seq, &o.time, &o.typ, &o.task, &o.data, &o.n); err != nil {
				_ = rows.Close()
				tx.rollback()
				return pruned, fmt.Errorf("prune history: %w", err)
			}
			found = append(found, o)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			tx.rollback()
			return pruned, fmt.Errorf("prune history: %w", err)
		}
		var gone int64
		for _, o := range found {
			if err := s.pruneHistoryRow(ctx, tx, o.rowid, o.id, o.seq, o.time, o.typ, o.task, o.data, o.n, cutoff, &gone); err != nil {
				tx.rollback()
				return pruned, fmt.Errorf("prune history of %s: %w", o.id, err)
			}
		}
		if err := tx.commit(ctx); err != nil {
			return pruned, fmt.Errorf("prune history: %w", err)
		}
		pruned += gone
		if len(found) < pruneBatch {
			return pruned, nil
		}
	}
}

func (s *Store) pruneHistoryRow(ctx context.Context, tx *wtx, rowid int64, id string, seq, t int64, typ, task string, data []byte, n int, cutoff time.Time, gone *int64) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM history WHERE rowid = ?`, rowid); err != nil {
		return err
	}
	if n <= 1 {
		*gone++
		return nil
	}
	hs, err := entriesOf(id, seq, t, typ, task, data, n)
	if err != nil {
		return err
	}
	kept := keptAfter(hs, cutoff)
	*gone += int64(n - len(kept))
	for _, h := range kept {
		if _, err := tx.ExecContext(ctx, `INSERT INTO history (instance_id, seq, time, type, task, data, entries) VALUES (?, ?, ?, ?, ?, ?, 1)`,
			id, h.Seq, nanos(h.Time), h.Type, h.Task, h.Data); err != nil {
			return err
		}
	}
	return nil
}
