package task_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
)

// backends open an empty store of each kind.
var backends = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	},
	"postgres": func(t *testing.T) store.Store {
		_, url := pgtest.Schema(t)
		st, err := postgres.Open(context.Background(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	},
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// world is a store with the users of shop acme, a task service on a
// virtual clock, and the users to act as.
type world struct {
	st    store.Store
	svc   *task.Service
	vc    *clock.Virtual
	users map[string]*user.User
	woken int
}

func newWorld(t *testing.T, open func(t *testing.T) store.Store) *world {
	t.Helper()
	st := open(t)
	ctx := context.Background()
	dir := &user.Directory{Store: st, KDF: user.KDF{Time: 1, Memory: 1024, Threads: 1}}
	w := &world{st: st, vc: clock.NewVirtual(t0), users: map[string]*user.User{}}
	for id, roles := range map[string][]string{
		"alice": {"sales-manager"}, "sam": {"sales-manager"}, "bob": {"operator"}, "mia": {"admin"}, "olga": {"returns-desk"},
	} {
		u, err := dir.Add(ctx, user.User{ID: id, Roles: map[string][]string{"acme": roles}})
		require.NoError(t, err)
		w.users[id] = &u
	}
	other, err := dir.Add(ctx, user.User{ID: "otto", Roles: map[string][]string{"beta": {"admin"}}})
	require.NoError(t, err)
	w.users["otto"] = &other
	w.svc = &task.Service{Store: st, Users: dir, Clock: w.vc, Wake: func() { w.woken++ },
		Origins: sending.OriginFunc(func(ctx context.Context, instance string) (sending.Origin, error) {
			return sending.Origin{Workflow: "shop/refund:1.0.0", Shop: "acme"}, nil
		})}
	return w
}

// pending makes the outbox item of a call, as the runtime has it while
// the call waits.
func (w *world) pending(t *testing.T, instance, call string) {
	t.Helper()
	res, err := w.st.Commit(context.Background(), []store.Change{{
		Instance:  store.Instance{ID: instance, Namespace: "shop", Name: "refund", Version: "1.0.0", Status: "running", State: []byte(`{}`), CreatedAt: t0},
		AddOutbox: []store.OutboxItem{{ID: call, InstanceID: instance, Kind: "call", Payload: []byte(`{}`), NextAt: t0}},
	}})
	require.NoError(t, err)
	require.NoError(t, res[0])
}

func (w *world) call(call string, args map[string]any) connector.Request {
	return connector.Request{Kind: connector.KindFunction, Function: "task.create", Args: args, IdempotencyKey: call,
		Instance: "i-" + call, Task: "/do/1/approve", Attempt: 1, At: w.vc.Now()}
}

// waits performs a call that must wait, and returns until when.
func (w *world) waits(t *testing.T, call string, args map[string]any) time.Time {
	t.Helper()
	out, err := w.svc.Await(context.Background(), w.call(call, args))
	d, ok := connector.DeferredUntil(err)
	require.True(t, ok, "the call waits: %v %v", out, err)
	return d.Until
}

func forEachStore(t *testing.T, fn func(t *testing.T, w *world)) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newWorld(t, open))
		})
	}
}

