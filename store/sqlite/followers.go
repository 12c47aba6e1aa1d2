package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

const followerColumns = `name, cursor, owner, expires_at, fence, updated_at`

func scanFollower(row interface{ Scan(...any) error }) (store.Follower, error) {
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
// SQLite has one writer, so the write transaction alone makes it atomic.
func (s *Store) LeaseFollower(ctx context.Context, name, node string, fence int64, ttl time.Duration) (store.Follower, error) {
	if name == "" || node == "" || ttl <= 0 {
		return store.Follower{}, errors.New("lease follower: a follower name, a node name and a positive TTL are required")
	}
	tx, err := s.w.begin(ctx)
	if err != nil {
		return store.Follower{}, err
	}
	defer tx.rollback()
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO followers (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	f, err := scanFollower(tx.QueryRowContext(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = ?`, name))
	if err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	held := f.Node != "" && f.ExpiresAt.After(now)
	switch {
	case f.Node == node && f.Fence == fence && fence > 0:
		// Renewed, even when it lapsed: nobody took it meanwhile.
	case held && f.Node != node:
		return f, store.ErrHeld
	default:
		f.Fence++
		f.Node = node
	}
	f.ExpiresAt = now.Add(ttl).UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE followers SET owner = ?, fence = ?, expires_at = ? WHERE name = ?`, f.Node, f.Fence, nanos(f.ExpiresAt), name); err != nil {
		return store.Follower{}, fmt.Errorf("lease follower %s: %w", name, err)
	}
	return f, tx.commit(ctx)
}

// ReleaseFollower gives a follower's lease back.
func (s *Store) ReleaseFollower(ctx context.Context, name, node string, fence int64) error {
	if _, err := s.w.exec(ctx, `UPDATE followers SET owner = '', expires_at = 0 WHERE name = ? AND owner = ? AND fence = ?`, name, node, fence); err != nil {
		return fmt.Errorf("release follower %s: %w", name, err)
	}
	return nil
}

// GetFollower returns a follower.
func (s *Store) GetFollower(ctx context.Context, name string) (store.Follower, error) {
	f, err := scanFollower(s.read.QueryRowContext(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("follower %s: %w", name, store.ErrNotFound)
	}
	return f, err
}

// ListFollowers returns every follower.
func (s *Store) ListFollowers(ctx context.Context) ([]store.Follower, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+followerColumns+` FROM followers ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list followers: %w", err)
	}
	defer rows.Close()
	var out []store.Follower
	for rows.Next() {
		f, err := scanFollower(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// CommitFollower commits a follower's batch with its cursor (see
// store.Followers).
func (s *Store) CommitFollower(ctx context.Context, b store.FollowerBatch, apply func(context.Context, store.ProjectionTx) error) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	res, err := tx.ExecContext(ctx, `UPDATE followers SET cursor = ?, updated_at = ? WHERE name = ? AND fence = ? AND cursor = ?`,
		b.To, time.Now().UnixNano(), b.Name, b.Fence, b.From)
	if err != nil {
		return fmt.Errorf("commit follower %s: %w", b.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		f, err := scanFollower(tx.QueryRowContext(ctx, `SELECT `+followerColumns+` FROM followers WHERE name = ?`, b.Name))
		return followerRefusal(b, f, err)
	}
	if apply != nil {
		if err := apply(ctx, projectionTx{tx}); err != nil {
			return err
		}
	}
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("commit follower %s: %w", b.Name, err)
	}
	return nil
}

// followerRefusal says why a follower's commit found no row to move.
func followerRefusal(b store.FollowerBatch, f store.Follower, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
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
// its projection, in one transaction.
func (s *Store) ResetFollower(ctx context.Context, name string, clear func(context.Context, store.ProjectionTx) error) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO followers (name, updated_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET cursor = 0, updated_at = excluded.updated_at`,
		name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("reset follower %s: %w", name, err)
	}
	if clear != nil {
		if err := clear(ctx, projectionTx{tx}); err != nil {
			return err
		}
	}
	if err := tx.commit(ctx); err != nil {
		return fmt.Errorf("reset follower %s: %w", name, err)
	}
	return nil
}

// projectionTx is a follower's batch transaction, for its projection.
type projectionTx struct{ tx *wtx }

func (p projectionTx) Analytics() store.AnalyticsTx { return analyticsTx(p) }
func (p projectionTx) Customers() store.CustomersTx { return customersTx(p) }
