package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Commit applies many instances' changes in one transaction.
func (s *Store) Commit(ctx context.Context, changes []store.Change) ([]error, error) {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	results := make([]error, len(changes))
	var fence [store.Slots]int64
	for _, c := range changes {
		if c.Fence != 0 {
			if fence, err = fences(ctx, tx); err != nil {
				return nil, err
			}
			break
		}
	}
	for i := range changes {
		if f := changes[i].Fence; f != 0 && fence[store.SlotOf(changes[i].Instance.ID)] != f {
			results[i] = store.ErrFenced
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT change`); err != nil {
			return nil, err
		}
		cerr, err := applyChange(ctx, tx, &changes[i])
		if err != nil {
			return nil, err
		}
		if cerr != nil {
			results[i] = cerr
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO change`); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE change`); err != nil {
			return nil, err
		}
	}
	if err := tx.commit(ctx); err != nil {
		return nil, fmt.Errorf("commit %d changes: %w", len(changes), err)
	}
	return results, nil
}

// applyChange writes one change. The first result is a per-change refusal
// (conflict, duplicate trigger); the second a failure of the store.
func applyChange(ctx context.Context, tx execer, c *store.Change) (error, error) {
	in := c.Instance
	now := time.Now().UTC()
	if in.UpdatedAt.IsZero() {
		in.UpdatedAt = now
	}
	if in.Rev == 0 {
		if in.CreatedAt.IsZero() {
			in.CreatedAt = now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO instances (id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`, in.ID, in.Namespace, in.Name, in.Version, in.Status, in.State, in.TriggerKey, nanos(in.CreatedAt), nanos(in.UpdatedAt))
		if err != nil {
			if isUniqueViolation(err) {
				if strings.Contains(err.Error(), "trigger") {
					return store.ErrDuplicateTrigger, nil
				}
				return store.ErrConflict, nil
			}
			return nil, fmt.Errorf("insert instance %s: %w", in.ID, err)
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE instances SET status = ?, state = ?, rev = rev + 1, updated_at = ? WHERE id = ? AND rev = ?`,
			in.Status, in.State, nanos(in.UpdatedAt), in.ID, in.Rev)
		if err != nil {
			return nil, fmt.Errorf("update instance %s: %w", in.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrConflict, nil
		}
	}
	if len(c.History) > 0 {
		var seq int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM history WHERE instance_id = ?`, in.ID).Scan(&seq); err != nil {
			return nil, err
		}
		for _, h := range c.History {
			seq++
			if _, err := tx.ExecContext(ctx, `INSERT INTO history (instance_id, seq, time, type, task, data) VALUES (?, ?, ?, ?, ?, ?)`,
				in.ID, seq, nanos(h.Time), h.Type, h.Task, h.Data); err != nil {
				return nil, fmt.Errorf("history of %s: %w", in.ID, err)
			}
		}
	}
	for _, id := range c.DeleteTimers {
		if _, err := tx.ExecContext(ctx, `DELETE FROM timers WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	for _, t := range c.AddTimers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO timers (id, instance_id, due, slot) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET due = excluded.due`,
			t.ID, t.InstanceID, nanos(t.Due), store.SlotOf(t.InstanceID)); err != nil {
			return nil, fmt.Errorf("timer %s: %w", t.ID, err)
		}
	}
	for _, id := range c.DeleteSubscriptions {
		// A listen with several filters has a row per filter, "<id>#<n>".
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ? OR (id > ? AND id < ?)`, id, id+"#", id+"$"); err != nil {
			return nil, err
		}
	}
	for _, sub := range c.AddSubscriptions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions (id, instance_id, event_type, corr_key, since, spec) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, sub.ID, sub.InstanceID, sub.EventType, sub.CorrKey, nanos(sub.Since), sub.Spec); err != nil {
			return nil, fmt.Errorf("subscription %s: %w", sub.ID, err)
		}
	}
	for _, id := range c.DeleteOutbox {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	for _, o := range c.AddOutbox {
		next := o.NextAt
		if next.IsZero() {
			next = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (id, instance_id, kind, payload, attempts, next_at, slot) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, o.ID, o.InstanceID, o.Kind, o.Payload, o.Attempts, nanos(next), store.SlotOf(o.InstanceID)); err != nil {
			return nil, fmt.Errorf("outbox %s: %w", o.ID, err)
		}
	}
	for _, l := range c.Events {
		// A link written before stays: an event that started an instance
		// and is delivered to it again (after a crash) is still its start.
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_instances (seq, instance_id, started) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			l.Seq, in.ID, l.Started); err != nil {
			return nil, fmt.Errorf("events of %s: %w", in.ID, err)
		}
	}
	for _, ev := range c.Emit {
		if _, err := appendEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

const instanceColumns = `id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at`

func scanInstance(row interface{ Scan(...any) error }) (store.Instance, error) {
	var in store.Instance
	var c, u int64
	err := row.Scan(&in.ID, &in.Namespace, &in.Name, &in.Version, &in.Status, &in.State, &in.Rev, &in.TriggerKey, &c, &u)
	in.CreatedAt, in.UpdatedAt = fromNanos(c), fromNanos(u)
	return in, err
}

// GetInstance returns one instance.
func (s *Store) GetInstance(ctx context.Context, id string) (store.Instance, error) {
	in, err := scanInstance(s.read.QueryRowContext(ctx, `SELECT `+instanceColumns+` FROM instances WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, fmt.Errorf("instance %s: %w", id, store.ErrNotFound)
	}
	return in, err
}

// ListInstances returns instances newest first.
func (s *Store) ListInstances(ctx context.Context, q store.InstanceQuery) ([]store.Instance, error) {
	var where []string
	var args []any
	if q.Namespace != "" {
		where, args = append(where, "namespace = ?"), append(args, q.Namespace)
	}
	if q.Name != "" {
		where, args = append(where, "name = ?"), append(args, q.Name)
	}
	if q.Status != "" {
		where, args = append(where, "status = ?"), append(args, q.Status)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "created_at >= ?"), append(args, nanos(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, nanos(q.Until))
	}
	if q.After != "" {
		where, args = append(where, "(created_at, id) < (SELECT created_at, id FROM instances WHERE id = ?)"), append(args, q.After)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxInstancePage)
	query := `SELECT ` + instanceColumns + ` FROM instances`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id DESC LIMIT ?"
	rows, err := s.read.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// History returns an instance's history in order.
func (s *Store) History(ctx context.Context, instanceID string) ([]store.HistoryEntry, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT seq, time, type, task, data FROM history WHERE instance_id = ? ORDER BY seq`, instanceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.HistoryEntry
	for rows.Next() {
		h := store.HistoryEntry{InstanceID: instanceID}
		var t int64
		if err := rows.Scan(&h.Seq, &t, &h.Type, &h.Task, &h.Data); err != nil {
			return nil, err
		}
		h.Time = fromNanos(t)
		out = append(out, h)
	}
	return out, rows.Err()
}
