package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// AppendEvents logs events, deduplicating on (source, id).
func (s *Store) AppendEvents(ctx context.Context, events []store.Event) ([]store.Event, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventLogLock)); err != nil {
		return nil, err
	}
	out, err := appendEvents(ctx, tx, events)
	if err != nil {
		return nil, err
	}
	if err := s.notify(ctx, tx, store.TopicEvents); err != nil {
		return nil, err
	}
	return out, tx.Commit(ctx)
}

func appendEvents(ctx context.Context, q querier, events []store.Event) ([]store.Event, error) {
	// Dedupe is a lookup before the insert, not a unique constraint: on the
	// partitioned events table a unique index would have to include
	// received_at, and so could not see a copy received at another time.
	// The lookup is race-free because every caller holds eventLogLock until
	// its transaction commits (AppendEvents, Commit): no other transaction
	// can log the same (source, id) between lookup and insert. Dedupe holds
	// within the retention: a copy of a pruned event is logged anew.
	// One lookup and one insert serve the whole batch: a round trip per
	// event, under the lock, was what bounded ingestion.
	out := make([]store.Event, len(events))
	sources, ids := make([]string, len(events)), make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.WithDefaults()
		sources[i], ids[i] = ev.Source, ev.ID
	}
	type key struct{ source, id string }
	type logged struct {
		seq      int64
		received int64
	}
	seen := map[key]logged{}
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (e.source, e.id) e.source, e.id, e.seq, e.received_at
		FROM events e JOIN unnest($1::text[], $2::text[]) AS k(source, id) ON e.source = k.source AND e.id = k.id
		ORDER BY e.source, e.id, e.seq`, sources, ids)
	if err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	for rows.Next() {
		var k key
		var l logged
		if err := rows.Scan(&k.source, &k.id, &l.seq, &l.received); err != nil {
			rows.Close()
			return nil, err
		}
		seen[k] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up events: %w", err)
	}
	var fresh []int // indexes of events to insert, first copies only
	inBatch := map[key]int{}
	for i, ev := range out {
		k := key{ev.Source, ev.ID}
		if _, ok := seen[k]; ok {
			continue
		}
		if _, ok := inBatch[k]; ok {
			continue
		}
		inBatch[k] = i
		fresh = append(fresh, i)
	}
	if len(fresh) > 0 {
		var (
			fid, fsource, ftype, fsubject, fshop []string
			ftime, freceived                     []int64
			fenv                                 [][]byte
		)
		for _, i := range fresh {
			ev := out[i]
			fid, fsource, ftype, fsubject, fshop = append(fid, ev.ID), append(fsource, ev.Source), append(ftype, ev.Type), append(fsubject, ev.Subject), append(fshop, ev.Shop)
			ftime, freceived, fenv = append(ftime, nanos(ev.Time)), append(freceived, nanos(ev.ReceivedAt)), append(fenv, ev.Envelope)
		}
		// Rows are inserted in the batch's order, so their seq follows it.
		rows, err := q.Query(ctx, `INSERT INTO events (id, source, type, subject, time, envelope, received_at, shop)
			SELECT id, source, type, subject, time, envelope, received_at, shop
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bytea[], $7::bigint[], $8::text[])
				WITH ORDINALITY AS u(id, source, type, subject, time, envelope, received_at, shop, ord)
			ORDER BY ord RETURNING seq, source, id`, fid, fsource, ftype, fsubject, ftime, fenv, freceived, fshop)
		if err != nil {
			return nil, fmt.Errorf("append %d events: %w", len(fresh), err)
		}
		for rows.Next() {
			var k key
			var seq int64
			if err := rows.Scan(&seq, &k.source, &k.id); err != nil {
				rows.Close()
				return nil, err
			}
			out[inBatch[k]].Seq = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("append %d events: %w", len(fresh), err)
		}
		if err := indexKeys(ctx, q, out, fresh); err != nil {
			return nil, err
		}
	}
	for i, ev := range out {
		k := key{ev.Source, ev.ID}
		if l, ok := seen[k]; ok {
			out[i].Seq, out[i].ReceivedAt, out[i].Duplicate = l.seq, fromNanos(l.received), true
		} else if first := inBatch[k]; first != i {
			out[i].Seq, out[i].ReceivedAt, out[i].Duplicate = out[first].Seq, out[first].ReceivedAt, true
		}
	}
	return out, nil
}

// indexKeys writes the keys of the events just logged, in one statement.
func indexKeys(ctx context.Context, q querier, events []store.Event, fresh []int) error {
	var (
		names, values, shops, types []string
		seqs, received              []int64
	)
	for _, i := range fresh {
		ev := events[i]
		for _, k := range ev.Keys {
			names, values, shops, types = append(names, k.Name), append(values, k.Value), append(shops, k.Shop), append(types, ev.Type)
			seqs, received = append(seqs, ev.Seq), append(received, nanos(ev.ReceivedAt))
		}
	}
	if len(names) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, `INSERT INTO event_keys (name, value, shop, seq, type, received_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])`,
		names, values, shops, seqs, types, received); err != nil {
		return fmt.Errorf("index the keys of %d events: %w", len(fresh), err)
	}
	return nil
}

// EventsByKey returns the events carrying a key, newest first.
func (s *Store) EventsByKey(ctx context.Context, key store.EventKey, types []string, limit int) ([]store.Event, error) {
	if types != nil && len(types) == 0 {
		return nil, nil
	}
	// The keys' received_at leads each lookup of its event to one partition.
	rows, err := s.pool.Query(ctx, `SELECT e.seq, e.id, e.source, e.type, e.subject, e.time, e.envelope, e.received_at, e.shop
		FROM (SELECT DISTINCT seq, received_at FROM event_keys WHERE name = $1 AND value = $2 AND ($3 = '' OR shop = $3)
			AND ($4::text[] IS NULL OR type = ANY($4)) ORDER BY seq DESC LIMIT $5) k
		JOIN events e ON e.seq = k.seq AND e.received_at = k.received_at
		ORDER BY e.seq DESC`, key.Name, key.Value, key.Shop, types, limit)
	if err != nil {
		return nil, err
	}
	return collectEvents(rows)
}

// ReadEvents returns events after a sequence number, in order.
func (s *Store) ReadEvents(ctx context.Context, afterSeq int64, eventType string, limit int) ([]store.Event, error) {
	var types []string
	if eventType != "" {
		types = []string{eventType}
	}
	return s.ReadEventsOfTypes(ctx, afterSeq, types, limit)
}

// LastEventSeq returns the highest sequence number logged. Appends commit
// in sequence order (eventLogLock), so every event below it is visible.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

// ReadEventsOfTypes returns events of the given types (nil: all) after a
// sequence number, in order.
func (s *Store) ReadEventsOfTypes(ctx context.Context, afterSeq int64, types []string, limit int) ([]store.Event, error) {
	query, args := `SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{afterSeq, limit}
	if types != nil {
		if len(types) == 0 {
			return nil, nil
		}
		// One ordered index scan per type, each stopping at limit: a single
		// `type = ANY` scan gathers every row of those types before sorting.
		query, args = `SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM unnest($3::text[]) AS t(typ)
			CROSS JOIN LATERAL (SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events
				WHERE type = t.typ AND seq > $1 ORDER BY seq LIMIT $2) e
			ORDER BY seq LIMIT $2`, []any{afterSeq, limit, types}
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collectEvents(rows)
}

func collectEvents(rows pgx.Rows) ([]store.Event, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var ev store.Event
		var t, rec int64
		err := r.Scan(&ev.Seq, &ev.ID, &ev.Source, &ev.Type, &ev.Subject, &t, &ev.Envelope, &rec, &ev.Shop)
		ev.Time, ev.ReceivedAt = fromNanos(t), fromNanos(rec)
		return ev, err
	})
}

// Cursor returns a named reader's position.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM cursors WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// SetCursor records a reader's position.
func (s *Store) SetCursor(ctx context.Context, name string, seq int64) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq)
	return err
}
