package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/storeflow/storeflow/store"
)

// AppendEvents logs events, deduplicating on (source, id).
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) ([]store.Event, error) {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	out := make([]store.Event, len(events))
	for i, ev := range events {
		out[i] = ev.WithDefaults()
	}
	if err := appendEvents(ctx, tx, out, true); err != nil {
		return nil, err
	}
	return out, tx.commit(ctx)
}

var (
	insertEvents    = newMulti(`INSERT INTO events (id, source, type, subject, time, envelope, received_at, shop) VALUES `, `(?, ?, ?, ?, ?, ?, ?, ?)`, `, `, ` ON CONFLICT (source, id) DO NOTHING`, 8)
	insertEventKeys = newMulti(`INSERT INTO event_keys (name, value, shop, seq, type) VALUES `, `(?, ?, ?, ?, ?)`, `, `, ` ON CONFLICT DO NOTHING`, 5)
)

// appendEvents logs events (defaults filled) in multi-row statements, in
// order, and indexes the keys of those not logged before. With all, or
// when keys need them, each event gets its seq; a duplicate is marked and
// gets the first copy's seq and time of receipt.
func appendEvents(ctx context.Context, tx *wtx, evs []store.Event, all bool) error {
	var args, keys []any
	for lo := 0; lo < len(evs); {
		q, n := insertEvents.sized(len(evs) - lo)
		chunk := evs[lo : lo+n]
		args = args[:0]
		withKeys := false
		for _, ev := range chunk {
			args = append(args, ev.ID, ev.Source, ev.Type, ev.Subject, nanos(ev.Time), ev.Envelope, nanos(ev.ReceivedAt), ev.Shop)
			withKeys = withKeys || len(ev.Keys) > 0
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("append %d events from %s/%s: %w", n, chunk[0].Source, chunk[0].ID, err)
		}
		lo += n
		if !all && !withKeys {
			continue
		}
		added, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if added == int64(n) {
			// All new: one statement numbers its rows one after another.
			last, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for j := range chunk {
				chunk[j].Seq = last - int64(n) + 1 + int64(j)
			}
		} else if err := findDuplicates(ctx, tx, chunk, int(added)); err != nil {
			return err
		}
		for _, ev := range chunk {
			if ev.Duplicate {
				continue
			}
			for _, k := range ev.Keys {
				keys = append(keys, k.Name, k.Value, k.Shop, ev.Seq, ev.Type)
			}
		}
	}
	if err := tx.execRows(ctx, insertEventKeys, keys); err != nil {
		return fmt.Errorf("index the keys of %d events: %w", len(evs), err)
	}
	return nil
}

// findDuplicates gives the events of a statement that logged only added
// of them their seqs and tells the duplicates. The events it logged have
// the added highest seqs (any logged before has a lower one; the rows it
// skipped may leave gaps), each the first of its copies in the statement.
func findDuplicates(ctx context.Context, tx *wtx, chunk []store.Event, added int) error {
	received := make([]int64, len(chunk))
	var seqs []int64
	for j := range chunk {
		ev := &chunk[j]
		if err := tx.QueryRowContext(ctx, `SELECT seq, received_at FROM events WHERE source = ? AND id = ?`, ev.Source, ev.ID).Scan(&ev.Seq, &received[j]); err != nil {
			return fmt.Errorf("find event %s/%s: %w", ev.Source, ev.ID, err)
		}
		seqs = append(seqs, ev.Seq)
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	lowestNew := int64(math.MaxInt64)
	if added > 0 {
		lowestNew = seqs[len(seqs)-added]
	}
	logged := map[int64]bool{}
	for j := range chunk {
		ev := &chunk[j]
		if ev.Seq >= lowestNew && !logged[ev.Seq] {
			logged[ev.Seq] = true
			continue
		}
		ev.Duplicate = true
		ev.ReceivedAt = fromNanos(received[j])
	}
	return nil
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
	err := s.queryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

// ReadEventsOfTypes returns events of the given types (nil: all) after a
// sequence number, in order.
func (s *Store) ReadEventsOfTypes(ctx context.Context, afterSeq int64, types []string, limit int) ([]store.Event, error) {
	query, args := `SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, []any{afterSeq, limit}
	if types != nil {
		if len(types) == 0 {
			return nil, nil
		}
		// One ordered index scan per type, each stopping at limit.
		args = []any{}
		parts := make([]string, len(types))
		for i, t := range types {
			parts[i] = `SELECT * FROM (SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events WHERE type = ? AND seq > ? ORDER BY seq LIMIT ?)`
			args = append(args, t, afterSeq, limit)
		}
		args = append(args, limit)
		query = strings.Join(parts, " UNION ALL ") + ` ORDER BY seq LIMIT ?`
	}
	return s.queryEvents(ctx, query, args...)
}

// EventsByKey returns the events carrying a key, newest first.
func (s *Store) EventsByKey(ctx context.Context, key store.EventKey, types []string, limit int) ([]store.Event, error) {
	if types != nil && len(types) == 0 {
		return nil, nil
	}
	query := `SELECT e.seq, e.id, e.source, e.type, e.subject, e.time, e.envelope, e.received_at, e.shop FROM event_keys k JOIN events e ON e.seq = k.seq
		WHERE k.name = ? AND k.value = ?`
	args := []any{key.Name, key.Value}
	if key.Shop != "" {
		query += ` AND k.shop = ?`
		args = append(args, key.Shop)
	}
	if types != nil {
		query += ` AND k.type IN (?` + strings.Repeat(", ?", len(types)-1) + `)`
		for _, t := range types {
			args = append(args, t)
		}
	}
	query += ` ORDER BY k.seq DESC LIMIT ?`
	return s.queryEvents(ctx, query, append(args, limit)...)
}

func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]store.Event, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var ev store.Event
		var t, r int64
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Source, &ev.Type, &ev.Subject, &t, &ev.Envelope, &r, &ev.Shop); err != nil {
			return nil, err
		}
		ev.Time, ev.ReceivedAt = fromNanos(t), fromNanos(r)
		out = append(out, ev)
	}
	return out, rows.Err()
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
