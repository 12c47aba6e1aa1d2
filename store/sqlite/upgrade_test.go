package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// A data directory from before slots existed keeps its timers, outbox and
// matcher position when it is opened by this version.
func TestUpgradeGivesOldRowsTheirSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "storeflow.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	for v, name := range []string{"", "0001_init.sql", "0002_cursors.sql"} {
		if name == "" {
			continue
		}
		body, err := os.ReadFile(filepath.Join("migrations", name))
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v)
		require.NoError(t, err)
	}
	due := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	_, err = db.Exec(`INSERT INTO timers (id, instance_id, due) VALUES ('t1', '0190a0b0-0000-7000-8000-0000000000c5', ?)`, due.UnixNano())
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO outbox (id, instance_id, kind, payload, next_at) VALUES ('o1', '0190a0b0-0000-7000-8000-000000000007', 'call', '{}', ?)`, due.UnixNano())
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO cursors (name, seq) VALUES ('matcher', 1234)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	slotT, slotO := store.SlotOf("0190a0b0-0000-7000-8000-0000000000c5"), store.SlotOf("0190a0b0-0000-7000-8000-000000000007")
	require.Equal(t, 5, slotT)
	timers, err := s.DueTimers(ctx, []int{slotT}, time.Time{}, "", due, 10)
	require.NoError(t, err)
	require.Len(t, timers, 1)
	out, err := s.Outbox(ctx, []int{slotO}, due, 10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	out, err = s.Outbox(ctx, []int{slotT}, due, 10)
	require.NoError(t, err)
	require.Empty(t, out)
	g, err := s.ClaimSlots(ctx, store.Claim{Node: "local", TTL: time.Minute})
	require.NoError(t, err)
	require.Len(t, g.Leases, store.Slots)
	for _, l := range g.Leases {
		require.Equal(t, int64(1234), l.Cursor, "every slot starts where the matcher was")
	}
}
