package tasks_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
)

// refundFlow asks a sales manager whether to refund, escalates to the
// admins after two hours, and goes on with the answer.
const refundFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: refund
  version: '1.0.0'
do:
  - approve:
      call: task.create
      with:
        shop: acme
        title: ${ "Refund " + .amount + " EUR for order " + .orderId + "?" }
        role: sales-manager
        data: ${ . }
        form:
          - {name: approved, type: boolean, required: true, label: "Refund it?"}
          - {name: note}
        due: PT4H
        reminders: [PT1H]
        escalate: {after: PT2H, role: admin}
  - decide:
      switch:
        - approved:
            when: ${ .status == "completed" and .answer.approved }
            then: refund
        - otherwise:
            then: declined
  - refund:
      set:
        outcome: refunded
        approvedBy: ${ .by }
        escalated: ${ .escalated }
        note: ${ .answer.note }
      then: end
  - declined:
      set:
        outcome: declined
        by: ${ .by }
`

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

// node is a runtime with task.create served by a task service.
type node struct {
	rt   *runtime.Runtime
	svc  *task.Service
	stop func()
}

func startNode(t *testing.T, st store.Store, clk clock.Clock) *node {
	t.Helper()
	dir := &user.Directory{Store: st, KDF: user.KDF{Time: 1, Memory: 1024, Threads: 1}}
	svc := &task.Service{Store: st, Users: dir, Clock: clk, Origins: sending.StoreOrigins{Instances: st}}
	rt := runtime.New(runtime.Options{Store: st, Clock: clk, Shards: 4, Connectors: catalog.Default(catalog.Options{Tasks: svc})})
	svc.Wake = rt.Wake
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	n := &node{rt: rt, svc: svc}
	stopped := false
	n.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(n.stop)
	return n
}

func addUsers(t *testing.T, st store.Store) map[string]*user.User {
	t.Helper()
	dir := &user.Directory{Store: st, KDF: user.KDF{Time: 1, Memory: 1024, Threads: 1}}
	out := map[string]*user.User{}
	for id, role := range map[string]string{"alice": "sales-manager", "mia": "admin"} {
		u, err := dir.Add(context.Background(), user.User{ID: id, Roles: map[string][]string{"acme": {role}}})
		require.NoError(t, err)
		out[id] = &u
	}
	return out
}

func instance(t *testing.T, st store.Store, id string) *engine.Instance {
	t.Helper()
	rec, err := st.GetInstance(context.Background(), id)
	require.NoError(t, err)
	in, err := engine.Unmarshal(rec.State)
	require.NoError(t, err)
	return in
}

// order is a new copy each time: an instance's input is its own.
func order() map[string]any {
	return map[string]any{"orderId": "o-1001", "amount": "120.00", "customer": "ada@example.com"}
}

// The instance waits for its task across a restart of the runtime, and
// goes on with the answer as soon as someone gives it.
func TestApprovalWaitsDurably(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			users := addUsers(t, st)
			first := startNode(t, st, nil)
			_, _, err := first.rt.Publish(ctx, "refund.yaml", []byte(refundFlow))
			require.NoError(t, err)
			id, err := first.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "refund", Version: "1.0.0"}, order())
			require.NoError(t, err)
			var open []*task.Task
			require.Eventually(t, func() bool {
				open, err = first.svc.List(ctx, users["alice"], task.Query{})
				require.NoError(t, err)
				return len(open) == 1
			}, 30*time.Second, 10*time.Millisecond, "the call opens a task for the sales managers")
			tk := open[0]
			require.Equal(t, "Refund 120.00 EUR for order o-1001?", tk.Title)
			require.Equal(t, order(), tk.Data)
			require.Equal(t, id, tk.Instance)
			require.Equal(t, "/do/0/approve", tk.Position)
			require.Equal(t, "shop/refund:1.0.0", tk.Workflow)
			require.Equal(t, engine.StatusWaiting, instance(t, st, id).Status, "the instance waits")

			// A restart: the wait is in the store, not in the node.
			first.stop()
			second := startNode(t, st, nil)
			time.Sleep(50 * time.Millisecond) // let it look at its outbox: nothing is due
			require.Equal(t, engine.StatusWaiting, instance(t, st, id).Status)
			got, err := second.svc.Get(ctx, tk.ID, nil)
			require.NoError(t, err)
			require.Equal(t, "open", got.Status)
			require.Len(t, got.History, 1, "the restart opened no second task and repeated nothing")

			_, err = second.svc.Complete(ctx, tk.ID, users["alice"], map[string]any{"approved": "yes"})
			var inv *task.InvalidAnswer
			require.ErrorAs(t, err, &inv, "a bad answer is refused and the instance keeps waiting")
			_, err = second.svc.Complete(ctx, tk.ID, users["alice"], map[string]any{"approved": true, "note": "loyal customer"})
			require.NoError(t, err)
			var in *engine.Instance
			require.Eventually(t, func() bool {
				in = instance(t, st, id)
				return in.Status.Ended()
			}, 30*time.Second, 10*time.Millisecond, "the answer resumes the instance")
			require.Equal(t, engine.StatusCompleted, in.Status, "%+v", in.Error)
			require.Equal(t, map[string]any{"outcome": "refunded", "approvedBy": "alice", "escalated": false, "note": "loyal customer"}, in.Output)
		})
	}
}

// Reminders and the escalation come at their times on the runtime's
// clock; a virtual one jumps straight to them.
func TestEscalationOnAVirtualClock(t *testing.T) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			st := open(t)
			users := addUsers(t, st)
			t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			vc := clock.NewVirtual(t0)
			n := startNode(t, st, vc)
			_, _, err := n.rt.Publish(ctx, "refund.yaml", []byte(refundFlow))
			require.NoError(t, err)
			id, err := n.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "refund", Version: "1.0.0"}, order())
			require.NoError(t, err)

			var jumps []time.Duration
			for {
				require.NoError(t, n.rt.Settle(ctx))
				next, ok, err := n.rt.NextDue(ctx)
				require.NoError(t, err)
				if !ok {
					break
				}
				vc.Set(next)
				jumps = append(jumps, next.Sub(t0))
			}
			require.Equal(t, []time.Duration{time.Hour, 2 * time.Hour}, jumps, "the reminder, then the escalation; then only an answer can move it")
			list, err := n.svc.List(ctx, users["mia"], task.Query{Role: "admin"})
			require.NoError(t, err)
			require.Len(t, list, 1, "escalated to the admins")
			require.True(t, list[0].Escalated)
			list, err = n.svc.List(ctx, users["alice"], task.Query{})
			require.NoError(t, err)
			require.Empty(t, list, "no longer the sales managers'")

			vc.Set(t0.Add(3 * time.Hour))
			tk, err := n.svc.Get(ctx, jumpsTask(t, n, users), nil)
			require.NoError(t, err)
			_, err = n.svc.Complete(ctx, tk.ID, users["mia"], map[string]any{"approved": true})
			require.NoError(t, err)
			require.NoError(t, n.rt.Settle(ctx))
			in := instance(t, st, id)
			require.Equal(t, engine.StatusCompleted, in.Status, "%+v", in.Error)
			require.Equal(t, map[string]any{"outcome": "refunded", "approvedBy": "mia", "escalated": true, "note": nil}, in.Output)
			tk, err = n.svc.Get(ctx, tk.ID, nil)
			require.NoError(t, err)
			var hist []string
			for _, h := range tk.History {
				hist = append(hist, h.Action+"@"+h.At.Sub(t0).String())
			}
			require.Equal(t, []string{"created@0s", "reminded@1h0m0s", "escalated@2h0m0s", "completed@3h0m0s"}, hist)
		})
	}
}

func jumpsTask(t *testing.T, n *node, users map[string]*user.User) string {
	t.Helper()
	list, err := n.svc.List(context.Background(), users["mia"], task.Query{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	return list[0].ID
}

const timedFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: timed
  version: '1.0.0'
do:
  - ask:
      try:
        - approve:
            call: task.create
            with:
              shop: acme
              title: Ship the backorder?
              user: alice
            timeout:
              after: PT1H
      catch:
        errors:
          with:
            type: https://serverlessworkflow.io/spec/1.0.0/errors/timeout
        do:
          - note:
              set:
                outcome: nobody answered
`

