package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/storeflow/storeflow/store"
)

const taskColumns = `id, call_id, shop, instance, workflow, position, title, description, data, form, assignee_user, assignee_role,
	status, claimed_by, due_at, escalated, plan, answer, reason, done_by, done_at, created_at, updated_at, rev`

func taskArgs(t store.TaskRecord) []any {
	return []any{t.ID, t.CallID, t.Shop, t.Instance, t.Workflow, t.Position, t.Title, t.Description, t.Data, t.Form, t.User, t.Role,
		t.Status, t.ClaimedBy, optNanos(t.DueAt), t.Escalated, t.Plan, t.Answer, t.Reason, t.DoneBy, optNanos(t.DoneAt),
		nanos(t.CreatedAt), nanos(t.UpdatedAt), t.Rev}
}

func scanTask(row interface{ Scan(...any) error }) (store.TaskRecord, error) {
	var t store.TaskRecord
	var due, done, created, updated int64
	err := row.Scan(&t.ID, &t.CallID, &t.Shop, &t.Instance, &t.Workflow, &t.Position, &t.Title, &t.Description, &t.Data, &t.Form,
		&t.User, &t.Role, &t.Status, &t.ClaimedBy, &due, &t.Escalated, &t.Plan, &t.Answer, &t.Reason, &t.DoneBy, &done, &created, &updated, &t.Rev)
	t.DueAt, t.DoneAt, t.CreatedAt, t.UpdatedAt = fromOptNanos(due), fromOptNanos(done), fromNanos(created), fromNanos(updated)
	return t, err
}

// CreateTask stores a task unless its call has one already.
func (s *Store) CreateTask(ctx context.Context, c store.TaskChange) (store.TaskRecord, bool, error) {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return store.TaskRecord{}, false, err
	}
	defer tx.rollback()
	existing, err := scanTask(tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE call_id = ?`, c.Task.CallID))
	if err == nil {
		return existing, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.TaskRecord{}, false, fmt.Errorf("create task: %w", err)
	}
	t := c.Task
	t.Rev = 1
	if _, err := tx.ExecContext(ctx, `INSERT INTO tasks (`+taskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, taskArgs(t)...); err != nil {
		return store.TaskRecord{}, false, fmt.Errorf("create task %s: %w", t.ID, err)
	}
	if err := s.taskSideEffects(ctx, tx, t, c); err != nil {
		return store.TaskRecord{}, false, err
	}
	return t, true, tx.commit(ctx)
}

// taskSideEffects writes a change's history entries, events and wake.
func (s *Store) taskSideEffects(ctx context.Context, tx *wtx, t store.TaskRecord, c store.TaskChange) error {
	for _, e := range c.Entries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO task_history (task_id, seq, at, action, by_user, detail)
			SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM task_history WHERE task_id = ?`,
			t.ID, nanos(e.At), e.Action, e.By, e.Detail, t.ID); err != nil {
			return fmt.Errorf("task %s: history: %w", t.ID, err)
		}
	}
	if !c.Wake.IsZero() {
		// A wake always changes next_at, so that a deferral computed before
		// it (DeferOutbox) sees it.
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET next_at = CASE WHEN next_at > ? THEN ? ELSE next_at - 1 END WHERE id = ?`,
			nanos(c.Wake), nanos(c.Wake), t.CallID)
		if err != nil {
			return fmt.Errorf("task %s: wake its call: %w", t.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("task %s: %w", t.ID, store.ErrCallGone)
		}
	}
	if len(c.Events) == 0 {
		return nil
	}
	evs := make([]store.Event, len(c.Events))
	for i, ev := range c.Events {
		evs[i] = ev.WithDefaults()
	}
	if err := appendEvents(ctx, tx, evs, false); err != nil {
		return fmt.Errorf("task %s: %w", t.ID, err)
	}
	return nil
}

// GetTask returns a task.
func (s *Store) GetTask(ctx context.Context, id string) (store.TaskRecord, error) {
	t, err := scanTask(s.read.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task %s: %w", id, store.ErrNotFound)
	}
	return t, err
}

// TaskByCall returns the task a call opened.
func (s *Store) TaskByCall(ctx context.Context, callID string) (store.TaskRecord, error) {
	t, err := scanTask(s.read.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks WHERE call_id = ?`, callID))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("task of call %s: %w", callID, store.ErrNotFound)
	}
	return t, err
}

