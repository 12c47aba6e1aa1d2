package follower_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
)

// backend opens stores of one kind: open gives a fresh one and the address
// of it that reopen (and a child process) can open again.
type backend struct {
	name   string
	open   func(t *testing.T) (store.Store, string)
	reopen func(t *testing.T, addr string) store.Store
}

var backends = []backend{
	{
		name: "sqlite",
		open: func(t *testing.T) (store.Store, string) {
			path := filepath.Join(t.TempDir(), "storeflow.db")
			s, err := sqlite.Open(context.Background(), path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s, "sqlite:" + path
		},
		reopen: reopen,
	},
	{
		name: "postgres",
		open: func(t *testing.T) (store.Store, string) {
			_, url := pgtest.Schema(t)
			s, err := postgres.Open(context.Background(), url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s, "postgres:" + url
		},
		reopen: reopen,
	},
}

func reopen(t *testing.T, addr string) store.Store {
	s, err := openAddr(addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openAddr(addr string) (store.Store, error) {
	if path, ok := cutPrefix(addr, "sqlite:"); ok {
		return sqlite.Open(context.Background(), path)
	}
	url, _ := cutPrefix(addr, "postgres:")
	return postgres.Open(context.Background(), url)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

var day0 = time.Date(2026, 11, 23, 22, 0, 0, 0, time.UTC)

// logEvents appends n events of a few shops and types, spread over days,
// and returns how many each shop, type and day should count.
func logEvents(t *testing.T, s store.Store, from, n int) map[string]int64 {
	shops := []string{"acme", "bolt", ""}
	types := []string{"commerce.order.placed", "commerce.checkout.started", "io.storeflow.workflow.started"}
	want := map[string]int64{}
	var evs []store.Event
	for i := from; i < from+n; i++ {
		shop, typ := shops[i%3], types[(i/3)%3]
		at := day0.Add(time.Duration(i) * 7 * time.Minute)
		env := fmt.Sprintf(`{"specversion":"1.0","id":"e%d","source":"test","type":%q,"shop":%q,"data":{}}`, i, typ, shop)
		if shop == "" {
			env = fmt.Sprintf(`{"specversion":"1.0","id":"e%d","source":"test","type":%q}`, i, typ)
		}
		evs = append(evs, store.Event{ID: fmt.Sprintf("e%d", i), Source: "test", Type: typ, Time: at, Envelope: []byte(env)})
		want[shop+"|"+typ+"|"+at.Format(time.DateOnly)]++
	}
	for len(evs) > 0 {
		n := min(len(evs), 100)
		_, err := s.AppendEvents(context.Background(), evs[:n])
		require.NoError(t, err)
		evs = evs[n:]
	}
	return want
}

func merge(ms ...map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func counted(t *testing.T, s store.Store) map[string]int64 {
	cs, err := s.EventCounts(context.Background(), store.EventCountQuery{})
	require.NoError(t, err)
	out := map[string]int64{}
	for _, c := range cs {
		out[c.Shop+"|"+c.Type+"|"+c.Day] = c.Count
	}
	return out
}

// caughtUp waits until the follower's cursor reached the log's end.
func caughtUp(t *testing.T, s store.Store, name string) {
	t.Helper()
	head, err := s.LastEventSeq(context.Background())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		f, err := s.GetFollower(context.Background(), name)
		return err == nil && f.Cursor == head
	}, 60*time.Second, 10*time.Millisecond, "follower %s never reached seq %d", name, head)
}

// batches records committed batches.
type batches struct {
	mu  sync.Mutex
	all []follower.Committed
}

func (b *batches) observe(c follower.Committed) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.all = append(b.all, c)
}

// requireContiguous checks that the committed batches cover the log from 0
// to head once: each starts where the one before ended.
func (b *batches) requireContiguous(t *testing.T, head int64, events int) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	all := slices.Clone(b.all)
	sort.Slice(all, func(i, j int) bool { return all[i].From < all[j].From })
	pos, n := int64(0), 0
	for _, c := range all {
		require.Equal(t, pos, c.From, "batch %+v does not start where the last one ended: an event skipped or applied twice", c)
		require.Greater(t, c.To, c.From)
		pos, n = c.To, n+c.Events
	}
	require.Equal(t, head, pos)
	require.Equal(t, events, n, "every event applied exactly once")
}

func (b *batches) nodes() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for _, c := range b.all {
		out[c.Node] += c.Events
	}
	return out
}

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

func start(t *testing.T, opts follower.Options, ps ...follower.Projection) (stop func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	r, err := follower.New(opts, ps...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// faulty is the analytics projection with a fault injected into some of
// its batches, after it wrote them.
type faulty struct {
	analytics.Projection
	mu     sync.Mutex
	calls  int
	faults map[int]func(ctx context.Context, tx store.ProjectionTx) error
}

func (f *faulty) Apply(ctx context.Context, tx store.ProjectionTx, events []store.Event) error {
	if err := f.Projection.Apply(ctx, tx, events); err != nil {
		return err
	}
	f.mu.Lock()
	f.calls++
	fault := f.faults[f.calls]
	f.mu.Unlock()
	if fault != nil {
		return fault(ctx, tx)
	}
	return nil
}

// A batch whose projection fails, panics, or whose node is stopped before
// it commits leaves nothing behind: after a restart every event counts
// exactly once.
func TestExactlyOnceThroughFailures(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, _ := b.open(t)
			want := logEvents(t, s, 0, 600)
			var seen batches
			runCtx, stopRun := context.WithCancel(context.Background())
			defer stopRun()
			stopped := make(chan struct{})
			p := &faulty{faults: map[int]func(context.Context, store.ProjectionTx) error{
				2: func(context.Context, store.ProjectionTx) error { return errors.New("projection failed") },
				3: func(context.Context, store.ProjectionTx) error { panic("projection panicked") },
				6: func(ctx context.Context, tx store.ProjectionTx) error {
					// The node is told to stop while the batch is in flight:
					// what the projection writes next fails, and the batch
					// with it.
					stopRun()
					<-stopped
					return tx.Analytics().AddEventCounts(ctx, []store.EventCount{{Shop: "x", Type: "x", Day: "2026-01-01", Count: 1}})
				},
			}}
			r, err := follower.New(follower.Options{Store: s, Node: "n1", Batch: 50, Retry: 10 * time.Millisecond, Logger: quiet(), Observe: seen.observe}, p)
			require.NoError(t, err)
			go func() {
				<-runCtx.Done()
				close(stopped)
			}()
			require.NoError(t, r.Run(runCtx))
			f, err := s.GetFollower(context.Background(), analytics.Name)
			require.NoError(t, err)
			require.Equal(t, int64(150), f.Cursor, "three batches committed (the second after a failure and a panic), the fourth was stopped")
			require.Empty(t, f.Node, "a stopping runner gives its lease back")

			start(t, follower.Options{Store: s, Node: "n2", Batch: 50, Observe: seen.observe}, &analytics.Projection{})
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s))
			head, _ := s.LastEventSeq(context.Background())
			seen.requireContiguous(t, head, 600)
		})
	}
}

