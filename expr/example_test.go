package expr_test

import (
	"context"
	"fmt"

	"github.com/storeflow/storeflow/expr"
)

func ExampleCompile() {
	e, err := expr.Compile(`${ [.lines[] | .price * .qty] | add }`, nil)
	if err != nil {
		panic(err)
	}
	total, _ := e.Eval(context.Background(), map[string]any{"lines": []any{
		map[string]any{"price": 10, "qty": 2},
		map[string]any{"price": 5, "qty": 1},
	}}, nil)
	fmt.Println(total)
	// Output: 25
}
