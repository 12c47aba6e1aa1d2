// Package store defines where storeflow keeps its durable state: workflow
// definitions, the event log, instances with their history, timers,
// subscriptions and the outbox of calls to make. Each backend (SQLite,
// PostgreSQL) implements Store and passes the shared storetest suite.
package store

import (
	"errors"
)

// Store is durable state: every role a backend plays, together. Every
// method is safe for concurrent use. Code that needs one role takes that
// role's interface, so that its needs stay visible.
type Store interface {
	Workflows
	EventLog
	EventQueries
	Instances
	Timers
	Subscriptions
	StartGroups
	Outbox
	SlotLeases
	Shops
	Webhooks
	Followers
	Analytics
	MessageLog
	ContactFacts
	Customers
	Users
	Tasks
	Close() error
}

// Rows is what both backends' query results offer.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Errors a Store reports.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a change was based on an instance revision that is
	// no longer current: someone else advanced the instance.
	ErrConflict = errors.New("instance changed concurrently")
	// ErrDuplicateTrigger means an instance for the same trigger (event or
	// schedule tick) of the same workflow exists already.
	ErrDuplicateTrigger = errors.New("instance for this trigger exists")
	// ErrVersionExists means a workflow version was posted again with other
	// content: versions are immutable so that instances keep the definition
	// they started on.
	ErrVersionExists = errors.New("workflow version exists with different content")
)
