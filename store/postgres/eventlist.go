package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

var _ store.EventQueries = (*Store)(nil)

// ListEvents returns logged events newest first.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Type != "" {
		where = append(where, "type = "+arg(q.Type))
	}
	// The conditions <> '' let the planner use the partial indexes.
	if q.Shop != "" {
		where = append(where, "shop = "+arg(q.Shop)+" AND shop <> ''")
	}
	if q.Subject != "" {
		where = append(where, "subject = "+arg(q.Subject)+" AND subject <> ''")
	}
	if q.Before > 0 {
		where = append(where, "seq < "+arg(q.Before))
	}
	query := `SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query += ` ORDER BY seq DESC LIMIT ` + arg(min(limit, store.MaxEventPage))
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return collectEvents(rows)
}

// EventInstances returns the instances events started or resumed.
func (s *Store) EventInstances(ctx context.Context, seqs []int64, perEvent int) ([]store.EventInstance, error) {
	if len(seqs) == 0 || perEvent <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT l.seq, l.started, i.id, i.namespace, i.name, i.version, i.status
		FROM unnest($1::bigint[]) AS e(seq)
		CROSS JOIN LATERAL (SELECT seq, started, instance_id FROM event_instances WHERE seq = e.seq ORDER BY instance_id LIMIT $2) l
		JOIN instances i ON i.id = l.instance_id
		ORDER BY l.seq DESC, i.id`, seqs, perEvent)
	if err != nil {
		return nil, fmt.Errorf("instances of %d events: %w", len(seqs), err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EventInstance, error) {
		var ei store.EventInstance
		err := r.Scan(&ei.Seq, &ei.Started, &ei.InstanceID, &ei.Namespace, &ei.Name, &ei.Version, &ei.Status)
		return ei, err
	})
}
