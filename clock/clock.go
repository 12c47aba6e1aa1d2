// Package clock is the only source of time for the interpreter and runtime:
// production reads the wall clock, tests and pretests a virtual clock that
// jumps to the next due timer, so that "wait 7 days" takes no real time.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the clock's time once d has
	// elapsed on this clock.
	After(d time.Duration) <-chan time.Time
	// Sleep blocks until d has elapsed on this clock or ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// Real returns the wall clock; its times are in UTC.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

func (realClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(d, func() { ch <- time.Now().UTC() })
	return ch
}

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
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

// Virtual is a clock that moves only when told to. It is safe for
// concurrent use.
type Virtual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*vtimer
	seq     int
	changed chan struct{} // closed and replaced whenever timers change
}

type vtimer struct {
	due time.Time
	seq int
	ch  chan time.Time
}

// NewVirtual returns a virtual clock reading start (in UTC).
func NewVirtual(start time.Time) *Virtual {
	return &Virtual{now: start.UTC(), changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// After returns a channel that fires when the clock reaches now+d.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addLocked(d).ch
}

func (v *Virtual) addLocked(d time.Duration) *vtimer {
	t := &vtimer{due: v.now.Add(d), seq: v.seq, ch: make(chan time.Time, 1)}
	v.seq++
	if d <= 0 {
		t.ch <- v.now
		return t
	}
	v.timers = append(v.timers, t)
	sort.SliceStable(v.timers, func(i, j int) bool { return v.timers[i].due.Before(v.timers[j].due) })
	v.notifyLocked()
	return t
}

func (v *Virtual) notifyLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}

// Sleep blocks until the clock has been advanced by d or ctx is done; a
// cancelled sleep removes its timer.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	v.mu.Lock()
	t := v.addLocked(d)
	v.mu.Unlock()
	select {
	case <-t.ch:
		return nil
	case <-ctx.Done():
		v.mu.Lock()
		for i, x := range v.timers {
			if x == t {
				v.timers = append(v.timers[:i], v.timers[i+1:]...)
				v.notifyLocked()
				break
			}
		}
		v.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock forward by d, firing in due order every timer that
// falls due.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	target := v.now.Add(d)
	v.mu.Unlock()
	v.Set(target)
}

// Set moves the clock to t, firing the timers due by then. Time never goes
// backwards: an earlier t is ignored.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t = t.UTC()
	if t.Before(v.now) {
		return
	}
	for len(v.timers) > 0 && !v.timers[0].due.After(t) {
		timer := v.timers[0]
		v.timers = v.timers[1:]
		v.now = timer.due
		timer.ch <- timer.due
	}
	v.now = t
	v.notifyLocked()
}

// NextDue returns when the earliest pending timer is due.
func (v *Virtual) NextDue() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].due, true
}

// AdvanceToNext jumps to the earliest pending timer and fires it, with any
// others due at the same instant. It reports false when none is pending.
func (v *Virtual) AdvanceToNext() bool {
	due, ok := v.NextDue()
	if !ok {
		return false
	}
	v.Set(due)
	return true
}

// Pending returns the number of timers (sleepers included) not yet fired.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// BlockUntil waits, in real time, until at least n timers are pending; a
// test uses it to know that a goroutine has gone to sleep on the clock.
func (v *Virtual) BlockUntil(ctx context.Context, n int) error {
	for {
		v.mu.Lock()
		count, changed := len(v.timers), v.changed
		v.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
