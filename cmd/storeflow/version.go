package main

import (
	"context"
	"fmt"
	"io"

	"github.com/storeflow/storeflow/engine"
)

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "storeflow %s (Open Workflow DSL %s)\n", engine.Version, "1.0.0–1.0.3")
	return 0
}
