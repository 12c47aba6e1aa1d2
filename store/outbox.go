package store

import (
	"context"
	"time"
)

// OutboxItem is an effect to perform after its transition committed.
type OutboxItem struct {
	ID         string // the effect ID, also its idempotency key
	InstanceID string
	Kind       string
	Payload    []byte
	Attempts   int
	NextAt     time.Time
}

// Outbox holds the effects committed transitions left to perform. Items
// are added and removed by Commit.
type Outbox interface {
	// Outbox returns items for instances in slots (nil: all) to perform at
	// or before until, oldest first.
	Outbox(ctx context.Context, slots []int, until time.Time, limit int) ([]OutboxItem, error)
	// RescheduleOutbox records a failed attempt and when to try again.
	RescheduleOutbox(ctx context.Context, id string, attempts int, next time.Time) error
	// DeferOutbox moves an item read as due at from (its NextAt then) to
	// next, unless it was woken since (a task answered, TaskChange.Wake):
	// a wake always changes the item's NextAt, so an item no longer at
	// from stays due, and deferred is false. A connector that defers a call
	// while waiting for a person thereby never sleeps through the answer.
	DeferOutbox(ctx context.Context, id string, from, next time.Time) (deferred bool, err error)
}
