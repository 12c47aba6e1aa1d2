package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/store"
)

// Subscriptions returns the subscriptions for an event type and key.
func (s *Store) Subscriptions(ctx context.Context, eventType, corrKey string) ([]store.Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, instance_id, event_type, corr_key, since, spec FROM subscriptions WHERE event_type = $1 AND corr_key = $2 ORDER BY id`, eventType, corrKey)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Subscription, error) {
		var sub store.Subscription
		var since int64
		err := r.Scan(&sub.ID, &sub.InstanceID, &sub.EventType, &sub.CorrKey, &since, &sub.Spec)
		sub.Since = fromNanos(since)
		return sub, err
	})
}

// SubscriptionTypes returns the event types subscriptions wait for.
func (s *Store) SubscriptionTypes(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT event_type FROM subscriptions ORDER BY event_type`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ListeningWorkflows returns the definitions with waiting subscriptions.
func (s *Store) ListeningWorkflows(ctx context.Context) ([][3]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT i.namespace, i.name, i.version FROM subscriptions s JOIN instances i ON i.id = s.instance_id ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
		var w [3]string
		return w, r.Scan(&w[0], &w[1], &w[2])
	})
}
