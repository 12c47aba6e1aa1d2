package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/storetest"
)

// serverURL is the PostgreSQL the tests use; each test gets a schema of its
// own in it, so that tests run in parallel.
func serverURL() string {
	if u := os.Getenv("STOREFLOW_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var reachable = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		return err
	}
	return conn.Close(ctx)
})

// open returns a store in a fresh schema. PostgreSQL must be reachable under
// CI=true; elsewhere its absence skips the test.
func open(t *testing.T) store.Store {
	t.Helper()
	if err := reachable(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at %s is unreachable and CI=true requires it: %v", serverURL(), err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set STOREFLOW_TEST_POSTGRES to run these tests", err)
	}
	ctx := context.Background()
	schema := fmt.Sprintf("storeflow_test_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000))
	admin, err := pgx.Connect(ctx, serverURL())
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close(context.Background())
	})
	s, err := postgres.Open(ctx, serverURL()+"&search_path="+schema)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	first := open(t).(*postgres.Store)
	defer first.Close()
	// Several nodes starting at once on an already migrated schema: the
	// advisory lock serialises them and none applies a migration twice.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), first.URL())
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
	// LISTEN takes effect asynchronously: send until the first arrives.
	require.Eventually(t, func() bool {
		_, err := b.AppendEvents(ctx, []store.Event{{ID: fmt.Sprint(time.Now().UnixNano()), Source: "shop", Type: "order.paid"}})
		require.NoError(t, err)
		select {
		case topic := <-topics:
			return topic == store.TopicEvents
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}, 10*time.Second, 10*time.Millisecond)
	for len(topics) > 0 {
		<-topics
	}
	_, err = other.AppendEvents(ctx, []store.Event{{ID: "x", Source: "shop", Type: "order.paid"}})
	require.NoError(t, err)
	_, _, err = b.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "w", Version: "1.0.0", Source: []byte("x")})
	require.NoError(t, err)
	select {
	case topic := <-topics:
		require.Equal(t, store.TopicWorkflows, topic, "the other schema's event is not heard here")
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the workflow change")
	}

	// A terminated connection is replaced, and the node told to resync.
	var killed int
	require.NoError(t, b.Pool().QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND query LIKE '%' || current_schema() || '%' AND pid <> pg_backend_pid()`).Scan(&killed))
	require.Equal(t, 1, killed)
	select {
	case topic := <-topics:
		require.Equal(t, store.TopicResync, topic)
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after the connection was terminated")
	}
}
