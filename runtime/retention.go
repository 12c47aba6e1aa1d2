package runtime

import (
	"context"
	"time"

	"github.com/storeflow/storeflow/store"
)

// maintenanceInterval is how often the runtime prepares partitions and
// prunes. Partitions are a week long and prepared weeks ahead, so hourly
// is plenty.
const maintenanceInterval = time.Hour

// retentionLoop keeps the store's event log and history in shape until ctx
// ends: partitions ahead of time and, with a retention, pruning. Every node
// may run it: partition creation and pruning are idempotent.
func (r *Runtime) retentionLoop(ctx context.Context) {
	_, partitioned := r.st.(store.Partitioner)
	if _, ok := r.st.(store.Pruner); !partitioned && (!ok || r.opts.Retention <= 0) {
		return
	}
	for {
		r.maintainOnce(ctx, r.clk.Now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(maintenanceInterval):
		}
	}
}

// maintainOnce logs what fails and goes on: missing partitions only send
// rows to the default partition, and pruning later catches up.
func (r *Runtime) maintainOnce(ctx context.Context, now time.Time) {
	if p, ok := r.st.(store.Partitioner); ok {
		if err := p.EnsurePartitions(ctx, now); err != nil && ctx.Err() == nil {
			r.log.Warn("prepare partitions", "err", err)
		}
	}
	p, ok := r.st.(store.Pruner)
	if r.opts.Retention <= 0 || !ok {
		return
	}
	cutoff := now.Add(-r.opts.Retention)
	pruned, err := p.Prune(ctx, cutoff)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("prune events and history", "older_than", cutoff, "err", err)
		}
		return
	}
	if len(pruned.Partitions) > 0 || pruned.Rows > 0 {
		r.log.Info("pruned events and history", "older_than", cutoff, "partitions", pruned.Partitions, "rows", pruned.Rows)
	}
}
