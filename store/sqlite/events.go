package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
		if out[i], err = appendEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
	}
	return out, tx.commit(ctx)
}

func appendEvent(ctx context.Context, tx execer, ev store.Event) (store.Event, error) {
	ev = ev.WithDefaults()
	res, err := tx.ExecContext(ctx, `INSERT INTO events (id, source, type, subject, time, envelope, received_at, shop) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, id) DO NOTHING`, ev.ID, ev.Source, ev.Type, ev.Subject, nanos(ev.Time), ev.Envelope, nanos(ev.ReceivedAt), ev.Shop)
	if err != nil {
		return ev, fmt.Errorf("append event %s/%s: %w", ev.Source, ev.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		if ev.Seq, err = res.LastInsertId(); err != nil {
			return ev, err
		}
		for _, k := range ev.Keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO event_keys (name, value, shop, seq, type) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				k.Name, k.Value, k.Shop, ev.Seq, ev.Type); err != nil {
				return ev, fmt.Errorf("index the keys of event %s/%s: %w", ev.Source, ev.ID, err)
			}
		}
		return ev, nil
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
	rows, err := s.read.QueryContext(ctx, query, args...)
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
