package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func task(id, call, shop, user, role string, due time.Time) store.TaskRecord {
	return store.TaskRecord{ID: id, CallID: call, Shop: shop, Instance: "i-" + id, Workflow: "shop/refund:1.0.0", Position: "/do/0/approve",
		Title: "Approve " + id, Description: "a refund", Data: []byte(`{"amount":"120.00"}`), Form: []byte(`{"schema":{"type":"object"}}`),
		User: user, Role: role, Status: store.TaskOpen, DueAt: due, Plan: []byte(`{"reminders":[]}`), CreatedAt: t0, UpdatedAt: t0}
}

func testTasks(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := task("t1", "i-t1/3", "acme", "", "sales-manager", t0.Add(time.Hour))
	got, created, err := s.CreateTask(ctx, store.TaskChange{Task: a, Entries: []store.TaskEntry{{At: t0, Action: "created", Detail: []byte(`{"role":"sales-manager"}`)}}})
	require.NoError(t, err)
	require.True(t, created)
	a.Rev = 1
	require.Equal(t, a, got)

	// The same call again gets the task it opened, not a second one.
	again := task("t1-again", "i-t1/3", "acme", "", "operator", time.Time{})
	got, created, err = s.CreateTask(ctx, store.TaskChange{Task: again, Entries: []store.TaskEntry{{At: t0, Action: "created"}}})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, a, got)
	_, err = s.GetTask(ctx, "t1-again")
	require.ErrorIs(t, err, store.ErrNotFound)

	got, err = s.GetTask(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, a, got)
	got, err = s.TaskByCall(ctx, "i-t1/3")
	require.NoError(t, err)
	require.Equal(t, a, got)
	_, err = s.TaskByCall(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Updates go by revision: a change made from an older one is refused.
	claimed := a
	claimed.Status, claimed.ClaimedBy, claimed.UpdatedAt = store.TaskClaimed, "alice", t0.Add(time.Minute)
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: claimed, Entries: []store.TaskEntry{{At: t0.Add(time.Minute), Action: "claimed", By: "alice"}}}))
	stale := a
	stale.Status, stale.ClaimedBy = store.TaskClaimed, "bob"
	require.ErrorIs(t, s.UpdateTask(ctx, store.TaskChange{Task: stale, Entries: []store.TaskEntry{{At: t0, Action: "claimed", By: "bob"}}}), store.ErrConflict)
	missing := a
	missing.ID = "nope"
	require.ErrorIs(t, s.UpdateTask(ctx, store.TaskChange{Task: missing}), store.ErrNotFound)
	done := claimed
	done.Rev = 2
	done.Status, done.Answer, done.DoneBy, done.DoneAt, done.Escalated = store.TaskCompleted, []byte(`{"approved":true}`), "alice", t0.Add(2*time.Minute), true
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: done, Entries: []store.TaskEntry{{At: t0.Add(2 * time.Minute), Action: "completed", By: "alice", Detail: []byte(`{"approved":true}`)}}}))
	got, err = s.GetTask(ctx, "t1")
	require.NoError(t, err)
	done.Rev = 3
	require.Equal(t, done, got)

	hist, err := s.TaskHistory(ctx, "t1")
	require.NoError(t, err)
	require.Len(t, hist, 3, "the refused change left nothing")
	for i, want := range []struct{ action, by string }{{"created", ""}, {"claimed", "alice"}, {"completed", "alice"}} {
		require.Equal(t, int64(i+1), hist[i].Seq)
		require.Equal(t, want.action, hist[i].Action)
		require.Equal(t, want.by, hist[i].By)
		require.Equal(t, "t1", hist[i].TaskID)
	}
	require.JSONEq(t, `{"approved":true}`, string(hist[2].Detail))
	require.Equal(t, t0.Add(2*time.Minute), hist[2].At)

	// Lists: by shop, status, role, person, due date and visibility.
	for _, x := range []store.TaskRecord{
		task("t2", "c2", "acme", "bob", "", time.Time{}),
		task("t3", "c3", "acme", "", "warehouse", t0.Add(30*time.Minute)),
		task("t4", "c4", "beta", "", "sales-manager", t0.Add(3*time.Hour)),
		task("t5", "c5", "beta", "", "support", time.Time{}),
	} {
		_, created, err := s.CreateTask(ctx, store.TaskChange{Task: x})
		require.NoError(t, err)
		require.True(t, created)
	}
	t3, err := s.GetTask(ctx, "t3")
	require.NoError(t, err)
	t3.Status, t3.ClaimedBy = store.TaskClaimed, "carol"
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: t3}))
	open := []string{store.TaskOpen, store.TaskClaimed}
	tests := []struct {
		name string
		q    store.TaskQuery
		want []string
	}{
		{"all, newest first", store.TaskQuery{}, []string{"t5", "t4", "t3", "t2", "t1"}},
		{"a shop", store.TaskQuery{Shop: "acme"}, []string{"t3", "t2", "t1"}},
		{"open ones", store.TaskQuery{Statuses: open}, []string{"t5", "t4", "t3", "t2"}},
		{"done ones", store.TaskQuery{Statuses: []string{store.TaskCompleted, store.TaskRejected}}, []string{"t1"}},
		{"a role", store.TaskQuery{Role: "sales-manager"}, []string{"t4", "t1"}},
		{"a role in a shop", store.TaskQuery{Role: "sales-manager", Shop: "beta"}, []string{"t4"}},
		{"assigned to bob", store.TaskQuery{Mine: "bob"}, []string{"t2"}},
		{"claimed by carol", store.TaskQuery{Mine: "carol"}, []string{"t3"}},
		{"overdue at t0+2h", store.TaskQuery{Statuses: open, DueBefore: t0.Add(2 * time.Hour)}, []string{"t3"}},
		{"overdue at t0+4h", store.TaskQuery{Statuses: open, DueBefore: t0.Add(4 * time.Hour)}, []string{"t4", "t3"}},
		{"visible to a sales manager of beta and warehouse of acme", store.TaskQuery{Visible: &store.TaskVisibility{User: "dave",
			Roles: []store.UserRole{{Shop: "beta", Role: "sales-manager"}, {Shop: "acme", Role: "warehouse"}}}}, []string{"t4", "t3"}},
		{"visible to bob, admin of beta", store.TaskQuery{Visible: &store.TaskVisibility{User: "bob", Shops: []string{"beta"}}}, []string{"t5", "t4", "t2"}},
		{"visible to nobody in particular", store.TaskQuery{Visible: &store.TaskVisibility{User: "erin"}}, nil},
		{"a page", store.TaskQuery{Limit: 2}, []string{"t5", "t4"}},
		{"the next page", store.TaskQuery{After: "t4", Limit: 2}, []string{"t3", "t2"}},
	}
	for _, tc := range tests {
		list, err := s.ListTasks(ctx, tc.q)
		require.NoError(t, err, tc.name)
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		require.Equal(t, tc.want, ids, tc.name)
	}

	// Events go with their change, deduplicated like any event.
	t5, err := s.GetTask(ctx, "t5")
	require.NoError(t, err)
	t5.Status = store.TaskRejected
	ev := store.Event{ID: "t5/2/rejected", Source: "storeflow", Type: "storeflow.task.rejected", Subject: "t5", Time: t0, Envelope: []byte(`{"id":"t5/2/rejected"}`), ReceivedAt: t0}
	before, err := s.LastEventSeq(ctx)
	require.NoError(t, err)
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: t5, Events: []store.Event{ev, ev}}))
	evs, err := s.ReadEvents(ctx, before, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "storeflow.task.rejected", evs[0].Type)
}

