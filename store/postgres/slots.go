package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

// dbNow reads the database's clock: leases are compared across nodes, so
// they must all use one clock.
const dbNow = `SELECT (extract(epoch from clock_timestamp()) * 1000000000)::bigint`

// backfillSlots gives timers and outbox rows written before slots existed
// the slot of their instance, in the migration's transaction.
func backfillSlots(ctx context.Context, tx pgx.Tx) error {
	for _, table := range []string{"timers", "outbox"} {
		rows, err := tx.Query(ctx, `SELECT id, instance_id FROM `+table+` WHERE slot < 0`)
		if err != nil {
			return fmt.Errorf("backfill %s slots: %w", table, err)
		}
		todo, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
			var v [2]string
			return v, r.Scan(&v[0], &v[1])
		})
		if err != nil {
			return fmt.Errorf("backfill %s slots: %w", table, err)
		}
		for _, r := range todo {
			if _, err := tx.Exec(ctx, `UPDATE `+table+` SET slot = $1 WHERE id = $2`, store.SlotOf(r[1]), r[0]); err != nil {
				return fmt.Errorf("backfill %s slots: %w", table, err)
			}
		}
	}
	return nil
}

// ClaimSlots renews, gives back and takes slot leases (see store.Store).
// Free and expired slots are taken FOR UPDATE SKIP LOCKED, so nodes
// claiming at once take different slots instead of queueing on each other.
func (s *Store) ClaimSlots(ctx context.Context, c store.Claim) (store.Grant, error) {
	if c.Node == "" || c.TTL <= 0 {
		return store.Grant{}, fmt.Errorf("claim slots: a node name and a positive TTL are required")
	}
	return s.claim(ctx, c)
}

