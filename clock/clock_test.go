package clock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
)

var start = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestVirtualFiresInDueOrder(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	late := v.After(2 * time.Hour)
	early := v.After(time.Hour)
	now := v.After(0)
	require.Equal(t, start, <-now)
	require.Equal(t, 2, v.Pending())
	due, ok := v.NextDue()
	require.True(t, ok)
	require.Equal(t, start.Add(time.Hour), due)

	v.Advance(90 * time.Minute)
	require.Equal(t, start.Add(time.Hour), <-early)
	select {
	case <-late:
		t.Fatal("late timer fired early")
	default:
	}
	require.Equal(t, start.Add(90*time.Minute), v.Now())
	require.True(t, v.AdvanceToNext())
	require.Equal(t, start.Add(2*time.Hour), <-late)
	require.False(t, v.AdvanceToNext())

	v.Set(start)
	require.Equal(t, start.Add(2*time.Hour), v.Now(), "time never goes backwards")
}

func TestVirtualSleepers(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	ctx := context.Background()
	var wg sync.WaitGroup
	woke := make(chan time.Duration, 3)
	for _, d := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, v.Sleep(ctx, d))
			woke <- d
		}()
	}
	require.NoError(t, v.BlockUntil(ctx, 3))
	v.Advance(7 * 24 * time.Hour)
	wg.Wait()
	close(woke)
	var got []time.Duration
	for d := range woke {
		got = append(got, d)
	}
	require.ElementsMatch(t, []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour}, got)
}

func TestVirtualSleepCancelled(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- v.Sleep(ctx, time.Hour) }()
	require.NoError(t, v.BlockUntil(context.Background(), 1))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, 0, v.Pending())
}

func TestRealClock(t *testing.T) {
	t.Parallel()
	c := clock.Real()
	require.Equal(t, time.UTC, c.Now().Location())
	require.NoError(t, c.Sleep(context.Background(), time.Millisecond))
	<-c.After(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.Sleep(ctx, time.Hour), context.Canceled)
}
