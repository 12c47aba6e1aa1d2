// Package storetest is the conformance suite every store.Store backend must
// pass, so that the seam between the runtime and its stores stays honest.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// Run runs the suite. open returns a new, empty store for each test.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := map[string]func(t *testing.T, s store.Store){
		"Workflows":             testWorkflows,
		"EventsDeduplicate":     testEvents,
		"CommitAndRevisions":    testCommit,
		"CommitIsAtomic":        testAtomic,
		"TriggersStartOnce":     testTriggers,
		"TimersSubsOutbox":      testWork,
		"ListInstances":         testList,
		"ConcurrentCommitters":  testConcurrent,
		"EventLogReadsInOrder":  testLogOrder,
		"SlotLeases":            testLeases,
		"SlotLeaseExpiry":       testLeaseExpiry,
		"SlotScopes":            testSlotScopes,
		"PruneKeepsNewer":       testPrune,
		"StartGroups":           testStartGroups,
		"StartGroupsConcurrent": testStartGroupsConcurrent,
		"Shops":                 testShops,
		"Webhooks":              testWebhooks,
		"FollowerLeases":        testFollowerLeases,
		"FollowerCommits":       testFollowerCommits,
		"FollowerRace":          testFollowerRace,
		"EventKeys":             testEventKeys,
		"Messages":              testMessages,
		"ContactFacts":          testContactFacts,
		"Customers":             testCustomers,
		"EventList":             testEventList,
		"Users":                 testUsers,
		"Tasks":                 testTasks,
		"TaskWakesItsCall":      testTaskWake,
		"CommitBatches":         testBatches,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testWorkflows(t *testing.T, s store.Store) {
	ctx := context.Background()
	w1, created, err := s.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "cart", Version: "1.0.0", Source: []byte("v1")})
	require.NoError(t, err)
	require.True(t, created)
	require.True(t, w1.Enabled)
	require.Len(t, w1.Digest, 64)

	_, created, err = s.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "cart", Version: "1.0.0", Source: []byte("v1")})
	require.NoError(t, err)
	require.False(t, created, "the same source is no new version")
	_, _, err = s.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "cart", Version: "1.0.0", Source: []byte("v1 changed")})
	require.ErrorIs(t, err, store.ErrVersionExists, "versions are immutable")

	for _, v := range []string{"1.10.0", "1.2.0", "1.10.0-rc.1"} {
		_, _, err = s.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "cart", Version: v, Source: []byte(v)})
		require.NoError(t, err)
	}
	latest, err := s.GetWorkflow(ctx, "shop", "cart", "")
	require.NoError(t, err)
	require.Equal(t, "1.10.0", latest.Version, "latest is by semantic version")
	require.Equal(t, []byte("1.10.0"), latest.Source)

	got, err := s.GetWorkflow(ctx, "shop", "cart", "1.2.0")
	require.NoError(t, err)
	require.Equal(t, []byte("1.2.0"), got.Source)

	_, err = s.GetWorkflow(ctx, "shop", "nope", "")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.SetWorkflowEnabled(ctx, "shop", "cart", false))
	got, err = s.GetWorkflow(ctx, "shop", "cart", "1.0.0")
	require.NoError(t, err)
	require.False(t, got.Enabled)
	require.ErrorIs(t, s.SetWorkflowEnabled(ctx, "shop", "nope", true), store.ErrNotFound)

	_, _, err = s.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "welcome", Version: "0.1.0", Source: []byte("w")})
	require.NoError(t, err)
	all, err := s.ListWorkflows(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "1.10.0", all[0].Version)
	require.Equal(t, "welcome", all[1].Name)
}

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs, err := s.AppendEvents(ctx, []store.Event{
		{ID: "1", Source: "shopify", Type: "order.paid", Time: t0, Envelope: []byte(`{"id":"1"}`)},
		{ID: "1", Source: "woo", Type: "order.paid", Time: t0, Envelope: []byte(`{"id":"1"}`)},
		{ID: "1", Source: "shopify", Type: "order.paid", Time: t0, Envelope: []byte(`{"id":"1","again":true}`)},
	})
	require.NoError(t, err)
	require.False(t, evs[0].Duplicate)
	require.False(t, evs[1].Duplicate)
	require.True(t, evs[2].Duplicate, "same source and id is the same event")
	require.Equal(t, evs[0].Seq, evs[2].Seq)
	require.Less(t, evs[0].Seq, evs[1].Seq)

	again, err := s.AppendEvents(ctx, []store.Event{{ID: "1", Source: "woo", Type: "order.paid"}})
	require.NoError(t, err)
	require.True(t, again[0].Duplicate)

	read, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, read, 2)
	require.Equal(t, `{"id":"1"}`, string(read[0].Envelope))
	require.Equal(t, t0, read[0].Time)
	read, err = s.ReadEvents(ctx, read[0].Seq, "", 10)
	require.NoError(t, err)
	require.Len(t, read, 1)
	require.Equal(t, "woo", read[0].Source)

	_, err = s.AppendEvents(ctx, []store.Event{{ID: "2", Source: "shopify", Type: "checkout.started"}})
	require.NoError(t, err)
	typed, err := s.ReadEvents(ctx, 0, "checkout.started", 10)
	require.NoError(t, err)
	require.Len(t, typed, 1)
	require.Equal(t, "2", typed[0].ID)

	// Reading by several types keeps the log's order and skips the rest.
	mixed, err := s.ReadEventsOfTypes(ctx, 0, []string{"checkout.started", "order.paid"}, 10)
	require.NoError(t, err)
	require.Len(t, mixed, 3)
	require.Equal(t, []string{"order.paid", "order.paid", "checkout.started"}, []string{mixed[0].Type, mixed[1].Type, mixed[2].Type})
	require.Less(t, mixed[0].Seq, mixed[1].Seq)
	require.Less(t, mixed[1].Seq, mixed[2].Seq)
	none, err := s.ReadEventsOfTypes(ctx, 0, []string{}, 10)
	require.NoError(t, err)
	require.Empty(t, none)
	all, err := s.ReadEventsOfTypes(ctx, 0, nil, 10)
	require.NoError(t, err)
	require.Len(t, all, 3)
	last, err := s.LastEventSeq(ctx)
	require.NoError(t, err)
	require.Equal(t, all[2].Seq, last)

	// A batch is logged in its order.
	var batch []store.Event
	for i := range 50 {
		batch = append(batch, store.Event{ID: fmt.Sprintf("b%02d", 49-i), Source: "shopify", Type: "order.paid"})
	}
	logged, err := s.AppendEvents(ctx, batch)
	require.NoError(t, err)
	for i := 1; i < len(logged); i++ {
		require.Greater(t, logged[i].Seq, logged[i-1].Seq, "event %d of the batch", i)
	}

	pos, err := s.Cursor(ctx, "matcher")
	require.NoError(t, err)
	require.Zero(t, pos)
	require.NoError(t, s.SetCursor(ctx, "matcher", 7))
	require.NoError(t, s.SetCursor(ctx, "matcher", 9))
	pos, err = s.Cursor(ctx, "matcher")
	require.NoError(t, err)
	require.Equal(t, int64(9), pos)
}

