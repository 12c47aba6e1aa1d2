package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func testFollowerLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetFollower(ctx, "counts")
	require.ErrorIs(t, err, store.ErrNotFound)

	a, err := s.LeaseFollower(ctx, "counts", "a", 0, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, "a", a.Node)
	require.Equal(t, int64(0), a.Cursor, "a new follower starts at the log's start")
	require.Positive(t, a.Fence)

	held, err := s.LeaseFollower(ctx, "counts", "b", 0, time.Minute)
	require.ErrorIs(t, err, store.ErrHeld)
	require.Equal(t, "a", held.Node, "the refusal says who holds it")
	_, err = s.LeaseFollower(ctx, "other", "b", 0, time.Minute)
	require.NoError(t, err, "leases are per follower")

	renewed, err := s.LeaseFollower(ctx, "counts", "a", a.Fence, 300*time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, a.Fence, renewed.Fence, "a renewal keeps the fence")
	require.False(t, renewed.ExpiresAt.Before(a.ExpiresAt))

	restarted, err := s.LeaseFollower(ctx, "counts", "a", 0, 300*time.Millisecond)
	require.NoError(t, err)
	require.Greater(t, restarted.Fence, a.Fence, "a new process of the same node fences out the old one")
	require.ErrorIs(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: a.Fence, From: 0, To: 1}, nil), store.ErrFenced)

	time.Sleep(400 * time.Millisecond)
	b, err := s.LeaseFollower(ctx, "counts", "b", 0, time.Minute)
	require.NoError(t, err, "an expired lease is free")
	require.Greater(t, b.Fence, restarted.Fence, "a takeover raises the fence")
	require.ErrorIs(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: restarted.Fence, From: 0, To: 1}, nil), store.ErrFenced,
		"the node that lost the lease cannot commit")
	_, err = s.LeaseFollower(ctx, "counts", "a", restarted.Fence, time.Minute)
	require.ErrorIs(t, err, store.ErrHeld, "nor renew")

	require.NoError(t, s.ReleaseFollower(ctx, "counts", "a", restarted.Fence), "releasing a lost lease changes nothing")
	got, err := s.GetFollower(ctx, "counts")
	require.NoError(t, err)
	require.Equal(t, "b", got.Node)
	require.NoError(t, s.ReleaseFollower(ctx, "counts", "b", b.Fence))
	got, err = s.GetFollower(ctx, "counts")
	require.NoError(t, err)
	require.Empty(t, got.Node)
	require.True(t, got.ExpiresAt.IsZero())
	c, err := s.LeaseFollower(ctx, "counts", "c", 0, time.Minute)
	require.NoError(t, err, "a released lease is free at once")
	require.Greater(t, c.Fence, b.Fence)

	all, err := s.ListFollowers(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "counts", all[0].Name)
	require.Equal(t, "other", all[1].Name)
}

func testFollowerCommits(t *testing.T, s store.Store) {
	ctx := context.Background()
	l, err := s.LeaseFollower(ctx, "counts", "a", 0, time.Minute)
	require.NoError(t, err)
	add := func(counts ...store.EventCount) func(context.Context, store.ProjectionTx) error {
		return func(ctx context.Context, tx store.ProjectionTx) error {
			return tx.Analytics().AddEventCounts(ctx, counts)
		}
	}
	day1, day2 := "2026-11-23", "2026-11-24"
	require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 0, To: 3},
		add(store.EventCount{Shop: "acme", Type: "order.placed", Day: day1, Count: 2}, store.EventCount{Shop: "acme", Type: "order.placed", Day: day1, Count: 1},
			store.EventCount{Shop: "", Type: "workflow.started", Day: day1, Count: 1})))
	f, err := s.GetFollower(ctx, "counts")
	require.NoError(t, err)
	require.Equal(t, int64(3), f.Cursor, "the cursor moved with the writes")
	require.False(t, f.UpdatedAt.IsZero())

	err = s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 0, To: 5}, add(store.EventCount{Shop: "acme", Type: "order.placed", Day: day1, Count: 100}))
	require.ErrorIs(t, err, store.ErrConflict, "a batch the cursor has passed is refused")

	boom := errors.New("projection failed")
	err = s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 3, To: 5}, func(ctx context.Context, tx store.ProjectionTx) error {
		if err := tx.Analytics().AddEventCounts(ctx, []store.EventCount{{Shop: "acme", Type: "order.placed", Day: day1, Count: 100}}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	f, err = s.GetFollower(ctx, "counts")
	require.NoError(t, err)
	require.Equal(t, int64(3), f.Cursor, "a failed batch moves nothing")

	require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 3, To: 9}, nil), "the cursor passes over unread events")
	require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 9, To: 10},
		add(store.EventCount{Shop: "acme", Type: "order.paid", Day: day2, Count: 1}, store.EventCount{Shop: "bolt", Type: "order.placed", Day: day2, Count: 4})))

	all, err := s.EventCounts(ctx, store.EventCountQuery{})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{
		{Shop: "", Type: "workflow.started", Day: day1, Count: 1},
		{Shop: "acme", Type: "order.placed", Day: day1, Count: 3},
		{Shop: "acme", Type: "order.paid", Day: day2, Count: 1},
		{Shop: "bolt", Type: "order.placed", Day: day2, Count: 4},
	}, all, "only committed batches count, by day, shop and type")
	some, err := s.EventCounts(ctx, store.EventCountQuery{Shop: "acme", From: day2, To: day2})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{{Shop: "acme", Type: "order.paid", Day: day2, Count: 1}}, some)
	some, err = s.EventCounts(ctx, store.EventCountQuery{Type: "order.placed", To: day1})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{{Shop: "acme", Type: "order.placed", Day: day1, Count: 3}}, some)
	none, err := s.EventCounts(ctx, store.EventCountQuery{Shop: "nope"})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{}, none)

	require.NoError(t, s.ResetFollower(ctx, "counts", func(ctx context.Context, tx store.ProjectionTx) error {
		return tx.Analytics().ClearEventCounts(ctx)
	}))
	f, err = s.GetFollower(ctx, "counts")
	require.NoError(t, err)
	require.Equal(t, int64(0), f.Cursor, "a reset starts the follower over")
	require.Equal(t, "a", f.Node, "and keeps the lease")
	all, err = s.EventCounts(ctx, store.EventCountQuery{})
	require.NoError(t, err)
	require.Empty(t, all, "with its projection cleared in the same transaction")
	require.ErrorIs(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 10, To: 11}, nil), store.ErrConflict,
		"a batch read before the reset is refused")
	require.ErrorIs(t, s.CommitFollower(ctx, store.FollowerBatch{Name: "nope", Fence: 1, From: 0, To: 1}, nil), store.ErrNotFound)
}

// Two nodes committing the same batch: exactly one wins, and only its
// writes stay.
func testFollowerRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	l, err := s.LeaseFollower(ctx, "counts", "a", 0, time.Minute)
	require.NoError(t, err)
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.CommitFollower(ctx, store.FollowerBatch{Name: "counts", Fence: l.Fence, From: 0, To: 7}, func(ctx context.Context, tx store.ProjectionTx) error {
				return tx.Analytics().AddEventCounts(ctx, []store.EventCount{{Shop: "acme", Type: "order.placed", Day: "2026-11-23", Count: 1}})
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			require.ErrorIs(t, err, store.ErrConflict)
		}
	}
	require.Equal(t, 1, won)
	all, err := s.EventCounts(ctx, store.EventCountQuery{})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{{Shop: "acme", Type: "order.placed", Day: "2026-11-23", Count: 1}}, all)
}
