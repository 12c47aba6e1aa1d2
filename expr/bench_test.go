package expr_test

import (
	"context"
	"testing"

	"github.com/itchyny/gojq"

	"github.com/storeflow/storeflow/expr"
)

// BenchmarkGuards compares expressions evaluated by plain gojq (with the
// input normalized, as Eval does) and through Compile, whose guards bound
// them.
func BenchmarkGuards(b *testing.B) {
	lines := make([]any, 100)
	for i := range lines {
		lines[i] = map[string]any{"sku": "TEE", "qty": i, "price": 5}
	}
	input := map[string]any{"lines": lines}
	for _, q := range []string{`[range(100000)] | length`, `.lines | map(.qty * .price) | add`, `[.lines[] | {sku, total: (.qty * .price)}] | length`, `"order \(.lines[0].sku) of \(.lines | length) lines"`} {
		b.Run("plain/"+q, func(b *testing.B) {
			query, _ := gojq.Parse(q)
			code, _ := gojq.Compile(query)
			for b.Loop() {
				code.RunWithContext(context.Background(), expr.Normalize(input)).Next()
			}
		})
		b.Run("guarded/"+q, func(b *testing.B) {
			e, err := expr.Compile(q, nil)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Eval(context.Background(), input, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
