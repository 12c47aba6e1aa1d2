// Package follower runs event-log followers: projections (analytics,
// customer profiles) that read the event log in order, once. Each follower
// has its own durable cursor and is run by one node at a time, under a
// lease with a fencing token; when the node holding it stops or dies,
// another takes over once the lease lapses. A batch's writes commit in the
// same transaction as the cursor's move past it (store.Followers), so that
// a crash neither skips nor repeats an event.
package follower

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/store"
)

// A Projection is something computed from the event log.
type Projection interface {
	// Name names the follower: its cursor and lease. Keep it stable; a new
	// name starts from the log's beginning.
	Name() string
	// Types lists the event types it reads (nil: every type); the cursor
	// passes over the others without calling Apply.
	Types() []string
	// Apply projects a batch of events, in log order, through tx: its
	// writes commit with the cursor's move past them, or not at all. An
	// error (or a panic) rolls the batch back and it is applied again
	// later, so Apply must not act outside tx. An event it cannot use
	// (malformed data) it should skip, not fail on: a failing batch stops
	// the follower until it succeeds.
	Apply(ctx context.Context, tx store.ProjectionTx, events []store.Event) error
	// Reset clears the projection's tables, to rebuild them from the
	// start of the log.
	Reset(ctx context.Context, tx store.ProjectionTx) error
}

// Store is what a runner needs of a store.
type Store interface {
	store.EventLog
	store.Followers
}

// Options configure a Runner.
type Options struct {
	Store Store
	// Node names this process among the nodes sharing the store ("local"
	// by default); keep it across restarts.
	Node string
	// LeaseTTL is how long a follower's lease lasts unless renewed (10 s by
	// default): how long a dead node's followers wait for another.
	LeaseTTL time.Duration
	// Batch bounds the events one commit projects (256 by default).
	Batch int
	// Poll is how often an idle follower looks at the log unwoken (500 ms
	// by default, 5 s on a store that notifies of new events).
	Poll   time.Duration
	Logger *slog.Logger
	// Retry is the pause before a failed batch is tried again (1 s by
	// default); it grows with each failure in a row, up to 30 times.
	Retry time.Duration
	// Observe, when set, sees every committed batch (tests). It must be
	// quick.
	Observe func(Committed)
}

// Committed describes a committed batch.
type Committed struct {
	Follower string
	Node     string
	Fence    int64
	From, To int64
	// Events is how many events were applied (0 when the cursor only
	// passed over events the follower does not read).
	Events int
}

// Runner runs followers. It is safe for concurrent use.
type Runner struct {
	opts  Options
	st    Store
	log   *slog.Logger
	projs []Projection
	byNm  map[string]Projection
	wake  map[string]chan struct{}
	// reread has a follower read its cursor again (this runner reset it);
	// other nodes see a reset when they next renew their lease.
	reread map[string]*atomic.Bool
}

// New returns a runner of the projections; Run runs them.
func New(opts Options, projections ...Projection) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("follower runner: a store is required")
	}
	if opts.Node == "" {
		opts.Node = "local"
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 256
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
		if _, ok := opts.Store.(store.Notifier); ok {
			opts.Poll = 5 * time.Second
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	r := &Runner{opts: opts, st: opts.Store, log: opts.Logger, byNm: map[string]Projection{}, wake: map[string]chan struct{}{}, reread: map[string]*atomic.Bool{}}
	for _, p := range projections {
		name := p.Name()
		if name == "" {
			return nil, errors.New("follower runner: a projection needs a name")
		}
		if _, dup := r.byNm[name]; dup {
			return nil, fmt.Errorf("follower runner: two projections are named %q", name)
		}
		r.projs = append(r.projs, p)
		r.byNm[name] = p
		r.wake[name] = make(chan struct{}, 1)
		r.reread[name] = new(atomic.Bool)
	}
	return r, nil
}

// Names lists the runner's followers.
func (r *Runner) Names() []string {
	out := make([]string, len(r.projs))
	for i, p := range r.projs {
		out[i] = p.Name()
	}
	return out
}

// Wake has idle followers look at the log now (events were just logged).
func (r *Runner) Wake() {
	for _, ch := range r.wake {
		signal(ch)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run runs every follower until ctx is done, then gives their leases back.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if n, ok := r.st.(store.Notifier); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = n.Listen(ctx, func(topic string) {
				if topic == store.TopicEvents || topic == store.TopicResync {
					r.Wake()
				}
			})
		}()
	}
	for _, p := range r.projs {
		wg.Add(1)
		go func() { defer wg.Done(); r.follow(ctx, p) }()
	}
	wg.Wait()
	return nil
}

