package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
)

// An instance advances until it blocks; the runtime performs the effects and
// feeds completions back, possibly to a copy restored in another process.
func ExampleEngine_Resume() {
	wf, err := dsl.Load("followup.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: review-request
  version: '1.0.0'
do:
  - afterDelivery:
      wait: P7D
  - ask:
      set:
        email: ${ .email }
        template: review-request
`))
	if err != nil {
		panic(err)
	}
	vc := clock.NewVirtual(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	e := engine.New(vc)
	ctx := context.Background()

	tr := e.Start(ctx, wf, "order-1042", map[string]any{"email": "ada@example.com"})
	timer := tr.Effects[0]
	fmt.Println(tr.Instance.Status, timer.Kind, timer.Due.Format(time.DateOnly))

	saved, _ := tr.Instance.Marshal()
	restored, _ := engine.Unmarshal(saved)
	vc.Set(timer.Due)
	tr = e.Resume(ctx, wf, restored, engine.Completion{Effect: timer.ID})
	fmt.Println(tr.Instance.Status, tr.Instance.Output)
	// Output:
	// waiting timer 2026-11-08
	// completed map[email:ada@example.com template:review-request]
}
