package postgres_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
)

const week = postgres.PartitionPeriod

// openPartitioned opens a store in a fresh schema and a connection to that
// schema for looking at the catalog.
func openPartitioned(t *testing.T) (*postgres.Store, *pgx.Conn) {
	t.Helper()
	s := open(t).(*postgres.Store)
	t.Cleanup(func() { _ = s.Close() })
	conn, err := pgx.Connect(context.Background(), s.URL())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return s, conn
}

// monday names the week holding t as partitions are named.
func monday(t time.Time) string {
	t = t.UTC()
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)).Format("20060102")
}

func partitionNames(t *testing.T, conn *pgx.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`, table)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

// tableExists reports whether a table of that name is still in the schema,
// attached or not.
func tableExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var exists bool
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists))
	return exists
}

// eventPartition returns the partition holding the event with that seq.
func eventPartition(t *testing.T, conn *pgx.Conn, seq int64) string {
	t.Helper()
	var name string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT tableoid::regclass::text FROM events WHERE seq = $1`, seq).Scan(&name))
	return name
}

func historyPartitions(t *testing.T, conn *pgx.Conn, instanceID string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT tableoid::regclass::text FROM history WHERE instance_id = $1 ORDER BY seq`, instanceID)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func commitHistory(t *testing.T, s store.Store, id string, times ...time.Time) {
	t.Helper()
	ctx := context.Background()
	in := store.Instance{ID: id, Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{}`)}
	if got, err := s.GetInstance(ctx, id); err == nil {
		in.Rev = got.Rev
	}
	var hist []store.HistoryEntry
	for i, at := range times {
		hist = append(hist, store.HistoryEntry{Time: at, Type: "step", Task: strconv.Itoa(i)})
	}
	res, err := s.Commit(ctx, []store.Change{{Instance: in, History: hist}})
	require.NoError(t, err)
	require.NoError(t, res[0])
}

func TestRowsLandInWeeklyPartitions(t *testing.T) {
	t.Parallel()
	s, conn := openPartitioned(t)
	ctx := context.Background()
	now := time.Now().UTC()

	// Open prepared this week and the next two, and a default partition.
	for _, table := range []string{"events", "history"} {
		want := []string{table + "_default"}
		for i := range 3 {
			want = append(want, table+"_p"+monday(now.Add(time.Duration(i)*week)))
		}
		sort.Strings(want)
		require.Equal(t, want, partitionNames(t, conn, table))
	}

	evs, err := s.AppendEvents(ctx, []store.Event{
		{ID: "1", Source: "shop", Type: "order.paid", ReceivedAt: now},
		{ID: "2", Source: "shop", Type: "order.paid", ReceivedAt: now.Add(week)},
	})
	require.NoError(t, err)
	require.Equal(t, "events_p"+monday(now), eventPartition(t, conn, evs[0].Seq))
	require.Equal(t, "events_p"+monday(now.Add(week)), eventPartition(t, conn, evs[1].Seq))

	commitHistory(t, s, "i-1", now, now.Add(2*week))
	require.Equal(t, []string{"history_p" + monday(now), "history_p" + monday(now.Add(2*week))}, historyPartitions(t, conn, "i-1"))

	// The store keeps the log ordered across partitions.
	read, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, read, 2)
	require.Less(t, read[0].Seq, read[1].Seq)
}

