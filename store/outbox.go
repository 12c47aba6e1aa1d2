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
}
