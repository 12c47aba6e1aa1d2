package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

func TestShopOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ env, want string }{
		{`{"id":"1","shop":"acme","data":{"shop":"other"}}`, "acme"},
		{`{"id":"1","data":{"shop":"bolt"}}`, "bolt"},
		{`{"id":"1","shop":"acme","data":"text"}`, "acme"},
		{`{"id":"1","data":[1,2]}`, ""},
		{`{"id":"1"}`, ""},
		{`not json`, ""},
	} {
		require.Equal(t, tc.want, analytics.ShopOf(store.Event{Envelope: []byte(tc.env)}), tc.env)
	}
}

func TestApplyCountsInTheShopsZone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	defer s.Close()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	zoneErr := errors.New("shops unavailable")
	failing := false
	p := &analytics.Projection{Zone: func(_ context.Context, shop string) (*time.Location, error) {
		switch {
		case failing:
			return nil, zoneErr
		case shop == "jp":
			return tokyo, nil
		}
		return nil, fmt.Errorf("shop %s: %w", shop, store.ErrNotFound)
	}}
	at := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC) // the 24th in Tokyo
	events := []store.Event{
		{Seq: 1, Type: "commerce.order.placed", Time: at, Envelope: []byte(`{"shop":"jp"}`)},
		{Seq: 2, Type: "commerce.order.placed", Time: at, Envelope: []byte(`{"shop":"jp"}`)},
		{Seq: 3, Type: "commerce.order.placed", Time: at, Envelope: []byte(`{"shop":"unknown"}`)},
		{Seq: 4, Type: "io.storeflow.workflow.started", ReceivedAt: at.Add(5 * time.Hour), Envelope: []byte(`{}`)},
	}
	l, err := s.LeaseFollower(ctx, analytics.Name, "n", 0, time.Minute)
	require.NoError(t, err)
	failing = true
	err = s.CommitFollower(ctx, store.FollowerBatch{Name: analytics.Name, Fence: l.Fence, From: 0, To: 4}, func(ctx context.Context, tx store.ProjectionTx) error {
		return p.Apply(ctx, tx, events)
	})
	require.ErrorIs(t, err, zoneErr, "a shop whose zone cannot be read now fails the batch, to be retried")
	failing = false
	require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: analytics.Name, Fence: l.Fence, From: 0, To: 4}, func(ctx context.Context, tx store.ProjectionTx) error {
		return p.Apply(ctx, tx, events)
	}))
	got, err := s.EventCounts(ctx, store.EventCountQuery{})
	require.NoError(t, err)
	require.Equal(t, []store.EventCount{
		{Shop: "unknown", Type: "commerce.order.placed", Day: "2026-11-23", Count: 1},
		{Shop: "", Type: "io.storeflow.workflow.started", Day: "2026-11-24", Count: 1},
		{Shop: "jp", Type: "commerce.order.placed", Day: "2026-11-24", Count: 2},
	}, got, "unknown shops count in UTC; an event without a time counts when it was received")

	require.NoError(t, s.ResetFollower(ctx, analytics.Name, p.Reset))
	got, err = s.EventCounts(ctx, store.EventCountQuery{})
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	q, err := analytics.ParseQuery("acme", "commerce.order.placed", "2026-11-01", "2026-11-30")
	require.NoError(t, err)
	require.Equal(t, analytics.Query{Shop: "acme", Type: "commerce.order.placed", From: "2026-11-01", To: "2026-11-30"}, q)
	for _, bad := range [][2]string{{"2026-11", ""}, {"", "30.11.2026"}, {"2026-12-01", "2026-11-30"}} {
		_, err := analytics.ParseQuery("", "", bad[0], bad[1])
		require.Error(t, err, bad)
	}
}
