package runtime

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// pausedList is a store whose first ListWorkflows takes its snapshot, then
// waits until released: a reload that read the workflows before another
// one's publish, and finishes after it.
type pausedList struct {
	store.Store
	listed, release chan struct{}
}

func (p *pausedList) ListWorkflows(ctx context.Context) ([]store.Workflow, error) {
	all, err := p.Store.ListWorkflows(ctx)
	if p.listed != nil {
		close(p.listed)
		p.listed = nil
		<-p.release
	}
	return all, err
}

func TestOverlappingReloadsKeepTheNewestWorkflows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	defer st.Close()
	listed := make(chan struct{})
	p := &pausedList{Store: st, listed: listed, release: make(chan struct{})}
	g := newRegistry(p, catalog.Default(catalog.Options{}))

	stale := make(chan error, 1)
	go func() { stale <- g.reload(ctx) }() // lists no workflow, then waits
	<-listed
	_, _, err = st.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "audit", Version: "1.0.0", Source: []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: audit
  version: '1.0.0'
schedule:
  on:
    one:
      with: {type: order.placed}
do:
  - note:
      set: {seen: true}
`)})
	require.NoError(t, err)
	fresh := make(chan error, 1)
	go func() { fresh <- g.reload(ctx) }() // the publish's reload
	close(p.release)
	require.NoError(t, <-stale)
	require.NoError(t, <-fresh)
	require.Len(t, g.triggersFor("order.placed"), 1, "the reload that saw the new workflow is the one that counts")
}