func testTaskWake(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := newInstance("w")
	res, err := s.Commit(ctx, []store.Change{{Instance: in, AddOutbox: []store.OutboxItem{
		{ID: "w/1", InstanceID: "w", Kind: "call", Payload: []byte(`{}`), NextAt: t0},
		{ID: "w/2", InstanceID: "w", Kind: "call", Payload: []byte(`{}`), NextAt: t0},
	}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	due := func(at time.Time) []string {
		items, err := s.Outbox(ctx, nil, at, 10)
		require.NoError(t, err)
		var ids []string
		for _, o := range items {
			ids = append(ids, o.ID)
		}
		return ids
	}
	far := t0.Add(100 * 365 * 24 * time.Hour)

	// The connector parks the call while the task waits.
	ok, err := s.DeferOutbox(ctx, "w/1", t0, far)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, []string{"w/2"}, due(t0.Add(time.Hour)))
	ok, err = s.DeferOutbox(ctx, "w/1", t0, far)
	require.NoError(t, err)
	require.False(t, ok, "an item no longer at the time it was read is not moved")

	// Answering the task makes the call due at once.
	x := task("t1", "w/1", "acme", "", "operator", time.Time{})
	_, _, err = s.CreateTask(ctx, store.TaskChange{Task: x})
	require.NoError(t, err)
	x.Rev = 1
	at := t0.Add(10 * time.Minute)
	x.Status = store.TaskCompleted
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: x, Wake: at}))
	require.Equal(t, []string{"w/2", "w/1"}, due(at), "oldest due first")
	items, err := s.Outbox(ctx, nil, at, 10)
	require.NoError(t, err)
	require.Equal(t, at, items[1].NextAt)

	// A wake between the read of a due item and its deferral wins: the
	// deferral computed from the old read does not put it to sleep again.
	y := task("t2", "w/2", "acme", "", "operator", time.Time{})
	_, _, err = s.CreateTask(ctx, store.TaskChange{Task: y})
	require.NoError(t, err)
	y.Rev = 1
	read, err := s.Outbox(ctx, nil, at, 10)
	require.NoError(t, err)
	require.Equal(t, "w/2", read[0].ID)
	y.Status = store.TaskCompleted
	require.NoError(t, s.UpdateTask(ctx, store.TaskChange{Task: y, Wake: at}), "the item is due already; the wake still marks it")
	ok, err = s.DeferOutbox(ctx, "w/2", read[0].NextAt, far)
	require.NoError(t, err)
	require.False(t, ok, "the wake came after the read")
	require.Contains(t, due(at), "w/2")

	// A call no longer pending refuses a wake, and the change with it.
	res, err = s.Commit(ctx, []store.Change{{Instance: func() store.Instance { i := in; i.Rev = 1; return i }(), DeleteOutbox: []string{"w/1"}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	x, err = s.GetTask(ctx, "t1")
	require.NoError(t, err)
	before := x
	x.Status = store.TaskRejected
	require.ErrorIs(t, s.UpdateTask(ctx, store.TaskChange{Task: x, Wake: at, Entries: []store.TaskEntry{{At: at, Action: "rejected"}}}), store.ErrCallGone)
	got, err := s.GetTask(ctx, "t1")
	require.NoError(t, err)
	require.Equal(t, before, got, "nothing of the refused change was kept")
	hist, err := s.TaskHistory(ctx, "t1")
	require.NoError(t, err)
	require.Empty(t, hist)
}
