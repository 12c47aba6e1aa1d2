// Package postgres is the Store for several storeflow nodes sharing one
// PostgreSQL database. Migrations run on open under an advisory lock, so
// nodes starting together migrate once.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys.
const (
	// migrationLock is taken by a node while it migrates.
	migrationLock = 0x73746f7265666c6f // "storeflo"
	// eventLogLock is held by every transaction that appends to the event
	// log, until it commits. Sequence numbers are handed out at insert time,
	// so without it a transaction could commit seq 10 after another
	// committed seq 11, and a reader that had moved past 11 would never see
	// 10. With it, the log becomes visible in sequence order.
	eventLogLock = 0x73746f7265657674 // "storeevt"
)

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
	url  string
	// channel is where nodes sharing this schema notify each other.
	channel string
}

// Pool returns the connection pool (for tests and diagnostics).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// URL returns the connection URL the store was opened with.
func (s *Store) URL() string { return s.url }

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://…) and migrates it.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// The runtime reads from many workers while one commits; the
		// default of four connections starves them.
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool, url: url}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	// Nodes on other schemas of the same database must not wake each other.
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("read current schema: %w", err)
	}
	s.channel = "storeflow:" + schema
	if err := s.EnsurePartitions(ctx, time.Now()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("prepare partitions: %w", err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// migrationSteps are Go steps that complete a migration in its transaction.
var migrationSteps = map[int]func(context.Context, pgx.Tx) error{4: backfillSlots}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return err
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", name)
		}
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, version).Scan(&done); err != nil {
			return err
		}
		if done {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if step := migrationSteps[version]; step != nil {
			if err := step(ctx, tx); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("apply %s: %w", name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UnixNano()); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PutWorkflow stores a definition version; versions are immutable.
func (s *Store) PutWorkflow(ctx context.Context, w store.Workflow) (store.Workflow, bool, error) {
	sum := sha256.Sum256(w.Source)
	w.Digest = hex.EncodeToString(sum[:])
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return w, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `INSERT INTO workflows (namespace, name, version, source, digest, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, w.Namespace, w.Name, w.Version, w.Source, w.Digest, nanos(w.CreatedAt))
	if err != nil {
		return w, false, err
	}
	created := tag.RowsAffected() == 1
	if !created {
		stored, err := getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
		if err != nil {
			return w, false, err
		}
		if stored.Digest != w.Digest {
			return w, false, fmt.Errorf("%s/%s version %s: %w; change document.version (e.g. to a higher patch version) to publish the change",
				w.Namespace, w.Name, w.Version, store.ErrVersionExists)
		}
		return stored, false, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workflow_flags (namespace, name, enabled) VALUES ($1, $2, true) ON CONFLICT DO NOTHING`, w.Namespace, w.Name); err != nil {
		return w, false, err
	}
	stored, err := getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
	if err != nil {
		return w, false, err
	}
	if err := s.notify(ctx, tx, store.TopicWorkflows); err != nil {
		return w, false, err
	}
	return stored, true, tx.Commit(ctx)
}

func getWorkflow(ctx context.Context, q querier, ns, name, version string) (store.Workflow, error) {
	if version == "" || version == "latest" {
		rows, err := q.Query(ctx, `SELECT version FROM workflows WHERE namespace = $1 AND name = $2`, ns, name)
		if err != nil {
			return store.Workflow{}, err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return store.Workflow{}, err
		}
		if len(versions) == 0 {
			return store.Workflow{}, fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
		}
		sort.Slice(versions, func(i, j int) bool { return dsl.CompareVersions(versions[i], versions[j]) < 0 })
		version = versions[len(versions)-1]
	}
	var w store.Workflow
	var created int64
	var enabled *bool
	err := q.QueryRow(ctx, `SELECT w.namespace, w.name, w.version, w.source, w.digest, w.created_at, f.enabled
		FROM workflows w LEFT JOIN workflow_flags f ON f.namespace = w.namespace AND f.name = w.name
		WHERE w.namespace = $1 AND w.name = $2 AND w.version = $3`, ns, name, version).
		Scan(&w.Namespace, &w.Name, &w.Version, &w.Source, &w.Digest, &created, &enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("workflow %s/%s:%s: %w", ns, name, version, store.ErrNotFound)
	}
	w.CreatedAt = fromNanos(created)
	w.Enabled = enabled == nil || *enabled
	return w, err
}

// GetWorkflow returns a version, or the latest.
func (s *Store) GetWorkflow(ctx context.Context, ns, name, version string) (store.Workflow, error) {
	return getWorkflow(ctx, s.pool, ns, name, version)
}

// ListWorkflows returns the latest version of every workflow.
func (s *Store) ListWorkflows(ctx context.Context) ([]store.Workflow, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT namespace, name FROM workflows ORDER BY namespace, name`)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var k [2]string
		return k, r.Scan(&k[0], &k[1])
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Workflow, 0, len(keys))
	for _, k := range keys {
		w, err := getWorkflow(ctx, s.pool, k[0], k[1], "")
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// SetWorkflowEnabled enables or disables every version of a workflow.
func (s *Store) SetWorkflowEnabled(ctx context.Context, ns, name string, enabled bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `UPDATE workflow_flags SET enabled = $1 WHERE namespace = $2 AND name = $3`, enabled, ns, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
	}
	if err := s.notify(ctx, tx, store.TopicWorkflows); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

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
			fid, fsource, ftype, fsubject []string
			ftime, freceived              []int64
			fenv                          [][]byte
		)
		for _, i := range fresh {
			ev := out[i]
			fid, fsource, ftype, fsubject = append(fid, ev.ID), append(fsource, ev.Source), append(ftype, ev.Type), append(fsubject, ev.Subject)
			ftime, freceived, fenv = append(ftime, nanos(ev.Time)), append(freceived, nanos(ev.ReceivedAt)), append(fenv, ev.Envelope)
		}
		// Rows are inserted in the batch's order, so their seq follows it.
		rows, err := q.Query(ctx, `INSERT INTO events (id, source, type, subject, time, envelope, received_at)
			SELECT id, source, type, subject, time, envelope, received_at
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bytea[], $7::bigint[])
				WITH ORDINALITY AS u(id, source, type, subject, time, envelope, received_at, ord)
			ORDER BY ord RETURNING seq, source, id`, fid, fsource, ftype, fsubject, ftime, fenv, freceived)
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
	query, args := `SELECT seq, id, source, type, subject, time, envelope, received_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{afterSeq, limit}
	if types != nil {
		if len(types) == 0 {
			return nil, nil
		}
		// One ordered index scan per type, each stopping at limit: a single
		// `type = ANY` scan gathers every row of those types before sorting.
		query, args = `SELECT seq, id, source, type, subject, time, envelope, received_at FROM unnest($3::text[]) AS t(typ)
			CROSS JOIN LATERAL (SELECT seq, id, source, type, subject, time, envelope, received_at FROM events
				WHERE type = t.typ AND seq > $1 ORDER BY seq LIMIT $2) e
			ORDER BY seq LIMIT $2`, []any{afterSeq, limit, types}
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Event, error) {
		var ev store.Event
		var t, rec int64
		err := r.Scan(&ev.Seq, &ev.ID, &ev.Source, &ev.Type, &ev.Subject, &t, &ev.Envelope, &rec)
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
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
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

// DueTimers returns timers due by until, after (afterDue, afterID).
func (s *Store) DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]store.Timer, error) {
	from := int64(math.MinInt64)
	if !afterDue.IsZero() {
		from = nanos(afterDue)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, due FROM timers WHERE (due, id) > ($1, $2) AND due <= $3 AND (($5::bigint >> slot) & 1) = 1 ORDER BY due, id LIMIT $4`,
		from, afterID, nanos(until), limit, store.SlotMask(slots))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Timer, error) {
		var t store.Timer
		var due int64
		err := r.Scan(&t.ID, &t.InstanceID, &due)
		t.Due = fromNanos(due)
		return t, err
	})
}

// Subscriptions returns the subscriptions for an event type and key.
func (s *Store) Subscriptions(ctx context.Context, eventType, corrKey string) ([]store.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, event_type, corr_key, since, spec FROM subscriptions WHERE event_type = $1 AND corr_key = $2 ORDER BY id`, eventType, corrKey)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Subscription, error) {
		var sub store.Subscription
		var since int64
		err := r.Scan(&sub.ID, &sub.InstanceID, &sub.EventType, &sub.CorrKey, &since, &sub.Spec)
		sub.Since = fromNanos(since)
		return sub, err
	})
}