func TestPruneDropsOldPartitions(t *testing.T) {
	t.Parallel()
	s, conn := openPartitioned(t)
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.Add(-10 * week)
	require.NoError(t, s.EnsurePartitions(ctx, old))
	oldParts := map[string]bool{}
	for i := range 3 {
		for _, table := range []string{"events", "history", "event_keys"} {
			name := table + "_p" + monday(old.Add(time.Duration(i)*week))
			oldParts[name] = true
			require.Contains(t, partitionNames(t, conn, table), name)
		}
	}

	ancient := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // in no weekly partition
	future := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)  // nor this
	evs, err := s.AppendEvents(ctx, []store.Event{
		{ID: "old-1", Source: "shop", Type: "t", ReceivedAt: old},
		{ID: "old-2", Source: "shop", Type: "t", ReceivedAt: old.Add(2 * week)},
		{ID: "new", Source: "shop", Type: "t", ReceivedAt: now},
		{ID: "ancient", Source: "shop", Type: "t", ReceivedAt: ancient},
		{ID: "future", Source: "shop", Type: "t", ReceivedAt: future},
	})
	require.NoError(t, err)
	require.Equal(t, "events_p"+monday(old), eventPartition(t, conn, evs[0].Seq))
	require.Equal(t, "events_default", eventPartition(t, conn, evs[3].Seq))
	commitHistory(t, s, "i-old", old, old.Add(week))
	commitHistory(t, s, "i-both", old, now)
	links := store.Instance{ID: "i-links", Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{}`)}
	res, err := s.Commit(ctx, []store.Change{{Instance: links, Events: []store.EventLink{{Seq: evs[0].Seq, Started: true}, {Seq: evs[1].Seq}, {Seq: evs[2].Seq}, {Seq: evs[3].Seq}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])

	pruned, err := s.Prune(ctx, now.Add(-5*week))
	require.NoError(t, err)
	got := map[string]bool{}
	for _, name := range pruned.Partitions {
		got[name] = true
	}
	require.Equal(t, oldParts, got, "exactly the partitions older than the cutoff are dropped")
	require.Equal(t, int64(1+3), pruned.Rows, "the ancient event is deleted from the default partition, and the links of the three events pruned")
	kept, err := s.EventInstances(ctx, []int64{evs[0].Seq, evs[1].Seq, evs[2].Seq, evs[3].Seq}, 10)
	require.NoError(t, err)
	require.Len(t, kept, 1)
	require.Equal(t, evs[2].Seq, kept[0].Seq, "the links of dropped partitions and deleted rows go with them")
	for name := range oldParts {
		require.False(t, tableExists(t, conn, name), "%s is dropped, not only detached", name)
	}
	require.Contains(t, partitionNames(t, conn, "events"), "events_p"+monday(now))
	require.Contains(t, partitionNames(t, conn, "history"), "history_p"+monday(now))

	read, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	var ids []string
	for _, ev := range read {
		ids = append(ids, ev.ID)
	}
	require.Equal(t, []string{"new", "future"}, ids)
	hist, err := s.History(ctx, "i-old")
	require.NoError(t, err)
	require.Empty(t, hist)
	hist, err = s.History(ctx, "i-both")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	require.Equal(t, int64(2), hist[0].Seq)

	again, err := s.Prune(ctx, now.Add(-5*week))
	require.NoError(t, err)
	require.Empty(t, again.Partitions)
	require.Zero(t, again.Rows)
}

func TestDedupeAcrossPartitions(t *testing.T) {
	t.Parallel()
	s, conn := openPartitioned(t)
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.Add(-3 * week)
	require.NoError(t, s.EnsurePartitions(ctx, old))

	first, err := s.AppendEvents(ctx, []store.Event{{ID: "a", Source: "shop", Type: "t", ReceivedAt: old}})
	require.NoError(t, err)
	require.False(t, first[0].Duplicate)
	// A copy received weeks later would land in another partition; a
	// unique index per partition could not see it, the lookup does.
	again, err := s.AppendEvents(ctx, []store.Event{
		{ID: "a", Source: "shop", Type: "t", ReceivedAt: now},
		{ID: "a", Source: "other", Type: "t", ReceivedAt: now},
		{ID: "b", Source: "shop", Type: "t", ReceivedAt: now},
		{ID: "b", Source: "shop", Type: "t", ReceivedAt: now},
	})
	require.NoError(t, err)
	require.True(t, again[0].Duplicate)
	require.Equal(t, first[0].Seq, again[0].Seq)
	require.True(t, again[0].ReceivedAt.Equal(old), "the first copy's receipt time")
	require.False(t, again[1].Duplicate, "another source is another event")
	require.False(t, again[2].Duplicate)
	require.True(t, again[3].Duplicate, "a copy within the same batch")
	require.Equal(t, again[2].Seq, again[3].Seq)

	// Appenders and committers racing on a new (source, id) log it once.
	const rounds, racers = 10, 12
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := store.Event{ID: fmt.Sprintf("race-%d", round), Source: "shop", Type: "t", ReceivedAt: now}
				<-start
				if i%3 != 0 {
					if _, err := s.AppendEvents(ctx, []store.Event{ev}); err != nil {
						t.Errorf("append: %v", err)
					}
					return
				}
				in := store.Instance{ID: fmt.Sprintf("emitter-%d-%d", round, i), Namespace: "shop", Name: "cart", Version: "1.0.0", Status: "running", State: []byte(`{}`)}
				if _, err := s.Commit(ctx, []store.Change{{Instance: in, Emit: []store.Event{ev}}}); err != nil {
					t.Errorf("commit: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
	}
	rows, err := conn.Query(ctx, `SELECT count(*) FROM events WHERE source = 'shop' AND id LIKE 'race-%' GROUP BY id`)
	require.NoError(t, err)
	counts, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	require.Len(t, counts, rounds)
	for _, n := range counts {
		require.Equal(t, int64(1), n)
	}
}

func TestAppendOutsidePreparedRange(t *testing.T) {
	t.Parallel()
	s, conn := openPartitioned(t)
	ctx := context.Background()
	past := time.Date(1999, 3, 4, 5, 6, 7, 0, time.UTC)
	future := time.Date(2200, 6, 7, 8, 9, 10, 0, time.UTC)

	evs, err := s.AppendEvents(ctx, []store.Event{
		{ID: "past", Source: "shop", Type: "t", ReceivedAt: past},
		{ID: "future", Source: "shop", Type: "t", ReceivedAt: future, Keys: []store.EventKey{{Name: "orderId", Shop: "acme", Value: "9"}}},
	})
	require.NoError(t, err, "rows no weekly partition covers go to the default partition")
	require.Equal(t, "events_default", eventPartition(t, conn, evs[0].Seq))
	require.Equal(t, "events_default", eventPartition(t, conn, evs[1].Seq))
	commitHistory(t, s, "i-1", past, future)
	require.Equal(t, []string{"history_default", "history_default"}, historyPartitions(t, conn, "i-1"))

	// When that week's partition is created, its rows move out of the
	// default partition, keeping their sequence numbers.
	require.NoError(t, s.EnsurePartitions(ctx, future))
	require.Equal(t, "events_p"+monday(future), eventPartition(t, conn, evs[1].Seq))
	require.Equal(t, "events_default", eventPartition(t, conn, evs[0].Seq))
	require.Equal(t, []string{"history_default", "history_p" + monday(future)}, historyPartitions(t, conn, "i-1"))
	var keyPart string
	require.NoError(t, conn.QueryRow(ctx, `SELECT tableoid::regclass::text FROM event_keys WHERE seq = $1`, evs[1].Seq).Scan(&keyPart))
	require.Equal(t, "event_keys_p"+monday(future), keyPart, "keys move with their events")
	byKey, err := s.EventsByKey(ctx, store.EventKey{Name: "orderId", Shop: "acme", Value: "9"}, nil, 10)
	require.NoError(t, err)
	require.Len(t, byKey, 1)
	require.Equal(t, evs[1].Seq, byKey[0].Seq)

	read, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, read, 2)
	require.Equal(t, evs[1].Seq, read[1].Seq)
	require.True(t, read[1].ReceivedAt.Equal(future))
	dup, err := s.AppendEvents(ctx, []store.Event{{ID: "future", Source: "shop", Type: "t"}, {ID: "next", Source: "shop", Type: "t"}})
	require.NoError(t, err)
	require.True(t, dup[0].Duplicate)
	require.Equal(t, evs[1].Seq, dup[0].Seq)
	require.Greater(t, dup[1].Seq, evs[1].Seq, "the sequence goes on after moved rows")
	hist, err := s.History(ctx, "i-1")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, []int64{1, 2}, []int64{hist[0].Seq, hist[1].Seq})
}

// TestLookupsUseIndexes shows that the queries that do not name the
// partition key still find their rows by index in every partition.
func TestLookupsUseIndexes(t *testing.T) {
	t.Parallel()
	_, conn := openPartitioned(t)
	ctx := context.Background()
	// With sequential scans priced out, a plan still shows one only where
	// no index serves the query.
	_, err := conn.Exec(ctx, `SET enable_seqscan = off`)
	require.NoError(t, err)
	for q, cond := range map[string]string{
		`SELECT seq, time, type, task, data FROM history WHERE instance_id = 'i-1' ORDER BY seq`:      "Index Cond: (instance_id = ",
		`SELECT COALESCE(MAX(seq), 0) FROM history WHERE instance_id = 'i-1'`:                         "Index Cond: ((instance_id = ",
		`SELECT seq, received_at FROM events WHERE source = 'shop' AND id = '1' ORDER BY seq LIMIT 1`: "Index Cond: ((source = ",
		`SELECT seq FROM events WHERE seq > 10 ORDER BY seq LIMIT 10`:                                 "Index Cond: (seq > 10)",
		`SELECT seq FROM events WHERE type = 't' AND seq > 10 ORDER BY seq LIMIT 10`:                  "Index Cond: ((type = ",
		`SELECT seq FROM events WHERE shop = 'acme' AND shop <> '' ORDER BY seq DESC LIMIT 10`:        "Index Cond: (shop = ",
		`SELECT seq FROM events WHERE subject = 'r1' AND subject <> '' ORDER BY seq DESC LIMIT 10`:    "Index Cond: (subject = ",
	} {
		rows, err := conn.Query(ctx, `EXPLAIN `+q)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		plan := strings.Join(lines, "\n")
		require.NotContains(t, plan, "Seq Scan", "%s:\n%s", q, plan)
		// The condition itself searches the index, in each of the four
		// partitions Open prepares (three weeks and the default).
		require.Equal(t, 4, strings.Count(plan, cond), "%s:\n%s", q, plan)
	}
}

// TestMigrationPartitionsExistingRows migrates a database written before
// partitioning and checks that its rows keep their numbers and land in
// weekly partitions.
func TestMigrationPartitionsExistingRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)

	// The schema as the migrations before partitioning left it.
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err)
		if version >= 5 {
			break
		}
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, string(body))
		require.NoError(t, err, f)
		_, err = conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, version)
		require.NoError(t, err)
	}
	w1 := time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC) // a Wednesday
	w2 := w1.Add(week)
	for i, at := range []time.Time{w1, w1.Add(time.Hour), w2, time.Unix(0, 0)} {
		_, err = conn.Exec(ctx, `INSERT INTO events (id, source, type, time, envelope, received_at) VALUES ($1, 'shop', 't', $2, '{}', $2)`, strconv.Itoa(i), at.UnixNano())
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO history (instance_id, seq, time, type) VALUES ('i-1', 1, $1, 'a'), ('i-1', 2, $2, 'b')`, w1.UnixNano(), w2.UnixNano())
	require.NoError(t, err)

	s, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	defer s.Close()

	rows, err := conn.Query(ctx, `SELECT seq, id, tableoid::regclass::text FROM events ORDER BY seq`)
	require.NoError(t, err)
	type placed struct {
		Seq       int64
		ID, Where string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[placed])
	require.NoError(t, err)
	require.Equal(t, []placed{
		{1, "0", "events_p20250303"},
		{2, "1", "events_p20250303"},
		{3, "2", "events_p20250310"},
		{4, "3", "events_default"}, // before the first Monday after the epoch
	}, got)
	require.Equal(t, []string{"history_p20250303", "history_p20250310"}, historyPartitions(t, conn, "i-1"))

	evs, err := s.AppendEvents(ctx, []store.Event{{ID: "2", Source: "shop", Type: "t"}, {ID: "fresh", Source: "shop", Type: "t"}})
	require.NoError(t, err)
	require.True(t, evs[0].Duplicate, "dedupe covers migrated events")
	require.Equal(t, int64(3), evs[0].Seq)
	require.Equal(t, int64(5), evs[1].Seq, "the sequence continues after the migrated events")
	hist, err := s.History(ctx, "i-1")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, "b", hist[1].Type)
}

