package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// writer owns the one connection SQLite lets write at a time. Its
// statements are prepared once on that connection: parsing SQL again for
// every row was a quarter of the cost of a commit.
type writer struct {
	mu    sync.Mutex
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func newWriter(ctx context.Context, db *sql.DB) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open write connection: %w", err)
	}
	return &writer{conn: conn, stmts: map[string]*sql.Stmt{}}, nil
}

func (w *writer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.stmts {
		_ = st.Close()
	}
	return w.conn.Close()
}

// wtx is a write transaction; it holds the writer until it ends.
type wtx struct {
	w    *writer
	done bool
}

func (w *writer) begin(ctx context.Context) (*wtx, error) {
	w.mu.Lock()
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		w.mu.Unlock()
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &wtx{w: w}, nil
}

func (t *wtx) commit(ctx context.Context) error {
	if t.done {
		return errors.New("transaction already ended")
	}
	_, err := t.w.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
	if err != nil {
		_, _ = t.w.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	}
	t.done = true
	t.w.mu.Unlock()
	return err
}

// rollback ends the transaction unless it was committed; safe to defer.
func (t *wtx) rollback() {
	if t.done {
		return
	}
	_, _ = t.w.conn.ExecContext(context.Background(), "ROLLBACK")
	t.done = true
	t.w.mu.Unlock()
}

func (t *wtx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := t.w.stmts[query]; ok {
		return st, nil
	}
	st, err := t.w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	t.w.stmts[query] = st
	return st, nil
}

// ExecContext runs a prepared statement in the transaction.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryRowContext runs a prepared single-row query in the transaction.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return t.w.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext runs a query in the transaction.
func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// exec runs one statement in a transaction of its own.
func (w *writer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, err := w.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.commit(ctx)
}
