package runtime_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
)

// backend opens an empty store of one kind for a test; the store closes
// when the test ends.
type backend struct {
	name string
	open func(t *testing.T) store.Store
}

// backends are the stores the runtime's behaviour tests run against: one
// end-to-end suite for both, as storetest is for the store itself. Each
// PostgreSQL test has a schema of its own; under CI=true an unreachable
// PostgreSQL fails the test (pgtest), elsewhere it skips it.
var backends = []backend{
	{name: "sqlite", open: func(t *testing.T) store.Store {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
	{name: "postgres", open: func(t *testing.T) store.Store {
		_, url := pgtest.Schema(t)
		// Tests run side by side on one server: fewer connections than a
		// node's default, which a test's few instances do not need.
		st, err := postgres.Open(context.Background(), url+"&pool_max_conns=6")
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}},
}

// TestMain runs more tests at once than the default of one per core: the
// behaviour tests mostly wait, on the store and on polls of virtual time,
// and each runs twice, once per backend. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, 2*goruntime.GOMAXPROCS(0))))
	}
	os.Exit(m.Run())
}

// eachStore runs test once per backend, as parallel subtests named after
// it (TestX/sqlite, TestX/postgres).
func eachStore(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// eachStoreInTurn is eachStore for the tests that run alone: one backend
// after the other.
func eachStoreInTurn(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}