// TestMaintenanceWhileAppending creates and drops partitions, moving rows
// out of the default partition, while events are appended and read: no
// append fails, none is lost, the log stays ordered.
func TestMaintenanceWhileAppending(t *testing.T) {
	t.Parallel()
	s, _ := openPartitioned(t)
	ctx := context.Background()
	now := time.Now().UTC()
	future := now.Add(20 * week) // no partition yet: the default takes them
	old := now.Add(-20 * week)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	appended := map[int64]bool{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				at := future.Add(time.Duration(i%8) * week)
				if i%2 == 0 {
					at = old.Add(time.Duration(i%4) * week)
				}
				evs, err := s.AppendEvents(ctx, []store.Event{{ID: fmt.Sprintf("%d-%d", w, i), Source: "shop", Type: "t", ReceivedAt: at}})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				if _, err := s.ReadEvents(ctx, 0, "t", 50); err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if i%2 != 0 {
					mu.Lock()
					appended[evs[0].Seq] = true
					mu.Unlock()
				}
			}
		}()
	}
	for i := range 6 {
		require.NoError(t, s.EnsurePartitions(ctx, future.Add(time.Duration(i)*week)))
		require.NoError(t, s.EnsurePartitions(ctx, old.Add(time.Duration(i%4)*week)))
		_, err := s.Prune(ctx, old.Add(4*week))
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()

	// Every event received in the future weeks is still there, once.
	var got []int64
	for after := int64(0); ; {
		evs, err := s.ReadEvents(ctx, after, "", 500)
		require.NoError(t, err)
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			require.Greater(t, ev.Seq, after)
			after = ev.Seq
			if !ev.ReceivedAt.Before(future) {
				got = append(got, ev.Seq)
			}
		}
	}
	require.Len(t, got, len(appended))
	for _, seq := range got {
		require.True(t, appended[seq], "seq %d", seq)
	}
}

