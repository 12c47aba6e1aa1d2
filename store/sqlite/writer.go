package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// multi is a statement over many rows at once (a multi-row INSERT, a
// DELETE … IN (…)), prepared once for each of a few sizes: one statement
// for many rows costs the writer a fraction of one per row.
type multi struct {
	cols    int
	queries [len(multiSizes)]string
}

// multiSizes are the row counts multi statements are prepared for, largest
// first: any number of rows takes a few statements, and the prepared ones
// stay few.
var multiSizes = [...]int{128, 32, 8, 1}

// newMulti builds the statement head + row (sep row)… + tail, row having
// cols placeholders.
func newMulti(head, row, sep, tail string, cols int) *multi {
	m := &multi{cols: cols}
	for i, n := range multiSizes {
		var b strings.Builder
		b.WriteString(head)
		for j := range n {
			if j > 0 {
				b.WriteString(sep)
			}
			b.WriteString(row)
		}
		b.WriteString(tail)
		m.queries[i] = b.String()
	}
	return m
}

// execRows runs m over args, m.cols values a row.
func (t *wtx) execRows(ctx context.Context, m *multi, args []any) error {
	if len(args)%m.cols != 0 {
		return fmt.Errorf("%d values for rows of %d", len(args), m.cols)
	}
	for len(args) > 0 {
		q, n := m.sized(len(args) / m.cols)
		if _, err := t.ExecContext(ctx, q, args[:n*m.cols]...); err != nil {
			return err
		}
		args = args[n*m.cols:]
	}
	return nil
}

// sized returns the largest of m's statements for at most rows rows (1 or
// more), and its row count.
func (m *multi) sized(rows int) (string, int) {
	for i, n := range multiSizes {
		if n <= rows {
			return m.queries[i], n
		}
	}
	return m.queries[len(multiSizes)-1], 1
}
