package connector_test

import (
	"context"
	"fmt"

	"github.com/storeflow/storeflow/connector"
)

// A built-in function is a declaration (name, version, argument schema)
// and the connector that performs it. Registered in the runtime's
// registry, workflows call it as `call: loyalty.points` or
// `call: loyalty.points:1.0.0@default`.
func ExampleRegistry_Define() {
	reg := connector.NewRegistry()
	points := connector.Func(func(ctx context.Context, req connector.Request) (any, error) {
		var args struct {
			Customer string  `json:"customer"`
			Amount   float64 `json:"amount"`
		}
		if err := connector.DecodeArgs(req, &args); err != nil {
			return nil, err
		}
		// A real connector passes req.IdempotencyKey to the service, so
		// that a repeated attempt credits the points once.
		return map[string]any{"customer": args.Customer, "points": int(args.Amount / 10)}, nil
	})
	err := reg.Define(connector.Builtin{
		Name:        "loyalty.points",
		Version:     "1.0.0",
		Description: "credits loyalty points for an order",
		Schema:      []byte(`{"type":"object","required":["customer","amount"],"properties":{"customer":{"type":"string"},"amount":{"type":"number"}}}`),
	}, points)
	if err != nil {
		panic(err)
	}

	check, _ := reg.Lookup("loyalty.points:1.0.0@default")
	fmt.Println("missing amount:", check(map[string]any{"customer": "ada"}) != nil)

	out, err := reg.Call(context.Background(), connector.Request{
		Kind: connector.KindFunction, Function: "loyalty.points",
		Args: map[string]any{"customer": "ada", "amount": 125.0}, IdempotencyKey: "instance-1/4",
	})
	fmt.Println(out, err)
	// Output:
	// missing amount: true
	// map[customer:ada points:12] <nil>
}
