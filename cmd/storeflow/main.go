// Command storeflow is the storeflow workflow engine: it validates and runs
// Open Workflow DSL 1.0 workflows for online shops.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "run storeflow with a simulated shop, every template installed and mail to a local inbox", runDemo},
		{"serve", "run the API, event ingress and durable runtime on an embedded database", runServe},
		{"validate", "check workflow files and report every error as FILE:LINE:COL: message", runValidate},
		{"run", "run a workflow to its end in memory and print its output", runRun},
		{"test", "run pretests: scenarios on fictitious customers with a virtual clock, sending nothing", runTest},
		{"replay", "run a changed workflow in shadow over recorded events and compare with what live sent", runReplay},
		{"shop", "add, change, list and remove the shops a running storeflow serves", runShop},
		{"templates", "list the library of ready workflows and install them into a running storeflow", runTemplates},
		{"user", "add, list and remove the people who answer approval tasks", runUser},
		{"bench", "measure throughput, waiting instances, timer lag and ingestion", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "storeflow: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// flagExit is the exit status for a flag parsing error: --help is a success.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "storeflow: workflow automation for online stores (Open Workflow DSL 1.0)")
	fmt.Fprintln(w, "\nUsage: storeflow COMMAND [flags] [args]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'storeflow COMMAND --help' for the flags of a command.")
}
