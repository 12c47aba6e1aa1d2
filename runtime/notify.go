package runtime

import (
	"context"

	"github.com/storeflow/storeflow/store"
)

// notifyLoop wakes this node when another node sharing the store logged
// events, changed workflows, gave slots back or joined, so that idle nodes
// need not poll tightly and slots change hands without waiting for a
// renewal.
func (r *Runtime) notifyLoop(ctx context.Context) {
	n, ok := r.st.(store.Notifier)
	if !ok {
		return
	}
	_ = n.Listen(ctx, func(topic string) {
		switch topic {
		case store.TopicEvents:
			signal(r.wakeMatcher)
		case store.TopicSlots:
			signal(r.wakeLeases)
		case store.TopicOutbox:
			signal(r.wakeOutbox)
		case store.TopicWorkflows, store.TopicResync:
			if topic == store.TopicResync {
				// Slots may have been freed while this node was not listening.
				signal(r.wakeLeases)
			}
			if err := r.defs.reload(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("reload workflows changed by another node", "err", err)
			}
			signal(r.wakeMatcher)
			signal(r.wakeOutbox)
		}
	})
}