// Commerce events logged before the event key index get their keys, in
// partitions beside their events', when the migration runs.
func TestMigrationIndexesTheKeysOfLoggedEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err)
		if version >= 30 {
			break
		}
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, string(body))
		require.NoError(t, err, f)
		_, err = conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, version)
		require.NoError(t, err)
	}
	w1 := time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC)
	_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE events_p20250303 PARTITION OF events FOR VALUES FROM (%d) TO (%d)`,
		time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC).UnixNano()))
	require.NoError(t, err)
	for i, env := range []string{
		`{"type":"commerce.order.placed","shop":"acme","data":{"shop":"acme","orderId":"1","checkoutToken":"c0ffee","customer":{"id":"7","email":" Ada@Example.com "}}}`,
		`{"type":"commerce.checkout.started","shop":"acme","data":{"checkoutToken":"c0ffee"}}`,
		`{"type":"commerce.order.paid","data":{"orderId":"1","checkoutToken":42}}`,
	} {
		_, err = conn.Exec(ctx, `INSERT INTO events (id, source, type, time, envelope, received_at) VALUES ($1, 'shop', 'commerce.order.placed', 0, $2, $3)`,
			strconv.Itoa(i), []byte(env), w1.UnixNano())
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO events (id, source, type, time, envelope, received_at) VALUES ('3', 'shop', 'order.placed', 0, 'not json', 0)`)
	require.NoError(t, err)

	s, err := postgres.Open(ctx, url)
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
	require.Equal(t, []int64{2, 1}, seqs(store.EventKey{Name: "checkoutToken", Shop: "acme", Value: "c0ffee"}))
	require.Equal(t, []int64{1}, seqs(store.EventKey{Name: "email", Shop: "acme", Value: "ada@example.com"}))
	require.Equal(t, []int64{1}, seqs(store.EventKey{Name: "customerId", Shop: "acme", Value: "7"}))
	require.Equal(t, []int64{3, 1}, seqs(store.EventKey{Name: "orderId", Value: "1"}))
	require.Empty(t, seqs(store.EventKey{Name: "checkoutToken", Value: "42"}))
	var where string
	require.NoError(t, conn.QueryRow(ctx, `SELECT DISTINCT tableoid::regclass::text FROM event_keys`).Scan(&where))
	require.Equal(t, "event_keys_p20250303", where, "keys sit in the partition of their events' week")
}