// stalling is a store whose commits of node a stall (a node paused
// between reading a batch and committing it, longer than its lease).
type stalling struct {
	follower.Store
	stall   chan struct{}
	stalled chan struct{}
	once    sync.Once
	result  chan error
}

func (s *stalling) CommitFollower(ctx context.Context, b store.FollowerBatch, apply func(context.Context, store.ProjectionTx) error) error {
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Store.CommitFollower(ctx, b, apply)
	}
	close(s.stalled)
	<-s.stall
	err := s.Store.CommitFollower(ctx, b, apply)
	s.result <- err
	return err
}

// A node whose lease lapsed (it stalled) cannot commit once another node
// took the follower over: the fence refuses it, and each event counts once.
func TestTakeoverFencesTheStalledNode(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, addr := b.open(t)
			want := logEvents(t, s, 0, 300)
			var seen batches
			a := &stalling{Store: s, stall: make(chan struct{}), stalled: make(chan struct{}), result: make(chan error, 1)}
			ttl := 500 * time.Millisecond
			start(t, follower.Options{Store: a, Node: "a", LeaseTTL: ttl, Batch: 100, Observe: seen.observe}, &analytics.Projection{})
			<-a.stalled
			other := b.reopen(t, addr)
			start(t, follower.Options{Store: other, Node: "b", LeaseTTL: ttl, Batch: 100, Observe: seen.observe}, &analytics.Projection{})
			caughtUp(t, s, analytics.Name)
			close(a.stall)
			require.ErrorIs(t, <-a.result, store.ErrFenced, "the stalled node's batch is refused")

			more := logEvents(t, s, 300, 50)
			caughtUp(t, s, analytics.Name)
			require.Equal(t, merge(want, more), counted(t, s))
			head, _ := s.LastEventSeq(context.Background())
			seen.requireContiguous(t, head, 350)
			require.Equal(t, map[string]int{"b": 350}, seen.nodes(), "only the node holding the lease applied")
		})
	}
}

