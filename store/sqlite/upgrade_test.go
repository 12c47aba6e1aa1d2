package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
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

// Commerce events logged before the event key index get their keys when a
// data directory from before it is opened.
func TestUpgradeIndexesTheKeysOfLoggedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "storeflow.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	names, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	for _, name := range names {
		var v int
		_, err := fmt.Sscanf(filepath.Base(name), "%d_", &v)
		require.NoError(t, err)
		if v >= 30 {
			break
		}
		body, err := os.ReadFile(name)
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err, name)
		_, err = db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v)
		require.NoError(t, err)
	}
	for i, env := range []string{
		`{"type":"commerce.order.placed","shop":"acme","data":{"shop":"acme","orderId":"1","checkoutToken":"c0ffee","customer":{"id":"7","email":" Ada@Example.com "}}}`,
		`{"type":"commerce.checkout.started","shop":"acme","data":{"checkoutToken":"c0ffee"}}`,
		`{"type":"commerce.order.paid","data":{"orderId":"1","checkoutToken":42}}`,
		`not json`,
		`{"type":"order.placed","data":{"shop":"acme","checkoutToken":"c0ffee"}}`,
	} {
		typ := "commerce.order.placed"
		if i == 4 {
			typ = "order.placed"
		}
		_, err = db.Exec(`INSERT INTO events (id, source, type, time, envelope, received_at) VALUES (?, 'shop', ?, 0, CAST(? AS BLOB), 0)`, fmt.Sprint(i), typ, env)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	seqs := func(k store.EventKey) []int64 {
		evs, err := s.EventsByKey(ctx, k, nil, 10)
		require.NoError(t, err)
		out := []int64{}
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	require.Equal(t, []int64{2, 1}, seqs(store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}), "data.shop, else the shop attribute; only commerce events")
	require.Equal(t, []int64{1}, seqs(store.EventKey{Name: "email", Shop: "acme", Value: "ada@example.com"}), "emails normalised")
	require.Equal(t, []int64{1}, seqs(store.EventKey{Name: "customerId", Shop: "acme", Value: "7"}))
	require.Equal(t, []int64{3, 1}, seqs(store.EventKey{Name: "orderId", Value: "1"}), "an event of no shop is indexed under none")
	require.Empty(t, seqs(store.EventKey{Name: "checkoutToken", Value: "42"}), "only strings, as commerce events carry them")
}

// A data directory from before the event list gets the shop of each logged
// event, and the instances events started (named in their state's origin)
// are listed with those events.
func TestUpgradeListsEventsByShopAndTheirInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "storeflow.db")
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	names, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	for _, name := range names {
		var v int
		_, err := fmt.Sscanf(filepath.Base(name), "%d_", &v)
		require.NoError(t, err)
		if v >= 75 {
			break
		}
		body, err := os.ReadFile(name)
		require.NoError(t, err)
		_, err = db.Exec(string(body))
		require.NoError(t, err, name)
		_, err = db.Exec(`INSERT INTO schema_migrations VALUES (?, 0)`, v)
		require.NoError(t, err)
	}
	for i, env := range []string{
		`{"type":"commerce.order.placed","shop":"bolt","data":{"shop":" acme ","orderId":"1"}}`,
		`{"type":"commerce.checkout.started","shop":"acme","data":{"checkoutToken":"c0ffee"}}`,
		`{"type":"custom","shop":"acme","data":"text"}`,
		`{"type":"custom","data":{"shop":7}}`,
		`not json "shop"`,
	} {
		_, err = db.Exec(`INSERT INTO events (id, source, type, time, envelope, received_at) VALUES (?, 'shop', 'x', 0, CAST(? AS BLOB), 0)`, fmt.Sprint(i), env)
		require.NoError(t, err)
	}
	for id, state := range map[string]string{
		"i-1": `{"id":"i-1","origin":{"time":"2026-11-23T10:00:00Z","events":[2]}}`,
		"i-2": `{"id":"i-2","origin":{"time":"2026-11-23T10:00:00Z","events":[1,2]}}`,
		"i-3": `{"id":"i-3"}`,
		"i-4": `not json "origin"`,
	} {
		_, err = db.Exec(`INSERT INTO instances (id, namespace, name, version, status, state, rev, created_at, updated_at) VALUES (?, 'shop', 'cart', '1.0.0', 'running', CAST(? AS BLOB), 1, 0, 0)`, id, state)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	evs, err := s.ListEvents(ctx, store.EventQuery{Shop: "acme"})
	require.NoError(t, err)
	seqs := []int64{}
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
		require.Equal(t, "acme", e.Shop)
	}
	require.Equal(t, []int64{3, 2, 1}, seqs, "data.shop, else the shop attribute")
	links, err := s.EventInstances(ctx, []int64{1, 2, 3}, 10)
	require.NoError(t, err)
	got := []string{}
	for _, l := range links {
		require.True(t, l.Started)
		got = append(got, fmt.Sprintf("%d:%s", l.Seq, l.InstanceID))
	}
	require.Equal(t, []string{"2:i-1", "2:i-2", "1:i-2"}, got)
}
