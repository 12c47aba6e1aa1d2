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

// fired returns the times received so far by each channel, without waiting;
// the zero time marks one that has not fired.
func fired(chs []<-chan time.Time) []time.Time {
	out := make([]time.Time, len(chs))
	for i, ch := range chs {
		select {
		case out[i] = <-ch:
		default:
		}
	}
	return out
}

func TestVirtualMoves(t *testing.T) {
	t.Parallel()
	h := time.Hour
	at := func(d time.Duration) time.Time { return start.Add(d) }
	cases := []struct {
		name      string
		timers    []time.Duration
		move      func(v *clock.Virtual)
		now       time.Time
		fired     []time.Time // per timer; zero when still pending
		remaining int
	}{
		{
			name:   "advance fires what falls due, each with its due time",
			timers: []time.Duration{3 * h, h, 2 * h},
			move:   func(v *clock.Virtual) { v.Advance(150 * time.Minute) },
			now:    at(150 * time.Minute),
			fired:  []time.Time{{}, at(h), at(2 * h)}, remaining: 1,
		},
		{
			name:   "advance to exactly the due time fires",
			timers: []time.Duration{h},
			move:   func(v *clock.Virtual) { v.Advance(h) },
			now:    at(h),
			fired:  []time.Time{at(h)},
		},
		{
			name:   "negative advance does nothing",
			timers: []time.Duration{h},
			move:   func(v *clock.Virtual) { v.Advance(-h) },
			now:    start,
			fired:  []time.Time{{}}, remaining: 1,
		},
		{
			name:   "set in another zone",
			timers: []time.Duration{h, 2 * h},
			move:   func(v *clock.Virtual) { v.Set(at(h).In(time.FixedZone("X", 3600))) },
			now:    at(h),
			fired:  []time.Time{at(h), {}}, remaining: 1,
		},
		{
			name:   "set backwards does nothing",
			timers: []time.Duration{h},
			move:   func(v *clock.Virtual) { v.Set(at(-h)) },
			now:    start,
			fired:  []time.Time{{}}, remaining: 1,
		},
		{
			name:   "advance to next fires the earliest and its ties only",
			timers: []time.Duration{2 * h, h, h, 3 * h},
			move:   func(v *clock.Virtual) { require.True(t, v.AdvanceToNext()) },
			now:    at(h),
			fired:  []time.Time{{}, at(h), at(h), {}}, remaining: 2,
		},
		{
			name:   "zero and negative durations fire at once",
			timers: []time.Duration{0, -h, h},
			move:   func(*clock.Virtual) {},
			now:    start,
			fired:  []time.Time{start, start, {}}, remaining: 1,
		},
		{
			name:  "advance to next with nothing pending",
			move:  func(v *clock.Virtual) { require.False(t, v.AdvanceToNext()) },
			now:   start,
			fired: []time.Time{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := clock.NewVirtual(start)
			var chs []<-chan time.Time
			for _, d := range tc.timers {
				chs = append(chs, v.After(d))
			}
			tc.move(v)
			require.Equal(t, tc.now, v.Now())
			require.Equal(t, tc.fired, fired(chs))
			require.Equal(t, tc.remaining, v.Pending())
		})
	}
}

func TestVirtualNextDue(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	_, ok := v.NextDue()
	require.False(t, ok)
	v.After(2 * time.Hour)
	v.After(time.Hour)
	due, ok := v.NextDue()
	require.True(t, ok)
	require.Equal(t, start.Add(time.Hour), due)
}

func TestVirtualInUTC(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(time.Date(2026, 11, 23, 13, 0, 0, 0, time.FixedZone("CET", 3600)))
	require.Equal(t, start, v.Now())
	require.Equal(t, time.UTC, v.Now().Location())
	require.Equal(t, time.UTC, (<-v.After(0)).Location())

	var zero clock.Virtual // usable as is
	require.True(t, zero.Now().IsZero())
	zero.Advance(time.Hour)
	require.Equal(t, time.Time{}.Add(time.Hour), zero.Now())
}