// A timeout on the call ends the wait; the task's late answer is refused
// and the task is cancelled.
func TestTimeoutEndsTheWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := backends["sqlite"](t)
	users := addUsers(t, st)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	vc := clock.NewVirtual(t0)
	n := startNode(t, st, vc)
	_, _, err := n.rt.Publish(ctx, "timed.yaml", []byte(timedFlow))
	require.NoError(t, err)
	id, err := n.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "timed", Version: "1.0.0"}, map[string]any{})
	require.NoError(t, err)
	require.NoError(t, n.rt.Settle(ctx))
	next, ok, err := n.rt.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Hour), next, "the timeout")
	vc.Set(next)
	require.NoError(t, n.rt.Settle(ctx))
	in := instance(t, st, id)
	require.Equal(t, engine.StatusCompleted, in.Status, "%+v", in.Error)
	require.Equal(t, map[string]any{"outcome": "nobody answered"}, in.Output)

	list, err := n.svc.List(ctx, users["alice"], task.Query{Mine: true})
	require.NoError(t, err)
	require.Len(t, list, 1, "the task is still listed until someone acts on it")
	_, err = n.svc.Complete(ctx, list[0].ID, users["alice"], map[string]any{"ship": true})
	var te *task.Error
	require.ErrorAs(t, err, &te)
	require.Equal(t, 409, te.Status)
	got, err := n.svc.Get(ctx, list[0].ID, nil)
	require.NoError(t, err)
	require.Equal(t, "cancelled", got.Status)
}
