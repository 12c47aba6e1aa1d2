package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// testBatches commits a group the size of a busy moment: hundreds of
// changes, refused ones among them, one instance changed three times in a
// row, history entries of every shape. Each change must read back as if it
// had been committed alone, in order.
func testBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 300
	entries := func(id string) []store.HistoryEntry {
		return []store.HistoryEntry{
			{Time: t0, Type: "workflow.started", Data: []byte(`{"id":"` + id + `"}`)},
			{Time: t0.Add(time.Millisecond), Type: "task.started", Task: "/do/0/wait"},
			{Time: t0.Add(2 * time.Millisecond), Type: "task.note", Task: "/do/0/wait", Data: []byte("not JSON \x00\xff")},
		}
	}
	var changes []store.Change
	for i := range n {
		id := fmt.Sprintf("b-%03d", i)
		in := newInstance(id)
		in.TriggerKey = "event:shop/" + id
		changes = append(changes, store.Change{Instance: in, History: entries(id),
			AddTimers: []store.Timer{{ID: id + "/1", InstanceID: id, Due: t0.Add(time.Duration(i) * time.Second)}},
			Emit:      []store.Event{{ID: "ev-" + id, Source: "storeflow", Type: "batch.done", Time: t0, ReceivedAt: t0}}})
	}
	dup := newInstance("b-dup")
	dup.TriggerKey = "event:shop/b-007"
	ghost := store.Instance{ID: "b-ghost", Rev: 3, Status: "running", State: []byte(`{}`)}
	x0, x1, x2 := newInstance("x"), newInstance("x"), newInstance("x")
	x1.Rev, x2.Rev = 1, 2
	changes = append(changes[:150], append([]store.Change{
		{Instance: dup, History: entries("b-dup"), Emit: []store.Event{{ID: "ev-dup", Source: "storeflow", Type: "batch.done"}}},
		{Instance: ghost, History: entries("b-ghost"), AddTimers: []store.Timer{{ID: "b-ghost/1", InstanceID: "b-ghost", Due: t0}}},
		// x is armed, fired and armed again under the same timer id.
		{Instance: x0, History: entries("x")[:1], AddTimers: []store.Timer{{ID: "x/1", InstanceID: "x", Due: t0}}},
		{Instance: x1, History: entries("x")[1:], DeleteTimers: []string{"x/1"}, AddTimers: []store.Timer{{ID: "x/2", InstanceID: "x", Due: t0.Add(time.Hour)}}},
		{Instance: x2, History: []store.HistoryEntry{{Time: t0, Type: "task.completed"}}, DeleteTimers: []string{"x/2"},
			AddTimers: []store.Timer{{ID: "x/1", InstanceID: "x", Due: t0.Add(2 * time.Hour)}}},
	}, changes[150:]...)...)
	res, err := s.Commit(ctx, changes)
	require.NoError(t, err)
	require.Len(t, res, n+5)
	for i, err := range res {
		switch changes[i].Instance.ID {
		case "b-dup":
			require.ErrorIs(t, err, store.ErrDuplicateTrigger)
		case "b-ghost":
			require.ErrorIs(t, err, store.ErrConflict)
		default:
			require.NoError(t, err, changes[i].Instance.ID)
		}
	}

	for _, id := range []string{"b-000", "b-149", "b-150", "b-299"} {
		hist, err := s.History(ctx, id)
		require.NoError(t, err)
		want := entries(id)
		require.Len(t, hist, len(want), id)
		for i, h := range hist {
			require.Equal(t, int64(i+1), h.Seq, id)
			require.True(t, want[i].Time.Equal(h.Time), id)
			require.Equal(t, want[i].Type, h.Type, id)
			require.Equal(t, want[i].Task, h.Task, id)
			if want[i].Data == nil {
				require.Empty(t, h.Data, id)
			} else {
				require.Equal(t, want[i].Data, h.Data, id)
			}
		}
	}
	hist, err := s.History(ctx, "x")
	require.NoError(t, err)
	require.Len(t, hist, 4)
	for i, typ := range []string{"workflow.started", "task.started", "task.note", "task.completed"} {
		require.Equal(t, int64(i+1), hist[i].Seq)
		require.Equal(t, typ, hist[i].Type)
	}
	x, err := s.GetInstance(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, int64(3), x.Rev)
	for _, id := range []string{"b-dup", "b-ghost"} {
		hist, err := s.History(ctx, id)
		require.NoError(t, err)
		require.Empty(t, hist, "a refused change writes no history")
	}

	timers, err := s.DueTimers(ctx, nil, time.Time{}, "", t0.Add(24*time.Hour), 1000)
	require.NoError(t, err)
	due := map[string]time.Time{}
	for _, tm := range timers {
		due[tm.ID] = tm.Due
	}
	require.NotContains(t, due, "x/2", "deleted by the change after the one that armed it")
	require.Equal(t, t0.Add(2*time.Hour), due["x/1"], "the timer armed again is there, at its new time")
	require.Len(t, due, n+1)
	require.NotContains(t, due, "b-ghost/1")

	evs, err := s.ReadEvents(ctx, 0, "", 1000)
	require.NoError(t, err)
	require.Len(t, evs, n)
	for i, ev := range evs {
		require.Equal(t, fmt.Sprintf("ev-b-%03d", i), ev.ID, "events are logged in the order of their changes")
	}

	// A batch appended with copies in it: of the statement that logs many,
	// the copies are told apart as one event at a time would be.
	batch := make([]store.Event, 40)
	for i := range batch {
		batch[i] = store.Event{ID: fmt.Sprintf("a-%d", i), Source: "shop", Type: "batch.appended", Envelope: []byte(`{}`),
			Keys: []store.EventKey{{Name: "orderId", Shop: "s", Value: fmt.Sprintf("o-%d", i)}}}
	}
	batch[5].ID, batch[20].ID, batch[20].Source = "a-2", "ev-b-010", "storeflow"
	got, err := s.AppendEvents(ctx, batch)
	require.NoError(t, err)
	require.Len(t, got, 40)
	var last int64
	for i, ev := range got {
		switch i {
		case 5:
			require.True(t, ev.Duplicate, "a copy within the batch")
			require.Equal(t, got[2].Seq, ev.Seq)
		case 20:
			require.True(t, ev.Duplicate, "a copy of an event a commit logged")
			require.Equal(t, evs[10].Seq, ev.Seq)
		default:
			require.False(t, ev.Duplicate, i)
			require.Greater(t, ev.Seq, last, i)
			last = ev.Seq
		}
	}
	byKey, err := s.EventsByKey(ctx, store.EventKey{Name: "orderId", Shop: "s", Value: "o-5"}, nil, 10)
	require.NoError(t, err)
	require.Empty(t, byKey, "a duplicate's keys are not indexed")
	byKey, err = s.EventsByKey(ctx, store.EventKey{Name: "orderId", Shop: "s", Value: "o-39"}, nil, 10)
	require.NoError(t, err)
	require.Len(t, byKey, 1)
	require.Equal(t, got[39].Seq, byKey[0].Seq)
}