// A call opens its task once, waits for it by its reminders and
// deadline, and gives the answer once someone completes it.
func TestAwaitOpensRemindsEscalatesAndAnswers(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.pending(t, "i-r1", "r1")
		args := map[string]any{"title": "Refund 120 EUR to ada?", "role": "sales-manager", "data": map[string]any{"order": "o1", "amount": "120.00"},
			"form": json.RawMessage(approvalFields), "due": "PT8H", "reminders": []any{"PT2H", "PT1H"},
			"escalate": map[string]any{"after": "PT4H", "role": "admin"}}
		until := w.waits(t, "r1", args)
		require.Equal(t, t0.Add(time.Hour), until, "the first reminder is the next thing due")

		list, err := w.svc.List(ctx, nil, task.Query{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		opened := list[0]
		require.Equal(t, "acme", opened.Shop, "the shop of the instance's event")
		require.Equal(t, "shop/refund:1.0.0", opened.Workflow)
		require.Equal(t, "i-r1", opened.Instance)
		require.Equal(t, t0.Add(8*time.Hour), opened.Due)
		require.Equal(t, []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)}, opened.Plan.Reminders, "in order")

		// The same call again (a restart) finds its task.
		until = w.waits(t, "r1", args)
		require.Equal(t, t0.Add(time.Hour), until)
		list, err = w.svc.List(ctx, nil, task.Query{Status: "all"})
		require.NoError(t, err)
		require.Len(t, list, 1, "one task per call")

		steps := []struct {
			at        time.Duration
			next      time.Duration
			role      string
			escalated bool
		}{
			{time.Hour, 2 * time.Hour, "sales-manager", false},
			{2 * time.Hour, 4 * time.Hour, "sales-manager", false},
			{4 * time.Hour, 0, "admin", true},
		}
		for _, s := range steps {
			w.vc.Set(t0.Add(s.at))
			until := w.waits(t, "r1", args)
			if s.next == 0 {
				require.Equal(t, t0.Add(s.at+task.Parked), until, "nothing left to do by itself: parked")
			} else {
				require.Equal(t, t0.Add(s.next), until)
			}
			got, err := w.svc.Get(ctx, opened.ID, nil)
			require.NoError(t, err)
			require.Equal(t, s.role, got.Role)
			require.Equal(t, s.escalated, got.Escalated)
		}
		_, err = w.svc.Claim(ctx, opened.ID, w.users["alice"])
		require.ErrorIs(t, err, store.ErrNotFound, "escalated to the admins, the sales managers no longer see it")

		w.vc.Set(t0.Add(5 * time.Hour))
		_, err = w.svc.Complete(ctx, opened.ID, w.users["mia"], map[string]any{"approved": true, "amount": 100})
		require.NoError(t, err)
		require.Equal(t, 1, w.woken, "the runtime is told")
		items, err := w.st.Outbox(ctx, nil, t0.Add(5*time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, items, 1, "the call is due again")
		out, err := w.svc.Await(ctx, w.call("r1", args))
		require.NoError(t, err)
		require.Equal(t, map[string]any{"status": "completed", "answer": map[string]any{"approved": true, "amount": float64(100)}, "by": "mia",
			"at": t0.Add(5 * time.Hour).Format(time.RFC3339Nano), "task": opened.ID, "escalated": true}, out)

		got, err := w.svc.Get(ctx, opened.ID, w.users["mia"])
		require.NoError(t, err)
		var actions []string
		for _, h := range got.History {
			actions = append(actions, h.Action+"@"+h.At.Sub(t0).String()+"/"+h.By)
		}
		require.Equal(t, []string{"created@0s/", "reminded@1h0m0s/", "reminded@2h0m0s/", "escalated@4h0m0s/", "completed@5h0m0s/mia"}, actions)

		// Every action is an event in the log.
		evs, err := w.st.ReadEvents(ctx, 0, "", 100)
		require.NoError(t, err)
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		require.Equal(t, []string{"storeflow.task.created", "storeflow.task.reminded", "storeflow.task.reminded", "storeflow.task.escalated", "storeflow.task.completed"}, types)
		var env struct {
			Shop string         `json:"shop"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(evs[4].Envelope, &env))
		require.Equal(t, "acme", env.Shop)
		require.Equal(t, opened.ID, env.Data["task"])
		require.Equal(t, map[string]any{"approved": true, "amount": float64(100)}, env.Data["answer"])
	})
}

func TestOpenRefusesWhatNobodyCanAnswer(t *testing.T) {
	t.Parallel()
	w := newWorld(t, backends["sqlite"])
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"a role the shop has not", map[string]any{"title": "x", "role": "sales-manger"}, `shop acme has no role "sales-manger" (its roles: admin, operator, support, warehouse, sales-manager, returns-desk); did you mean "sales-manager"?`},
		{"a user of another shop", map[string]any{"title": "x", "user": "otto"}, `user "otto" is no user of shop acme`},
		{"an unknown user", map[string]any{"title": "x", "user": "nobody"}, `user "nobody" is no user of shop acme`},
		{"both", map[string]any{"title": "x", "user": "alice", "role": "admin"}, "either a `user` or a `role`"},
		{"an escalation with no time", map[string]any{"title": "x", "role": "admin", "escalate": map[string]any{"role": "operator"}}, "say when"},
		{"an escalation to nobody", map[string]any{"title": "x", "role": "admin", "due": "P1D", "escalate": map[string]any{"role": "boss"}}, `escalate: shop acme has no role "boss"`},
		{"a bad due date", map[string]any{"title": "x", "role": "admin", "due": "tomorrow"}, `due: "tomorrow" is neither`},
		{"a bad reminder", map[string]any{"title": "x", "role": "admin", "reminders": []any{"PT0S"}}, `reminders[0]: "PT0S" is no ISO 8601 duration`},
		{"a bad form", map[string]any{"title": "x", "role": "admin", "form": []any{map[string]any{"name": "x", "type": "colour"}}}, `type "colour"`},
		{"a misspelt argument", map[string]any{"title": "x", "role": "admin", "reminder": []any{"PT1H"}}, `unknown field "reminder"`},
	}
	for i, tc := range tests {
		_, err := w.svc.Await(context.Background(), w.call("bad-"+string(rune('a'+i)), tc.args))
		var p *problem.Problem
		require.True(t, errors.As(err, &p), "%s: %v", tc.name, err)
		require.Equal(t, 400, p.Status, tc.name)
		require.Equal(t, problem.TypeValidation, p.Type, tc.name)
		require.Contains(t, p.Detail, tc.want, tc.name)
	}
	list, err := w.svc.List(context.Background(), nil, task.Query{Status: "all"})
	require.NoError(t, err)
	require.Empty(t, list, "no task was opened")

	// Without a shop of its instance's event, a call must name one.
	w.svc.Origins = nil
	_, err = w.svc.Await(context.Background(), w.call("no-shop", map[string]any{"title": "x", "role": "admin"}))
	require.ErrorContains(t, err, "name the shop")
}

// Who may do what to a task, step by step.
func TestActions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.pending(t, "i-a1", "a1")
		w.waits(t, "a1", map[string]any{"title": "Approve the quote", "role": "sales-manager", "due": "PT1H",
			"form": []any{map[string]any{"name": "approved", "type": "boolean", "required": true}}})
		list, err := w.svc.List(ctx, w.users["alice"], task.Query{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		id := list[0].ID
		steps := []struct {
			name   string
			do     func() (*task.Task, error)
			status int // of the refusal; 0: done
			want   string
			then   string // the task's status after
		}{
			{"bob is no sales manager", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["bob"]) }, 404, "not found", "open"},
			{"an admin of another shop neither", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["otto"]) }, 404, "not found", "open"},
			{"nobody logged in", func() (*task.Task, error) { return w.svc.Claim(ctx, id, nil) }, 401, "log in", "open"},
			{"alice claims", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["alice"]) }, 0, "", "claimed"},
			{"alice claims again", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["alice"]) }, 0, "", "claimed"},
			{"sam cannot claim it too", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["sam"]) }, 409, "claimed by alice", "claimed"},
			{"sam cannot answer it", func() (*task.Task, error) {
				return w.svc.Complete(ctx, id, w.users["sam"], map[string]any{"approved": true})
			}, 409, "claimed by alice", "claimed"},
			{"alice answers wrongly", func() (*task.Task, error) {
				return w.svc.Complete(ctx, id, w.users["alice"], map[string]any{"approved": "yes"})
			}, 422, "approved: got string, want boolean", "claimed"},
			{"alice reassigns to olga's role", func() (*task.Task, error) {
				return w.svc.Reassign(ctx, id, w.users["alice"], task.Assignee{Role: "returns-desk", Note: "it is a return"})
			}, 0, "", "open"},
			{"to a role the shop has not", func() (*task.Task, error) {
				return w.svc.Reassign(ctx, id, w.users["olga"], task.Assignee{Role: "nobody"})
			}, 422, `no role "nobody"`, "open"},
			{"alice no longer sees it", func() (*task.Task, error) { return w.svc.Claim(ctx, id, w.users["alice"]) }, 404, "not found", "open"},
			{"olga rejects", func() (*task.Task, error) { return w.svc.Reject(ctx, id, w.users["olga"], "  not ours  ") }, 0, "", "rejected"},
			{"done is done", func() (*task.Task, error) {
				return w.svc.Complete(ctx, id, w.users["mia"], map[string]any{"approved": true})
			}, 409, "rejected already, by olga", "rejected"},
		}
		for _, s := range steps {
			w.vc.Set(w.vc.Now().Add(time.Minute))
			_, err := s.do()
			if s.status == 0 {
				require.NoError(t, err, s.name)
			} else {
				var te *task.Error
				var inv *task.InvalidAnswer
				switch {
				case errors.As(err, &te):
					require.Equal(t, s.status, te.Status, "%s: %v", s.name, err)
				case errors.As(err, &inv):
					require.Equal(t, 422, s.status, s.name)
				case errors.Is(err, store.ErrNotFound):
					require.Equal(t, 404, s.status, s.name)
				default:
					t.Fatalf("%s: %v", s.name, err)
				}
				require.ErrorContains(t, err, s.want, s.name)
			}
			got, err := w.svc.Get(ctx, id, nil)
			require.NoError(t, err)
			require.Equal(t, s.then, got.Status, s.name)
		}
		got, err := w.svc.Get(ctx, id, nil)
		require.NoError(t, err)
		require.Equal(t, "not ours", got.Reason)
		var hist []string
		for _, h := range got.History {
			hist = append(hist, h.Action+"/"+h.By)
		}
		require.Equal(t, []string{"created/", "claimed/alice", "reassigned/alice", "rejected/olga"}, hist, "refusals leave no trace; a repeated claim neither")
		out, err := w.svc.Await(ctx, w.call("a1", nil))
		require.NoError(t, err)
		require.Equal(t, "rejected", out.(map[string]any)["status"])
		require.Equal(t, "not ours", out.(map[string]any)["reason"])
		require.Equal(t, map[string]any{}, out.(map[string]any)["answer"])
	})
}

// A task whose workflow stopped waiting is cancelled when someone answers.
func TestAnswerToAWorkflowThatStoppedWaiting(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		// No outbox item: the call is not pending (its instance was cancelled).
		w.waits(t, "gone", map[string]any{"title": "Late", "user": "alice"})
		list, err := w.svc.List(ctx, w.users["alice"], task.Query{Mine: true})
		require.NoError(t, err)
		require.Len(t, list, 1)
		_, err = w.svc.Complete(ctx, list[0].ID, w.users["alice"], nil)
		var te *task.Error
		require.ErrorAs(t, err, &te)
		require.Equal(t, 409, te.Status)
		require.Contains(t, te.Detail, "no longer waits")
		got, err := w.svc.Get(ctx, list[0].ID, nil)
		require.NoError(t, err)
		require.Equal(t, store.TaskCancelled, got.Status)
		require.Empty(t, got.Answer, "the answer was not kept")
	})
}

func TestList(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		for i, args := range []map[string]any{
			{"title": "one", "role": "sales-manager", "due": "PT1H"},
			{"title": "two", "user": "bob", "due": "PT3H"},
			{"title": "three", "role": "operator"},
			{"title": "four", "role": "sales-manager", "shop": "beta"},
		} {
			if args["shop"] == "beta" {
				w.svc.Users = nil // beta has no users in this world; let it be
			}
			w.waits(t, "l"+string(rune('1'+i)), args)
		}
		w.vc.Set(t0.Add(2 * time.Hour))
		titles := func(viewer *user.User, q task.Query) []string {
			list, err := w.svc.List(ctx, viewer, q)
			require.NoError(t, err)
			var out []string
			for _, x := range list {
				out = append(out, x.Title)
			}
			return out
		}
		tests := []struct {
			name   string
			viewer string
			q      task.Query
			want   []string
		}{
			{"the API token sees all", "", task.Query{}, []string{"four", "three", "two", "one"}},
			{"by shop", "", task.Query{Shop: "acme"}, []string{"three", "two", "one"}},
			{"overdue", "", task.Query{Overdue: true}, []string{"one"}},
			{"alice: her role's in her shop", "alice", task.Query{}, []string{"one"}},
			{"bob: his own and his role's", "bob", task.Query{}, []string{"three", "two"}},
			{"bob: only his own", "bob", task.Query{Mine: true}, []string{"two"}},
			{"bob: by role", "bob", task.Query{Role: "operator"}, []string{"three"}},
			{"mia: every task of acme", "mia", task.Query{}, []string{"three", "two", "one"}},
			{"otto: beta's", "otto", task.Query{}, []string{"four"}},
			{"done ones", "", task.Query{Status: "completed"}, nil},
		}
		for _, tc := range tests {
			var viewer *user.User
			if tc.viewer != "" {
				viewer = w.users[tc.viewer]
			}
			require.Equal(t, tc.want, titles(viewer, tc.q), tc.name)
		}
		_, err := w.svc.List(ctx, nil, task.Query{Mine: true})
		require.ErrorContains(t, err, "needs a user")
		_, err = w.svc.List(ctx, nil, task.Query{Status: "late"})
		require.ErrorContains(t, err, "use one of open")
	})
}
