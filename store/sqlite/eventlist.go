package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/storeflow/storeflow/store"
)

var _ store.EventQueries = (*Store)(nil)

// ListEvents returns logged events newest first.
func (s *Store) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	var where []string
	var args []any
	if q.Type != "" {
		where, args = append(where, "type = ?"), append(args, q.Type)
	}
	// The conditions <> '' let the planner use the partial indexes.
	if q.Shop != "" {
		where, args = append(where, "shop = ? AND shop <> ''"), append(args, q.Shop)
	}
	if q.Subject != "" {
		where, args = append(where, "subject = ? AND subject <> ''"), append(args, q.Subject)
	}
	if q.Before > 0 {
		where, args = append(where, "seq < ?"), append(args, q.Before)
	}
	query := `SELECT seq, id, source, type, subject, time, envelope, received_at, shop FROM events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	return s.queryEvents(ctx, query, append(args, eventPage(q.Limit))...)
}

func eventPage(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, store.MaxEventPage)
}

// EventInstances returns the instances events started or resumed.
func (s *Store) EventInstances(ctx context.Context, seqs []int64, perEvent int) ([]store.EventInstance, error) {
	if len(seqs) == 0 || perEvent <= 0 {
		return nil, nil
	}
	args := make([]any, 0, len(seqs)+1)
	for _, seq := range seqs {
		args = append(args, seq)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT seq, started, id, namespace, name, version, status FROM (
			SELECT l.seq, l.started, i.id, i.namespace, i.name, i.version, i.status,
				ROW_NUMBER() OVER (PARTITION BY l.seq ORDER BY l.instance_id) AS n
			FROM event_instances l JOIN instances i ON i.id = l.instance_id
			WHERE l.seq IN (?`+strings.Repeat(", ?", len(seqs)-1)+`))
		WHERE n <= ? ORDER BY seq DESC, id`, append(args, perEvent)...)
	if err != nil {
		return nil, fmt.Errorf("instances of %d events: %w", len(seqs), err)
	}
	defer rows.Close()
	var out []store.EventInstance
	for rows.Next() {
		var ei store.EventInstance
		if err := rows.Scan(&ei.Seq, &ei.Started, &ei.InstanceID, &ei.Namespace, &ei.Name, &ei.Version, &ei.Status); err != nil {
			return nil, err
		}
		out = append(out, ei)
	}
	return out, rows.Err()
}
