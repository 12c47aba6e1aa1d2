package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

const messageColumns = `id, key, shop, channel, address, customer_id, workflow, instance, task, template, subject, category, status, reason, at`

// upsertMessage records a message by key; one seen before keeps its id.
const upsertMessage = `INSERT INTO messages (` + messageColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT (key) DO UPDATE SET shop = excluded.shop, channel = excluded.channel, address = excluded.address,
		customer_id = excluded.customer_id, workflow = excluded.workflow, instance = excluded.instance, task = excluded.task,
		template = excluded.template, subject = excluded.subject, category = excluded.category,
		status = excluded.status, reason = excluded.reason, at = excluded.at`

// messageLock is the class of the advisory locks that serialise the claims
// of one shop's messages (the shop's hash is the second key).
const messageLock = 0x6d736773 // "msgs"

func messageArgs(m store.Message) []any {
	return []any{m.ID, m.Key, m.Shop, m.Channel, m.Address, m.CustomerID, m.Workflow, m.Instance, m.Task, m.Template, m.Subject,
		m.Category, m.Status, m.Reason, nanos(m.At)}
}

func scanMessage(row pgx.Row) (store.Message, error) {
	var m store.Message
	var at int64
	err := row.Scan(&m.ID, &m.Key, &m.Shop, &m.Channel, &m.Address, &m.CustomerID, &m.Workflow, &m.Instance, &m.Task, &m.Template,
		&m.Subject, &m.Category, &m.Status, &m.Reason, &at)
	m.At = fromNanos(at)
	return m, err
}

// ClaimMessage checks smart sending and the send rate and records the
// message as being sent, in one transaction that holds the shop's message
// lock, so that no claim of another node comes between check and record.
func (s *Store) ClaimMessage(ctx context.Context, c store.MessageClaim) (store.MessageClaimed, error) {
	m := c.Message
	m.Status = store.MessageSending
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.MessageClaimed{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(messageLock), m.Shop); err != nil {
		return store.MessageClaimed{}, fmt.Errorf("claim message: lock: %w", err)
	}
	if !c.SmartSince.IsZero() {
		recent, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE shop = $1 AND channel = $2 AND address = $3 AND category = 'marketing' AND status IN ('sending', 'sent') AND at >= $4 AND key <> $5
			ORDER BY at DESC LIMIT 1`, m.Shop, m.Channel, m.Address, nanos(c.SmartSince), m.Key))
		switch {
		case err == nil:
			return store.MessageClaimed{Recent: &recent}, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return store.MessageClaimed{}, fmt.Errorf("claim message: smart sending: %w", err)
		}
	}
	if c.RateLimit > 0 {
		var n int
		var oldest *int64
		if err := tx.QueryRow(ctx, `SELECT COUNT(*), MIN(at) FROM messages WHERE shop = $1 AND status IN ('sending', 'sent') AND at >= $2 AND key <> $3`,
			m.Shop, nanos(c.RateSince), m.Key).Scan(&n, &oldest); err != nil {
			return store.MessageClaimed{}, fmt.Errorf("claim message: send rate: %w", err)
		}
		if n >= c.RateLimit && oldest != nil {
			return store.MessageClaimed{RateFull: true, Oldest: fromNanos(*oldest)}, nil
		}
	}
	if _, err := tx.Exec(ctx, upsertMessage, messageArgs(m)...); err != nil {
		return store.MessageClaimed{}, fmt.Errorf("claim message: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.MessageClaimed{}, fmt.Errorf("claim message: %w", err)
	}
	return store.MessageClaimed{Granted: true}, nil
}

// PutMessage records a message's status.
func (s *Store) PutMessage(ctx context.Context, m store.Message) error {
	if _, err := s.pool.Exec(ctx, upsertMessage, messageArgs(m)...); err != nil {
		return fmt.Errorf("record message: %w", err)
	}
	return nil
}

// GetMessage returns the message of an idempotency key.
func (s *Store) GetMessage(ctx context.Context, key string) (store.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE key = $1`, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return m, fmt.Errorf("message %s: %w", key, store.ErrNotFound)
	}
	return m, err
}

// ListMessages returns messages newest first.
func (s *Store) ListMessages(ctx context.Context, q store.MessageQuery) ([]store.Message, error) {
	var where []string
	var args []any
	for _, f := range []struct{ col, val string }{{"shop = $%d", q.Shop}, {"address = $%d", q.Address}, {"instance = $%d", q.Instance}, {"id < $%d", q.After}} {
		if f.val != "" {
			args = append(args, f.val)
			where = append(where, fmt.Sprintf(f.col, len(args)))
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
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, query+fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
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
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if len(facts) > 0 {
		batch := &pgx.Batch{}
		for _, f := range facts {
			batch.Queue(`INSERT INTO contact_facts (shop, key, kind, seq, occurred_at, channel, state) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT DO NOTHING`, f.Shop, f.Key, f.Kind, f.Seq, nanos(f.OccurredAt), f.Channel, f.State)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("record contact facts: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO cursors (name, seq) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET seq = GREATEST(cursors.seq, excluded.seq)`, cursor, seq); err != nil {
		return fmt.Errorf("move cursor %s: %w", cursor, err)
	}
	return tx.Commit(ctx)
}

const factColumns = `shop, key, kind, seq, occurred_at, channel, state`

func scanFact(row pgx.Row) (store.ContactFact, error) {
	var f store.ContactFact
	var at int64
	err := row.Scan(&f.Shop, &f.Key, &f.Kind, &f.Seq, &at, &f.Channel, &f.State)
	f.OccurredAt = fromNanos(at)
	return f, err
}

// LatestConsent returns the last consent fact of a key and channel.
func (s *Store) LatestConsent(ctx context.Context, shop, key, channel string) (store.ContactFact, error) {
	f, err := scanFact(s.pool.QueryRow(ctx, `SELECT `+factColumns+` FROM contact_facts
		WHERE shop = $1 AND key = $2 AND kind = 'consent' AND channel = $3 ORDER BY occurred_at DESC, seq DESC LIMIT 1`, shop, key, channel))
	if errors.Is(err, pgx.ErrNoRows) {
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
	f, err := scanFact(s.pool.QueryRow(ctx, `SELECT `+factColumns+` FROM contact_facts
		WHERE shop = $1 AND kind = 'order' AND occurred_at > $2 AND key = ANY($3) ORDER BY occurred_at, seq LIMIT 1`, shop, after, keys))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("order of %s: %w", strings.Join(keys, ", "), store.ErrNotFound)
	}
	return f, err
}
