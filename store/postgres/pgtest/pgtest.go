// Package pgtest gives tests a PostgreSQL schema of their own, so that
// tests run in parallel against one server. Under CI=true an unreachable
// server fails the test; elsewhere it skips it.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/storeflow/storeflow/internal/ci"
)

// ServerURL is the PostgreSQL the tests use: STOREFLOW_TEST_POSTGRES, or the
// local server on 127.0.0.1:5432.
func ServerURL() string {
	if u := os.Getenv("STOREFLOW_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var reachable = sync.OnceValue(func() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return err
	}
	return conn.Close(ctx)
})

// Schema creates a fresh schema, dropped when the test ends, and returns
// its name and a URL whose connections use it.
func Schema(t testing.TB) (name, url string) {
	t.Helper()
	if err := reachable(); err != nil {
		if ci.Enabled() {
			t.Fatalf("PostgreSQL at %s is unreachable and CI=true requires it: %v", ServerURL(), err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set STOREFLOW_TEST_POSTGRES to run these tests", err)
	}
	ctx := context.Background()
	name = fmt.Sprintf("storeflow_test_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000))
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		_ = admin.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(ServerURL(), "?") {
		sep = "&"
	}
	return name, ServerURL() + sep + "search_path=" + name
}
