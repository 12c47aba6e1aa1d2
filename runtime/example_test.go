package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// A runtime on an embedded SQLite store: publish a workflow that an event
// starts, send it the event, and read the finished instance's output.
func ExampleRuntime() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	dir, err := os.MkdirTemp("", "storeflow-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "storeflow.db"))
	if err != nil {
		panic(err)
	}
	defer st.Close()

	rt := runtime.New(runtime.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	defer func() { stop(); <-done }()

	_, _, err = rt.Publish(ctx, "thanks.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: thanks
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: commerce.order.placed}
do:
  - thank:
      set:
        to: ${ .customer.email }
        order: ${ .orderId }
`))
	if err != nil {
		panic(err)
	}
	env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "evt-1", "source": "shop.example", "type": "commerce.order.placed",
		"data": map[string]any{"orderId": "1042", "customer": map[string]any{"email": "ada@example.com"}}})
	if _, err := rt.Ingest(ctx, []store.Event{{ID: "evt-1", Source: "shop.example", Type: "commerce.order.placed", Envelope: env}}); err != nil {
		panic(err)
	}

	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		done, _ := st.ListInstances(ctx, store.InstanceQuery{Name: "thanks", Status: "completed", Limit: 1})
		if len(done) == 1 {
			in, _ := engine.Unmarshal(done[0].State)
			fmt.Println(in.Status, in.Output)
			return
		}
	}
	fmt.Println("the instance did not complete")
	// Output: completed map[order:1042 to:ada@example.com]
}
