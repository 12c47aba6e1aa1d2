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

// Commit applies many instances' changes in one transaction. The writer
// does only what must be serial: each change's instance row is written on
// its own (a refusal, a conflict or a repeated trigger, can only come from
// it, so no savepoint is needed to undo the rest), and everything else the
// changes write goes in a few multi-row statements.
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
	b := &batch{now: time.Now().UTC(), seen: map[string]bool{}, nextSeq: map[string]int64{}}
	for i := range changes {
		c := &changes[i]
		if f := c.Fence; f != 0 && fence[store.SlotOf(c.Instance.ID)] != f {
			results[i] = store.ErrFenced
			continue
		}
		if b.seen[c.Instance.ID] {
			// A second change of an instance follows the first one's rows.
			if err := b.flush(ctx, tx); err != nil {
				return nil, err
			}
		}
		cerr, err := b.add(ctx, tx, c)
		if err != nil {
			return nil, err
		}
		results[i] = cerr
	}
	if err := b.flush(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.commit(ctx); err != nil {
		return nil, fmt.Errorf("commit %d changes: %w", len(changes), err)
	}
	return results, nil
}

// The multi-row statements of a commit.
var (
	insertHistory = newMulti(`INSERT INTO history (instance_id, seq, time, type, task, data, entries) VALUES `, `(?, ?, ?, ?, ?, ?, ?)`, `, `, ``, 7)
	deleteTimers  = newMulti(`DELETE FROM timers WHERE id IN (`, `?`, `, `, `)`, 1)
	insertTimers  = newMulti(`INSERT INTO timers (id, instance_id, due, slot) VALUES `, `(?, ?, ?, ?)`, `, `, ` ON CONFLICT (id) DO UPDATE SET due = excluded.due`, 4)
	insertSubs    = newMulti(`INSERT INTO subscriptions (id, instance_id, event_type, corr_key, since, spec) VALUES `, `(?, ?, ?, ?, ?, ?)`, `, `, ` ON CONFLICT (id) DO NOTHING`, 6)
	deleteOutbox  = newMulti(`DELETE FROM outbox WHERE id IN (`, `?`, `, `, `)`, 1)
	insertOutbox  = newMulti(`INSERT INTO outbox (id, instance_id, kind, payload, attempts, next_at, slot) VALUES `, `(?, ?, ?, ?, ?, ?, ?)`, `, `, ` ON CONFLICT (id) DO NOTHING`, 7)
	// A link written before stays: an event that started an instance and
	// is delivered to it again (after a crash) is still its start.
	insertEventLinks = newMulti(`INSERT INTO event_instances (seq, instance_id, started) VALUES `, `(?, ?, ?)`, `, `, ` ON CONFLICT DO NOTHING`, 3)
)

// batch gathers the rows of a commit's changes, in the order the changes
// came, until flushed. The changes of one flush are of distinct instances,
// so that deleting every row first and inserting after keeps each change's
// own order.
type batch struct {
	now time.Time
	// seen holds the instances of the changes not yet flushed.
	seen map[string]bool
	// nextSeq is the seq the next history entry of an instance written in
	// this commit gets.
	nextSeq map[string]int64

	history, delTimers, timers, subs, delOutbox, outbox, links []any
	delSubs                                                    []string
	events                                                     []store.Event
}

