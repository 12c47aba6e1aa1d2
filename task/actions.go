package task

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/user"
)

// canSee tells whether a user may see a task: an admin of its shop, the
// person it is assigned to or claimed by, or a holder of its role.
func canSee(u *user.User, t *Task) bool {
	return u.Admin(t.Shop) || t.User == u.ID || t.ClaimedBy == u.ID || t.Role != "" && u.Has(t.Shop, t.Role)
}

// notFound hides a task from who may not see it.
func notFound(id string) error { return fmt.Errorf("task %s: %w", id, store.ErrNotFound) }

// Get returns a task with its history, as viewer may see it (nil: an
// API token, which sees every task).
func (s *Service) Get(ctx context.Context, id string, viewer *user.User) (*Task, error) {
	t, err := s.load(ctx, id, s.now())
	if err != nil {
		return nil, err
	}
	if viewer != nil && !canSee(viewer, t) {
		return nil, notFound(id)
	}
	hist, err := s.Store.TaskHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	t.History = make([]Entry, len(hist))
	for i, h := range hist {
		t.History[i] = Entry{At: h.At, Action: h.Action, By: h.By}
		if len(h.Detail) > 0 {
			_ = jsonUnmarshal(h.Detail, &t.History[i].Detail)
		}
	}
	return t, nil
}

// Query is what GET /v1/tasks asks for.
type Query struct {
	Shop string
	// Mine keeps tasks assigned to or claimed by the viewer.
	Mine bool
	Role string
	// Overdue keeps open tasks past their due date.
	Overdue bool
	// Status is open (open and claimed, the default), claimed, completed,
	// rejected, cancelled or all.
	Status string
	After  string
	Limit  int
}

// Statuses are the values of Query.Status.
var Statuses = []string{"open", store.TaskClaimed, store.TaskCompleted, store.TaskRejected, store.TaskCancelled, "all"}

