package runtime

import (
	"context"

	"github.com/storeflow/storeflow/store"
)

// notifyLoop wakes this node when another node sharing the store logged
// events or changed workflows, so that idle nodes need not poll tightly.
func (r *Runtime) notifyLoop(ctx context.Context) {
	n, ok := r.st.(store.Notifier)
	if !ok {
		return
	}
	_ = n.Listen(ctx, func(topic string) {
		switch topic {
		case store.TopicEvents:
			signal(r.wakeMatcher)
		case store.TopicWorkflows, store.TopicResync:
			if err := r.defs.reload(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("reload workflows changed by another node", "err", err)
			}
			signal(r.wakeMatcher)
			signal(r.wakeOutbox)
		}
	})
}
