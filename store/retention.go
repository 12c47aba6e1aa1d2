package store

import (
	"context"
	"time"
)

// Pruned says what a Prune removed.
type Pruned struct {
	// Partitions are the partitions dropped whole (PostgreSQL).
	Partitions []string
	// Rows counts rows deleted one by one: every pruned row in SQLite, the
	// rows of PostgreSQL's default partitions.
	Rows int64
}

// Pruner is a Store that can forget old parts of its append-only tables:
// the event log and instance history. Instances themselves, their state,
// timers, subscriptions and the outbox are never pruned.
type Pruner interface {
	// Prune removes events received before olderThan and history entries
	// written before it. A backend that stores by period removes whole
	// periods only, so it may keep some rows older than olderThan; it never
	// removes a newer one.
	Prune(ctx context.Context, olderThan time.Time) (Pruned, error)
}

// Partitioner is a Store whose append-only tables are partitioned by time
// (PostgreSQL): the partitions of the coming weeks must be created ahead.
type Partitioner interface {
	EnsurePartitions(ctx context.Context, now time.Time) error
}
