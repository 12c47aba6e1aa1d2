package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/storeflow/storeflow/store"
)

// maintenanceInterval is how often serve prepares partitions and prunes.
// Partitions are a week long and prepared weeks ahead, so hourly is plenty.
const maintenanceInterval = time.Hour

// partitioner is a store whose append-only tables are partitioned by time
// (PostgreSQL); it needs the partitions of the coming weeks created.
type partitioner interface {
	EnsurePartitions(ctx context.Context, now time.Time) error
}

// parseRetention reads --retention: a Go duration, 0 keeping everything.
func parseRetention(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--retention %q: give a duration such as 720h, or 0 to keep events and history forever", v)
	}
	return d, nil
}

// maintain keeps the store's event log and history in shape until ctx
// ends: partitions ahead of time and, with a retention, pruning.
func maintain(ctx context.Context, st store.Store, retention, every time.Duration, log *slog.Logger) {
	for {
		maintainOnce(ctx, st, retention, time.Now(), log)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// maintainOnce logs what fails and goes on: missing partitions only send
// rows to the default partition, and pruning later catches up.
func maintainOnce(ctx context.Context, st store.Store, retention time.Duration, now time.Time, log *slog.Logger) {
	if p, ok := st.(partitioner); ok {
		if err := p.EnsurePartitions(ctx, now); err != nil && ctx.Err() == nil {
			log.Warn("prepare partitions", "err", err)
		}
	}
	p, ok := st.(store.Pruner)
	if retention <= 0 || !ok {
		return
	}
	cutoff := now.Add(-retention)
	pruned, err := p.Prune(ctx, cutoff)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("prune events and history", "older_than", cutoff, "err", err)
		}
		return
	}
	if len(pruned.Partitions) > 0 || pruned.Rows > 0 {
		log.Info("pruned events and history", "older_than", cutoff, "partitions", pruned.Partitions, "rows", pruned.Rows)
	}
}
