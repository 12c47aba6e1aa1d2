package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// testPrune checks what every Pruner promises: rows far older than the
// cutoff are gone, newer ones stay, and the store keeps working on them.
func testPrune(t *testing.T, s store.Store) {
	// Both stores prune (each checks so when it compiles); a store that
	// stopped would lose retention, so that fails here rather than skip.
	p, ok := s.(store.Pruner)
	if !ok {
		t.Fatalf("%T does not implement store.Pruner, which retention needs", s)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.Add(-10 * 7 * 24 * time.Hour)
	_, err := s.AppendEvents(ctx, []store.Event{
		{ID: "old", Source: "shop", Type: "order.paid", ReceivedAt: old},
		{ID: "new", Source: "shop", Type: "order.paid", ReceivedAt: now},
	})
	require.NoError(t, err)
	in := store.Instance{ID: "i-1", Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{}`)}
	res, err := s.Commit(ctx, []store.Change{{Instance: in, History: []store.HistoryEntry{{Time: old, Type: "workflow.started"}, {Time: now, Type: "task.started"}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])

	require.NoError(t, s.PutMessage(ctx, message("old/1", "m-old", old)))
	require.NoError(t, s.PutMessage(ctx, message("new/1", "m-new", now)))
	require.NoError(t, s.AddContactFacts(ctx, "facts", 1, []store.ContactFact{{Shop: "acme", Key: "email:ada@example.com",
		Kind: store.FactConsent, Seq: 1, OccurredAt: old, Channel: "email", State: "unsubscribed"}}))

	_, err = p.Prune(ctx, now.Add(-5*7*24*time.Hour))
	require.NoError(t, err)

	msgs, err := s.ListMessages(ctx, store.MessageQuery{})
	require.NoError(t, err)
	require.Equal(t, []string{"new/1"}, messageKeys(msgs), "the message log goes with the history")
	_, err = s.LatestConsent(ctx, "acme", "email:ada@example.com", "email")
	require.NoError(t, err, "a consent outlives the event that recorded it")

	evs, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "new", evs[0].ID)
	again, err := s.AppendEvents(ctx, []store.Event{{ID: "new", Source: "shop", Type: "order.paid"}})
	require.NoError(t, err)
	require.True(t, again[0].Duplicate, "dedupe holds for the events kept")
	require.Equal(t, evs[0].Seq, again[0].Seq)

	hist, err := s.History(ctx, "i-1")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, "task.started", hist[0].Type)
	require.Equal(t, int64(2), hist[0].Seq)

	// The instance itself is never pruned, and its history goes on.
	got, err := s.GetInstance(ctx, "i-1")
	require.NoError(t, err)
	in.Rev = got.Rev
	res, err = s.Commit(ctx, []store.Change{{Instance: in, History: []store.HistoryEntry{{Time: now, Type: "task.completed"}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	hist, err = s.History(ctx, "i-1")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, int64(3), hist[1].Seq)
}
