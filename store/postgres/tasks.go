package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

const taskColumns = `id, call_id, shop, instance, workflow, position, title, description, data, form, assignee_user, assignee_role,
	status, claimed_by, due_at, escalated, plan, answer, reason, done_by, done_at, created_at, updated_at, rev`

func taskArgs(t store.TaskRecord) []any {
	return []any{t.ID, t.CallID, t.Shop, t.Instance, t.Workflow, t.Position, t.Title, t.Description, t.Data, t.Form, t.User, t.Role,
		t.Status, t.ClaimedBy, optNanos(t.DueAt), t.Escalated, t.Plan, t.Answer, t.Reason, t.DoneBy, optNanos(t.DoneAt),
		nanos(t.CreatedAt), nanos(t.UpdatedAt), t.Rev}
}

func scanTask(row pgx.Row) (store.TaskRecord, error) {
	var t store.TaskRecord
	var due, done, created, updated int64
	err := row.Scan(&t.ID, &t.CallID, &t.Shop, &t.Instance, &t.Workflow, &t.Position, &t.Title, &t.Description, &t.Data, &t.Form,
		&t.User, &t.Role, &t.Status, &t.ClaimedBy, &due, &t.Escalated, &t.Plan, &t.Answer, &t.Reason, &t.DoneBy, &done, &created, &updated, &t.Rev)
	t.DueAt, t.DoneAt, t.CreatedAt, t.UpdatedAt = fromOptNanos(due), fromOptNanos(done), fromNanos(created), fromNanos(updated)
	return t, err
}

// CreateTask stores a task unless its call has one already.
func (s *Store) CreateTask(ctx context.Context, c store.TaskChange) (store.TaskRecord, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.TaskRecord{}, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	t := c.Task
	t.Rev = 1
	placeholders := make([]string, 24)
	for i := range placeholders {
		placeholders[i] = "$" + strconv.Itoa(i+1)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO tasks (`+taskColumns+`) VALUES (`+strings.Join(placeholders, ", ")+`) ON CONFLICT (call_id) DO NOTHING`, taskArgs(t)...)
	if err != nil {
		return store.TaskRecord{}, false, fmt.Errorf("create task %s: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		existing, err := scanTask(tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE call_id = $1`, t.CallID))
		if err != nil {
			return store.TaskRecord{}, false, fmt.Errorf("create task: the call's task: %w", err)
		}
		return existing, false, nil
	}
	if err := s.taskSideEffects(ctx, tx, t, c); err != nil {
		return store.TaskRecord{}, false, err
	}
	return t, true, tx.Commit(ctx)
}

// taskSideEffects writes a change's history entries, wake and events
// (last, so that the event-log lock is held briefly).
func (s *Store) taskSideEffects(ctx context.Context, tx pgx.Tx, t store.TaskRecord, c store.TaskChange) error {
	for _, e := range c.Entries {
		if _, err := tx.Exec(ctx, `INSERT INTO task_history (task_id, seq, at, action, by_user, detail)
			SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM task_history WHERE task_id = $1`,
			t.ID, nanos(e.At), e.Action, e.By, e.Detail); err != nil {
			return fmt.Errorf("task %s: history: %w", t.ID, err)
		}
	}
	if !c.Wake.IsZero() {
		// A wake always changes next_at, so that a deferral computed before
		// it (DeferOutbox) sees it.
		tag, err := tx.Exec(ctx, `UPDATE outbox SET next_at = CASE WHEN next_at > $1 THEN $1 ELSE next_at - 1 END WHERE id = $2`, nanos(c.Wake), t.CallID)
		if err != nil {
			return fmt.Errorf("task %s: wake its call: %w", t.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("task %s: %w", t.ID, store.ErrCallGone)
		}
		if err := s.notify(ctx, tx, store.TopicOutbox); err != nil {
			return err
		}
	}
	if len(c.Events) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(eventLogLock)); err != nil {
			return err
		}
		if err := s.notify(ctx, tx, store.TopicEvents); err != nil {
			return err
		}
		if _, err := appendEvents(ctx, tx, c.Events); err != nil {
			return fmt.Errorf("task %s: %w", t.ID, err)
		}
	}
	return nil
}

