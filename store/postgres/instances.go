package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/storeflow/storeflow/store"
)

// Commit applies many instances' changes in one transaction.
func (s *Store) Commit(ctx context.Context, changes []store.Change) ([]error, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	fences, err := lockFences(ctx, tx, changes)
	if err != nil {
		return nil, err
	}
	results := make([]error, len(changes))
	open := false // a savepoint of an earlier change is still to release
	for i := range changes {
		if f := changes[i].Fence; f != 0 && fences[store.SlotOf(changes[i].Instance.ID)] != f {
			results[i] = store.ErrFenced
			continue
		}
		refusal, err := applyChange(ctx, tx, &changes[i], open)
		if err != nil {
			return nil, err
		}
		open = true
		if refusal != nil {
			results[i] = refusal
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT change`); err != nil {
				return nil, err
			}
		}
	}
	// Emitted events go last, so that the event-log lock (see eventLogLock)
	// is held only for their inserts and the commit, not the whole batch:
	// ingestion and other nodes' commits wait on it.
	var emit []store.Event
	for i := range changes {
		if results[i] == nil {
			emit = append(emit, changes[i].Emit...)
		}
	}
	if len(emit) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventLogLock)); err != nil {
			return nil, err
		}
		if err := s.notify(ctx, tx, store.TopicEvents); err != nil {
			return nil, err
		}
		if _, err := appendEvents(ctx, tx, emit); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit %d changes: %w", len(changes), err)
	}
	return results, nil
}

// applyChange writes one change in one round trip: a batch that releases
// the previous change's savepoint, opens this one's, and writes every row.
// The first result is a refusal of that change (conflict, duplicate
// trigger), after which the caller rolls back to the savepoint; the second
// a failure of the store.
func applyChange(ctx context.Context, tx pgx.Tx, c *store.Change, release bool) (error, error) {
	in := c.Instance
	now := time.Now().UTC()
	if in.UpdatedAt.IsZero() {
		in.UpdatedAt = now
	}
	batch := &pgx.Batch{}
	if release {
		batch.Queue(`RELEASE SAVEPOINT change`)
	}
	batch.Queue(`SAVEPOINT change`)
	if in.Rev == 0 {
		if in.CreatedAt.IsZero() {
			in.CreatedAt = now
		}
		batch.Queue(`INSERT INTO instances (id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)`, in.ID, in.Namespace, in.Name, in.Version, in.Status, in.State, in.TriggerKey, nanos(in.CreatedAt), nanos(in.UpdatedAt))
	} else {
		batch.Queue(`UPDATE instances SET status = $1, state = $2, rev = rev + 1, updated_at = $3 WHERE id = $4 AND rev = $5`,
			in.Status, in.State, nanos(in.UpdatedAt), in.ID, in.Rev)
	}
	first := batch.Len() // statements before the rows: savepoints, instance
	if len(c.History) > 0 {
		// No constraint keeps (instance_id, seq) unique any more (history is
		// partitioned by time), but the instance row written above at its
		// revision serialises the transitions of one instance, so one seq
		// is never handed out twice.
		times, types, tasks, data := make([]int64, len(c.History)), make([]string, len(c.History)), make([]string, len(c.History)), make([][]byte, len(c.History))
		for i, h := range c.History {
			times[i], types[i], tasks[i], data[i] = nanos(h.Time), h.Type, h.Task, h.Data
		}
		batch.Queue(`INSERT INTO history (instance_id, seq, time, type, task, data)
			SELECT $1, COALESCE((SELECT MAX(seq) FROM history WHERE instance_id = $1), 0) + u.ord, u.time, u.type, u.task, u.data
			FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS u(time, type, task, data, ord)`, in.ID, times, types, tasks, data)
	}
	for _, id := range c.DeleteTimers {
		batch.Queue(`DELETE FROM timers WHERE id = $1`, id)
	}
	for _, t := range c.AddTimers {
		batch.Queue(`INSERT INTO timers (id, instance_id, due, slot) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET due = excluded.due`, t.ID, t.InstanceID, nanos(t.Due), store.SlotOf(t.InstanceID))
	}
	for _, id := range c.DeleteSubscriptions {
		// A listen with several filters has a row per filter, "<id>#<n>".
		batch.Queue(`DELETE FROM subscriptions WHERE id = $1 OR (id > $2 AND id < $3)`, id, id+"#", id+"$")
	}
	for _, sub := range c.AddSubscriptions {
		batch.Queue(`INSERT INTO subscriptions (id, instance_id, event_type, corr_key, since, spec) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			sub.ID, sub.InstanceID, sub.EventType, sub.CorrKey, nanos(sub.Since), sub.Spec)
	}
	for _, id := range c.DeleteOutbox {
		batch.Queue(`DELETE FROM outbox WHERE id = $1`, id)
	}
	for _, o := range c.AddOutbox {
		next := o.NextAt
		if next.IsZero() {
			next = now
		}
		batch.Queue(`INSERT INTO outbox (id, instance_id, kind, payload, attempts, next_at, slot) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.InstanceID, o.Kind, o.Payload, o.Attempts, nanos(next), store.SlotOf(o.InstanceID))
	}
	if len(c.Events) > 0 {
		// A link written before stays: an event that started an instance
		// and is delivered to it again (after a crash) is still its start.
		seqs, started := make([]int64, len(c.Events)), make([]bool, len(c.Events))
		for i, l := range c.Events {
			seqs[i], started[i] = l.Seq, l.Started
		}
		batch.Queue(`INSERT INTO event_instances (seq, instance_id, started) SELECT DISTINCT ON (seq) seq, $1, started
			FROM unnest($2::bigint[], $3::bool[]) AS u(seq, started) ORDER BY seq, started DESC ON CONFLICT DO NOTHING`, in.ID, seqs, started)
	}
	results := tx.SendBatch(ctx, batch)
	var refusal error
	for i := range batch.Len() {
		tag, err := results.Exec()
		if i == first-1 { // the instance row
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "instances_trigger":
				refusal = store.ErrDuplicateTrigger
			case errors.As(err, &pgErr) && pgErr.Code == "23505":
				refusal = store.ErrConflict
			case err == nil && tag.RowsAffected() == 0:
				refusal = store.ErrConflict
			}
			if refusal != nil {
				// The rest of the batch failed with the transaction or wrote
				// rows the rollback to the savepoint undoes.
				_ = results.Close()
				return refusal, nil
			}
		}
		if err != nil {
			_ = results.Close()
			return nil, fmt.Errorf("change of %s: %w", in.ID, err)
		}
	}
	if err := results.Close(); err != nil {
		return nil, fmt.Errorf("change of %s: %w", in.ID, err)
	}
	return nil, nil
}

const instanceColumns = `id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at`

func scanInstance(row pgx.Row) (store.Instance, error) {
	var in store.Instance
	var c, u int64
	err := row.Scan(&in.ID, &in.Namespace, &in.Name, &in.Version, &in.Status, &in.State, &in.Rev, &in.TriggerKey, &c, &u)
	in.CreatedAt, in.UpdatedAt = fromNanos(c), fromNanos(u)
	return in, err
}

// GetInstance returns one instance.
func (s *Store) GetInstance(ctx context.Context, id string) (store.Instance, error) {
	in, err := scanInstance(s.pool.QueryRow(ctx, `SELECT `+instanceColumns+` FROM instances WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return in, fmt.Errorf("instance %s: %w", id, store.ErrNotFound)
	}
	return in, err
}

// ListInstances returns instances newest first.
func (s *Store) ListInstances(ctx context.Context, q store.InstanceQuery) ([]store.Instance, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.Namespace != "" {
		add("namespace = ?", q.Namespace)
	}
	if q.Name != "" {
		add("name = ?", q.Name)
	}
	if q.Status != "" {
		add("status = ?", q.Status)
	}
	if !q.Since.IsZero() {
		add("created_at >= ?", nanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("created_at < ?", nanos(q.Until))
	}
	if q.After != "" {
		add("(created_at, id) < (SELECT created_at, id FROM instances WHERE id = ?)", q.After)
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
	args = append(args, limit)
	query += " ORDER BY created_at DESC, id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Instance, error) { return scanInstance(r) })
}

// History returns an instance's history in order.
func (s *Store) History(ctx context.Context, instanceID string) ([]store.HistoryEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, time, type, task, data FROM history WHERE instance_id = $1 ORDER BY seq`, instanceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.HistoryEntry, error) {
		h := store.HistoryEntry{InstanceID: instanceID}
		var t int64
		err := r.Scan(&h.Seq, &t, &h.Type, &h.Task, &h.Data)
		h.Time = fromNanos(t)
		return h, err
	})
}