// List returns the tasks viewer may see (nil: an API token, every task)
// that fit q, newest first.
func (s *Service) List(ctx context.Context, viewer *user.User, q Query) ([]*Task, error) {
	now := s.now()
	sq := store.TaskQuery{Shop: q.Shop, Role: q.Role, After: q.After, Limit: q.Limit}
	switch q.Status {
	case "", "open":
		sq.Statuses = []string{store.TaskOpen, store.TaskClaimed}
	case "all":
	case store.TaskClaimed, store.TaskCompleted, store.TaskRejected, store.TaskCancelled:
		sq.Statuses = []string{q.Status}
	default:
		return nil, refuse(400, "Invalid Query", "status %q: use one of %s", q.Status, strings.Join(Statuses, ", "))
	}
	if q.Overdue {
		sq.DueBefore = now
		if q.Status == "" {
			sq.Statuses = []string{store.TaskOpen, store.TaskClaimed}
		}
	}
	if q.Mine {
		if viewer == nil {
			return nil, refuse(400, "Invalid Query", "mine=1 needs a user: log in with POST /v1/login and send its token")
		}
		sq.Mine = viewer.ID
	}
	if viewer != nil {
		v := &store.TaskVisibility{User: viewer.ID}
		for shop, roles := range viewer.Roles {
			for _, r := range roles {
				if r == user.RoleAdmin {
					v.Shops = append(v.Shops, shop)
				}
				v.Roles = append(v.Roles, store.UserRole{Shop: shop, Role: r})
			}
		}
		sq.Visible = v
	}
	recs, err := s.Store.ListTasks(ctx, sq)
	if err != nil {
		return nil, err
	}
	out := make([]*Task, 0, len(recs))
	for _, r := range recs {
		t, err := fromRecord(r, now)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// act applies an action of a user to a task, again on a fresh copy when
// someone else changed the task meanwhile.
func (s *Service) act(ctx context.Context, id string, by *user.User, fn func(t *Task, now time.Time) (*change, error)) (*Task, error) {
	if by == nil {
		return nil, refuse(401, "Not Logged In", "acting on a task records who did it: log in with POST /v1/login and send its token as `Authorization: Bearer <token>`")
	}
	for attempt := 0; ; attempt++ {
		now := s.now()
		t, err := s.load(ctx, id, now)
		if err != nil {
			return nil, err
		}
		if !canSee(by, t) {
			return nil, notFound(id)
		}
		ch, err := fn(t, now)
		if err != nil || ch == nil {
			return t, err
		}
		t.UpdatedAt = now
		err = s.save(ctx, t, ch)
		switch {
		case errors.Is(err, store.ErrConflict) && attempt < 8:
			continue
		case errors.Is(err, store.ErrCallGone):
			return nil, s.cancel(ctx, id, now)
		case err != nil:
			return nil, err
		}
		return t, nil
	}
}

// cancel marks a task whose workflow no longer waits for it.
func (s *Service) cancel(ctx context.Context, id string, now time.Time) error {
	for attempt := 0; attempt < 8; attempt++ {
		t, err := s.load(ctx, id, now)
		if err != nil {
			return err
		}
		if !t.Done() {
			ch := &change{}
			t.Status, t.UpdatedAt = store.TaskCancelled, now
			ch.add(t, now, "cancelled", "", map[string]any{"reason": "the workflow no longer waits for it"})
			if err := s.save(ctx, t, ch); errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return err
			}
		}
		break
	}
	return refuse(409, "Task Cancelled", "task %s: the workflow no longer waits for it (its instance was cancelled, or the call timed out), so it is cancelled", id)
}

// open refuses actions on a task that is done.
func stillOpen(t *Task) error {
	if !t.Done() {
		return nil
	}
	if t.Status == store.TaskCancelled {
		return refuse(409, "Task Done", "task %s is cancelled: the workflow no longer waits for it", t.ID)
	}
	return refuse(409, "Task Done", "task %s is %s already, by %s at %s", t.ID, t.Status, t.By, t.At.UTC().Format(time.RFC3339))
}

// mayAnswer refuses a user other than the one who claimed a task, unless
// they are an admin of its shop.
func mayAnswer(t *Task, by *user.User) error {
	if t.ClaimedBy != "" && t.ClaimedBy != by.ID && !by.Admin(t.Shop) {
		return refuse(409, "Task Claimed", "task %s is claimed by %s: they answer it, or an admin reassigns it", t.ID, t.ClaimedBy)
	}
	return nil
}

// Claim takes a task for its user: no one else of the role answers it.
func (s *Service) Claim(ctx context.Context, id string, by *user.User) (*Task, error) {
	return s.act(ctx, id, by, func(t *Task, now time.Time) (*change, error) {
		if err := stillOpen(t); err != nil {
			return nil, err
		}
		if t.ClaimedBy == by.ID {
			return nil, nil // claimed already: nothing changes
		}
		if t.ClaimedBy != "" {
			return nil, refuse(409, "Task Claimed", "task %s is claimed by %s already", t.ID, t.ClaimedBy)
		}
		t.ClaimedBy, t.Status = by.ID, store.TaskClaimed
		ch := &change{}
		ch.add(t, now, "claimed", by.ID, nil)
		return ch, nil
	})
}

// Complete answers a task: the answer must fit its form (*InvalidAnswer
// otherwise), and the workflow continues with it.
func (s *Service) Complete(ctx context.Context, id string, by *user.User, answer map[string]any) (*Task, error) {
	return s.act(ctx, id, by, func(t *Task, now time.Time) (*change, error) {
		if err := stillOpen(t); err != nil {
			return nil, err
		}
		if err := mayAnswer(t, by); err != nil {
			return nil, err
		}
		if answer == nil {
			answer = map[string]any{}
		}
		if err := t.Form.Check(answer); err != nil {
			return nil, err
		}
		t.Status, t.Answer, t.By, t.At = store.TaskCompleted, answer, by.ID, now
		ch := &change{wake: true}
		ch.add(t, now, "completed", by.ID, map[string]any{"answer": answer})
		return ch, nil
	})
}

// Reject turns a task down, with a reason; the workflow continues with
// status rejected.
func (s *Service) Reject(ctx context.Context, id string, by *user.User, reason string) (*Task, error) {
	return s.act(ctx, id, by, func(t *Task, now time.Time) (*change, error) {
		if err := stillOpen(t); err != nil {
			return nil, err
		}
		if err := mayAnswer(t, by); err != nil {
			return nil, err
		}
		t.Status, t.Reason, t.By, t.At = store.TaskRejected, strings.TrimSpace(reason), by.ID, now
		ch := &change{wake: true}
		var detail any
		if t.Reason != "" {
			detail = map[string]any{"reason": t.Reason}
		}
		ch.add(t, now, "rejected", by.ID, detail)
		return ch, nil
	})
}

// Assignee is who a task is reassigned to: a user or a role of its shop.
type Assignee struct {
	User string `json:"user,omitempty"`
	Role string `json:"role,omitempty"`
	Note string `json:"note,omitempty"`
}

// Reassign gives a task to another user or role; it is no longer claimed.
func (s *Service) Reassign(ctx context.Context, id string, by *user.User, to Assignee) (*Task, error) {
	if (to.User == "") == (to.Role == "") {
		return nil, refuse(400, "Invalid Reassignment", "give either a user or a role to reassign the task to")
	}
	return s.act(ctx, id, by, func(t *Task, now time.Time) (*change, error) {
		if err := stillOpen(t); err != nil {
			return nil, err
		}
		if err := mayAnswer(t, by); err != nil {
			return nil, err
		}
		if err := s.checkAssignee(ctx, t.Shop, to.User, to.Role); err != nil {
			return nil, refuse(422, "Invalid Reassignment", "%v", err)
		}
		detail := map[string]any{"from": map[string]any{"user": t.User, "role": t.Role, "claimedBy": t.ClaimedBy},
			"to": map[string]any{"user": to.User, "role": to.Role}}
		if to.Note != "" {
			detail["note"] = to.Note
		}
		t.User, t.Role, t.ClaimedBy, t.Status = strings.ToLower(to.User), to.Role, "", store.TaskOpen
		ch := &change{}
		ch.add(t, now, "reassigned", by.ID, detail)
		return ch, nil
	})
}
