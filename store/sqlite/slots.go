package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// backfillSlots gives timers and outbox rows written before slots existed
// the slot of their instance. It runs once, in the migration's transaction.
func backfillSlots(ctx context.Context, tx *sql.Tx) error {
	for _, table := range []string{"timers", "outbox"} {
		rows, err := tx.QueryContext(ctx, `SELECT id, instance_id FROM `+table+` WHERE slot < 0`)
		if err != nil {
			return fmt.Errorf("backfill %s slots: %w", table, err)
		}
		type row struct{ id, instance string }
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.instance); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range todo {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET slot = ? WHERE id = ?`, store.SlotOf(r.instance), r.id); err != nil {
				return fmt.Errorf("backfill %s slots: %w", table, err)
			}
		}
	}
	return nil
}

// ClaimSlots renews, gives back and takes slot leases (see store.Store).
// SQLite has one writer, so the write transaction alone makes it atomic.
func (s *Store) ClaimSlots(ctx context.Context, c store.Claim) (store.Grant, error) {
	if c.Node == "" || c.TTL <= 0 {
		return store.Grant{}, fmt.Errorf("claim slots: a node name and a positive TTL are required")
	}
	return s.claim(ctx, c)
}

func (s *Store) claim(ctx context.Context, c store.Claim) (store.Grant, error) {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return store.Grant{}, err
	}
	defer tx.rollback()
	now := time.Now().UnixNano()
	expires := now + c.TTL.Nanoseconds()
	if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`, c.Node, expires); err != nil {
		return store.Grant{}, fmt.Errorf("node heartbeat: %w", err)
	}
	var live int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE expires_at > ?`, now).Scan(&live); err != nil {
		return store.Grant{}, err
	}
	owned, err := querySlots(ctx, tx, `SELECT s.slot, s.fence, c.cursor FROM slots s JOIN slot_cursors c ON c.slot = s.slot WHERE s.owner = ?`, c.Node)
	if err != nil {
		return store.Grant{}, err
	}
	// Stale slots (see store.SplitHeld) are taken again first, under new
	// fences, or let go below.
	keep, stale := store.SplitHeld(owned, c.Held)
	share := store.FairShare(live)
	for _, l := range keep {
		if _, err := tx.ExecContext(ctx, `UPDATE slots SET expires_at = ? WHERE slot = ?`, expires, l.Slot); err != nil {
			return store.Grant{}, err
		}
	}
	need := share - len(keep)
	out := keep
	if need > 0 {
		free, err := querySlots(ctx, tx, `SELECT s.slot, s.fence, c.cursor FROM slots s JOIN slot_cursors c ON c.slot = s.slot
			WHERE s.owner = ? OR s.owner = '' OR s.expires_at <= ? ORDER BY s.owner = ? DESC, s.slot LIMIT ?`,
			c.Node, now, c.Node, need+len(owned))
		if err != nil {
			return store.Grant{}, err
		}
		for _, l := range free {
			if need == 0 {
				break
			}
			if containsSlot(keep, l.Slot) {
				continue
			}
			l.Fence++
			if _, err := tx.ExecContext(ctx, `UPDATE slots SET owner = ?, fence = ?, expires_at = ? WHERE slot = ?`, c.Node, l.Fence, expires, l.Slot); err != nil {
				return store.Grant{}, err
			}
			out = append(out, l)
			need--
		}
	}
	// Stale slots of this node not taken again are let go.
	for _, slot := range stale {
		if !containsSlot(out, slot) {
			if _, err := tx.ExecContext(ctx, `UPDATE slots SET owner = '', expires_at = 0 WHERE slot = ? AND owner = ?`, slot, c.Node); err != nil {
				return store.Grant{}, err
			}
		}
	}
	var free int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM slots WHERE owner = '' OR expires_at <= ?`, now).Scan(&free); err != nil {
		return store.Grant{}, err
	}
	if err := tx.commit(ctx); err != nil {
		return store.Grant{}, fmt.Errorf("claim slots: %w", err)
	}
	return store.Grant{Leases: out, Share: share, Free: free}, nil
}

func containsSlot(ls []store.Lease, slot int) bool {
	for _, l := range ls {
		if l.Slot == slot {
			return true
		}
	}
	return false
}

func querySlots(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, query string, args ...any) ([]store.Lease, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read slots: %w", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		if err := rows.Scan(&l.Slot, &l.Fence, &l.Cursor); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// ReleaseSlots gives leases back.
func (s *Store) ReleaseSlots(ctx context.Context, node string, slots []int) error {
	tx, err := s.w.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE slots SET owner = '', expires_at = 0 WHERE owner = ? AND ((? >> slot) & 1) = 1`, node, store.SlotMask(slots)); err != nil {
		return fmt.Errorf("release slots: %w", err)
	}
	if slots == nil {
		// Leaving: others count one node fewer at once.
		if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, node); err != nil {
			return fmt.Errorf("release slots: %w", err)
		}
	}
	return tx.commit(ctx)
}

// SaveSlotCursor records the matcher's position for the node's slots.
func (s *Store) SaveSlotCursor(ctx context.Context, node string, slots []int, seq int64) error {
	_, err := s.w.exec(ctx, `UPDATE slot_cursors SET cursor = MAX(cursor, ?)
		WHERE ((? >> slot) & 1) = 1 AND slot IN (SELECT slot FROM slots WHERE owner = ?)`, seq, store.SlotMask(slots), node)
	if err != nil {
		return fmt.Errorf("save slot cursors: %w", err)
	}
	return nil
}

// fences returns the current fence of every slot.
func fences(ctx context.Context, tx *wtx) ([store.Slots]int64, error) {
	var out [store.Slots]int64
	rows, err := tx.QueryContext(ctx, `SELECT slot, fence FROM slots`)
	if err != nil {
		return out, fmt.Errorf("read slot fences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var slot int
		var fence int64
		if err := rows.Scan(&slot, &fence); err != nil {
			return out, err
		}
		if slot >= 0 && slot < store.Slots {
			out[slot] = fence
		}
	}
	return out, rows.Err()
}

// SlotStates returns every slot.
func (s *Store) SlotStates(ctx context.Context) ([]store.SlotState, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT s.slot, s.fence, c.cursor, s.owner, s.expires_at FROM slots s JOIN slot_cursors c ON c.slot = s.slot ORDER BY s.slot`)
	if err != nil {
		return nil, fmt.Errorf("read slots: %w", err)
	}
	defer rows.Close()
	var out []store.SlotState
	for rows.Next() {
		var st store.SlotState
		var exp int64
		if err := rows.Scan(&st.Slot, &st.Fence, &st.Cursor, &st.Owner, &exp); err != nil {
			return nil, err
		}
		st.ExpiresAt = fromNanos(exp)
		out = append(out, st)
	}
	return out, rows.Err()
}
