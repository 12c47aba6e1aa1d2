package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

const userColumns = `id, name, email, password_hash, created_at, updated_at`

// PutUser creates or replaces a user with its roles.
func (s *Store) PutUser(ctx context.Context, u store.UserRecord, create bool) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	var res sql.Result
	if create {
		res, err = tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.Email, u.PasswordHash, nanos(u.CreatedAt), nanos(u.UpdatedAt))
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE users SET name = ?, email = ?, password_hash = ?, updated_at = ? WHERE id = ?`,
			u.Name, u.Email, u.PasswordHash, nanos(u.UpdatedAt), u.ID)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("user %s: %w", u.ID, store.ErrUserExists)
	}
	if err != nil {
		return fmt.Errorf("store user %s: %w", u.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", u.ID, store.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ?`, u.ID); err != nil {
		return fmt.Errorf("store user %s: roles: %w", u.ID, err)
	}
	for _, r := range u.Roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, shop, role) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, u.ID, r.Shop, r.Role); err != nil {
			return fmt.Errorf("store user %s: role %s in %s: %w", u.ID, r.Role, r.Shop, err)
		}
	}
	return tx.commit(ctx)
}

// GetUser returns a user with its roles.
func (s *Store) GetUser(ctx context.Context, id string) (store.UserRecord, error) {
	var u store.UserRecord
	var created, updated int64
	err := s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	roles, err := s.roles(ctx, `SELECT user_id, shop, role FROM user_roles WHERE user_id = ? ORDER BY shop, role`, id)
	u.Roles = roles[id]
	return u, err
}

func (s *Store) roles(ctx context.Context, query string, args ...any) (map[string][]store.UserRole, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
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
		query, args = `SELECT `+userColumns+` FROM users WHERE id IN (SELECT user_id FROM user_roles WHERE shop = ?) ORDER BY id`, []any{shop}
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.UserRecord
	for rows.Next() {
		var u store.UserRecord
		var created, updated int64
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &created, &updated); err != nil {
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
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
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", id, store.ErrNotFound)
	}
	for _, q := range []string{`DELETE FROM user_roles WHERE user_id = ?`, `DELETE FROM user_sessions WHERE user_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
	}
	return tx.commit(ctx)
}

// ShopRoles lists the roles held in a shop.
func (s *Store) ShopRoles(ctx context.Context, shop string) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT role FROM user_roles WHERE shop = ? ORDER BY role`, shop)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutSession stores a session and drops the user's expired ones.
func (s *Store) PutSession(ctx context.Context, sess store.Session) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_sessions WHERE user_id = ? AND expires_at <= ?`, sess.UserID, nanos(sess.CreatedAt)); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, nanos(sess.CreatedAt), nanos(sess.ExpiresAt)); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return tx.commit(ctx)
}

// Session returns an unexpired session.
func (s *Store) Session(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	var sess store.Session
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM user_sessions WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, nanos(now)).Scan(&sess.TokenHash, &sess.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	sess.CreatedAt, sess.ExpiresAt = fromNanos(created), fromNanos(expires)
	return sess, err
}

// DeleteSessions ends one session, or every session of a user.
func (s *Store) DeleteSessions(ctx context.Context, userID, tokenHash string) error {
	var err error
	if tokenHash != "" {
		_, err = s.w.exec(ctx, `DELETE FROM user_sessions WHERE token_hash = ?`, tokenHash)
	} else {
		_, err = s.w.exec(ctx, `DELETE FROM user_sessions WHERE user_id = ?`, userID)
	}
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}
