package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/store/storetest"
)

func open(t *testing.T) store.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "storeflow.db"))
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, open)
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "storeflow.db")
	s, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	_, err = s.AppendEvents(ctx, []store.Event{{ID: "1", Source: "shop", Type: "order.paid"}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	evs, err := s.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
}
