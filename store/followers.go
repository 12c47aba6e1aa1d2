package store

import (
	"context"
	"errors"
	"time"
)

// ErrHeld refuses a follower's lease to a node while another node holds it.
var ErrHeld = errors.New("follower lease held by another node")

// Follower is an event-log follower as the store keeps it: its position in
// the log and which node holds its lease.
type Follower struct {
	Name string
	// Cursor is the seq of the last event the follower's projection has
	// committed (0: none).
	Cursor int64
	// Node holds the lease ("" when free) until ExpiresAt.
	Node      string
	ExpiresAt time.Time
	// Fence grows each time the lease changes hands; a commit names it, so
	// that a node that lost the lease cannot commit.
	Fence int64
	// UpdatedAt is when the cursor last moved.
	UpdatedAt time.Time
}

// FollowerBatch is one step of a follower: the projection's writes for the
// events after From up to To, committed with the cursor's move to To.
type FollowerBatch struct {
	Name     string
	Fence    int64
	From, To int64
}

// ProjectionTx is what a follower's projection may write in the transaction
// of its batch: each projection's tables, through the role it writes them
// by. Nothing written is visible to others before the batch commits, and
// nothing of it stays when the batch fails.
type ProjectionTx interface {
	Analytics() AnalyticsTx
	Customers() CustomersTx
}

// Followers keeps event-log followers: a follower reads the log in order
// and projects it into tables of its own (analytics, customer profiles),
// run by one node at a time under a lease. Its writes commit in the same
// transaction as its cursor, so that a crash neither skips nor repeats an
// event.
type Followers interface {
	// LeaseFollower takes the follower's lease for node, or renews it. A
	// lease the node holds under fence is renewed; a free or expired lease,
	// or one the node holds under another fence (an earlier process of the
	// same node), is taken under a new fence. While another node holds it,
	// it fails with ErrHeld and returns the follower as it is. A follower
	// never seen before starts at cursor 0.
	LeaseFollower(ctx context.Context, name, node string, fence int64, ttl time.Duration) (Follower, error)
	// ReleaseFollower gives the lease back at once, if node still holds it
	// under fence.
	ReleaseFollower(ctx context.Context, name, node string, fence int64) error
	// GetFollower returns a follower (ErrNotFound when never leased).
	GetFollower(ctx context.Context, name string) (Follower, error)
	// ListFollowers returns every follower, by name.
	ListFollowers(ctx context.Context) ([]Follower, error)
	// CommitFollower runs apply in one transaction with the move of the
	// follower's cursor from b.From to b.To. It fails with ErrFenced when
	// b.Fence is no longer the lease's, and with ErrConflict when the
	// cursor is not at b.From (another commit or a reset came first); then,
	// as when apply fails, nothing apply wrote stays. apply may be nil (the
	// cursor passes over events the follower does not read).
	CommitFollower(ctx context.Context, b FollowerBatch, apply func(ctx context.Context, tx ProjectionTx) error) error
	// ResetFollower moves the cursor back to 0 and runs clear in the same
	// transaction, so that the follower rebuilds its projection from the
	// start of the log. The lease stays where it is.
	ResetFollower(ctx context.Context, name string, clear func(ctx context.Context, tx ProjectionTx) error) error
}