// Rebuild starts a follower over: its cursor goes back to the log's start
// and its projection is cleared, in one transaction; the node holding it
// then projects the log again (as far as retention kept it). A batch in
// flight on any node is refused when it comes to commit.
func (r *Runner) Rebuild(ctx context.Context, name string) error {
	p, ok := r.byNm[name]
	if !ok {
		return fmt.Errorf("follower %q: %w", name, store.ErrNotFound)
	}
	if err := r.st.ResetFollower(ctx, name, p.Reset); err != nil {
		return fmt.Errorf("rebuild follower %s: %w", name, err)
	}
	r.log.Info("follower reset for a rebuild", "follower", name)
	r.reread[name].Store(true)
	signal(r.wake[name])
	return nil
}

// CaughtUp waits until a follower has applied every event logged before
// the call: until its cursor reached the end the log had then. The node
// holding it may be another; the store's cursor tells. It returns ctx's
// error when ctx ends first, so a caller bounds the wait with ctx.
func (r *Runner) CaughtUp(ctx context.Context, name string) error {
	head, err := r.st.LastEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read the end of the event log: %w", err)
	}
	if ch, ok := r.wake[name]; ok {
		signal(ch)
	}
	for {
		f, err := r.st.GetFollower(ctx, name)
		switch {
		case err == nil && f.Cursor >= head:
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("follower %s has not reached seq %d of the event log yet: %w", name, head, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Status is a follower as seen from this runner.
type Status struct {
	Name   string    `json:"name"`
	Cursor int64     `json:"cursor"`
	Head   int64     `json:"head"`
	Lag    int64     `json:"lag"` // events logged after the cursor, of any type
	Node   string    `json:"node,omitempty"`
	Fence  int64     `json:"fence"`
	Until  time.Time `json:"leaseUntil,omitzero"`
	// UpdatedAt is when the cursor last moved.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Status reports every follower of the runner.
func (r *Runner) Status(ctx context.Context) ([]Status, error) {
	head, err := r.st.LastEventSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the end of the event log: %w", err)
	}
	out := make([]Status, 0, len(r.projs))
	for _, p := range r.projs {
		st := Status{Name: p.Name(), Head: head}
		f, err := r.st.GetFollower(ctx, p.Name())
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			st.Cursor, st.Node, st.Fence, st.Until, st.UpdatedAt = f.Cursor, f.Node, f.Fence, f.ExpiresAt, f.UpdatedAt
		}
		st.Lag = max(0, head-st.Cursor)
		out = append(out, st)
	}
	return out, nil
}

// follow runs one follower on this node for as long as it holds the lease,
// and tries for the lease while another node holds it.
func (r *Runner) follow(ctx context.Context, p Projection) {
	name := p.Name()
	log := r.log.With("follower", name, "node", r.opts.Node)
	wake := r.wake[name]
	var lease store.Follower // Fence 0: not held
	var renewAt time.Time
	failures := 0
	defer func() {
		metricLeader.WithLabelValues(name).Set(0)
		if lease.Fence > 0 {
			if err := r.st.ReleaseFollower(context.WithoutCancel(ctx), name, r.opts.Node, lease.Fence); err != nil {
				log.Warn("give the follower's lease back", "err", err)
			}
		}
	}()
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-wake:
			return true
		case <-time.After(d):
			return true
		}
	}
	for ctx.Err() == nil {
		if r.reread[name].Swap(false) {
			renewAt = time.Time{} // a renewal reads the cursor
		}
		if lease.Fence == 0 || !time.Now().Before(renewAt) {
			l, err := r.st.LeaseFollower(ctx, name, r.opts.Node, lease.Fence, r.opts.LeaseTTL)
			switch {
			case errors.Is(err, store.ErrHeld):
				if lease.Fence > 0 {
					log.Warn("lost the follower's lease", "holder", l.Node)
				}
				lease = store.Follower{}
				metricLeader.WithLabelValues(name).Set(0)
				// Try again around when the holder's lease would lapse.
				wait(min(r.opts.LeaseTTL/2, max(time.Until(l.ExpiresAt), 50*time.Millisecond)))
				continue
			case err != nil:
				if ctx.Err() == nil {
					log.Error("lease the follower", "err", err)
					wait(time.Second)
				}
				continue
			}
			if l.Fence != lease.Fence {
				log.Info("following the event log", "cursor", l.Cursor, "fence", l.Fence)
			}
			lease, renewAt = l, time.Now().Add(r.opts.LeaseTTL/3)
			metricLeader.WithLabelValues(name).Set(1)
		}
		batch, err := store.ReadBatch(ctx, r.st, lease.Cursor, p.Types(), r.opts.Batch)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("read the event log", "err", err)
				wait(time.Second)
			}
			continue
		}
		metricLag.WithLabelValues(name).Set(float64(max(0, batch.Head-lease.Cursor)))
		if len(batch.Events) > 0 {
			metricLagSeconds.WithLabelValues(name).Set(max(0, time.Since(batch.Events[0].ReceivedAt).Seconds()))
		} else {
			metricLagSeconds.WithLabelValues(name).Set(0)
		}
		if batch.Next == lease.Cursor {
			wait(min(r.opts.Poll, max(time.Until(renewAt), 0)))
			continue
		}
		err = r.commit(ctx, p, lease, batch)
		switch {
		case err == nil:
			failures = 0
			lease.Cursor = batch.Next
			metricLag.WithLabelValues(name).Set(float64(max(0, batch.Head-lease.Cursor)))
			if len(batch.Events) == 0 {
				// Passing over unread events waits a little, so that a busy
				// log of other types costs few commits.
				wait(min(r.opts.Poll, max(time.Until(renewAt), 0)))
			}
		case errors.Is(err, store.ErrFenced):
			log.Warn("another node took the follower over; this node's batch was refused", "err", err)
			lease = store.Follower{}
			metricLeader.WithLabelValues(name).Set(0)
		case errors.Is(err, store.ErrConflict):
			// The cursor moved under this node: a rebuild reset it.
			f, gerr := r.st.GetFollower(ctx, name)
			if gerr != nil {
				lease = store.Follower{}
				continue
			}
			log.Info("the follower's cursor moved (a rebuild); following from there", "cursor", f.Cursor)
			lease.Cursor = f.Cursor
		case ctx.Err() != nil:
			// Stopping: the batch did not commit and is applied again by
			// whoever runs the follower next.
		default:
			failures++
			metricFailures.WithLabelValues(name).Inc()
			backoff := r.opts.Retry * time.Duration(min(failures, 30))
			log.Error("a batch of the follower failed; it is retried", "from_seq", lease.Cursor, "to_seq", batch.Next, "attempt", failures, "retry_in", backoff, "err", err)
			wait(backoff)
		}
	}
}

// commit applies a batch and moves the cursor past it, in one transaction.
func (r *Runner) commit(ctx context.Context, p Projection, lease store.Follower, batch store.Batch) error {
	b := store.FollowerBatch{Name: p.Name(), Fence: lease.Fence, From: lease.Cursor, To: batch.Next}
	var apply func(context.Context, store.ProjectionTx) error
	if len(batch.Events) > 0 {
		apply = func(ctx context.Context, tx store.ProjectionTx) (err error) {
			// A panicking projection must not take the process down; the
			// batch rolls back like any failed one.
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("projection %s panicked: %v\n%s", p.Name(), v, debug.Stack())
				}
			}()
			return p.Apply(ctx, tx, batch.Events)
		}
	}
	start := time.Now()
	if err := r.st.CommitFollower(ctx, b, apply); err != nil {
		return err
	}
	metricBatch.WithLabelValues(p.Name()).Observe(time.Since(start).Seconds())
	metricApplied.WithLabelValues(p.Name()).Add(float64(len(batch.Events)))
	if r.opts.Observe != nil {
		r.opts.Observe(Committed{Follower: p.Name(), Node: r.opts.Node, Fence: lease.Fence, From: b.From, To: b.To, Events: len(batch.Events)})
	}
	return nil
}
