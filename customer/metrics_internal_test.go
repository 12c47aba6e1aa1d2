package customer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// The metrics kept up event by event are those computed from all the
// orders, whatever the order of the events.
func TestIncrementalMetricsMatchARecount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []store.Event
	for i := range 400 {
		order := fmt.Sprint(rng.IntN(60))
		data := map[string]any{"shop": "acme", "orderId": order, "occurredAt": commerce.Timestamp(t0.Add(time.Duration(rng.IntN(1000)) * time.Hour))}
		cur := []string{"EUR", "USD"}[rng.IntN(2)]
		typ := []string{"commerce.order.placed", "commerce.order.paid", "commerce.order.fulfilled", "commerce.order.cancelled", "commerce.refund.created"}[rng.IntN(5)]
		if rng.IntN(10) == 0 {
			typ = "commerce.order.cancelled"
		} else if typ == "commerce.order.cancelled" {
			typ = "commerce.order.placed"
		}
		if typ == "commerce.refund.created" {
			data["refundId"], data["currency"], data["amount"] = fmt.Sprint("r", rng.IntN(30)), cur, fmt.Sprintf("%d.%02d", rng.IntN(20), rng.IntN(100))
		} else {
			data["currency"], data["totalPrice"] = cur, fmt.Sprintf("%d.%d", rng.IntN(300), rng.IntN(10))
			data["customer"] = map[string]any{"email": fmt.Sprintf("c%d@example.com", rng.IntN(3))}
		}
		e, err := commerce.NewEvent(typ, fmt.Sprint("e", i), "", data)
		require.NoError(t, err)
		e.Source = "test://acme"
		env, err := e.Envelope()
		require.NoError(t, err)
		evs = append(evs, store.Event{Seq: int64(i + 1), ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time, Envelope: env})
	}
	l, err := s.LeaseFollower(ctx, Name, "n", 0, time.Minute)
	require.NoError(t, err)
	p := &Projection{}
	pos := int64(0)
	for len(evs) > 0 {
		n := min(len(evs), 1+rng.IntN(40))
		require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: Name, Fence: l.Fence, From: pos, To: pos + int64(n)}, func(ctx context.Context, tx store.ProjectionTx) error {
			return p.Apply(ctx, tx, evs[:n])
		}))
		pos += int64(n)
		evs = evs[n:]
	}
	profiles, err := s.ListCustomers(ctx, store.CustomerQuery{Shop: "acme"})
	require.NoError(t, err)
	require.NotEmpty(t, profiles)
	require.NoError(t, s.CommitFollower(ctx, store.FollowerBatch{Name: Name, Fence: l.Fence, From: pos, To: pos}, func(ctx context.Context, tx store.ProjectionTx) error {
		for _, r := range profiles {
			kept, err := open(r)
			require.NoError(t, err)
			rows, err := tx.Customers().CustomerOrders(ctx, r.ID)
			require.NoError(t, err)
			var orders []*order
			for _, row := range rows {
				o := &order{}
				require.NoError(t, json.Unmarshal(row.Data, o))
				orders = append(orders, o)
			}
			recount := &Profile{}
			require.NoError(t, recount.metricsOf(orders))
			require.Equal(t, recount.Metrics, kept.Metrics, "profile %s", r.ID)
			require.Equal(t, recount.Metrics.Orders, r.Orders)
			require.Equal(t, recount.Metrics.LastOrderAt, r.LastOrderAt)
		}
		return nil
	}))
}
