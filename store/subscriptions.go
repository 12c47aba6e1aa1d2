package store

import (
	"context"
	"time"
)

// Subscription is a waiting listen, found by event type and correlation key.
type Subscription struct {
	ID         string // the effect ID
	InstanceID string
	EventType  string
	// CorrKey is the canonical form of the correlation values the listen
	// expects ("" when it expects none), so that matching is an index lookup.
	CorrKey string
	Since   time.Time
	Spec    []byte // the engine's subscription, JSON
}

// Subscriptions finds waiting listens by event type and correlation key.
// They are added and removed by Commit.
type Subscriptions interface {
	// Subscriptions returns the subscriptions for an event type and key.
	Subscriptions(ctx context.Context, eventType, corrKey string) ([]Subscription, error)
	// SubscriptionTypes returns the event types some subscription waits for.
	SubscriptionTypes(ctx context.Context) ([]string, error)
	// ListeningWorkflows returns the definitions (namespace, name, version)
	// whose instances have subscriptions, so that a restarted runtime knows
	// how their listens correlate.
	ListeningWorkflows(ctx context.Context) ([][3]string, error)
}