// Two nodes running the same follower while events keep coming: one
// applies at a time, and when it stops the other takes over; every event
// counts once.
func TestTwoNodesRace(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, addr := b.open(t)
			var seen batches
			ttl := 5 * time.Second
			stopA := start(t, follower.Options{Store: s, Node: "a", LeaseTTL: ttl, Batch: 40, Poll: 20 * time.Millisecond, Observe: seen.observe}, &analytics.Projection{})
			stopB := start(t, follower.Options{Store: b.reopen(t, addr), Node: "b", LeaseTTL: ttl, Batch: 40, Poll: 20 * time.Millisecond, Observe: seen.observe}, &analytics.Projection{})
			want := map[string]int64{}
			for i := range 10 {
				want = merge(want, logEvents(t, s, i*50, 50))
				time.Sleep(5 * time.Millisecond)
			}
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s))
			require.Len(t, seen.nodes(), 1, "one node applied while both ran: %v", seen.nodes())

			f, err := s.GetFollower(context.Background(), analytics.Name)
			require.NoError(t, err)
			survivor := "b"
			if f.Node == "a" {
				stopA()
			} else {
				stopB()
				survivor = "a"
			}
			want = merge(want, logEvents(t, s, 500, 100))
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s))
			head, _ := s.LastEventSeq(context.Background())
			seen.requireContiguous(t, head, 600)
			require.Positive(t, seen.nodes()[survivor], "the other node took over")
		})
	}
}

// A rebuild clears the projection and counts the log again, while the
// runner runs.
func TestRebuild(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, _ := b.open(t)
			want := logEvents(t, s, 0, 120)
			r, err := follower.New(follower.Options{Store: s, Batch: 50, Logger: quiet()}, &analytics.Projection{})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = r.Run(ctx) }()
			defer func() { cancel(); <-done }()
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s))

			require.NoError(t, r.Rebuild(context.Background(), analytics.Name))
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s), "rebuilt, each event counts once")
			require.ErrorIs(t, r.Rebuild(context.Background(), "nope"), store.ErrNotFound)

			st, err := r.Status(context.Background())
			require.NoError(t, err)
			require.Len(t, st, 1)
			require.Equal(t, int64(0), st[0].Lag)
			require.Equal(t, "local", st[0].Node)
		})
	}
}

func TestNewRefusesBadProjections(t *testing.T) {
	t.Parallel()
	s, _ := backends[0].open(t)
	_, err := follower.New(follower.Options{Store: s}, &analytics.Projection{}, &analytics.Projection{})
	require.ErrorContains(t, err, `two projections are named "analytics"`)
	_, err = follower.New(follower.Options{})
	require.Error(t, err)
}

// CaughtUp returns once the follower applied everything logged before it,
// waking the runner, and gives up with its context.
func TestCaughtUp(t *testing.T) {
	t.Parallel()
	s, _ := backends[0].open(t)
	logEvents(t, s, 0, 30)
	// Idle for an hour unless woken.
	r, err := follower.New(follower.Options{Store: s, Logger: quiet(), Poll: time.Hour}, &analytics.Projection{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.CaughtUp(ctx, analytics.Name), context.DeadlineExceeded, "nothing runs the follower yet")

	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(runCtx) }()
	defer func() { stop(); <-done }()
	caughtUp(t, s, analytics.Name)
	time.Sleep(50 * time.Millisecond) // the runner is idle now
	logEvents(t, s, 30, 5)
	wait, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	require.NoError(t, r.CaughtUp(wait, analytics.Name), "the idle runner was woken")
	f, err := s.GetFollower(context.Background(), analytics.Name)
	require.NoError(t, err)
	head, _ := s.LastEventSeq(context.Background())
	require.Equal(t, head, f.Cursor)
}
