package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
)

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// AppendEvents logs events, deduplicating on (source, id).
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) ([]store.Event, error) {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	out := make([]store.Event, len(events))
	for i, ev := range events {
		if out[i], err = appendEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
	}
	return out, tx.commit(ctx)
}

func appendEvent(ctx context.Context, tx execer, ev store.Event) (store.Event, error) {
	ev = ev.WithDefaults()
	res, err := tx.ExecContext(ctx, `INSERT INTO events (id, source, type, subject, time, envelope, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, id) DO NOTHING`, ev.ID, ev.Source, ev.Type, ev.Subject, nanos(ev.Time), ev.Envelope, nanos(ev.ReceivedAt))
	if err != nil {
		return ev, fmt.Errorf("append event %s/%s: %w", ev.Source, ev.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		ev.Seq, err = res.LastInsertId()
		return ev, err
	}
	ev.Duplicate = true
	var received int64
	err = tx.QueryRowContext(ctx, `SELECT seq, received_at FROM events WHERE source = ? AND id = ?`, ev.Source, ev.ID).Scan(&ev.Seq, &received)
	ev.ReceivedAt = fromNanos(received)
	return ev, err
}

// ReadEvents returns events after a sequence number, in order.
func (s *Store) ReadEvents(ctx context.Context, afterSeq int64, eventType string, limit int) ([]store.Event, error) {
	var types []string
	if eventType != "" {
		types = []string{eventType}
	}
	return s.ReadEventsOfTypes(ctx, afterSeq, types, limit)
}

// LastEventSeq returns the highest sequence number logged.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

// ReadEventsOfTypes returns events of the given types (nil: all) after a
// sequence number, in order.
func (s *Store) ReadEventsOfTypes(ctx context.Context, afterSeq int64, types []string, limit int) ([]store.Event, error) {
	query, args := `SELECT seq, id, source, type, subject, time, envelope, received_at FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, []any{afterSeq, limit}
	if types != nil {
		if len(types) == 0 {
			return nil, nil
		}
		// One ordered index scan per type, each stopping at limit.
		args = []any{}
		parts := make([]string, len(types))
		for i, t := range types {
			parts[i] = `SELECT * FROM (SELECT seq, id, source, type, subject, time, envelope, received_at FROM events WHERE type = ? AND seq > ? ORDER BY seq LIMIT ?)`
			args = append(args, t, afterSeq, limit)
		}
		args = append(args, limit)
		query = strings.Join(parts, " UNION ALL ") + ` ORDER BY seq LIMIT ?`
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var ev store.Event
		var t, r int64
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Source, &ev.Type, &ev.Subject, &t, &ev.Envelope, &r); err != nil {
			return nil, err
		}
		ev.Time, ev.ReceivedAt = fromNanos(t), fromNanos(r)
		out = append(out, ev)
	}
	return out, rows.Err()
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
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
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

// DueTimers returns timers due by until, earliest first.
func (s *Store) DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]store.Timer, error) {
	from := int64(math.MinInt64)
	if !afterDue.IsZero() {
		from = nanos(afterDue)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, instance_id, due FROM timers WHERE (due, id) > (?, ?) AND due <= ? AND ((? >> slot) & 1) = 1 ORDER BY due, id LIMIT ?`,
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

// Subscriptions returns the subscriptions for an event type and key.
func (s *Store) Subscriptions(ctx context.Context, eventType, corrKey string) ([]store.Subscription, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, instance_id, event_type, corr_key, since, spec FROM subscriptions WHERE event_type = ? AND corr_key = ? ORDER BY id`, eventType, corrKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		var sub store.Subscription
		var since int64
		if err := rows.Scan(&sub.ID, &sub.InstanceID, &sub.EventType, &sub.CorrKey, &since, &sub.Spec); err != nil {
			return nil, err
		}
		sub.Since = fromNanos(since)
		out = append(out, sub)
	}
	return out, rows.Err()
}

// Outbox returns items due by until, oldest first.
func (s *Store) Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, instance_id, kind, payload, attempts, next_at FROM outbox WHERE next_at <= ? AND ((? >> slot) & 1) = 1 ORDER BY next_at, id LIMIT ?`,
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

// Cursor returns a named reader's position in the event log.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// SetCursor records a reader's position.
func (s *Store) SetCursor(ctx context.Context, name string, seq int64) error {
	_, err := s.w.exec(ctx, `INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq)
	return err
}

// SubscriptionTypes returns the event types subscriptions wait for.
func (s *Store) SubscriptionTypes(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT event_type FROM subscriptions ORDER BY event_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ListeningWorkflows returns the definitions with waiting subscriptions.
func (s *Store) ListeningWorkflows(ctx context.Context) ([][3]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT i.namespace, i.name, i.version FROM subscriptions s JOIN instances i ON i.id = s.instance_id ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var w [3]string
		if err := rows.Scan(&w[0], &w[1], &w[2]); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
