package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

const followerColumns = `name, cursor, owner, expires_at, fence, updated_at`

func scanFollower(row pgx.Row) (store.Follower, error) {
	var f store.Follower
	var expires, updated int64
	err := row.Scan(&f.Name, &f.Cursor, &f.Node, &expires, &f.Fence, &updated)
	f.ExpiresAt, f.UpdatedAt = fromNanos(expires), fromNanos(updated)
	if f.Node == "" {
		f.ExpiresAt = time.Time{}
	}
	if updated == 0 {
		f.UpdatedAt = time.Time{}
	}
	return f, err
}

// LeaseFollower takes or renews a follower's lease (see store.Followers).
// The row is locked for the decision, so that two nodes cannot both take it.
func (s *Store) LeaseFollower(ctx context.Context, name, node string, fence int64, ttl time.Duration) (store.Follower, error) {
	if name == "" || node == "" || ttl <= 0 {
		return store.Follower{}, errors.New("lease follower: a follower name, a node name and a positive TTL are required")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.Follower{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO followers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	f, err := scanFollower(tx.QueryRow(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = $1 FOR UPDATE`, name))
	if err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	// The database's clock decides expiry, as for slots: nodes' clocks may
	// disagree.
	var now int64
	if err := tx.QueryRow(ctx, dbNow).Scan(&now); err != nil {
		return store.Follower{}, err
	}
	held := f.Node != "" && nanos(f.ExpiresAt) > now
	switch {
	case f.Node == node && f.Fence == fence && fence > 0:
		// Renewed, even when it lapsed: nobody took it meanwhile.
	case held && f.Node != node:
		return f, store.ErrHeld
	default:
		f.Fence++
		f.Node = node
	}
	f.ExpiresAt = fromNanos(now + ttl.Nanoseconds())
	if _, err := tx.Exec(ctx, `UPDATE followers SET owner = $1, fence = $2, expires_at = $3 WHERE name = $4`, f.Node, f.Fence, nanos(f.ExpiresAt), name); err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	return f, tx.Commit(ctx)
}

// ReleaseFollower gives a follower's lease back.
func (s *Store) ReleaseFollower(ctx context.Context, name, node string, fence int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE followers SET owner = '', expires_at = 0 WHERE name = $1 AND owner = $2 AND fence = $3`, name, node, fence); err != nil {
		return fmt.Errorf("release follower %s: %w", name, err)
	}
	return nil
}

// GetFollower returns a follower.
func (s *Store) GetFollower(ctx context.Context, name string) (store.Follower, error) {
	f, err := scanFollower(s.pool.QueryRow(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, fmt.Errorf("follower %s: %w", name, store.ErrNotFound)
	}
	return f, err
}

// ListFollowers returns every follower.
func (s *Store) ListFollowers(ctx context.Context) ([]store.Follower, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+followerColumns+` FROM followers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Follower, error) { return scanFollower(r) })
}

// CommitFollower commits a follower's batch with its cursor (see
// store.Followers). The cursor's row is updated first: that locks it, so
// that a second commit of the same batch waits for the first and then
// finds the cursor moved.
func (s *Store) CommitFollower(ctx context.Context, b store.FollowerBatch, apply func(context.Context, store.ProjectionTx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	tag, err := tx.Exec(ctx, `UPDATE followers SET cursor = $1, updated_at = $2 WHERE name = $3 AND fence = $4 AND cursor = $5`,
		b.To, time.Now().UnixNano(), b.Name, b.Fence, b.From)
	if err != nil {
		return fmt.Errorf("commit follower %s: %w", b.Name, err)
	}
	if tag.RowsAffected() == 0 {
		f, err := scanFollower(tx.QueryRow(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = $1`, b.Name))
		return followerRefusal(b, f, err)
	}
	if apply != nil {
		if err := apply(ctx, projectionTx{tx}); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit follower %s: %w", b.Name, err)
	}
	return nil
}

// followerRefusal says why a follower's commit found no row to move.
func followerRefusal(b store.FollowerBatch, f store.Follower, err error) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("follower %s: %w", b.Name, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("commit follower %s: %w", b.Name, err)
	case f.Fence != b.Fence:
		return fmt.Errorf("follower %s: lease fence %d, now %d (held by %q): %w", b.Name, b.Fence, f.Fence, f.Node, store.ErrFenced)
	default:
		return fmt.Errorf("follower %s: batch from %d, but the cursor is at %d: %w", b.Name, b.From, f.Cursor, store.ErrConflict)
	}
}

// ResetFollower moves a follower back to the start of the log and clears
// its projection, in one transaction; it waits for a batch in flight.
func (s *Store) ResetFollower(ctx context.Context, name string, clear func(context.Context, store.ProjectionTx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `INSERT INTO followers (name, updated_at) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET cursor = 0, updated_at = excluded.updated_at`,
		name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("reset follower %s: %w", name, err)
	}
	if clear != nil {
		if err := clear(ctx, projectionTx{tx}); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("reset follower %s: %w", name, err)
	}
	return nil
}

// projectionTx is a follower's batch transaction, for its projection.
type projectionTx struct{ tx pgx.Tx }

func (p projectionTx) Analytics() store.AnalyticsTx { return analyticsTx(p) }
func (p projectionTx) Customers() store.CustomersTx { return customersTx(p) }