// Each AdvanceToNext wakes exactly the sleepers due at that instant, so
// stepping through them gives the order of their due times.
func TestVirtualSleepersWakeInDueOrder(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	ctx := context.Background()
	durations := []time.Duration{3 * time.Hour, time.Minute, 7 * 24 * time.Hour, 2 * time.Hour, 30 * time.Second}
	woke := make(chan time.Duration)
	var wg sync.WaitGroup
	for _, d := range durations {
		wg.Go(func() {
			if err := v.Sleep(ctx, d); err != nil {
				t.Error(err)
			}
			woke <- d
		})
	}
	require.NoError(t, v.BlockUntil(ctx, len(durations)))
	var order []time.Duration
	for v.AdvanceToNext() {
		d := <-woke
		require.Equal(t, start.Add(d), v.Now())
		order = append(order, d)
	}
	wg.Wait()
	require.Equal(t, []time.Duration{30 * time.Second, time.Minute, 2 * time.Hour, 3 * time.Hour, 7 * 24 * time.Hour}, order)
}

// Sleepers that sleep again after waking, as a polling loop does, while a
// driver moves the clock: run under -race.
func TestVirtualConcurrentUse(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	ctx := context.Background()
	const sleepers, rounds = 8, 50
	var wg sync.WaitGroup
	for i := range sleepers {
		wg.Go(func() {
			for range rounds {
				if err := v.Sleep(ctx, time.Duration(i+1)*time.Minute); err != nil {
					t.Error(err)
					return
				}
				<-v.After(time.Second)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			require.Zero(t, v.Pending())
			require.True(t, v.Now().After(start.Add(rounds*time.Minute)))
			return
		default:
			v.Advance(time.Second)
		}
	}
}

func TestVirtualSleep(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"no wait", context.Background(), 0, nil},
		{"negative", context.Background(), -time.Hour, nil},
		{"already cancelled", cancelled, time.Hour, context.Canceled},
		{"already cancelled, no wait", cancelled, 0, context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := clock.NewVirtual(start)
			require.ErrorIs(t, v.Sleep(tc.ctx, tc.d), tc.want)
			require.Zero(t, v.Pending(), "no timer is left behind")
			require.Equal(t, start, v.Now())
		})
	}
}

func TestVirtualSleepCancelledRemovesTimer(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	later := v.After(2 * time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- v.Sleep(ctx, time.Hour) }()
	require.NoError(t, v.BlockUntil(context.Background(), 2))
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Equal(t, 1, v.Pending())
	due, ok := v.NextDue()
	require.True(t, ok)
	require.Equal(t, start.Add(2*time.Hour), due)
	require.True(t, v.AdvanceToNext())
	require.Equal(t, start.Add(2*time.Hour), <-later)
}

func TestVirtualBlockUntilGivesUp(t *testing.T) {
	t.Parallel()
	v := clock.NewVirtual(start)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, v.BlockUntil(ctx, 1), context.Canceled)
	require.NoError(t, v.BlockUntil(ctx, 0), "enough timers already pending")
}

func TestRealClock(t *testing.T) {
	t.Parallel()
	c := clock.Real()
	before := time.Now()
	now := c.Now()
	require.Equal(t, time.UTC, now.Location())
	require.False(t, now.Before(before.Truncate(time.Second)))

	require.Equal(t, time.UTC, (<-c.After(0)).Location())
	require.Equal(t, time.UTC, (<-c.After(time.Millisecond)).Location())
	require.NoError(t, c.Sleep(context.Background(), time.Millisecond))
	require.NoError(t, c.Sleep(context.Background(), 0))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, c.Sleep(ctx, time.Hour), context.Canceled)
	require.ErrorIs(t, c.Sleep(ctx, 0), context.Canceled)
}
