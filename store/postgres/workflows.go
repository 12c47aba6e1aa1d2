package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// PutWorkflow stores a definition version; versions are immutable.
func (s *Store) PutWorkflow(ctx context.Context, w store.Workflow) (store.Workflow, bool, error) {
	sum := sha256.Sum256(w.Source)
	w.Digest = hex.EncodeToString(sum[:])
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now().UTC()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return w, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `INSERT INTO workflows (namespace, name, version, source, digest, created_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT DO NOTHING`, w.Namespace, w.Name, w.Version, w.Source, w.Digest, nanos(w.CreatedAt))
	if err != nil {
		return w, false, err
	}
	created := tag.RowsAffected() == 1
	if !created {
		stored, err := getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
		if err != nil {
			return w, false, err
		}
		if stored.Digest != w.Digest {
			return w, false, fmt.Errorf("%s/%s version %s: %w; change document.version (e.g. to a higher patch version) to publish the change",
				w.Namespace, w.Name, w.Version, store.ErrVersionExists)
		}
		return stored, false, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workflow_flags (namespace, name, enabled) VALUES ($1, $2, true) ON CONFLICT DO NOTHING`, w.Namespace, w.Name); err != nil {
		return w, false, err
	}
	stored, err := getWorkflow(ctx, tx, w.Namespace, w.Name, w.Version)
	if err != nil {
		return w, false, err
	}
	if err := s.notify(ctx, tx, store.TopicWorkflows); err != nil {
		return w, false, err
	}
	return stored, true, tx.Commit(ctx)
}

func getWorkflow(ctx context.Context, q querier, ns, name, version string) (store.Workflow, error) {
	if version == "" || version == "latest" {
		rows, err := q.Query(ctx, `SELECT version FROM workflows WHERE namespace = $1 AND name = $2`, ns, name)
		if err != nil {
			return store.Workflow{}, err
		}
		versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return store.Workflow{}, err
		}
		if len(versions) == 0 {
			return store.Workflow{}, fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
		}
		store.SortVersions(versions)
		version = versions[len(versions)-1]
	}
	var w store.Workflow
	var created int64
	var enabled *bool
	err := q.QueryRow(ctx, `SELECT w.namespace, w.name, w.version, w.source, w.digest, w.created_at, f.enabled
		FROM workflows w LEFT JOIN workflow_flags f ON f.namespace = w.namespace AND f.name = w.name
		WHERE w.namespace = $1 AND w.name = $2 AND w.version = $3`, ns, name, version).
		Scan(&w.Namespace, &w.Name, &w.Version, &w.Source, &w.Digest, &created, &enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, fmt.Errorf("workflow %s/%s:%s: %w", ns, name, version, store.ErrNotFound)
	}
	w.CreatedAt = fromNanos(created)
	w.Enabled = enabled == nil || *enabled
	return w, err
}

// GetWorkflow returns a version, or the latest.
func (s *Store) GetWorkflow(ctx context.Context, ns, name, version string) (store.Workflow, error) {
	return getWorkflow(ctx, s.pool, ns, name, version)
}

// ListWorkflows returns the latest version of every workflow.
func (s *Store) ListWorkflows(ctx context.Context) ([]store.Workflow, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT namespace, name FROM workflows ORDER BY namespace, name`)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var k [2]string
		return k, r.Scan(&k[0], &k[1])
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Workflow, 0, len(keys))
	for _, k := range keys {
		w, err := getWorkflow(ctx, s.pool, k[0], k[1], "")
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// SetWorkflowEnabled enables or disables every version of a workflow.
func (s *Store) SetWorkflowEnabled(ctx context.Context, ns, name string, enabled bool) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `UPDATE workflow_flags SET enabled = $1 WHERE namespace = $2 AND name = $3`, enabled, ns, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("workflow %s/%s: %w", ns, name, store.ErrNotFound)
	}
	if err := s.notify(ctx, tx, store.TopicWorkflows); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