// ListTasks returns tasks newest first.
func (s *Store) ListTasks(ctx context.Context, q store.TaskQuery) ([]store.TaskRecord, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Shop != "" {
		add("shop = ?", q.Shop)
	}
	if len(q.Statuses) > 0 {
		add("status IN (?"+strings.Repeat(", ?", len(q.Statuses)-1)+")", anys(q.Statuses)...)
	}
	if q.Role != "" {
		add("assignee_role = ?", q.Role)
	}
	if q.Mine != "" {
		add("(assignee_user = ? OR claimed_by = ?)", q.Mine, q.Mine)
	}
	if !q.DueBefore.IsZero() {
		add("due_at > 0 AND due_at < ?", nanos(q.DueBefore))
	}
	if v := q.Visible; v != nil {
		ors := []string{"assignee_user = ?", "claimed_by = ?"}
		vargs := []any{v.User, v.User}
		for _, r := range v.Roles {
			ors = append(ors, "(shop = ? AND assignee_role = ?)")
			vargs = append(vargs, r.Shop, r.Role)
		}
		for _, sh := range v.Shops {
			ors = append(ors, "shop = ?")
			vargs = append(vargs, sh)
		}
		add("("+strings.Join(ors, " OR ")+")", vargs...)
	}
	if q.After != "" {
		add("id < ?", q.After)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := `SELECT ` + taskColumns + ` FROM tasks`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY id DESC LIMIT ?`
	rows, err := s.read.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	var out []store.TaskRecord
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// UpdateTask stores a task's new state if it is at the revision named.
func (s *Store) UpdateTask(ctx context.Context, c store.TaskChange) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	t := c.Task
	from := t.Rev
	t.Rev++
	res, err := tx.ExecContext(ctx, `UPDATE tasks SET shop = ?, instance = ?, workflow = ?, position = ?, title = ?, description = ?, data = ?, form = ?,
		assignee_user = ?, assignee_role = ?, status = ?, claimed_by = ?, due_at = ?, escalated = ?, plan = ?, answer = ?, reason = ?,
		done_by = ?, done_at = ?, updated_at = ?, rev = ? WHERE id = ? AND rev = ?`,
		t.Shop, t.Instance, t.Workflow, t.Position, t.Title, t.Description, t.Data, t.Form, t.User, t.Role, t.Status, t.ClaimedBy,
		optNanos(t.DueAt), t.Escalated, t.Plan, t.Answer, t.Reason, t.DoneBy, optNanos(t.DoneAt), nanos(t.UpdatedAt), t.Rev, t.ID, from)
	if err != nil {
		return fmt.Errorf("update task %s: %w", t.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tasks WHERE id = ?`, t.ID).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			return fmt.Errorf("task %s: %w", t.ID, store.ErrNotFound)
		}
		return fmt.Errorf("task %s at revision %d: %w", t.ID, from, store.ErrConflict)
	}
	if err := s.taskSideEffects(ctx, tx, t, c); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// TaskHistory returns a task's entries in order.
func (s *Store) TaskHistory(ctx context.Context, id string) ([]store.TaskEntry, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT task_id, seq, at, action, by_user, detail FROM task_history WHERE task_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TaskEntry
	for rows.Next() {
		var e store.TaskEntry
		var at int64
		if err := rows.Scan(&e.TaskID, &e.Seq, &at, &e.Action, &e.By, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
