package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// ErrNoSlots means this node holds no slot yet (it is starting, or others
// hold them all), so it cannot start instances itself.
var ErrNoSlots = errors.New("this node holds no work slots yet; retry in a few seconds")

// errNotOwner refuses work on an instance whose slot another node holds.
var errNotOwner = errors.New("instance belongs to a slot another node holds")

// leases tracks the slots this node holds. Every instance belongs to one
// slot; a node advances, fires timers for and performs calls of the
// instances of its slots only, and names the slot's fence in each commit,
// so that a node that lost a slot (paused, cut off) cannot overwrite what
// the new holder did.
type leases struct {
	mu    sync.RWMutex
	held  map[int]int64 // slot → fence
	slots []int         // held, sorted
	// validUntil is when the leases run out unless renewed; past it the
	// node stops working rather than risk acting on lost slots.
	validUntil time.Time

	// draining holds slots above this node's fair share that it is
	// handing back: it starts no new work on them, lets work in flight
	// commit, then releases them (since when, by slot).
	draining map[int]time.Time

	// gained is set when slots were taken: timers and the outbox must be
	// read again from the start for them, and the matcher rewound.
	gained atomic.Bool
	rewind atomic.Int64 // lowest cursor of gained slots, -1: none
}

func newLeases() *leases {
	l := &leases{held: map[int]int64{}, draining: map[int]time.Time{}}
	l.rewind.Store(-1)
	return l
}

// fence returns the fence of the slot id belongs to, if held (also while
// draining: work in flight still commits).
func (l *leases) fence(id string) (int64, bool) {
	slot := store.SlotOf(id)
	l.mu.RLock()
	defer l.mu.RUnlock()
	if time.Now().After(l.validUntil) {
		return 0, false
	}
	f, ok := l.held[slot]
	return f, ok
}

// owns reports whether new work on instance id is this node's.
func (l *leases) owns(id string) bool { return l.ownsSlot(store.SlotOf(id)) }

// ownsSlot reports whether new work in a slot is this node's: it holds
// the slot and is not handing it back.
func (l *leases) ownsSlot(slot int) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.held[slot]
	_, draining := l.draining[slot]
	return ok && !draining && time.Now().Before(l.validUntil)
}

// list returns the slots this node takes new work from (empty, not nil,
// when none: nil means all to the store).
func (l *leases) list() []int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := []int{}
	if time.Now().After(l.validUntil) {
		return out
	}
	for _, s := range l.slots {
		if _, draining := l.draining[s]; !draining {
			out = append(out, s)
		}
	}
	return out
}

// drain marks the slots above share for handing back; ls are the leases
// the claim returned. When the node is no longer above its share (nodes
// left meanwhile) it keeps the slots it was draining; their events and
// timers were passed over meanwhile, so they count as gained again
// (resumed).
func (l *leases) drain(share int, ls []store.Lease) (resumed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.slots) <= share {
		if len(l.draining) > 0 {
			low := int64(-1)
			for _, x := range ls {
				if _, ok := l.draining[x.Slot]; ok && (low < 0 || x.Cursor < low) {
					low = x.Cursor
				}
			}
			clear(l.draining)
			l.markGained(low)
			return true
		}
		return false
	}
	if excess := len(l.slots) - share - len(l.draining); excess > 0 {
		var active []store.Lease
		for _, s := range l.slots {
			if _, draining := l.draining[s]; !draining {
				active = append(active, store.Lease{Slot: s})
			}
		}
		_, extra := store.Rebalance(active, len(active)-excess)
		for _, x := range extra {
			l.draining[x.Slot] = time.Now()
		}
	}
	return false
}

// drainingSlots returns the slots being handed back.
func (l *leases) drainingSlots() []int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return slices.Sorted(maps.Keys(l.draining))
}

// isDraining reports whether the slot is being handed back.
func (l *leases) isDraining(slot int) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.draining[slot]
	return ok
}

// released forgets slots given back, and returns the longest any of them
// drained.
func (l *leases) released(slots []int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var longest time.Duration
	for _, s := range slots {
		if since, ok := l.draining[s]; ok {
			longest = max(longest, time.Since(since))
		}
		delete(l.held, s)
		delete(l.draining, s)
	}
	l.slots = slices.Sorted(maps.Keys(l.held))
	return longest
}

func (l *leases) snapshot() map[int]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return maps.Clone(l.held)
}

// update installs the leases a claim returned and reports what changed.
func (l *leases) update(ls []store.Lease, until time.Time) (gained, lost []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := make(map[int]int64, len(ls))
	low := int64(-1)
	// After a lapse (renewals failed past the leases' end) this node did
	// no work on its slots and skipped their events: every slot counts as
	// gained again, so that the matcher rewinds to the slots' positions and
	// timers and the outbox are read again.
	lapsed := time.Now().After(l.validUntil)
	for _, x := range ls {
		next[x.Slot] = x.Fence
		if f, ok := l.held[x.Slot]; !ok || f != x.Fence || lapsed {
			gained = append(gained, x.Slot)
			if low < 0 || x.Cursor < low {
				low = x.Cursor
			}
		}
	}
	for s := range l.held {
		if _, ok := next[s]; !ok {
			lost = append(lost, s)
			delete(l.draining, s)
		}
	}
	l.held = next
	l.slots = slices.Sorted(maps.Keys(next))
	l.validUntil = until
	if len(gained) > 0 {
		l.markGained(low)
	}
	return gained, lost
}