// add writes a change's instance row and gathers the rest. The first result
// is a per-change refusal (conflict, duplicate trigger); the second a
// failure of the store.
func (b *batch) add(ctx context.Context, tx *wtx, c *store.Change) (error, error) {
	in := c.Instance
	if in.UpdatedAt.IsZero() {
		in.UpdatedAt = b.now
	}
	seq, known := b.nextSeq[in.ID]
	if in.Rev == 0 {
		if in.CreatedAt.IsZero() {
			in.CreatedAt = b.now
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
		// A new instance's history starts at 1.
		seq, known = 1, true
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
	b.seen[in.ID] = true
	if len(c.History) > 0 {
		if !known {
			err := tx.QueryRowContext(ctx, `SELECT seq + entries FROM history WHERE instance_id = ? ORDER BY seq DESC LIMIT 1`, in.ID).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				seq, err = 1, nil
			}
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", in.ID, err)
			}
		}
		row := rowOf(c.History)
		b.history = append(b.history, in.ID, seq, row.time, row.typ, row.task, row.data, row.numEntries)
		seq += int64(len(c.History))
		known = true
	}
	if known {
		b.nextSeq[in.ID] = seq
	}
	for _, id := range c.DeleteTimers {
		b.delTimers = append(b.delTimers, id)
	}
	for _, t := range c.AddTimers {
		b.timers = append(b.timers, t.ID, t.InstanceID, nanos(t.Due), store.SlotOf(t.InstanceID))
	}
	b.delSubs = append(b.delSubs, c.DeleteSubscriptions...)
	for _, sub := range c.AddSubscriptions {
		b.subs = append(b.subs, sub.ID, sub.InstanceID, sub.EventType, sub.CorrKey, nanos(sub.Since), sub.Spec)
	}
	for _, id := range c.DeleteOutbox {
		b.delOutbox = append(b.delOutbox, id)
	}
	for _, o := range c.AddOutbox {
		next := o.NextAt
		if next.IsZero() {
			next = b.now
		}
		b.outbox = append(b.outbox, o.ID, o.InstanceID, o.Kind, o.Payload, o.Attempts, nanos(next), store.SlotOf(o.InstanceID))
	}
	for _, l := range c.Events {
		b.links = append(b.links, l.Seq, in.ID, l.Started)
	}
	for _, ev := range c.Emit {
		b.events = append(b.events, ev.WithDefaults())
	}
	return nil, nil
}

// flush writes what the batch gathered: for each kind of row the deletes
// before the inserts, as a change orders them; events last, in the order
// of their changes.
func (b *batch) flush(ctx context.Context, tx *wtx) error {
	steps := []struct {
		what string
		m    *multi
		args *[]any
	}{
		{"history", insertHistory, &b.history},
		{"delete timers", deleteTimers, &b.delTimers},
		{"timers", insertTimers, &b.timers},
		{"", nil, nil}, // subscriptions are deleted here
		{"subscriptions", insertSubs, &b.subs},
		{"delete outbox", deleteOutbox, &b.delOutbox},
		{"outbox", insertOutbox, &b.outbox},
		{"event links", insertEventLinks, &b.links},
	}
	for _, st := range steps {
		if st.m == nil {
			for _, id := range b.delSubs {
				// A listen with several filters has a row per filter, "<id>#<n>".
				if _, err := tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE id = ? OR (id > ? AND id < ?)`, id, id+"#", id+"$"); err != nil {
					return fmt.Errorf("delete subscriptions: %w", err)
				}
			}
			b.delSubs = b.delSubs[:0]
			continue
		}
		if err := tx.execRows(ctx, st.m, *st.args); err != nil {
			return fmt.Errorf("write %s: %w", st.what, err)
		}
		*st.args = (*st.args)[:0]
	}
	if err := appendEvents(ctx, tx, b.events, false); err != nil {
		return err
	}
	b.events = b.events[:0]
	clear(b.seen)
	return nil
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
	in, err := scanInstance(s.queryRow(ctx, `SELECT `+instanceColumns+` FROM instances WHERE id = ?`, id))
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
	rows, err := s.query(ctx, `SELECT seq, time, type, task, data, entries FROM history WHERE instance_id = ? ORDER BY seq`, instanceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.HistoryEntry
	for rows.Next() {
		var seq, t int64
		var typ, task string
		var data []byte
		var n int
		if err := rows.Scan(&seq, &t, &typ, &task, &data, &n); err != nil {
			return nil, err
		}
		hs, err := entriesOf(instanceID, seq, t, typ, task, data, n)
		if err != nil {
			return nil, err
		}
		out = append(out, hs...)
	}
	return out, rows.Err()
}
