package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
)

const relayFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: relay
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with:
        type: checkout.started
do:
  - awaitOrder:
      listen:
        to:
          one:
            with:
              type: order.placed
            correlate:
              cart:
                from: .data.cartId
                expect: ${ .cartId }
      output:
        as: '{cart: .[0].cartId}'
`

// node is one runtime among several sharing a store.
type node struct {
	rt   *runtime.Runtime
	stop context.CancelFunc
	done chan error
}

func startNode(t *testing.T, st store.Store, vc *clock.Virtual, name string) *node {
	rt := runtime.New(runtime.Options{Store: st, Clock: vc, Shards: 4, Node: name, LeaseTTL: 1500 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{rt: rt, stop: cancel, done: make(chan error, 1)}
	go func() { n.done <- rt.Run(ctx) }()
	t.Cleanup(n.shutdown)
	return n
}

func (n *node) shutdown() {
	if n.stop != nil {
		n.stop()
		<-n.done
		n.stop = nil
	}
}

// Two nodes share the work: each advances only the instances of its slots,
// events logged through either reach every waiting instance, one node can
// cancel the other's instance, and when a node leaves the other takes its
// instances over.
func TestNodesShareWork(t *testing.T) {
	t.Parallel()
	eachStore(t, testNodesShareWork)
}

func testNodesShareWork(t *testing.T, be backend) {
	ctx := context.Background()
	st := be.open(t)
	_, _, err := st.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "relay", Version: "1.0.0", Source: []byte(relayFlow)})
	require.NoError(t, err)
	vc := clock.NewVirtual(epoch)
	a := startNode(t, st, vc, "a")
	b := startNode(t, st, vc, "b")
	eventually(t, "the slots split between a and b", func() bool {
		return len(a.rt.Slots()) == store.Slots/2 && len(b.rt.Slots()) == store.Slots/2
	})

	const carts = 40
	nodes := []*node{a, b}
	for i := range carts {
		ingest(t, nodes[i%2].rt, "checkout.started", fmt.Sprintf("s%d", i), map[string]any{"cartId": fmt.Sprintf("c%d", i)})
	}
	eventually(t, "every cart waiting", func() bool { return len(list(t, st, "waiting")) == carts })
	require.Len(t, list(t, st, ""), carts, "each event started one instance across both nodes")
	perNode := map[bool]int{}
	for _, in := range list(t, st, "") {
		perNode[containsInt(a.rt.Slots(), store.SlotOf(in.ID))]++
	}
	require.Positive(t, perNode[true], "a started some")
	require.Positive(t, perNode[false], "b started some")

	// a cancels one of b's instances: b does it.
	var theirs string
	for _, in := range list(t, st, "waiting") {
		if containsInt(b.rt.Slots(), store.SlotOf(in.ID)) {
			theirs = in.ID
			break
		}
	}
	require.NoError(t, a.rt.Cancel(ctx, theirs, "customer asked"))
	got, err := st.GetInstance(ctx, theirs)
	require.NoError(t, err)
	require.Equal(t, "cancelled", got.Status)

	// Orders for half the carts, logged through a only.
	for i := range carts / 2 {
		ingest(t, a.rt, "order.placed", fmt.Sprintf("o%d", i), map[string]any{"cartId": fmt.Sprintf("c%d", i)})
	}
	in, err := engine.Unmarshal(got.State)
	require.NoError(t, err)
	var cancelled int
	_, err = fmt.Sscanf(in.Input.([]any)[0].(map[string]any)["data"].(map[string]any)["cartId"].(string), "c%d", &cancelled)
	require.NoError(t, err)
	firstHalf := carts / 2
	if cancelled < carts/2 {
		firstHalf--
	}
	eventually(t, "the first half of the carts completed", func() bool { return len(list(t, st, "completed")) == firstHalf })

	// b leaves; a takes every slot and serves b's waiting instances.
	b.shutdown()
	eventually(t, "a holds every slot", func() bool { return len(a.rt.Slots()) == store.Slots })
	for i := carts / 2; i < carts; i++ {
		ingest(t, a.rt, "order.placed", fmt.Sprintf("o%d", i), map[string]any{"cartId": fmt.Sprintf("c%d", i)})
	}
	eventually(t, "every cart done", func() bool { return len(list(t, st, "waiting")) == 0 })
	require.Len(t, list(t, st, "completed"), carts-1)
	require.Len(t, list(t, st, "cancelled"), 1)
	for _, in := range list(t, st, "completed") {
		hist, err := st.History(ctx, in.ID)
		require.NoError(t, err)
		n := 0
		for _, h := range hist {
			if h.Type == "workflow.completed" {
				n++
			}
		}
		require.Equal(t, 1, n, "instance %s completed once", in.ID)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ingest(t *testing.T, rt *runtime.Runtime, typ, id string, data any) {
	t.Helper()
	raw, err := json.Marshal(data)
	require.NoError(t, err)
	env := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test","type":%q,"data":%s}`, id, typ, string(raw))
	_, err = rt.Ingest(context.Background(), []store.Event{{ID: id, Source: "test", Type: typ, Envelope: []byte(env)}})
	require.NoError(t, err)
}

func list(t *testing.T, st store.Store, status string) []store.Instance {
	t.Helper()
	out, err := st.ListInstances(context.Background(), store.InstanceQuery{Status: status, Limit: 1000})
	require.NoError(t, err)
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
