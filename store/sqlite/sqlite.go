// Package sqlite is the embedded default Store: one file in the data
// directory, WAL mode, created and migrated on first open.
package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the cgo-free SQLite driver

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	write *sql.DB // one connection: SQLite has one writer at a time
	read  *sql.DB
	w     *writer // that connection, once migrated
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	// temp_store(MEMORY) keeps the journal of the savepoint each change of a
	// group commit runs in off the disk: written to a temporary file it took
	// about a quarter of the CPU of a throughput run in write syscalls; it is
	// never needed after a crash (the WAL is).
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + pragmas.Encode()
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	s := &Store{write: write, read: read}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if s.w, err = newWriter(ctx, write); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var werr error
	if s.w != nil {
		werr = s.w.close()
	}
	return errors.Join(werr, s.write.Close(), s.read.Close())
}

// migrationSteps are Go steps that complete a migration in its transaction.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{4: backfillSlots}

// migrate applies, in order and once each, the migrations not yet applied.
// Migrations only go forward.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", name)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		var done int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done); err != nil {
			_ = tx.Rollback()
			return err
		}
		if done > 0 {
			_ = tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("apply %s: %w", name, err)
		}
		if step := migrationSteps[version]; step != nil {
			if err := step(ctx, tx); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("apply %s: %w", name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixNano()); err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// ---- workflows ----

// PutWorkflow stores a definition version.
func (s *Store) PutWorkflow(ctx context.Context, w store.Workflow) (store.Workflow, bool, error) {
	sum := sha256.Sum256(w.Source)
	w.Digest = hex.EncodeToString(sum[:])
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	tx, err := s.w.begin(ctx)
	if err != nil {
		return w, false, err
	}
	defer tx.rollback()
	var digest string
	err = tx.QueryRowContext(ctx, `SELECT digest FROM workflows WHERE namespace = ? AND name = ? AND version = ?`, w.Namespace, w.Name, w.Version).Scan(&digest)
	switch {
	case err == nil && digest == w.Digest:
		stored, err := s.getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
		return stored, false, err
	case err == nil:
		return w, false, fmt.Errorf("%s/%s version %s: %w; change document.version (e.g. to a higher patch version) to publish the change",
			w.Namespace, w.Name, w.Version, store.ErrVersionExists)
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO workflows (namespace, name, version, source, digest, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.Namespace, w.Name, w.Version, w.Source, w.Digest, nanos(w.CreatedAt)); err != nil {
			return w, false, err
		}
	default:
		return w, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_flags (namespace, name, enabled) VALUES (?, ?, 1) ON CONFLICT DO NOTHING`, w.Namespace, w.Name); err != nil {
		return w, false, err
	}
	stored, err := s.getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
	if err != nil {
		return w, false, err
	}
	return stored, true, tx.commit(ctx)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) getWorkflow(ctx context.Context, q queryer, ns, name, version string) (store.Workflow, error) {
	if version == "" || version == "latest" {
		versions, err := s.versions(ctx, q, ns, name)
		if err != nil {
			return store.Workflow{}, err
		}
		if len(versions) == 0 {
			return store.Workflow{}, fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
		}
		version = versions[len(versions)-1]
	}
	var w store.Workflow
	var created int64
	var enabled sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT w.namespace, w.name, w.version, w.source, w.digest, w.created_at, f.enabled
		FROM workflows w LEFT JOIN workflow_flags f ON f.namespace = w.namespace AND f.name = w.name
		WHERE w.namespace = ? AND w.name = ? AND w.version = ?`, ns, name, version).
		Scan(&w.Namespace, &w.Name, &w.Version, &w.Source, &w.Digest, &created, &enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("workflow %s/%s:%s: %w", ns, name, version, store.ErrNotFound)
	}
	w.CreatedAt = fromNanos(created)
	w.Enabled = !enabled.Valid || enabled.Int64 != 0
	return w, err
}

// versions lists a workflow's versions in semantic-version order.
func (s *Store) versions(ctx context.Context, q queryer, ns, name string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM workflows WHERE namespace = ? AND name = ?`, ns, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return dsl.CompareVersions(out[i], out[j]) < 0 })
	return out, rows.Err()
}

// GetWorkflow returns a stored version, or the latest.
func (s *Store) GetWorkflow(ctx context.Context, ns, name, version string) (store.Workflow, error) {
	return s.getWorkflow(ctx, s.read, ns, name, version)
}

// ListWorkflows returns the latest version of each workflow.
func (s *Store) ListWorkflows(ctx context.Context) ([]store.Workflow, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT namespace, name FROM workflows ORDER BY namespace, name`)
	if err != nil {
		return nil, err
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	out := make([]store.Workflow, 0, len(keys))
	for _, k := range keys {
		w, err := s.getWorkflow(ctx, s.read, k[0], k[1], "")
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// SetWorkflowEnabled enables or disables every version of a workflow.
func (s *Store) SetWorkflowEnabled(ctx context.Context, ns, name string, enabled bool) error {
	res, err := s.w.exec(ctx, `UPDATE workflow_flags SET enabled = ? WHERE namespace = ? AND name = ?`, enabled, ns, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
	}
	return nil
}