func newInstance(id string) store.Instance {
	return store.Instance{ID: id, Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{"id":"` + id + `"}`), CreatedAt: t0}
}

func testCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := newInstance("i-1")
	res, err := s.Commit(ctx, []store.Change{{
		Instance:         in,
		History:          []store.HistoryEntry{{Time: t0, Type: "workflow.started"}, {Time: t0, Type: "task.started", Task: "/do/0/wait"}},
		AddTimers:        []store.Timer{{ID: "i-1/1", InstanceID: "i-1", Due: t0.Add(time.Hour)}},
		AddSubscriptions: []store.Subscription{{ID: "i-1/2", InstanceID: "i-1", EventType: "order.placed", CorrKey: `{"cart":"c1"}`, Since: t0, Spec: []byte(`{}`)}},
		AddOutbox:        []store.OutboxItem{{ID: "i-1/3", InstanceID: "i-1", Kind: "call", Payload: []byte(`{}`), NextAt: t0}},
		Emit:             []store.Event{{ID: "e-1", Source: "storeflow", Type: "cart.reminded"}},
	}})
	require.NoError(t, err)
	require.Equal(t, []error{nil}, res)

	got, err := s.GetInstance(ctx, "i-1")
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Rev)
	require.Equal(t, `{"id":"i-1"}`, string(got.State))
	require.Equal(t, t0, got.CreatedAt)

	// A change computed from revision 1 commits; a second one from 1 conflicts.
	next := got
	next.Status, next.State = "waiting", []byte(`{"step":2}`)
	res, err = s.Commit(ctx, []store.Change{{Instance: next, History: []store.HistoryEntry{{Time: t0, Type: "task.completed"}}, DeleteTimers: []string{"i-1/1"}}})
	require.NoError(t, err)
	require.Equal(t, []error{nil}, res)
	res, err = s.Commit(ctx, []store.Change{{Instance: next}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrConflict)
	res, err = s.Commit(ctx, []store.Change{{Instance: newInstance("i-1")}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrConflict, "an instance is created once")

	got, err = s.GetInstance(ctx, "i-1")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Rev)
	require.Equal(t, "waiting", got.Status)

	hist, err := s.History(ctx, "i-1")
	require.NoError(t, err)
	require.Len(t, hist, 3)
	for i, h := range hist {
		require.Equal(t, int64(i+1), h.Seq)
	}
	require.Equal(t, "/do/0/wait", hist[1].Task)

	timers, err := s.DueTimers(ctx, nil, time.Time{}, "", t0.Add(24*time.Hour), 10)
	require.NoError(t, err)
	require.Empty(t, timers, "the committed change deleted the timer")

	evs, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1, "emitted events join the log in the same commit")

	_, err = s.GetInstance(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Of a group, the conflicting change is skipped whole and the others commit.
	res, err := s.Commit(ctx, []store.Change{
		{Instance: newInstance("a"), AddTimers: []store.Timer{{ID: "a/1", InstanceID: "a", Due: t0}}},
		{Instance: store.Instance{ID: "ghost", Rev: 5, Status: "running", State: []byte(`{}`)}, AddTimers: []store.Timer{{ID: "ghost/1", InstanceID: "ghost", Due: t0}},
			History: []store.HistoryEntry{{Time: t0, Type: "x"}}, Emit: []store.Event{{ID: "ghost-event", Source: "s", Type: "t"}}},
		{Instance: newInstance("b"), AddTimers: []store.Timer{{ID: "b/1", InstanceID: "b", Due: t0}}},
	})
	require.NoError(t, err)
	require.NoError(t, res[0])
	require.ErrorIs(t, res[1], store.ErrConflict)
	require.NoError(t, res[2])
	timers, err := s.DueTimers(ctx, nil, time.Time{}, "", t0, 10)
	require.NoError(t, err)
	require.Len(t, timers, 2)
	require.Equal(t, "a/1", timers[0].ID)
	require.Equal(t, "b/1", timers[1].ID)
	hist, err := s.History(ctx, "ghost")
	require.NoError(t, err)
	require.Empty(t, hist)
	evs, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Empty(t, evs, "a skipped change emits nothing")
}

func testTriggers(t *testing.T, s store.Store) {
	ctx := context.Background()
	mk := func(id, key string) store.Change {
		in := newInstance(id)
		in.TriggerKey = key
		return store.Change{Instance: in}
	}
	res, err := s.Commit(ctx, []store.Change{mk("t1", "event:shopify/1"), mk("t2", "event:shopify/1"), mk("t3", "event:shopify/2")})
	require.NoError(t, err)
	require.NoError(t, res[0])
	require.ErrorIs(t, res[1], store.ErrDuplicateTrigger)
	require.NoError(t, res[2])
	res, err = s.Commit(ctx, []store.Change{mk("t4", "event:shopify/1")})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrDuplicateTrigger, "also in a later commit")
	other := newInstance("t5")
	other.Name, other.TriggerKey = "welcome", "event:shopify/1"
	res, err = s.Commit(ctx, []store.Change{{Instance: other}})
	require.NoError(t, err)
	require.NoError(t, res[0], "another workflow may start from the same event")
}

func testWork(t *testing.T, s store.Store) {
	ctx := context.Background()
	res, err := s.Commit(ctx, []store.Change{{
		Instance: newInstance("w"),
		AddTimers: []store.Timer{
			{ID: "w/2", InstanceID: "w", Due: t0.Add(2 * time.Second)},
			{ID: "w/1", InstanceID: "w", Due: t0.Add(time.Second)},
			{ID: "w/3", InstanceID: "w", Due: t0.Add(time.Hour)},
		},
		AddSubscriptions: []store.Subscription{
			{ID: "w/4", InstanceID: "w", EventType: "order.placed", CorrKey: `{"cart":"c1"}`, Since: t0, Spec: []byte(`{"a":1}`)},
			{ID: "w/8#0", InstanceID: "w", EventType: "order.paid", CorrKey: "", Since: t0, Spec: []byte(`{}`)},
			{ID: "w/8#1", InstanceID: "w", EventType: "order.fulfilled", CorrKey: "", Since: t0, Spec: []byte(`{}`)},
			{ID: "w/80", InstanceID: "w", EventType: "order.fulfilled", CorrKey: "", Since: t0, Spec: []byte(`{}`)},
			{ID: "w/5", InstanceID: "w", EventType: "order.placed", CorrKey: `{"cart":"c2"}`, Since: t0, Spec: []byte(`{}`)},
		},
		AddOutbox: []store.OutboxItem{
			{ID: "w/6", InstanceID: "w", Kind: "call", Payload: []byte(`{"n":6}`), NextAt: t0},
			{ID: "w/7", InstanceID: "w", Kind: "call", Payload: []byte(`{"n":7}`), NextAt: t0.Add(time.Minute)},
		},
	}})
	require.NoError(t, err)
	require.NoError(t, res[0])

	timers, err := s.DueTimers(ctx, nil, time.Time{}, "", t0.Add(2*time.Second), 10)
	require.NoError(t, err)
	require.Len(t, timers, 2)
	require.Equal(t, "w/1", timers[0].ID)
	require.Equal(t, t0.Add(time.Second), timers[0].Due)
	timers, err = s.DueTimers(ctx, nil, time.Time{}, "", t0.Add(2*time.Hour), 1)
	require.NoError(t, err)
	require.Len(t, timers, 1, "limit is honoured")
	timers, err = s.DueTimers(ctx, nil, timers[0].Due, timers[0].ID, t0.Add(2*time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, timers, 2, "the next page starts after the last timer")
	require.Equal(t, "w/2", timers[0].ID)

	subs, err := s.Subscriptions(ctx, "order.placed", `{"cart":"c1"}`)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, "w/4", subs[0].ID)
	require.Equal(t, `{"a":1}`, string(subs[0].Spec))
	subs, err = s.Subscriptions(ctx, "order.paid", `{"cart":"c1"}`)
	require.NoError(t, err)
	require.Empty(t, subs)
	types, err := s.SubscriptionTypes(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"order.fulfilled", "order.paid", "order.placed"}, types)
	listening, err := s.ListeningWorkflows(ctx)
	require.NoError(t, err)
	require.Equal(t, [][3]string{{"shop", "cart", "1.0.0"}}, listening)

	out, err := s.Outbox(ctx, nil, t0, 10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, "w/6", out[0].ID)
	require.NoError(t, s.RescheduleOutbox(ctx, "w/6", 1, t0.Add(2*time.Minute)))
	out, err = s.Outbox(ctx, nil, t0.Add(time.Minute), 10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, "w/7", out[0].ID)
	out, err = s.Outbox(ctx, nil, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, out, 2)
	require.Equal(t, 1, out[1].Attempts)
	require.ErrorIs(t, s.RescheduleOutbox(ctx, "nope", 1, t0), store.ErrNotFound)

	in, err := s.GetInstance(ctx, "w")
	require.NoError(t, err)
	res, err = s.Commit(ctx, []store.Change{{Instance: in, DeleteSubscriptions: []string{"w/4", "w/8"}, DeleteOutbox: []string{"w/6"}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	subs, err = s.Subscriptions(ctx, "order.fulfilled", "")
	require.NoError(t, err)
	require.Len(t, subs, 1, "the rows of w/8 went, w/80 stays")
	require.Equal(t, "w/80", subs[0].ID)
	subs, err = s.Subscriptions(ctx, "order.placed", `{"cart":"c1"}`)
	require.NoError(t, err)
	require.Empty(t, subs)
	out, err = s.Outbox(ctx, nil, t0.Add(time.Hour), 10)
	require.NoError(t, err)
	require.Len(t, out, 1)
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	var changes []store.Change
	for i := range 25 {
		in := newInstance(fmt.Sprintf("l-%02d", i))
		in.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		if i%5 == 0 {
			in.Status = "completed"
		}
		if i%2 == 0 {
			in.Name = "welcome"
		}
		changes = append(changes, store.Change{Instance: in})
	}
	_, err := s.Commit(ctx, changes)
	require.NoError(t, err)

	page, err := s.ListInstances(ctx, store.InstanceQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, page, 10)
	require.Equal(t, "l-24", page[0].ID, "newest first")
	next, err := s.ListInstances(ctx, store.InstanceQuery{Limit: 10, After: page[9].ID})
	require.NoError(t, err)
	require.Len(t, next, 10)
	require.Equal(t, "l-14", next[0].ID)

	done, err := s.ListInstances(ctx, store.InstanceQuery{Status: "completed"})
	require.NoError(t, err)
	require.Len(t, done, 5)
	welcome, err := s.ListInstances(ctx, store.InstanceQuery{Namespace: "shop", Name: "welcome", Since: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, welcome, 5) // 10, 12, 14, 16, 18
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	res, err := s.Commit(ctx, []store.Change{{Instance: newInstance("c")}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	// Many writers race to advance the same revision: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := newInstance("c")
			in.Rev = 1
			in.State = []byte(fmt.Sprintf(`{"writer":%d}`, i))
			r, err := s.Commit(ctx, []store.Change{{Instance: in}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("commit: %v", err)
			case r[0] == nil:
				wins++
			case errors.Is(r[0], store.ErrConflict):
				conflicts++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, wins)
	require.Equal(t, 7, conflicts)
}

// testLogOrder tails the event log while appends and emitting commits run
// concurrently: a reader that always continues after the last sequence
// number it saw must see every event.
func testLogOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, perWriter = 4, 60
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				if i%2 == 0 {
					_, err := s.AppendEvents(ctx, []store.Event{{ID: id, Source: "order-test", Type: "t"}})
					require.NoError(t, err)
					continue
				}
				in := newInstance(id)
				_, err := s.Commit(ctx, []store.Change{{Instance: in, Emit: []store.Event{{ID: id, Source: "order-test", Type: "t"}}}})
				require.NoError(t, err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var pos int64
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := s.ReadEvents(ctx, pos, "", 1000)
		require.NoError(t, err)
		for _, ev := range evs {
			seen[ev.ID] = true
			pos = ev.Seq
		}
		if finished && len(evs) == 0 {
			break
		}
	}
	require.Len(t, seen, writers*perWriter, "a reader following sequence numbers missed events")
}

func testStartGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	join := func(group, key, id string, seq int64, slots ...int) (store.StartGroup, bool) {
		t.Helper()
		g, joined, err := s.JoinStartGroup(ctx, store.StartJoin{Namespace: "shop", Name: "paid", Version: "1.0.0", CorrKey: key,
			Slots: slots, Need: 2, GroupID: group, At: t0,
			Event: store.StartEvent{Seq: seq, Source: "shop", ID: id, Envelope: []byte(`{"id":"` + id + `"}`)}})
		require.NoError(t, err)
		return g, joined
	}
	ids := func(g store.StartGroup) []string {
		var out []string
		for _, e := range g.Events {
			out = append(out, fmt.Sprintf("%d:%s", e.Slot, e.ID))
		}
		return out
	}

	// Two correlation keys open two groups.
	g1, joined := join("g1", "c1", "e1", 1, 0, 1)
	require.True(t, joined)
	require.Equal(t, "g1", g1.ID)
	require.False(t, g1.Closed)
	require.Equal(t, []string{"0:e1"}, ids(g1))
	g2, _ := join("g2", "c2", "e2", 2, 1)
	require.Equal(t, "g2", g2.ID)
	require.Equal(t, []string{"1:e2"}, ids(g2))

	// A repeat of an event returns its group unchanged.
	again, joined := join("gx", "c1", "e1", 1, 0, 1)
	require.True(t, joined)
	require.Equal(t, "g1", again.ID)
	require.Equal(t, []string{"0:e1"}, ids(again))

	// An event for a filled slot joins nothing and opens nothing.
	full, joined := join("gy", "c2", "e3", 3, 1)
	require.False(t, joined)
	require.Equal(t, "g2", full.ID)
	require.Equal(t, []string{"1:e2"}, ids(full))

	open, err := s.StartGroups(ctx, "shop", "paid", 10)
	require.NoError(t, err)
	require.Len(t, open, 2)
	require.Equal(t, "g1", open[0].ID)
	require.Equal(t, "c1", open[0].CorrKey)
	require.Equal(t, "1.0.0", open[0].Version)
	require.Equal(t, t0, open[0].CreatedAt)
	require.Equal(t, `{"id":"e1"}`, string(open[0].Events[0].Envelope))

	// An event matching several filters takes the first free one; the last
	// slot closes the group.
	closed, joined := join("gz", "c1", "e4", 4, 0, 1)
	require.True(t, joined)
	require.True(t, closed.Closed)
	require.Equal(t, "g1", closed.ID)
	require.Equal(t, []string{"0:e1", "1:e4"}, ids(closed))
	repeat, _ := join("gz", "c1", "e4", 4, 0, 1)
	require.True(t, repeat.Closed, "a repeat of the closing event sees the group closed")
	require.Equal(t, "g1", repeat.ID)

	// A closed group takes no more events: the key opens a new one.
	g3, _ := join("g3", "c1", "e5", 5, 0)
	require.Equal(t, "g3", g3.ID)
	open, err = s.StartGroups(ctx, "shop", "paid", 10)
	require.NoError(t, err)
	require.Len(t, open, 2, "only open groups are listed")
	require.Equal(t, []string{"g2", "g3"}, []string{open[0].ID, open[1].ID})
	open, err = s.StartGroups(ctx, "shop", "paid", 1)
	require.NoError(t, err)
	require.Len(t, open, 1)

	// Pruning keeps closed groups the matcher may still repeat: those
	// after seq, and those after any slot's position.
	ls, _ := claim(t, s, "m", nil, time.Minute)
	require.Len(t, ls, store.Slots)
	require.NoError(t, s.SaveSlotCursor(ctx, "m", nil, 3))
	require.NoError(t, s.PruneStartGroups(ctx, 4))
	repeat, _ = join("gx", "c1", "e4", 4, 0, 1)
	require.Equal(t, "g1", repeat.ID, "a slot's matcher is before the group")
	require.NoError(t, s.SaveSlotCursor(ctx, "m", nil, 100))
	require.NoError(t, s.PruneStartGroups(ctx, 3))
	repeat, _ = join("gw", "c1", "e4", 4, 0, 1)
	require.Equal(t, "g1", repeat.ID)
	require.NoError(t, s.PruneStartGroups(ctx, 4))
	fresh, _ := join("gv", "c9", "e4", 4, 0, 1)
	require.Equal(t, "gv", fresh.ID, "a pruned group is gone")
	open, err = s.StartGroups(ctx, "shop", "paid", 10)
	require.NoError(t, err)
	require.Len(t, open, 3, "pruning leaves open groups alone")

	// Groups belong to one workflow version.
	other, err := func() (store.StartGroup, error) {
		g, _, err := s.JoinStartGroup(ctx, store.StartJoin{Namespace: "shop", Name: "paid", Version: "2.0.0", CorrKey: "c2",
			Slots: []int{0}, Need: 2, GroupID: "v2", At: t0, Event: store.StartEvent{Seq: 6, Source: "shop", ID: "e6", Envelope: []byte(`{}`)}})
		return g, err
	}()
	require.NoError(t, err)
	require.Equal(t, "v2", other.ID)
	_, _, err = s.JoinStartGroup(ctx, store.StartJoin{Namespace: "shop", Name: "paid", Version: "1.0.0", Need: 2, GroupID: "bad"})
	require.Error(t, err, "an event must match some filter")
}

// testStartGroupsConcurrent joins events of one key from several goroutines:
// every group closes with exactly its two slots, and no event is in two.
func testStartGroupsConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 40
	var mu sync.Mutex
	closed := 0
	seen := map[string]string{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("e%d", i)
			g, joined, err := s.JoinStartGroup(ctx, store.StartJoin{Namespace: "shop", Name: "pair", Version: "1", CorrKey: "k",
				Slots: []int{0, 1}, Need: 2, GroupID: "g-" + id, At: t0, Event: store.StartEvent{Seq: int64(i + 1), Source: "s", ID: id, Envelope: []byte(`{}`)}})
			if !assert.NoError(t, err) {
				return
			}
			assert.True(t, joined)
			mu.Lock()
			defer mu.Unlock()
			for _, e := range g.Events {
				if prev, ok := seen[e.ID]; ok {
					assert.Equal(t, prev, g.ID, "event %s in two groups", e.ID)
				}
				seen[e.ID] = g.ID
			}
			if g.Closed {
				assert.Len(t, g.Events, 2)
				closed++
			}
		}()
	}
	wg.Wait()
	require.Equal(t, n/2, closed)
	open, err := s.StartGroups(ctx, "shop", "pair", 10)
	require.NoError(t, err)
	require.Empty(t, open)
}