// GetTask returns a task.
func (s *Store) GetTask(ctx context.Context, id string) (store.TaskRecord, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("task %s: %w", id, store.ErrNotFound)
	}
	return t, err
}

// TaskByCall returns the task a call opened.
func (s *Store) TaskByCall(ctx context.Context, callID string) (store.TaskRecord, error) {
	t, err := scanTask(s.pool.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks WHERE call_id = $1`, callID))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("task of call %s: %w", callID, store.ErrNotFound)
	}
	return t, err
}

// ListTasks returns tasks newest first.
func (s *Store) ListTasks(ctx context.Context, q store.TaskQuery) ([]store.TaskRecord, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Shop != "" {
		where = append(where, "shop = "+arg(q.Shop))
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status = ANY("+arg(q.Statuses)+"::text[])")
	}
	if q.Role != "" {
		where = append(where, "assignee_role = "+arg(q.Role))
	}
	if q.Mine != "" {
		p := arg(q.Mine)
		where = append(where, "(assignee_user = "+p+" OR claimed_by = "+p+")")
	}
	if !q.DueBefore.IsZero() {
		where = append(where, "due_at > 0 AND due_at < "+arg(nanos(q.DueBefore)))
	}
	if v := q.Visible; v != nil {
		p := arg(v.User)
		ors := []string{"assignee_user = " + p, "claimed_by = " + p}
		for _, r := range v.Roles {
			ors = append(ors, "(shop = "+arg(r.Shop)+" AND assignee_role = "+arg(r.Role)+")")
		}
		if len(v.Shops) > 0 {
			ors = append(ors, "shop = ANY("+arg(v.Shops)+"::text[])")
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if q.After != "" {
		where = append(where, "id < "+arg(q.After))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + taskColumns + ` FROM tasks`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id DESC LIMIT ` + arg(limit)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TaskRecord, error) { return scanTask(r) })
}

// UpdateTask stores a task's new state if it is at the revision named.
func (s *Store) UpdateTask(ctx context.Context, c store.TaskChange) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	t := c.Task
	from := t.Rev
	t.Rev++
	tag, err := tx.Exec(ctx, `UPDATE tasks SET shop = $1, instance = $2, workflow = $3, position = $4, title = $5, description = $6, data = $7, form = $8,
		assignee_user = $9, assignee_role = $10, status = $11, claimed_by = $12, due_at = $13, escalated = $14, plan = $15, answer = $16, reason = $17,
		done_by = $18, done_at = $19, updated_at = $20, rev = $21 WHERE id = $22 AND rev = $23`,
		t.Shop, t.Instance, t.Workflow, t.Position, t.Title, t.Description, t.Data, t.Form, t.User, t.Role, t.Status, t.ClaimedBy,
		optNanos(t.DueAt), t.Escalated, t.Plan, t.Answer, t.Reason, t.DoneBy, optNanos(t.DoneAt), nanos(t.UpdatedAt), t.Rev, t.ID, from)
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.ID, err)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1)`, t.ID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("task %s: %w", t.ID, store.ErrNotFound)
		}
		return fmt.Errorf("task %s at revision %d: %w", t.ID, from, store.ErrConflict)
	}
	if err := s.taskSideEffects(ctx, tx, t, c); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// TaskHistory returns a task's entries in order.
func (s *Store) TaskHistory(ctx context.Context, id string) ([]store.TaskEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, seq, at, action, by_user, detail FROM task_history WHERE task_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TaskEntry, error) {
		var e store.TaskEntry
		var at int64
		err := r.Scan(&e.TaskID, &e.Seq, &at, &e.Action, &e.By, &e.Detail)
		e.At = fromNanos(at)
		return e, err
	})
}
