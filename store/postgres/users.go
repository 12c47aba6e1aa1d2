package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storeflow/storeflow/store"
)

const userColumns = `id, name, email, password_hash, created_at, updated_at`

// PutUser creates or replaces a user with its roles.
func (s *Store) PutUser(ctx context.Context, u store.UserRecord, create bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var tag pgconn.CommandTag
	if create {
		tag, err = tx.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Name, u.Email, u.PasswordHash, nanos(u.CreatedAt), nanos(u.UpdatedAt))
	} else {
		tag, err = tx.Exec(ctx, `UPDATE users SET name = $1, email = $2, password_hash = $3, updated_at = $4 WHERE id = $5`,
			u.Name, u.Email, u.PasswordHash, nanos(u.UpdatedAt), u.ID)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("user %s: %w", u.ID, store.ErrUserExists)
	}
	if err != nil {
		return fmt.Errorf("store user %s: %w", u.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %s: %w", u.ID, store.ErrNotFound)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1`, u.ID); err != nil {
		return fmt.Errorf("store user %s: roles: %w", u.ID, err)
	}
	for _, r := range u.Roles {
		if _, err := tx.Exec(ctx, `INSERT INTO user_roles (user_id, shop, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, u.ID, r.Shop, r.Role); err != nil {
			return fmt.Errorf("store user %s: role %s in %s: %w", u.ID, r.Role, r.Shop, err)
		}
	}
	return tx.Commit(ctx)
}

func scanUser(row pgx.Row) (store.UserRecord, error) {
	var u store.UserRecord
	var created, updated int64
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, err
}

// GetUser returns a user with its roles.
func (s *Store) GetUser(ctx context.Context, id string) (store.UserRecord, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	roles, err := s.roles(ctx, `SELECT user_id, shop, role FROM user_roles WHERE user_id = $1 ORDER BY shop, role`, id)
	u.Roles = roles[id]
	return u, err
}

func (s *Store) roles(ctx context.Context, query string, args ...any) (map[string][]store.UserRole, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]store.UserRole{}
	for rows.Next() {
		var user string
		var r store.UserRole
		if err := rows.Scan(&user, &r.Shop, &r.Role); err != nil {
			return nil, err
		}
		out[user] = append(out[user], r)
	}
	return out, rows.Err()
}

// ListUsers returns users by id, those with a role in shop when given.
func (s *Store) ListUsers(ctx context.Context, shop string) ([]store.UserRecord, error) {
	query, args := `SELECT `+userColumns+` FROM users ORDER BY id`, []any{}
	if shop != "" {
		query, args = `SELECT `+userColumns+` FROM users WHERE id IN (SELECT user_id FROM user_roles WHERE shop = $1) ORDER BY id`, []any{shop}
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.UserRecord, error) { return scanUser(r) })
	if err != nil {
		return nil, err
	}
	roles, err := s.roles(ctx, `SELECT user_id, shop, role FROM user_roles ORDER BY user_id, shop, role`)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Roles = roles[out[i].ID]
	}
	return out, nil
}

// DeleteUser removes a user, its roles and sessions.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	for _, q := range []string{`DELETE FROM user_roles WHERE user_id = $1`, `DELETE FROM user_sessions WHERE user_id = $1`} {
		if _, err := tx.Exec(ctx, q, id); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
	}
	return tx.Commit(ctx)
}

// ShopRoles lists the roles held in a shop.
func (s *Store) ShopRoles(ctx context.Context, shop string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT role FROM user_roles WHERE shop = $1 ORDER BY role`, shop)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// PutSession stores a session and drops the user's expired ones.
func (s *Store) PutSession(ctx context.Context, sess store.Session) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `DELETE FROM user_sessions WHERE user_id = $1 AND expires_at <= $2`, sess.UserID, nanos(sess.CreatedAt)); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		sess.TokenHash, sess.UserID, nanos(sess.CreatedAt), nanos(sess.ExpiresAt)); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return tx.Commit(ctx)
}

// Session returns an unexpired session.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	var sess store.Session
	var created, expires int64
	err := s.pool.QueryRow(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM user_sessions WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, nanos(now)).Scan(&sess.TokenHash, &sess.UserID, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	sess.CreatedAt, sess.ExpiresAt = fromNanos(created), fromNanos(expires)
	return sess, err
}

// DeleteSessions ends one session, or every session of a user.
func (s *Store) DeleteSessions(ctx context.Context, userID, tokenHash string) error {
	var err error
	if tokenHash != "" {
		_, err = s.pool.Exec(ctx, `DELETE FROM user_sessions WHERE token_hash = $1`, tokenHash)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM user_sessions WHERE user_id = $1`, userID)
	}
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}