// A database from before the event list gets the shop of each logged
// event, and the instances events started (named in their state's origin)
// are listed with those events.
func TestMigrationListsEventsByShopAndTheirInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	require.NoError(t, err)
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		version, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		require.NoError(t, err)
		if version >= 75 {
			break
		}
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, string(body))
		require.NoError(t, err, f)
		_, err = conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, version)
		require.NoError(t, err)
	}
	for i, env := range []string{
		`{"type":"commerce.order.placed","shop":"bolt","data":{"shop":" acme ","orderId":"1"}}`,
		`{"type":"commerce.checkout.started","shop":"acme","data":{"checkoutToken":"c0ffee"}}`,
		`{"type":"custom","shop":"acme","data":"text"}`,
		`{"type":"custom","data":{"shop":7}}`,
		`not json "shop"`,
	} {
		_, err = conn.Exec(ctx, `INSERT INTO events (id, source, type, time, envelope, received_at) VALUES ($1, 'shop', 'x', 0, $2, 0)`, strconv.Itoa(i), []byte(env))
		require.NoError(t, err)
	}
	for id, state := range map[string]string{
		"i-1": `{"id":"i-1","origin":{"time":"2026-11-23T10:00:00Z","events":[2]}}`,
		"i-2": `{"id":"i-2","origin":{"time":"2026-11-23T10:00:00Z","events":[1,2]}}`,
		"i-3": `{"id":"i-3"}`,
		"i-4": `not json "origin"`,
	} {
		_, err = conn.Exec(ctx, `INSERT INTO instances (id, namespace, name, version, status, state, rev, created_at, updated_at) VALUES ($1, 'shop', 'cart', '1.0.0', 'running', $2, 1, 0, 0)`, id, []byte(state))
		require.NoError(t, err)
	}

	s, err := postgres.Open(ctx, url)
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
