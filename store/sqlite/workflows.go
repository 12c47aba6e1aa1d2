package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// PutWorkflow stores a definition version.
func (s *Store) PutWorkflow(ctx context.Context, w store.Workflow) (store.Workflow, bool, error) {
	sum := sha256.Sum256(w.Source)
	w.Digest = hex.EncodeToString(sum[:])
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	tx, err := s.w.begin(ctx)
	if err != nil {
		return w, false, err
	}
	defer tx.rollback()
	var digest string
	err = tx.QueryRowContext(ctx, `SELECT digest FROM workflows WHERE namespace = ? AND name = ? AND version = ?`, w.Namespace, w.Name, w.Version).Scan(&digest)
	switch {
	case err == nil && digest == w.Digest:
		stored, err := s.getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
		return stored, false, err
	case err == nil:
		return w, false, fmt.Errorf("%s/%s version %s: %w; change document.version (e.g. to a higher patch version) to publish the change",
			w.Namespace, w.Name, w.Version, store.ErrVersionExists)
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO workflows (namespace, name, version, source, digest, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.Namespace, w.Name, w.Version, w.Source, w.Digest, nanos(w.CreatedAt)); err != nil {
			return w, false, err
		}
	default:
		return w, false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO workflow_flags (namespace, name, enabled) VALUES (?, ?, 1) ON CONFLICT DO NOTHING`, w.Namespace, w.Name); err != nil {
		return w, false, err
	}
	stored, err := s.getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
	if err != nil {
		return w, false, err
	}
	return stored, true, tx.commit(ctx)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) getWorkflow(ctx context.Context, q queryer, ns, name, version string) (store.Workflow, error) {
	if version == "" || version == "latest" {
		versions, err := s.versions(ctx, q, ns, name)
		if err != nil {
			return store.Workflow{}, err
		}
		if len(versions) == 0 {
			return store.Workflow{}, fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
		}
		version = versions[len(versions)-1]
	}
	var w store.Workflow
	var created int64
	var enabled sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT w.namespace, w.name, w.version, w.source, w.digest, w.created_at, f.enabled
		FROM workflows w LEFT JOIN workflow_flags f ON f.namespace = w.namespace AND f.name = w.name
		WHERE w.namespace = ? AND w.name = ? AND w.version = ?`, ns, name, version).
		Scan(&w.Namespace, &w.Name, &w.Version, &w.Source, &w.Digest, &created, &enabled)
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("workflow %s/%s:%s: %w", ns, name, version, store.ErrNotFound)
	}
	w.CreatedAt = fromNanos(created)
	w.Enabled = !enabled.Valid || enabled.Int64 != 0
	return w, err
}

// versions lists a workflow's versions in semantic-version order.
func (s *Store) versions(ctx context.Context, q queryer, ns, name string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM workflows WHERE namespace = ? AND name = ?`, ns, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	store.SortVersions(out)
	return out, rows.Err()
}

// GetWorkflow returns a stored version, or the latest.
func (s *Store) GetWorkflow(ctx context.Context, ns, name, version string) (store.Workflow, error) {
	return s.getWorkflow(ctx, s.read, ns, name, version)
}

// ListWorkflows returns the latest version of each workflow.
func (s *Store) ListWorkflows(ctx context.Context) ([]store.Workflow, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT namespace, name FROM workflows ORDER BY namespace, name`)
	if err != nil {
		return nil, err
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	out := make([]store.Workflow, 0, len(keys))
	for _, k := range keys {
		w, err := s.getWorkflow(ctx, s.read, k[0], k[1], "")
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// SetWorkflowEnabled enables or disables every version of a workflow.
func (s *Store) SetWorkflowEnabled(ctx context.Context, ns, name string, enabled bool) error {
	res, err := s.w.exec(ctx, `UPDATE workflow_flags SET enabled = ? WHERE namespace = ? AND name = ?`, enabled, ns, name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
	}
	return nil
}
