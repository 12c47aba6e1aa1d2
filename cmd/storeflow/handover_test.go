package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
)

// TestServeHandsSlotsOver starts two `storeflow serve` processes, one after
// the other, on one fresh PostgreSQL schema with the default lease TTL, and
// measures how long the second waits for its half of the slots, and how
// long it waits for the rest once the first stops (SIGTERM). Both are
// reported; the bound asserted only proves that neither waits for a
// renewal period (a third of the 10 s TTL) or for the leases to expire.
func TestServeHandsSlotsOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	t.Parallel()
	schema, url := pgtest.Schema(t)
	bin := buildBinary(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.ServerURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	slots := pgx.Identifier{schema, "slots"}.Sanitize()
	held := func(node string) int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, `SELECT COUNT(*) FROM `+slots+` WHERE owner = $1`, node).Scan(&n))
		return n
	}
	// waitFor polls the slots table (to measure, not to synchronise: the
	// nodes act on their own) until node holds want slots.
	waitFor := func(node string, want int, since time.Time, logs func() string) time.Duration {
		deadline := since.Add(20 * time.Second)
		for held(node) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d slots, not %d, after 20 s\n%s", node, held(node), want, logs())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(since)
	}

	a := startServe(t, bin, freeAddr(t), "--store", url, "--node", "a", "--data-dir", t.TempDir())
	defer a.kill()
	waitFor("a", store.Slots, time.Now(), a.out.String)
	joined := time.Now()
	b := startServe(t, bin, freeAddr(t), "--store", url, "--node", "b", "--data-dir", t.TempDir())
	defer b.kill()
	logs := func() string { return fmt.Sprintf("--- a\n%s--- b\n%s", a.out, b.out) }
	ready := time.Since(joined)
	split := waitFor("b", store.Slots/2, joined, logs)
	require.Equal(t, store.Slots/2, held("a"), logs())

	left := time.Now()
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	all := waitFor("b", store.Slots, left, logs)
	require.NoError(t, a.cmd.Wait())
	t.Logf("b ready %v after it started; b held %d slots %v after it started; b held all %v after a was told to stop", ready.Round(time.Millisecond), store.Slots/2, split.Round(time.Millisecond), all.Round(time.Millisecond))
	// Generous for a loaded machine; the renewal period alone is 3.3 s.
	require.Less(t, split-ready, 3*time.Second, "handover to the joining node")
	require.Less(t, all, 3*time.Second, "handover from the leaving node")
}
