// Package sqlite is the embedded default Store: one file in the data
// directory, WAL mode, created and migrated on first open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the cgo-free SQLite driver

	"github.com/storeflow/storeflow/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	write *sql.DB // one connection: SQLite has one writer at a time
	read  *sql.DB
	w     *writer // that connection, once migrated

	reads     sync.Map // query → *sql.Stmt on read (see readStmt)
	readCount atomic.Int64
}

// The roles and abilities this backend has, checked when it compiles.
var (
	_ store.Store  = (*Store)(nil)
	_ store.Pruner = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", dir, err)
		}
	}
	write, err := OpenWriteDB(path)
	if err != nil {
		return nil, err
	}
	read, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	// Idle connections stay, with the statements prepared on them.
	read.SetMaxIdleConns(4)
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

// dsn names the database file at path with the pragmas every connection
// of the store gets.
func dsn(path string) string {
	// temp_store(MEMORY) keeps the journal of the savepoint each change of a
	// group commit runs in off the disk: written to a temporary file it took
	// about a quarter of the CPU of a throughput run in write syscalls; it is
	// never needed after a crash (the WAL is).
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)", "foreign_keys(ON)", "temp_store(MEMORY)"} {
		pragmas.Add("_pragma", p)
	}
	return "file:" + path + "?" + pragmas.Encode()
}

// OpenWriteDB opens the database file at path as the store opens its
// writer: the same driver and pragmas, one connection, transactions begun
// IMMEDIATE. The raw-limit benchmark writes through it, so that its figure
// and the store's are measured on the same setup.
func OpenWriteDB(path string) (*sql.DB, error) {
	write, err := sql.Open("sqlite", dsn(path)+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	return write, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var werr error
	if s.w != nil {
		werr = s.w.close()
	}
	s.reads.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
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

// maxReadStmts bounds the read statements kept prepared; queries built
// from arguments (lists of types) could otherwise make them many.
const maxReadStmts = 256

// readStmt returns query prepared on the read pool (each connection
// prepares it once), so that the reads on the hot path (an instance a
// timer fires, the log the matcher follows) are not parsed again every
// time: parsing cost a timer firing about as much as the read itself.
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.reads.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	if s.readCount.Load() >= maxReadStmts {
		return nil, nil
	}
	st, err := s.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.reads.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	s.readCount.Add(1)
	return st, nil
}

// queryRow runs a single-row read through its prepared statement.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st, err := s.readStmt(ctx, query); err == nil && st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.read.QueryRowContext(ctx, query, args...)
}

// query runs a read through its prepared statement.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.read.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}
