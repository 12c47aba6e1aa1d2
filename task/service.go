package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/user"
)

// Parked is how far a call waiting for a task without reminders or
// deadline is deferred: beyond what any clock jumps to (the runtime looks
// 100 years ahead), so that only the task's answer wakes it.
const Parked = 150 * 365 * 24 * time.Hour

// DefaultSource is the CloudEvents source of task events.
const DefaultSource = "storeflow"

// EventPrefix starts the type of every task event: storeflow.task.created,
// .claimed, .reassigned, .reminded, .escalated, .completed, .rejected,
// .cancelled.
const EventPrefix = "storeflow.task."

// Service opens, advances and answers tasks.
type Service struct {
	Store store.Tasks
	// Users checks that assignees exist and hold their roles; nil checks
	// nothing.
	Users *user.Directory
	// Clock is the runtime's clock (clock.Real when nil): reminders and
	// escalations follow it, a virtual one in pretests.
	Clock clock.Clock
	// Origins finds the shop of the instance that calls task.create when
	// the call names none (the shop of its triggering event).
	Origins sending.Origins
	// Wake, when set, tells the runtime that an answered task's call is
	// due (runtime.Runtime.Wake).
	Wake func()
	// Source is the CloudEvents source of task events; DefaultSource when
	// empty.
	Source string
	Logger *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

// Spec is what a task.create call asks for: its arguments.
type Spec struct {
	Shop        string          `json:"shop,omitempty"`
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Data        any             `json:"data,omitempty"`
	User        string          `json:"user,omitempty"`
	Role        string          `json:"role,omitempty"`
	Form        json.RawMessage `json:"form,omitempty"`
	// Due is an ISO 8601 duration from now (P1D) or an RFC 3339 time.
	Due string `json:"due,omitempty"`
	// Reminders are durations after the task opens.
	Reminders []string    `json:"reminders,omitempty"`
	Escalate  *Escalation `json:"escalate,omitempty"`
}

// Escalation hands a task left undone to another role: after a duration
// or at a time, or at the task's due date.
type Escalation struct {
	After string `json:"after,omitempty"`
	Role  string `json:"role"`
}

// Error is a refused action, with the HTTP status that says why.
type Error struct {
	Status int
	Title  string
	Detail string
}

func (e *Error) Error() string { return e.Detail }

func refuse(status int, title, format string, args ...any) *Error {
	return &Error{Status: status, Title: title, Detail: fmt.Sprintf(format, args...)}
}

// when reads a due date or deadline: a duration from now, or a time.
func when(s string, now time.Time) (time.Time, error) {
	if strings.HasPrefix(s, "P") {
		d, err := dsl.ParseISODuration(s)
		if err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%q is no ISO 8601 duration after now (PT4H, P2D)", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an ISO 8601 duration (PT4H) nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

func badArgs(format string, args ...any) *problem.Problem {
	return problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", "task.create: "+format, args...)
}

func unavailable(err error) *problem.Problem {
	return problem.Newf(problem.TypeRuntime, 503, "Tasks Unavailable", "task.create: %v", err)
}

// Await performs a task.create call: it opens the call's task the first
// time, sends the reminders and makes the escalation that are due, and
// returns the call's output once the task is done. Until then it defers
// the call to the task's next reminder or deadline, or parks it: the
// task's answer wakes it.
func (s *Service) Await(ctx context.Context, req connector.Request) (any, error) {
	now := req.At.UTC()
	if req.At.IsZero() {
		now = s.now()
	}
	rec, err := s.Store.TaskByCall(ctx, req.IdempotencyKey)
	var t *Task
	switch {
	case errors.Is(err, store.ErrNotFound):
		if t, err = s.open(ctx, req, now); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, unavailable(err)
	default:
		if t, err = fromRecord(rec, now); err != nil {
			return nil, unavailable(err)
		}
	}
	for attempt := 0; !t.Done(); attempt++ {
		ch := s.advance(t, now)
		if ch == nil {
			break
		}
		err := s.save(ctx, t, ch)
		if errors.Is(err, store.ErrConflict) && attempt < 8 {
			// Someone acted on the task meanwhile: look again.
			if t, err = s.load(ctx, t.ID, now); err != nil {
				return nil, unavailable(err)
			}
			continue
		}
		if err != nil {
			return nil, unavailable(err)
		}
		break
	}
	if t.Done() {
		if t.Status == store.TaskCancelled {
			return nil, problem.Newf(problem.TypeRuntime, 409, "Task Cancelled", "task.create: task %s was cancelled", t.ID)
		}
		return t.Result(), nil
	}
	next, ok := t.next()
	if !ok {
		next = now.Add(Parked)
	}
	return nil, connector.Defer(next, "waiting for task "+t.ID+" ("+t.Title+")")
}

// open makes the task a call asks for.
func (s *Service) open(ctx context.Context, req connector.Request, now time.Time) (*Task, error) {
	var spec Spec
	if err := connector.DecodeArgs(req, &spec); err != nil {
		return nil, err
	}
	var origin sending.Origin
	if s.Origins != nil && req.Instance != "" {
		o, err := s.Origins.Origin(ctx, req.Instance)
		if err != nil {
			return nil, unavailable(err)
		}
		origin = o
	}
	shop := spec.Shop
	if shop == "" {
		shop = origin.Shop
	}
	if shop == "" {
		return nil, badArgs("name the shop (`shop`): the instance was not started by an event of a shop, so whose users should answer is not known")
	}
	if strings.TrimSpace(spec.Title) == "" {
		return nil, badArgs("a task needs a title")
	}
	if (spec.User == "") == (spec.Role == "") {
		return nil, badArgs("give the task either a `user` or a `role` of the shop")
	}
	if err := s.checkAssignee(ctx, shop, spec.User, spec.Role); err != nil {
		return nil, badArgs("%v", err)
	}
	form, err := ParseForm(spec.Form)
	if err != nil {
		return nil, badArgs("%v", err)
	}
	t := &Task{ID: newID(), callID: req.IdempotencyKey, Shop: shop, Title: spec.Title, Description: spec.Description, Data: spec.Data,
		Form: form, User: strings.ToLower(spec.User), Role: spec.Role, Status: store.TaskOpen, Instance: req.Instance, Workflow: origin.Workflow,
		Position: req.Task, CreatedAt: now, UpdatedAt: now}
	if spec.Due != "" {
		if t.Due, err = when(spec.Due, now); err != nil {
			return nil, badArgs("due: %v", err)
		}
	}
	for i, r := range spec.Reminders {
		d, err := dsl.ParseISODuration(r)
		if err != nil || d <= 0 {
			return nil, badArgs("reminders[%d]: %q is no ISO 8601 duration after the task opens (PT1H)", i, r)
		}
		t.Plan.Reminders = append(t.Plan.Reminders, now.Add(d))
	}
	slices.SortFunc(t.Plan.Reminders, func(a, b time.Time) int { return a.Compare(b) })
	if e := spec.Escalate; e != nil {
		if err := s.checkAssignee(ctx, shop, "", e.Role); err != nil {
			return nil, badArgs("escalate: %v", err)
		}
		t.Plan.EscalateTo = e.Role
		switch {
		case e.After != "":
			if t.Plan.EscalateAt, err = when(e.After, now); err != nil {
				return nil, badArgs("escalate.after: %v", err)
			}
		case !t.Due.IsZero():
			t.Plan.EscalateAt = t.Due
		default:
			return nil, badArgs("escalate: say when, with `after` (PT8H), or give the task a `due` date")
		}
	}
	detail := map[string]any{"user": t.User, "role": t.Role}
	if !t.Due.IsZero() {
		detail["due"] = t.Due
	}
	ch := &change{}
	ch.add(t, now, "created", "", detail)
	rec, err := t.record()
	if err != nil {
		return nil, unavailable(err)
	}
	rec.Rev = 0 // the events name revision 1
	stored, created, err := s.Store.CreateTask(ctx, store.TaskChange{Task: rec, Entries: ch.entries, Events: s.events(t, ch)})
	if err != nil {
		return nil, unavailable(err)
	}
	if !created {
		return fromRecord(stored, now)
	}
	t.rev = stored.Rev
	if s.Logger != nil {
		s.Logger.Info("task opened", "task", t.ID, "shop", t.Shop, "title", t.Title, "user", t.User, "role", t.Role, "instance", t.Instance)
	}
	return t, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// checkAssignee makes sure someone can answer: a user with a role in the
// shop, or a role the shop has.
func (s *Service) checkAssignee(ctx context.Context, shop, userID, role string) error {
	if s.Users == nil {
		return nil
	}
	if userID != "" {
		u, err := s.Users.Get(ctx, userID)
		if errors.Is(err, store.ErrNotFound) || err == nil && len(u.Roles[shop]) == 0 {
			return fmt.Errorf("user %q is no user of shop %s (add them with storeflow user add --role %s:ROLE)", userID, shop, shop)
		}
		return err
	}
	roles, err := s.Users.Roles(ctx, shop)
	if err != nil {
		return err
	}
	if !slices.Contains(roles, role) {
		hint := ""
		if near := dsl.Suggest(role, roles); near != "" {
			hint = fmt.Sprintf("; did you mean %q?", near)
		}
		return fmt.Errorf("shop %s has no role %q (its roles: %s)%s", shop, role, strings.Join(roles, ", "), hint)
	}
	return nil
}

// change is what an action adds to a task besides its new state.
type change struct {
	entries []store.TaskEntry
	actions []string
	wake    bool
}

func (c *change) add(t *Task, at time.Time, action, by string, detail any) {
	var b []byte
	if detail != nil {
		b, _ = json.Marshal(detail)
	}
	c.entries = append(c.entries, store.TaskEntry{TaskID: t.ID, At: at, Action: action, By: by, Detail: b})
	c.actions = append(c.actions, action)
}

// advance sends the reminders and makes the escalation due by now.
func (s *Service) advance(t *Task, now time.Time) *change {
	ch := &change{}
	for t.Plan.Reminded < len(t.Plan.Reminders) && !t.Plan.Reminders[t.Plan.Reminded].After(now) {
		t.Plan.Reminded++
		ch.add(t, now, "reminded", "", map[string]any{"reminder": t.Plan.Reminded, "user": firstNonEmpty(t.ClaimedBy, t.User), "role": t.Role})
	}
	if !t.Escalated && !t.Plan.EscalateAt.IsZero() && !now.Before(t.Plan.EscalateAt) {
		ch.add(t, now, "escalated", "", map[string]any{"from": map[string]any{"user": t.User, "role": t.Role, "claimedBy": t.ClaimedBy}, "role": t.Plan.EscalateTo})
		t.Escalated = true
		t.User, t.Role, t.ClaimedBy, t.Status = "", t.Plan.EscalateTo, "", store.TaskOpen
	}
	if len(ch.entries) == 0 {
		return nil
	}
	t.UpdatedAt = now
	return ch
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// save stores a task's new state with its change.
func (s *Service) save(ctx context.Context, t *Task, ch *change) error {
	rec, err := t.record()
	if err != nil {
		return err
	}
	c := store.TaskChange{Task: rec, Entries: ch.entries, Events: s.events(t, ch)}
	if ch.wake {
		c.Wake = t.UpdatedAt
	}
	if err := s.Store.UpdateTask(ctx, c); err != nil {
		return err
	}
	t.rev++
	if ch.wake && s.Wake != nil {
		s.Wake()
	}
	return nil
}

// events are the CloudEvents of a change: one per history entry, with
// ids that a repeated change cannot log twice.
func (s *Service) events(t *Task, ch *change) []store.Event {
	src := s.Source
	if src == "" {
		src = DefaultSource
	}
	out := make([]store.Event, 0, len(ch.entries))
	for i, e := range ch.entries {
		id := fmt.Sprintf("task/%s/%d/%d", t.ID, t.rev+1, i)
		data := map[string]any{"task": t.ID, "shop": t.Shop, "title": t.Title, "action": e.Action, "status": t.Status,
			"instance": t.Instance, "workflow": t.Workflow}
		for k, v := range map[string]string{"user": t.User, "role": t.Role, "claimedBy": t.ClaimedBy, "by": e.By, "reason": t.Reason} {
			if v != "" {
				data[k] = v
			}
		}
		if !t.Due.IsZero() {
			data["due"] = t.Due.Format(time.RFC3339Nano)
		}
		if e.Action == "completed" {
			data["answer"] = t.Answer
		}
		env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": src, "type": EventPrefix + e.Action,
			"subject": t.ID, "time": e.At.UTC().Format(time.RFC3339Nano), "shop": t.Shop, "datacontenttype": "application/json", "data": data})
		out = append(out, store.Event{ID: id, Source: src, Type: EventPrefix + e.Action, Subject: t.ID, Time: e.At, Envelope: env, ReceivedAt: e.At, Shop: t.Shop})
	}
	return out
}

func (s *Service) load(ctx context.Context, id string, now time.Time) (*Task, error) {
	rec, err := s.Store.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	return fromRecord(rec, now)
}