func (s *Store) claim(ctx context.Context, c store.Claim) (store.Grant, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return store.Grant{}, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var now int64
	if err := tx.QueryRow(ctx, dbNow).Scan(&now); err != nil {
		return store.Grant{}, err
	}
	expires := now + c.TTL.Nanoseconds()
	// A node joins with its first heartbeat, or its first since the last
	// expired: the others are told at once (on commit), so that they hand
	// back what is above their new share without waiting for a renewal.
	var joined bool
	if err := tx.QueryRow(ctx, `WITH prev AS (SELECT expires_at FROM nodes WHERE id = $1)
		INSERT INTO nodes (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
		RETURNING COALESCE((SELECT expires_at FROM prev), 0) <= $3`, c.Node, expires, now).Scan(&joined); err != nil {
		return store.Grant{}, fmt.Errorf("node heartbeat: %w", err)
	}
	if joined {
		if err := s.notify(ctx, tx, store.TopicSlots); err != nil {
			return store.Grant{}, err
		}
	}
	var live int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM nodes WHERE expires_at > $1`, now).Scan(&live); err != nil {
		return store.Grant{}, err
	}
	owned, err := leases(ctx, tx, `SELECT s.slot, s.fence, c.cursor FROM slots s JOIN slot_cursors c ON c.slot = s.slot
		WHERE s.owner = $1 ORDER BY s.slot FOR UPDATE OF s`, c.Node)
	if err != nil {
		return store.Grant{}, err
	}
	// Stale slots are let go here and taken again below, first of all,
	// under new fences. stale is never nil: NULL arrays make ANY() NULL.
	keep, stale := store.SplitHeld(owned, c.Held)
	want := store.FairShare(live)
	if len(stale) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE slots SET owner = '', expires_at = 0 WHERE slot = ANY($1) AND owner = $2`, stale, c.Node); err != nil {
			return store.Grant{}, err
		}
	}
	kept := []int{}
	for _, l := range keep {
		kept = append(kept, l.Slot)
	}
	if _, err := tx.Exec(ctx, `UPDATE slots SET expires_at = $1 WHERE slot = ANY($2)`, expires, kept); err != nil {
		return store.Grant{}, err
	}
	out := keep
	if need := want - len(keep); need > 0 {
		// Its own stale slots first, so that a restarted node gets back
		// what it had.
		taken, err := leases(ctx, tx, `UPDATE slots s SET owner = $1, fence = s.fence + 1, expires_at = $2 FROM slot_cursors c
			WHERE c.slot = s.slot AND s.slot IN (
				SELECT slot FROM slots WHERE (owner = '' OR expires_at <= $3) AND NOT (slot = ANY($4))
				ORDER BY slot = ANY($5) DESC, slot LIMIT $6 FOR UPDATE SKIP LOCKED)
			RETURNING s.slot, s.fence, c.cursor`, c.Node, expires, now, kept, stale, need)
		if err != nil {
			return store.Grant{}, err
		}
		out = append(out, taken...)
	}
	var free int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM slots WHERE owner = '' OR expires_at <= $1`, now).Scan(&free); err != nil {
		return store.Grant{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return store.Grant{}, fmt.Errorf("claim slots: %w", err)
	}
	return store.Grant{Leases: out, Share: want, Free: free}, nil
}

func leases(ctx context.Context, q querier, query string, args ...any) ([]store.Lease, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Lease, error) {
		var l store.Lease
		return l, r.Scan(&l.Slot, &l.Fence, &l.Cursor)
	})
}

// ReleaseSlots gives leases back, and tells the other nodes.
func (s *Store) ReleaseSlots(ctx context.Context, node string, slots []int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `UPDATE slots SET owner = '', expires_at = 0 WHERE owner = $1 AND (($2::bigint >> slot) & 1) = 1`, node, store.SlotMask(slots)); err != nil {
		return fmt.Errorf("release slots: %w", err)
	}
	if slots == nil {
		// Leaving: others count one node fewer at once.
		if _, err := tx.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, node); err != nil {
			return fmt.Errorf("release slots: %w", err)
		}
	}
	// The others claim the free slots as soon as this commits.
	if err := s.notify(ctx, tx, store.TopicSlots); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// SaveSlotCursor records the matcher's position for the node's slots.
func (s *Store) SaveSlotCursor(ctx context.Context, node string, slots []int, seq int64) error {
	// The leases are held FOR SHARE, in slot order like commits' fence
	// checks, so a takeover cannot slip between the check and the write.
	_, err := s.pool.Exec(ctx, `WITH mine AS (
			SELECT slot FROM slots WHERE owner = $2 AND (($3::bigint >> slot) & 1) = 1 ORDER BY slot FOR SHARE)
		UPDATE slot_cursors SET cursor = GREATEST(cursor, $1) WHERE slot IN (SELECT slot FROM mine)`, seq, node, store.SlotMask(slots))
	if err != nil {
		return fmt.Errorf("save slot cursors: %w", err)
	}
	return nil
}

// lockFences reads the fences of the slots that fenced changes name, and
// holds them FOR SHARE until the commit: a takeover (which updates the
// row) waits for the commit, or the commit sees the new fence.
func lockFences(ctx context.Context, tx pgx.Tx, changes []store.Change) (map[int]int64, error) {
	var slots []int
	seen := map[int]bool{}
	for _, c := range changes {
		if c.Fence == 0 {
			continue
		}
		if slot := store.SlotOf(c.Instance.ID); !seen[slot] {
			seen[slot] = true
			slots = append(slots, slot)
		}
	}
	if len(slots) == 0 {
		return nil, nil
	}
	ls, err := leases(ctx, tx, `SELECT slot, fence, 0 FROM slots WHERE slot = ANY($1) ORDER BY slot FOR SHARE`, slots)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(ls))
	for _, l := range ls {
		out[l.Slot] = l.Fence
	}
	return out, nil
}

// SlotStates returns every slot.
func (s *Store) SlotStates(ctx context.Context) ([]store.SlotState, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.slot, s.fence, c.cursor, s.owner, s.expires_at FROM slots s JOIN slot_cursors c ON c.slot = s.slot ORDER BY s.slot`)
	if err != nil {
		return nil, fmt.Errorf("read slots: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.SlotState, error) {
		var st store.SlotState
		var exp int64
		err := r.Scan(&st.Slot, &st.Fence, &st.Cursor, &st.Owner, &exp)
		st.ExpiresAt = fromNanos(exp)
		return st, err
	})
}