// SubscriptionTypes returns the event types subscriptions wait for.
func (s *Store) SubscriptionTypes(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT event_type FROM subscriptions ORDER BY event_type`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ListeningWorkflows returns the definitions with waiting subscriptions.
func (s *Store) ListeningWorkflows(ctx context.Context) ([][3]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT i.namespace, i.name, i.version FROM subscriptions s JOIN instances i ON i.id = s.instance_id ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
		var w [3]string
		return w, r.Scan(&w[0], &w[1], &w[2])
	})
}

// Outbox returns items due by until, oldest first.
func (s *Store) Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, kind, payload, attempts, next_at FROM outbox WHERE next_at <= $1 AND (($3::bigint >> slot) & 1) = 1 ORDER BY next_at, id LIMIT $2`,
		nanos(until), limit, store.SlotMask(slots))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.OutboxItem, error) {
		var o store.OutboxItem
		var next int64
		err := r.Scan(&o.ID, &o.InstanceID, &o.Kind, &o.Payload, &o.Attempts, &next)
		o.NextAt = fromNanos(next)
		return o, err
	})
}

// RescheduleOutbox records a failed attempt.
func (s *Store) RescheduleOutbox(ctx context.Context, id string, attempts int, next time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET attempts = $1, next_at = $2 WHERE id = $3`, attempts, nanos(next), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("outbox item %s: %w", id, store.ErrNotFound)
	}
	return nil
}
