package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

func TestRetentionFlag(t *testing.T) {
	for _, v := range []string{"-1h", "soon", "30d"} {
		code, _, errOut := run(t, "serve", "--retention", v)
		require.Equal(t, 2, code, v)
		require.Contains(t, errOut, "--retention", v)
	}
	t.Setenv("STOREFLOW_RETENTION", "bogus")
	code, _, errOut := run(t, "serve")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `--retention "bogus"`)
}

func TestServePrunesWithRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "storeflow.db")
	st, err := sqlite.Open(ctx, path)
	require.NoError(t, err)
	now := time.Now().UTC()
	_, err = st.AppendEvents(ctx, []store.Event{
		{ID: "old", Source: "shop", Type: "order.paid", ReceivedAt: now.Add(-48 * time.Hour)},
		{ID: "new", Source: "shop", Type: "order.paid", ReceivedAt: now},
	})
	require.NoError(t, err)
	require.NoError(t, st.Close())

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(serveCtx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--retention", "24h"}, &out, &logs)
	}()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"msg":"pruned events and history"`) },
		10*time.Second, 20*time.Millisecond, "serve prunes on start")
	stop()
	// Not its exit code: a runtime stopped while still loading reports the
	// cancellation as an error, which is no concern of this test.
	<-done

	st, err = sqlite.Open(ctx, path)
	require.NoError(t, err)
	defer st.Close()
	evs, err := st.ReadEvents(ctx, 0, "", 10)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "new", evs[0].ID)
}
