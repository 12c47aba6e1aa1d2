package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/storeflow/storeflow/store"
)

// JoinStartGroup adds an event to the open start group of its workflow
// version and correlation key, opening the group when there is none.
func (s *Store) JoinStartGroup(ctx context.Context, j store.StartJoin) (store.StartGroup, bool, error) {
	if len(j.Slots) == 0 || j.Need <= 0 {
		return store.StartGroup{}, false, fmt.Errorf("join start group of %s/%s: no slots", j.Namespace, j.Name)
	}
	tx, err := s.w.begin(ctx)
	if err != nil {
		return store.StartGroup{}, false, err
	}
	defer tx.rollback()
	var gid string
	err = tx.QueryRowContext(ctx, `SELECT group_id FROM start_events WHERE namespace = ? AND name = ? AND source = ? AND id = ?`,
		j.Namespace, j.Name, j.Event.Source, j.Event.ID).Scan(&gid)
	if err == nil {
		g, err := loadStartGroup(ctx, tx, gid)
		return g, true, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.StartGroup{}, false, fmt.Errorf("find start group of event %s/%s: %w", j.Event.Source, j.Event.ID, err)
	}
	var g store.StartGroup
	err = tx.QueryRowContext(ctx, `SELECT id FROM start_groups WHERE namespace = ? AND name = ? AND version = ? AND corr_key = ? AND closed = 0`,
		j.Namespace, j.Name, j.Version, j.CorrKey).Scan(&gid)
	switch {
	case err == nil:
		if g, err = loadStartGroup(ctx, tx, gid); err != nil {
			return g, false, err
		}
	case errors.Is(err, sql.ErrNoRows):
		g = store.NewStartGroup(j)
		gid = g.ID
		if _, err := tx.ExecContext(ctx, `INSERT INTO start_groups (id, namespace, name, version, corr_key, closed, last_seq, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
			gid, j.Namespace, j.Name, j.Version, j.CorrKey, j.Event.Seq, nanos(g.CreatedAt)); err != nil {
			return g, false, fmt.Errorf("open start group of %s/%s: %w", j.Namespace, j.Name, err)
		}
	default:
		return g, false, fmt.Errorf("find open start group of %s/%s: %w", j.Namespace, j.Name, err)
	}
	slot := g.FreeSlot(j.Slots)
	if slot < 0 {
		return g, false, nil
	}
	ev := j.Event
	ev.Slot = slot
	if _, err := tx.ExecContext(ctx, `INSERT INTO start_events (group_id, slot, namespace, name, source, id, seq, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		gid, slot, j.Namespace, j.Name, ev.Source, ev.ID, ev.Seq, ev.Envelope); err != nil {
		return g, false, fmt.Errorf("add event %s/%s to start group %s: %w", ev.Source, ev.ID, gid, err)
	}
	g.Events = append(g.Events, ev)
	sort.Slice(g.Events, func(a, b int) bool { return g.Events[a].Slot < g.Events[b].Slot })
	g.Closed = len(g.Events) >= j.Need
	if _, err := tx.ExecContext(ctx, `UPDATE start_groups SET closed = ?, last_seq = MAX(last_seq, ?) WHERE id = ?`, g.Closed, ev.Seq, gid); err != nil {
		return g, false, fmt.Errorf("update start group %s: %w", gid, err)
	}
	return g, true, tx.commit(ctx)
}

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const startGroupColumns = `g.id, g.namespace, g.name, g.version, g.corr_key, g.closed, g.created_at, e.slot, e.seq, e.source, e.id, e.envelope`

func loadStartGroup(ctx context.Context, q rowsQueryer, id string) (store.StartGroup, error) {
	groups, err := scanStartGroups(q.QueryContext(ctx, `SELECT `+startGroupColumns+` FROM start_groups g JOIN start_events e ON e.group_id = g.id
		WHERE g.id = ? ORDER BY e.slot`, id))
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
func scanStartGroups(rows *sql.Rows, err error) ([]store.StartGroup, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.FoldStartGroups(rows)
}

// StartGroups returns a workflow's open start groups, oldest first.
func (s *Store) StartGroups(ctx context.Context, namespace, name string, limit int) ([]store.StartGroup, error) {
	groups, err := scanStartGroups(s.read.QueryContext(ctx, `SELECT `+startGroupColumns+` FROM start_groups g JOIN start_events e ON e.group_id = g.id
		WHERE g.id IN (SELECT id FROM start_groups WHERE namespace = ? AND name = ? AND closed = 0 ORDER BY created_at, id LIMIT ?)
		ORDER BY g.created_at, g.id, e.slot`, namespace, name, limit))
	if err != nil {
		return nil, fmt.Errorf("list start groups of %s/%s: %w", namespace, name, err)
	}
	return groups, nil
}

// PruneStartGroups deletes closed groups the matcher has passed.
func (s *Store) PruneStartGroups(ctx context.Context, seq int64) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	// Every slot's matcher must have passed the group: a node that takes a
	// slot over repeats the log from that slot's position.
	var low int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MIN(cursor), 0) FROM slot_cursors`).Scan(&low); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	seq = min(seq, low)
	if _, err := tx.ExecContext(ctx, `DELETE FROM start_events WHERE group_id IN (SELECT id FROM start_groups WHERE closed = 1 AND last_seq <= ?)`, seq); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM start_groups WHERE closed = 1 AND last_seq <= ?`, seq); err != nil {
		return fmt.Errorf("prune start groups: %w", err)
	}
	return tx.commit(ctx)
}
