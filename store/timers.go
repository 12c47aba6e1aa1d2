package store

import (
	"context"
	"time"
)

// Timer completes an instance's effect when due.
type Timer struct {
	ID         string // the effect ID
	InstanceID string
	Due        time.Time
}

// Timers finds the timers that came due. Timers are added and removed by
// Commit, with the transitions that arm and withdraw them.
type Timers interface {
	// DueTimers returns timers of instances in slots (nil: all) due at or
	// before until, earliest first, after the timer (afterDue, afterID)
	// exclusive: pages follow each other by passing the last timer of the
	// previous page (zero values: from the start).
	DueTimers(ctx context.Context, slots []int, afterDue time.Time, afterID string, until time.Time, limit int) ([]Timer, error)
}
