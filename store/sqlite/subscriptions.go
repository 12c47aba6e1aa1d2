package sqlite

import (
	"context"

	"github.com/storeflow/storeflow/store"
)

// Subscriptions returns the subscriptions for an event type and key.
func (s *Store) Subscriptions(ctx context.Context, eventType, corrKey string) ([]store.Subscription, error) {
	rows, err := s.query(ctx, `SELECT id, instance_id, event_type, corr_key, since, spec FROM subscriptions WHERE event_type = ? AND corr_key = ? ORDER BY id`, eventType, corrKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Subscription
	for rows.Next() {
		var sub store.Subscription
		var since int64
		if err := rows.Scan(&sub.ID, &sub.InstanceID, &sub.EventType, &sub.CorrKey, &since, &sub.Spec); err != nil {
			return nil, err
		}
		sub.Since = fromNanos(since)
		out = append(out, sub)
	}
	return out, rows.Err()
}

// SubscriptionTypes returns the event types subscriptions wait for.
func (s *Store) SubscriptionTypes(ctx context.Context) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT event_type FROM subscriptions ORDER BY event_type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// ListeningWorkflows returns the definitions with waiting subscriptions.
func (s *Store) ListeningWorkflows(ctx context.Context) ([][3]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT i.namespace, i.name, i.version FROM subscriptions s JOIN instances i ON i.id = s.instance_id ORDER BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][3]string
	for rows.Next() {
		var w [3]string
		if err := rows.Scan(&w[0], &w[1], &w[2]); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
