package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/storeflow/storeflow/engine"
)

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("version", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow version\n\nPrints storeflow's version and the Open Workflow DSL versions it reads.")
	}
	if err := fl.Parse(args); err != nil {
		return flagExit(err)
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "storeflow version: takes no arguments, got %q\n", fl.Args())
		fl.Usage()
		return 2
	}
	fmt.Fprintf(stdout, "storeflow %s (Open Workflow DSL %s)\n", engine.Version, "1.0.0–1.0.3")
	return 0
}
