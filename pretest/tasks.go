package pretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/tasks"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
)

// TaskRecord is an approval task as the scenario left it.
type TaskRecord struct {
	ID        string `json:"id"`
	Workflow  string `json:"workflow,omitempty"`
	Title     string `json:"title"`
	Role      string `json:"role,omitempty"`
	User      string `json:"user,omitempty"`
	Status    string `json:"status"`
	ClaimedBy string `json:"claimedBy,omitempty"`
	By        string `json:"by,omitempty"`
	// At is when it was completed or rejected, as an offset.
	At        string `json:"at,omitempty"`
	Answer    any    `json:"answer,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Escalated bool   `json:"escalated"`
	Reminded  int    `json:"reminded"`
	// Opened is when it was opened, as an offset.
	Opened string `json:"opened"`
}

// people makes the file's users, with their roles in the scenario's shop,
// and the task service task.create opens their tasks with, on the
// scenario's clock.
func (s *scenario) people(ctx context.Context) error {
	dir := &user.Directory{Store: s.st, Now: s.vc.Now}
	s.users = map[string]*user.User{}
	for _, u := range s.f.Users {
		added, err := dir.Add(ctx, user.User{ID: u.ID, Name: u.Name, Email: u.Email, Roles: map[string][]string{s.shop.ID: u.Roles}})
		if err != nil {
			return &lineErr{u.Line, fmt.Errorf("user %s: %w", u.ID, err)}
		}
		s.users[u.ID] = &added
	}
	s.tasks = &task.Service{Store: s.st, Users: dir, Clock: s.vc, Origins: sending.StoreOrigins{Instances: s.st}}
	return nil
}

// taskTwin performs task.create with the real task service, unless the
// file scripts its answers: a task opens nothing outside storeflow. The
// call is recorded once, when it opens its task, not at every look the
// runtime takes while it waits.
func (s *scenario) taskTwin(scripted map[string]bool) connector.Func {
	return func(ctx context.Context, req connector.Request) (any, error) {
		if scripted[tasks.Name] {
			return s.rec.Call(ctx, req)
		}
		if _, err := s.st.TaskByCall(ctx, req.IdempotencyKey); errors.Is(err, store.ErrNotFound) {
			_, _ = s.rec.Call(ctx, req)
		}
		return s.tasks.Await(ctx, req)
	}
}

// workflowName is the name of a workflow as tasks record it
// (namespace/name:version).
func workflowName(ref string) string {
	if _, after, ok := strings.Cut(ref, "/"); ok {
		ref = after
	}
	name, _, _ := strings.Cut(ref, ":")
	return name
}

// allTasks lists the scenario's tasks, oldest first.
func (s *scenario) allTasks(ctx context.Context, status string) ([]*task.Task, error) {
	list, err := s.tasks.List(ctx, nil, task.Query{Status: status, Limit: 100_000})
	if err != nil {
		return nil, err
	}
	slices.Reverse(list)
	return list, nil
}

func describeTask(t *task.Task) string {
	who := "role " + t.Role
	if t.User != "" {
		who = "user " + t.User
	}
	if t.ClaimedBy != "" {
		who += ", claimed by " + t.ClaimedBy
	}
	return fmt.Sprintf("%q (%s, %s)", t.Title, who, t.Status)
}

// act has one of the file's users act on the oldest open task that fits,
// as the task API would.
func (s *scenario) act(ctx context.Context, te timedEvent) error {
	a := te.ev.Task
	open, err := s.allTasks(ctx, "open")
	if err != nil {
		return err
	}
	var t *task.Task
	for _, x := range open {
		if (a.Title == "" || x.Title == a.Title) && (a.ID == "" || x.ID == a.ID) && (a.Workflow == "" || workflowName(x.Workflow) == a.Workflow) {
			t = x
			break
		}
	}
	var want []string
	for _, kv := range [][2]string{{"titled ", a.Title}, {"id ", a.ID}, {"of ", a.Workflow}} {
		if kv[1] != "" {
			want = append(want, kv[0]+fmt.Sprintf("%q", kv[1]))
		}
	}
	at := FormatOffset(te.at.Sub(s.start))
	if t == nil {
		if len(open) == 0 {
			return fmt.Errorf("no open task %s at %s: no task is open then", strings.Join(want, ", "), at)
		}
		var got []string
		for _, x := range open {
			got = append(got, describeTask(x))
		}
		return fmt.Errorf("no open task %s at %s; open: %s", strings.Join(want, ", "), at, strings.Join(got, "; "))
	}
	by := s.users[a.By]
	switch a.Action {
	case "", "complete":
		answer, _ := normalize(a.Answer.V).(map[string]any)
		_, err = s.tasks.Complete(ctx, t.ID, by, answer)
	case "reject":
		_, err = s.tasks.Reject(ctx, t.ID, by, a.Reason)
	case "claim":
		_, err = s.tasks.Claim(ctx, t.ID, by)
	case "reassign":
		to := task.Assignee{}
		if a.To != nil {
			to.User, to.Role = a.To.User, a.To.Role
		}
		_, err = s.tasks.Reassign(ctx, t.ID, by, to)
	}
	var te2 *task.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s may not act on task %s at %s: their roles are %s", a.By, describeTask(t), at, strings.Join(by.Roles[s.shop.ID], ", "))
	case errors.As(err, &te2):
		return fmt.Errorf("%s could not %s task %q at %s: %s", a.By, firstOf(a.Action, "complete"), t.Title, at, te2.Detail)
	}
	return fmt.Errorf("%s could not %s task %q at %s: %w", a.By, firstOf(a.Action, "complete"), t.Title, at, err)
}

// collectTasks adds the scenario's tasks to its result.
func (s *scenario) collectTasks(ctx context.Context) error {
	list, err := s.allTasks(ctx, "all")
	if err != nil {
		return err
	}
	for _, t := range list {
		r := TaskRecord{ID: t.ID, Workflow: workflowName(t.Workflow), Title: t.Title, Role: t.Role, User: t.User, Status: t.Status,
			ClaimedBy: t.ClaimedBy, By: t.By, Answer: normalize(t.Answer), Reason: t.Reason, Escalated: t.Escalated, Reminded: t.Plan.Reminded,
			Opened: FormatOffset(t.CreatedAt.Sub(s.start))}
		if !t.At.IsZero() {
			r.At = FormatOffset(t.At.Sub(s.start))
		}
		s.res.Tasks = append(s.res.Tasks, r)
	}
	return nil
}

func (e *TaskExpect) fits(t TaskRecord) bool {
	for _, kv := range [][2]string{{e.Title, t.Title}, {e.Workflow, t.Workflow}, {e.Role, t.Role}, {e.User, t.User}, {e.Status, t.Status}, {e.By, t.By}, {e.Reason, t.Reason}} {
		if kv[0] != "" && kv[0] != kv[1] {
			return false
		}
	}
	if e.Escalated != nil && *e.Escalated != t.Escalated {
		return false
	}
	if e.Reminded != nil && *e.Reminded != t.Reminded {
		return false
	}
	if e.Answer.Set && !partial(normalize(e.Answer.V), t.Answer) {
		return false
	}
	return true
}

func (e *TaskExpect) describe() string {
	var parts []string
	for _, kv := range [][2]string{{"titled ", e.Title}, {"of ", e.Workflow}, {"for role ", e.Role}, {"for user ", e.User}, {"", e.Status}, {"by ", e.By}, {"because ", e.Reason}} {
		if kv[1] != "" {
			v := kv[1]
			if kv[0] == "titled " || kv[0] == "because " {
				v = fmt.Sprintf("%q", v)
			}
			parts = append(parts, kv[0]+v)
		}
	}
	if e.Escalated != nil {
		parts = append(parts, map[bool]string{true: "escalated", false: "not escalated"}[*e.Escalated])
	}
	if e.Reminded != nil {
		parts = append(parts, fmt.Sprintf("reminded %d×", *e.Reminded))
	}
	if e.Answer.Set {
		parts = append(parts, "with answer "+compact(e.Answer.V))
	}
	return "a task " + strings.Join(parts, ", ")
}

func (t TaskRecord) describe() string {
	who := "role " + t.Role
	if t.User != "" {
		who = "user " + t.User
	}
	s := fmt.Sprintf("%q for %s, %s", t.Title, who, t.Status)
	if t.By != "" {
		s += " by " + t.By + " at " + t.At
	}
	if t.Escalated {
		s += ", escalated"
	}
	if t.Answer != nil {
		s += ", answer " + compact(t.Answer)
	}
	return s
}

func (s *scenario) checkTask(name string, e TaskExpect, used map[int]bool) {
	var fitting []int
	for i, t := range s.res.Tasks {
		if e.fits(t) {
			fitting = append(fitting, i)
		}
	}
	others := func() string {
		if len(s.res.Tasks) == 0 {
			return "no task was opened"
		}
		var d []string
		for _, t := range s.res.Tasks {
			d = append(d, t.describe())
		}
		return fmt.Sprintf("%d task(s): %s", len(s.res.Tasks), strings.Join(d, "; "))
	}
	if e.Count != nil {
		if len(fitting) != *e.Count {
			s.fail(e.Line, name, "expected %d× %s; %s", *e.Count, e.describe(), others())
		}
		for _, i := range fitting {
			used[i] = true
		}
		return
	}
	for _, i := range fitting {
		if !used[i] {
			used[i] = true
			return
		}
	}
	if len(fitting) > 0 {
		s.fail(e.Line, name, "expected %s; the only one is taken by an earlier entry", e.describe())
		return
	}
	s.fail(e.Line, name, "expected %s; %s", e.describe(), others())
}

// compact writes a value as short JSON.
func compact(v any) string {
	b, _ := json.Marshal(normalize(v))
	if len(b) > 160 {
		b = append(b[:157], "..."...)
	}
	return string(b)
}
