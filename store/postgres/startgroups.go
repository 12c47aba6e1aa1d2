package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storeflow/storeflow/store"
)

// JoinStartGroup adds an event to the open start group of its workflow
// version and correlation key, opening the group when there is none.
func (s *Store) JoinStartGroup(ctx context.Context, j store.StartJoin) (store.StartGroup, bool, error) {
	if len(j.Slots) == 0 || j.Need <= 0 {
		return store.StartGroup{}, false, fmt.Errorf("join start group of %s/%s: no slots", j.Namespace, j.Name)
	}
	// Two nodes joining the same event at once collide on a unique index;
	// the second attempt then finds the event in the first one's group.
	for attempt := 0; ; attempt++ {
		g, joined, err := s.joinStartGroup(ctx, j)
		var pgErr *pgconn.PgError
		if attempt < 3 && errors.As(err, &pgErr) && pgErr.Code == "23505" {
			continue
		}
		return g, joined, err
	}
}

func (s *Store) joinStartGroup(ctx context.Context, j store.StartJoin) (store.StartGroup, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.StartGroup{}, false, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var gid string
	err = tx.QueryRow(ctx, `SELECT group_id FROM start_events WHERE namespace = $1 AND name = $2 AND source = $3 AND id = $4`,
		j.Namespace, j.Name, j.Event.Source, j.Event.ID).Scan(&gid)
	if err == nil {
		g, err := loadStartGroup(ctx, tx, gid)
		return g, true, err
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.StartGroup{}, false, fmt.Errorf("find start group of event %s/%s: %w", j.Event.Source, j.Event.ID, err)
	}
	var g store.StartGroup
	for g.ID == "" {
		// FOR UPDATE: joins to one group take turns, so two cannot fill the
		// same slot or both miss closing it.
		err = tx.QueryRow(ctx, `SELECT id FROM start_groups WHERE namespace = $1 AND name = $2 AND version = $3 AND corr_key = $4 AND NOT closed FOR UPDATE`,
			j.Namespace, j.Name, j.Version, j.CorrKey).Scan(&gid)
		switch {
		case err == nil:
			if g, err = loadStartGroup(ctx, tx, gid); err != nil {
				return g, false, err
			}
		case errors.Is(err, pgx.ErrNoRows):
			// When another transaction opens the same group first, this
			// insert waits for it and does nothing; the next round finds
			// that group.
			tag, err := tx.Exec(ctx, `INSERT INTO start_groups (id, namespace, name, version, corr_key, closed, last_seq, created_at) VALUES ($1, $2, $3, $4, $5, false, $6, $7)
				ON CONFLICT (namespace, name, version, corr_key) WHERE NOT closed DO NOTHING`,
				j.GroupID, j.Namespace, j.Name, j.Version, j.CorrKey, j.Event.Seq, nanos(store.NewStartGroup(j).CreatedAt))
			if err != nil {
				return g, false, fmt.Errorf("open start group of %s/%s: %w", j.Namespace, j.Name, err)
			}
			if tag.RowsAffected() == 1 {
				g = store.NewStartGroup(j)
				gid = g.ID
			}
		default:
			return g, false, fmt.Errorf("find open start group of %s/%s: %w", j.Namespace, j.Name, err)
		}
	}
	slot := g.FreeSlot(j.Slots)
	if slot < 0 {
		return g, false, nil
	}
	ev := j.Event
	ev.Slot = slot
	if _, err := tx.Exec(ctx, `INSERT INTO start_events (group_id, slot, namespace, name, source, id, seq, envelope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		gid, slot, j.Namespace, j.Name, ev.Source, ev.ID, ev.Seq, ev.Envelope); err != nil {
		return g, false, fmt.Errorf("add event %s/%s to start group %s: %w", ev.Source, ev.ID, gid, err)
	}
	g.Events = append(g.Events, ev)
	sort.Slice(g.Events, func(a, b int) bool { return g.Events[a].Slot < g.Events[b].Slot })
	g.Closed = len(g.Events) >= j.Need
	if _, err := tx.Exec(ctx, `UPDATE start_groups SET closed = $1, last_seq = GREATEST(last_seq, $2) WHERE id = $3`, g.Closed, ev.Seq, gid); err != nil {
		return g, false, fmt.Errorf("update start group %s: %w", gid, err)
	}
	return g, true, tx.Commit(ctx)
}

const startGroupColumns = `g.id, g.namespace, g.name, g.version, g.corr_key, g.closed, g.created_at, e.slot, e.seq, e.source, e.id, e.envelope`

func loadStartGroup(ctx context.Context, q querier, id string) (store.StartGroup, error) {
	groups, err := scanStartGroups(q.Query(ctx, `SELECT `+startGroupColumns+` FROM start_groups g JOIN start_events e ON e.group_id = g.id
		WHERE g.id = $1 ORDER BY e.slot`, id))
	if err != nil {
		return store.StartGroup{}, fmt.Errorf("load start group %s: %w", id, err)
	}
	if len(groups) == 0 {
		return store.StartGroup{}, fmt.Errorf("start group %s: %w", id, store.ErrNotFound)
	}
	return groups[0], nil
}

// scanStartGroups folds rows of startGroupColumns, ordered by group, into
// groups.
func scanStartGroups(rows pgx.Rows, err error) ([]store.StartGroup, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.FoldStartGroups(rows)
}

// StartGroups returns a workflow's open start groups, oldest first.
func (s *Store) StartGroups(ctx context.Context, namespace, name string, limit int) ([]store.StartGroup, error) {
	groups, err := scanStartGroups(s.pool.Query(ctx, `SELECT `+startGroupColumns+` FROM start_groups g JOIN start_events e ON e.group_id = g.id
		WHERE g.id IN (SELECT id FROM start_groups WHERE namespace = $1 AND name = $2 AND NOT closed ORDER BY created_at, id LIMIT $3)
		ORDER BY g.created_at, g.id, e.slot`, namespace, name, limit))
	if err != nil {
		return nil, fmt.Errorf("list start groups of %s/%s: %w", namespace, name, err)
	}
	return groups, nil
}

// PruneStartGroups deletes closed groups the matcher has passed.
func (s *Store) PruneStartGroups(ctx context.Context, seq int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Every slot's matcher must have passed the group: a node that takes a
	// slot over repeats the log from that slot's position.
	var low int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MIN(cursor), 0) FROM slot_cursors`).Scan(&low); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	seq = min(seq, low)
	if _, err := tx.Exec(ctx, `DELETE FROM start_events WHERE group_id IN (SELECT id FROM start_groups WHERE closed AND last_seq <= $1)`, seq); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM start_groups WHERE closed AND last_seq <= $1`, seq); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	return tx.Commit(ctx)
}
