// Package clock is the only source of time for the interpreter and runtime.
// Production reads the wall clock; tests and pretests use a Virtual clock
// that jumps straight to the next due timer, so that "wait 7 days" takes no
// real time.
package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the clock's time once d has
	// elapsed on this clock.
	After(d time.Duration) <-chan time.Time
	// Sleep blocks until d has elapsed on this clock or ctx is done
	// (returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

var (
	_ Clock = realClock{}
	_ Clock = (*Virtual)(nil)
)

// Real returns the wall clock. Its times are in UTC, so that stored and
// compared times never depend on the host's zone.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

func (realClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(d, func() { ch <- time.Now().UTC() })
	return ch
}

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Virtual is a clock that moves only when told to, by Advance, Set or
// AdvanceToNext. Its times are in UTC. It is safe for concurrent use; the
// zero value reads the zero time.
//
// Timers due at or before the clock's time fire at once. Timers fire with
// the lock held and before the move returns, so a goroutine woken by one
// sees the clock already at the end of the move: a timer it then starts is
// due relative to that time.
type Virtual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer      // by due time; equal due times in creation order
	changed chan struct{} // closed and replaced when timers or time change, for BlockUntil
}

type timer struct {
	due time.Time
	ch  chan time.Time // buffered, so firing never blocks
}

// NewVirtual returns a virtual clock reading start, converted to UTC.
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{now: start.UTC()}
}

// Now returns the clock's time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// After returns a channel that receives the time the clock reached now+d;
// when d <= 0 it has already received the current time.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.startLocked(d).ch
}

// Sleep blocks until the clock reaches now+d or ctx is done. A cancelled
// sleep removes its timer, so Pending no longer counts it; if the timer fired
// before the cancellation was seen, the sleep has completed and returns nil.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	v.mu.Lock()
	t := v.startLocked(d)
	v.mu.Unlock()
	select {
	case <-t.ch:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		defer v.mu.Unlock()
		if !v.stopLocked(t) {
			return nil
		}
		return ctx.Err()
	}
}

// Advance moves the clock forward by d, firing in due order every timer that
// falls due. A negative d does nothing.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.setLocked(v.now.Add(d))
}

// Set moves the clock to t, firing in due order every timer due by then.
// Time never goes backwards: a t before the clock's time does nothing, so
// concurrent drivers cannot undo each other's moves.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.setLocked(t.UTC())
}

// NextDue returns when the earliest pending timer is due, and false when
// none is pending.
func (v *Virtual) NextDue() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].due, true
}

// AdvanceToNext jumps to the earliest pending timer and fires it, with every
// other timer due at that instant. It reports false, leaving the clock
// alone, when none is pending.
func (v *Virtual) AdvanceToNext() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return false
	}
	v.setLocked(v.timers[0].due)
	return true
}

// Pending returns the number of timers, sleepers included, that have not
// fired. A timer from After counts until it fires, whether or not anyone
// still reads its channel.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// BlockUntil waits, in real time, until at least n timers are pending, or
// ctx is done. A test driver uses it to know that the goroutines it drives
// have gone to sleep on the clock before moving it.
func (v *Virtual) BlockUntil(ctx context.Context, n int) error {
	for {
		v.mu.Lock()
		pending, changed := len(v.timers), v.changedLocked()
		v.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

func (v *Virtual) startLocked(d time.Duration) *timer {
	t := &timer{due: v.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- v.now
		return t
	}
	// After the last timer due at the same time, so that ties fire in
	// creation order.
	i, _ := slices.BinarySearchFunc(v.timers, t.due, func(x *timer, due time.Time) int {
		if x.due.After(due) {
			return 1
		}
		return -1
	})
	v.timers = slices.Insert(v.timers, i, t)
	v.notifyLocked()
	return t
}

// stopLocked removes t and reports whether it was still pending.
func (v *Virtual) stopLocked(t *timer) bool {
	i := slices.Index(v.timers, t)
	if i < 0 {
		return false
	}
	v.timers = slices.Delete(v.timers, i, i+1)
	v.notifyLocked()
	return true
}

func (v *Virtual) setLocked(to time.Time) {
	if to.Before(v.now) {
		return
	}
	n := 0
	for n < len(v.timers) && !v.timers[n].due.After(to) {
		v.timers[n].ch <- v.timers[n].due
		n++
	}
	v.timers = slices.Delete(v.timers, 0, n)
	v.now = to
	v.notifyLocked()
}

func (v *Virtual) changedLocked() chan struct{} {
	if v.changed == nil {
		v.changed = make(chan struct{})
	}
	return v.changed
}

func (v *Virtual) notifyLocked() {
	if v.changed != nil {
		close(v.changed)
		v.changed = nil
	}
}
