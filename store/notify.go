package store

import "context"

// Notifier is implemented by stores several nodes share: it tells a node
// at once when another node added work it should look at, or when slots
// should change hands, so that nodes need not poll tightly.
type Notifier interface {
	// Listen calls fn with a topic (TopicEvents, TopicWorkflows,
	// TopicSlots, or TopicResync once listening and after a lost
	// connection, when anything before may have been missed) until ctx is
	// done. It reconnects by itself.
	Listen(ctx context.Context, fn func(topic string)) error
}

// Topics a Notifier reports.
const (
	TopicEvents    = "events"
	TopicWorkflows = "workflows"
	// TopicSlots is sent when slots were given back or a node joined (its
	// first heartbeat, or the first after its last one expired): every
	// node should claim at once, to take free slots or hand back those
	// above its new fair share.
	TopicSlots  = "slots"
	TopicResync = "resync"
	// TopicOutbox is sent when a call was made due by something other
	// than the runtime (a task answered through the API).
	TopicOutbox = "outbox"
)
