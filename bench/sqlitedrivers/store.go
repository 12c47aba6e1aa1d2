package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// driverSpec is the one driver a child binary is built with.
type driverSpec struct {
	name   string // modernc, mattn, ncruces
	module string // Go module path, for the version in the build info
	sqlDrv string // database/sql driver name
	// dsn gives the data source name of the database file at path with
	// the pragmas store/sqlite sets: WAL, busy_timeout 10 s,
	// synchronous FULL, foreign keys on, temp_store MEMORY; write adds an
	// immediate _txlock.
	dsn func(path string, write bool) string
}

// db mirrors store/sqlite.Store: a one-connection write pool whose
// connection is held by a writer with prepared statements (writer.go), and
// a read pool of four connections.
type db struct {
	write, read *sql.DB
	w           *writer
}

func openDB(ctx context.Context, d *driverSpec, path string, readIdle int) (*db, error) {
	write, err := sql.Open(d.sqlDrv, d.dsn(path, true))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read, err := sql.Open(d.sqlDrv, d.dsn(path, false))
	if err != nil {
		_ = write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(readIdle)
	s := &db{write: write, read: read}
	// Migrate the way store/sqlite does: the DDL in one transaction.
	if err := s.migrate(ctx); err != nil {
		_ = s.close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	conn, err := write.Conn(ctx)
	if err != nil {
		_ = s.close()
		return nil, err
	}
	s.w = &writer{conn: conn, stmts: map[string]*sql.Stmt{}}
	return s, nil
}

func (s *db) migrate(ctx context.Context) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// One statement per Exec: not every driver runs several in one call
	// when it is given none or some arguments. Comment lines go first, as
	// some hold a semicolon.
	var ddl []string
	for _, l := range strings.Split(schema, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			ddl = append(ddl, l)
		}
	}
	for _, stmt := range strings.Split(strings.Join(ddl, "\n"), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.TrimSpace(stmt), err)
		}
	}
	return tx.Commit()
}

func (s *db) close() error {
	if s.w != nil {
		for _, st := range s.w.stmts {
			_ = st.Close()
		}
		_ = s.w.conn.Close()
	}
	werr := s.write.Close()
	rerr := s.read.Close()
	if werr != nil {
		return werr
	}
	return rerr
}

// settings reads the pragmas that decide durability and speed, from the
// write connection and from a read connection, so that a run can show the
// drivers were set up alike.
func (s *db) settings(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	var v string
	if err := s.w.conn.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&v); err != nil {
		return nil, err
	}
	out["sqlite_version"] = v
	for _, p := range []string{"journal_mode", "synchronous", "busy_timeout", "foreign_keys", "page_size", "cache_size", "mmap_size", "wal_autocheckpoint", "locking_mode", "temp_store"} {
		if err := s.w.conn.QueryRowContext(ctx, `PRAGMA `+p).Scan(&v); err != nil {
			return nil, fmt.Errorf("pragma %s: %w", p, err)
		}
		out["write."+p] = v
	}
	rc, err := s.read.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	for _, p := range []string{"journal_mode", "busy_timeout", "cache_size", "mmap_size"} {
		if err := rc.QueryRowContext(ctx, `PRAGMA `+p).Scan(&v); err != nil {
			return nil, fmt.Errorf("pragma %s: %w", p, err)
		}
		out["read."+p] = v
	}
	want := map[string]string{"write.journal_mode": "wal", "write.synchronous": "2", "write.busy_timeout": "10000", "write.foreign_keys": "1", "write.temp_store": "2", "read.journal_mode": "wal", "read.busy_timeout": "10000"}
	for k, w := range want {
		if !strings.EqualFold(out[k], w) {
			return out, fmt.Errorf("%s is %q, want %q: the DSN did not set it", k, out[k], w)
		}
	}
	return out, nil
}

// writer is store/sqlite's writer: the one write connection, statements
// prepared once on it, transactions begun with BEGIN IMMEDIATE.
type writer struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", query, err)
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writer) begin(ctx context.Context) error {
	_, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	return err
}

func (w *writer) commit(ctx context.Context) error {
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		_, _ = w.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	return nil
}

func (w *writer) rollback(ctx context.Context) {
	_, _ = w.conn.ExecContext(ctx, "ROLLBACK")
}

func (w *writer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (w *writer) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}
