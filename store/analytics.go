package store

import "context"

// EventCount is how many events of a type a shop had on a day.
type EventCount struct {
	Shop  string `json:"shop"` // "" for events of no shop (lifecycle events)
	Type  string `json:"type"`
	Day   string `json:"day"` // YYYY-MM-DD, in the shop's time zone
	Count int64  `json:"count"`
}

// EventCountQuery filters EventCounts: empty fields match everything; From
// and To are days (YYYY-MM-DD), both included.
type EventCountQuery struct {
	Shop, Type string
	From, To   string
}

// Analytics keeps the analytics projection (package analytics): event
// counts per shop, type and day.
type Analytics interface {
	// EventCounts returns the counts matching q, by day, shop and type.
	EventCounts(ctx context.Context, q EventCountQuery) ([]EventCount, error)
}

// AnalyticsTx writes the analytics projection in a follower's batch.
type AnalyticsTx interface {
	// AddEventCounts adds each count to the count of its shop, type and day.
	AddEventCounts(ctx context.Context, counts []EventCount) error
	// ClearEventCounts removes every count (a rebuild).
	ClearEventCounts(ctx context.Context) error
}
