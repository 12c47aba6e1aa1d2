package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/storetest"
)

// open returns a store in a fresh schema (see pgtest).
func open(t *testing.T) store.Store {
	t.Helper()
	_, url := pgtest.Schema(t)
	s, err := postgres.Open(context.Background(), url)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Nodes starting together on a fresh schema: the advisory lock lets
	// one migrate while the others wait; without it they race through
	// the same CREATE statements and schema_migrations inserts.
	_, url := pgtest.Schema(t)
	const nodes = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, nodes)
	for range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, err := postgres.Open(ctx, url)
			if err == nil {
				_ = s.Close()
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "every node opens the fresh schema")
	}
	s, err := postgres.Open(ctx, url)
	require.NoError(t, err)
	defer s.Close()
	var rows, versions int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions))
	require.Equal(t, versions, rows, "no migration recorded twice")
	require.Equal(t, len(postgres.Migrations()), rows, "every migration applied once")

	// Opening an already migrated schema, several at once, changes nothing.
	errs = make(chan error, nodes)
	for range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url)
			if err == nil {
				_ = s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var again int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&again))
	require.Equal(t, rows, again)
}

// A node is told at once of events and workflow changes other nodes commit,
// and only of those in its own schema.
func TestNotifications(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := open(t).(*postgres.Store)
	other := open(t).(*postgres.Store)
	b, err := postgres.Open(ctx, a.URL())
	require.NoError(t, err)
	defer b.Close()

	topics := make(chan string, 16)
	listening, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.Listen(listening, func(topic string) { topics <- topic }) }()
	next := func(what string) string {
		t.Helper()
		select {
		case topic := <-topics:
			return topic
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification: %s", what)
			return ""
		}
	}
	require.Equal(t, store.TopicResync, next("listening"), "once listening, the node is told to catch up")
	_, err = b.AppendEvents(ctx, []store.Event{{ID: "e1", Source: "shop", Type: "order.paid"}})
	require.NoError(t, err)
	require.Equal(t, store.TopicEvents, next("events"))
	_, err = other.AppendEvents(ctx, []store.Event{{ID: "x", Source: "shop", Type: "order.paid"}})
	require.NoError(t, err)
	_, _, err = b.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "w", Version: "1.0.0", Source: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, store.TopicWorkflows, next("workflow change"), "the other schema's event is not heard here")

	// A node joining and slots given back are told at once; a renewal is not.
	g, err := b.ClaimSlots(ctx, store.Claim{Node: "n1", TTL: time.Minute})
	require.NoError(t, err)
	require.Equal(t, store.TopicSlots, next("a node joined"))
	held := map[int]int64{}
	for _, l := range g.Leases {
		held[l.Slot] = l.Fence
	}
	_, err = b.ClaimSlots(ctx, store.Claim{Node: "n1", Held: held, TTL: time.Minute})
	require.NoError(t, err)
	require.NoError(t, b.ReleaseSlots(ctx, "n1", []int{0}))
	require.Equal(t, store.TopicSlots, next("slots given back"), "the renewal before told nothing")

	// An answered task wakes its call: the node holding it is told.
	res, err := b.Commit(ctx, []store.Change{{Instance: store.Instance{ID: "i1", Namespace: "shop", Name: "w", Version: "1.0.0", Status: "waiting", State: []byte(`{}`)},
		AddOutbox: []store.OutboxItem{{ID: "i1/1", InstanceID: "i1", Kind: "call", Payload: []byte(`{}`), NextAt: time.Now()}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	tk, _, err := b.CreateTask(ctx, store.TaskChange{Task: store.TaskRecord{ID: "t1", CallID: "i1/1", Shop: "acme", Title: "x", Role: "admin", Status: store.TaskOpen}})
	require.NoError(t, err)
	tk.Status = store.TaskCompleted
	require.NoError(t, b.UpdateTask(ctx, store.TaskChange{Task: tk, Wake: time.Now()}))
	require.Equal(t, store.TopicOutbox, next("a task answered"))

	// A terminated connection is replaced, and the node told to resync.
	var killed int
	require.NoError(t, b.Pool().QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%' AND pid <> pg_backend_pid()`).Scan(&killed))
	require.Equal(t, 1, killed)
	require.Equal(t, store.TopicResync, next("resync after the connection was cut"))
}
