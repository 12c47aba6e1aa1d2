package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
)

const messageColumns = `id, key, shop, channel, address, customer_id, workflow, instance, task, template, subject, category, status, reason, at`

// upsertMessage records a message by key; one seen before keeps its id.
const upsertMessage = `INSERT INTO messages (` + messageColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (key) DO UPDATE SET shop = excluded.shop, channel = excluded.channel, address = excluded.address,
		customer_id = excluded.customer_id, workflow = excluded.workflow, instance = excluded.instance, task = excluded.task,
		template = excluded.template, subject = excluded.subject, category = excluded.category,
		status = excluded.status, reason = excluded.reason, at = excluded.at`

func messageArgs(m store.Message) []any {
	return []any{m.ID, m.Key, m.Shop, m.Channel, m.Address, m.CustomerID, m.Workflow, m.Instance, m.Task, m.Template, m.Subject,
		m.Category, m.Status, m.Reason, nanos(m.At)}
}

func scanMessage(row interface{ Scan(...any) error }) (store.Message, error) {
	var m store.Message
	var at int64
	err := row.Scan(&m.ID, &m.Key, &m.Shop, &m.Channel, &m.Address, &m.CustomerID, &m.Workflow, &m.Instance, &m.Task, &m.Template,
		&m.Subject, &m.Category, &m.Status, &m.Reason, &at)
	m.At = fromNanos(at)
	return m, err
}

// ClaimMessage checks smart sending and the send rate and records the
// message as being sent, in one write transaction (SQLite has one writer,
// so no other claim comes between the check and the record).
func (s *Store) ClaimMessage(ctx context.Context, c store.MessageClaim) (store.MessageClaimed, error) {
	m := c.Message
	m.Status = store.MessageSending
	tx, err := s.w.begin(ctx)
	if err != nil {
		return store.MessageClaimed{}, err
	}
	defer tx.rollback()
	if !c.SmartSince.IsZero() {
		recent, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE shop = ? AND channel = ? AND address = ? AND category = 'marketing' AND status IN ('sending', 'sent') AND at >= ? AND key <> ?
			ORDER BY at DESC LIMIT 1`, m.Shop, m.Channel, m.Address, nanos(c.SmartSince), m.Key))
		switch {
		case err == nil:
			return store.MessageClaimed{Recent: &recent}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return store.MessageClaimed{}, fmt.Errorf("claim message: smart sending: %w", err)
		}
	}
	if c.RateLimit > 0 {
		var n int
		var oldest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at) FROM messages WHERE shop = ? AND status IN ('sending', 'sent') AND at >= ? AND key <> ?`,
			m.Shop, nanos(c.RateSince), m.Key).Scan(&n, &oldest); err != nil {
			return store.MessageClaimed{}, fmt.Errorf("claim message: send rate: %w", err)
		}
		if n >= c.RateLimit {
			return store.MessageClaimed{RateFull: true, Oldest: fromNanos(oldest.Int64)}, nil
		}
	}
	if _, err := tx.ExecContext(ctx, upsertMessage, messageArgs(m)...); err != nil {
		return store.MessageClaimed{}, fmt.Errorf("claim message: %w", err)
	}
	if err := tx.commit(ctx); err != nil {
		return store.MessageClaimed{}, fmt.Errorf("claim message: %w", err)
	}
	return store.MessageClaimed{Granted: true}, nil
}

// PutMessage records a message's status.
func (s *Store) PutMessage(ctx context.Context, m store.Message) error {
	if _, err := s.w.exec(ctx, upsertMessage, messageArgs(m)...); err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	return nil
}

// GetMessage returns the message of an idempotency key.
func (s *Store) GetMessage(ctx context.Context, key string) (store.Message, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %s: %w", key, store.ErrNotFound)
	}
	return m, err
}

// ListMessages returns messages newest first.
func (s *Store) ListMessages(ctx context.Context, q store.MessageQuery) ([]store.Message, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"shop = ?", q.Shop}, {"address = ?", q.Address}, {"instance = ?", q.Instance}, {"id < ?", q.After}} {
		if f.val != "" {
			where = append(where, f.col)
			args = append(args, f.val)
		}
	}
	query := `SELECT ` + messageColumns + ` FROM messages`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddContactFacts records facts with the follower's cursor.
func (s *Store) AddContactFacts(ctx context.Context, cursor string, seq int64, facts []store.ContactFact) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	for _, f := range facts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO contact_facts (shop, key, kind, seq, occurred_at, channel, state) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, f.Shop, f.Key, f.Kind, f.Seq, nanos(f.OccurredAt), f.Channel, f.State); err != nil {
			return fmt.Errorf("record contact fact: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)`, cursor, seq); err != nil {
		return fmt.Errorf("move cursor %s: %w", cursor, err)
	}
	return tx.commit(ctx)
}

const factColumns = `shop, key, kind, seq, occurred_at, channel, state`

func scanFact(row interface{ Scan(...any) error }) (store.ContactFact, error) {
	var f store.ContactFact
	var at int64
	err := row.Scan(&f.Shop, &f.Key, &f.Kind, &f.Seq, &at, &f.Channel, &f.State)
	f.OccurredAt = fromNanos(at)
	return f, err
}

// LatestConsent returns the last consent fact of a key and channel.
func (s *Store) LatestConsent(ctx context.Context, shop, key, channel string) (store.ContactFact, error) {
	f, err := scanFact(s.read.QueryRowContext(ctx, `SELECT `+factColumns+` FROM contact_facts
		WHERE shop = ? AND key = ? AND kind = 'consent' AND channel = ? ORDER BY occurred_at DESC, seq DESC LIMIT 1`, shop, key, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("consent of %s: %w", key, store.ErrNotFound)
	}
	return f, err
}

// OrderAfter returns the earliest order fact of keys after since.
func (s *Store) OrderAfter(ctx context.Context, shop string, keys []string, since time.Time) (store.ContactFact, error) {
	if len(keys) == 0 {
		return store.ContactFact{}, fmt.Errorf("order: no keys: %w", store.ErrNotFound)
	}
	after := int64(-1 << 63)
	if !since.IsZero() {
		after = nanos(since)
	}
	args := []any{shop, after}
	for _, k := range keys {
		args = append(args, k)
	}
	f, err := scanFact(s.read.QueryRowContext(ctx, `SELECT `+factColumns+` FROM contact_facts
		WHERE shop = ? AND kind = 'order' AND occurred_at > ? AND key IN (?`+strings.Repeat(", ?", len(keys)-1)+`)
		ORDER BY occurred_at, seq LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("order of %s: %w", strings.Join(keys, ", "), store.ErrNotFound)
	}
	return f, err
}
