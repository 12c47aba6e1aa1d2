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