// markGained has timers and the outbox read again for the slots held, and
// the matcher rewound to low (the lowest cursor of the slots gained).
func (l *leases) markGained(low int64) {
	for {
		cur := l.rewind.Load()
		if cur >= 0 && cur <= low || l.rewind.CompareAndSwap(cur, low) {
			break
		}
	}
	l.gained.Store(true)
}

// claimSlots renews the leases, takes this node's share of the slots, and
// starts handing back what is above it. short reports that the node is
// below its share while slots are free: the store skipped some that
// commits in flight (the giver's last ones) had locked, so it should claim
// again soon rather than at the next renewal.
func (r *Runtime) claimSlots(ctx context.Context) (short bool, err error) {
	var g store.Grant
	var began time.Time
	// A connection that broke (the database restarted, a backend was
	// terminated) fails one attempt; the pool gives a fresh one to the
	// next. Renewing promptly matters more than anything else here.
	for attempt := 0; attempt < 3; attempt++ {
		began = time.Now()
		if g, err = r.st.ClaimSlots(ctx, store.Claim{Node: r.opts.Node, Held: r.leases.snapshot(), TTL: r.opts.LeaseTTL}); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return false, fmt.Errorf("claim work slots: %w", err)
	}
	ls := g.Leases
	// The leases run from when the store granted them; counting from
	// before the request keeps this node on the safe side of that.
	gained, lost := r.leases.update(ls, began.Add(r.opts.LeaseTTL*9/10))
	// Slots above the fair share (a node joined) take no new work from
	// now on, and go back as soon as no call is being made in them.
	resumed := r.leases.drain(g.Share, ls)
	metricSlots.Set(float64(len(ls)))
	if len(gained) > 0 || len(lost) > 0 {
		r.log.Info("work slots changed", "node", r.opts.Node, "held", len(ls), "gained", len(gained), "lost", len(lost))
	}
	if len(gained) > 0 || resumed {
		if err := r.learnListens(ctx); err != nil {
			return false, err
		}
		signal(r.wakeMatcher)
		signal(r.wakeOutbox)
		signal(r.timers.wake)
	}
	return len(ls) < g.Share && g.Free > 0, r.handBack(ctx)
}

// handBack gives back the draining slots in which no call is being made,
// so that the taker does not repeat a call this node is still making;
// the others follow as their calls end (release signals wakeHandBack).
// Transitions still queued for them do not hold them up: they commit if
// they come before the taker's claim, and are fenced out after it, when
// the taker redoes that work from the store (timers, outbox rows, the
// slot's event cursor).
func (r *Runtime) handBack(ctx context.Context) error {
	draining := r.leases.drainingSlots()
	if len(draining) == 0 {
		return nil
	}
	busy := r.dispatchingIn(draining)
	idle := slices.DeleteFunc(draining, func(s int) bool { return slices.Contains(busy, s) })
	if len(idle) == 0 {
		return nil
	}
	if err := r.st.ReleaseSlots(ctx, r.opts.Node, idle); err != nil {
		return fmt.Errorf("hand back work slots: %w", err)
	}
	drained := r.leases.released(idle)
	r.log.Info("handed work slots back", "node", r.opts.Node, "slots", len(idle), "still_busy", len(busy), "drained_for", drained)
	return nil
}

// leaseLoop renews the leases well before they expire, and takes or gives
// back slots as nodes come and go: at once when the store tells of it
// (wakeLeases), otherwise at the next renewal.
func (r *Runtime) leaseLoop(ctx context.Context) {
	_, shared := r.st.(store.Notifier)
	reloaded := time.Now()
	period := r.opts.LeaseTTL / 3
	renew := time.NewTimer(period)
	defer renew.Stop()
	var retry time.Duration // backs off while short of free slots
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wakeHandBack:
			if err := r.handBack(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("hand back work slots; retrying at the next renewal", "node", r.opts.Node, "err", err)
			}
			continue
		case <-r.wakeLeases:
		case <-renew.C:
		}
		short, err := r.claimSlots(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.Error("renew work slots; retrying", "node", r.opts.Node, "err", err)
		}
		// Slots are locked only while the giver's last commits on them
		// finish: try again soon, but not in a tight loop.
		if retry = min(max(2*retry, 10*time.Millisecond), 100*time.Millisecond, period); !short {
			retry = 0
		}
		renew.Reset(cmp.Or(retry, period))
		// Notifications tell of other nodes' workflow changes at once; a
		// reload now and then covers one that was lost.
		if shared && time.Since(reloaded) > 30*time.Second {
			reloaded = time.Now()
			if err := r.defs.reload(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("reload workflows", "err", err)
			}
		}
	}
}

// learnListens loads which event types waiting listens use and how older
// versions correlate, for instances this node may now advance.
func (r *Runtime) learnListens(ctx context.Context) error {
	types, err := r.st.SubscriptionTypes(ctx)
	if err != nil {
		return fmt.Errorf("load subscription types: %w", err)
	}
	for _, t := range types {
		r.listened.Store(t, true)
	}
	// Instances of older versions may still wait: learn how their listens
	// correlate, or their events would not find them.
	listening, err := r.st.ListeningWorkflows(ctx)
	if err != nil {
		return fmt.Errorf("load waiting workflows: %w", err)
	}
	for _, w := range listening {
		wf, err := r.defs.get(ctx, engine.WorkflowRef{Namespace: w[0], Name: w[1], Version: w[2]})
		if err != nil {
			r.log.Error("load definition of waiting instances", "workflow", w, "err", err)
			continue
		}
		r.defs.noteListens(wf)
	}
	return nil
}

// Slots returns the work slots this node holds now.
func (r *Runtime) Slots() []int { return r.leases.list() }
