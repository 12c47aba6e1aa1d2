package store

import "context"

// Notifier is implemented by stores several nodes share: it tells a node
// at once when another node added work it should look at, so that idle
// nodes need not poll tightly.
type Notifier interface {
	// Listen calls fn with a topic (TopicEvents, TopicWorkflows, or
	// TopicResync once listening and after a lost connection, when anything
	// before may have been missed) until ctx is done. It reconnects by
	// itself.
	Listen(ctx context.Context, fn func(topic string)) error
}

// Topics a Notifier reports.
const (
	TopicEvents    = "events"
	TopicWorkflows = "workflows"
	TopicResync    = "resync"
)
