package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/storeflow/storeflow/bench"
	"github.com/storeflow/storeflow/runtime"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	instances := fl.Int("instances", 0, "instances to start (default: throughput 20000, waiting 1000000, timers 100000)")
	events := fl.Int("events", 0, "events to send (default: waiting 10000, ingest 200000)")
	clients := fl.Int("clients", 64, "concurrent HTTP clients (ingest)")
	dir := fl.String("dir", "", "keep the store in this directory (default: a temporary one, removed after)")
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	lifecycle := fl.String("lifecycle-events", "workflow", "lifecycle CloudEvents the runtime records: none, workflow or all")
	storeURL := fl.String("store", "", "postgres://… to run on PostgreSQL (in a fresh schema, dropped after) instead of SQLite")
	nodes := fl.Int("nodes", 1, "runtimes sharing the PostgreSQL store, each with its own connections (needs --store)")
	vsLimit := fl.Bool("vs-limit", true, "run the raw SQLite limit before and after the scenario and print the scenario's ratio to it")
	limitInstances := fl.Int("limit-instances", 0, "instances of each raw-limit run (default 20000)")
	names := make([]string, 0, len(bench.Scenarios))
	for name := range bench.Scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "Usage: storeflow bench [flags] SCENARIO\n\nScenarios: %s.\nEach runs against a fresh SQLite store, prints progress on stderr and one JSON line of figures on stdout.\nThe limit scenario is SQLite's raw limit on this machine for what an instance writes; the other scenarios run\nbetween two runs of it and print their figure's ratio to it (<figure>_to_limit), unless --vs-limit=false.\n", strings.Join(names, ", "))
		fl.PrintDefaults()
	}
	if code := parseOneArg(fl, args); code >= 0 {
		return code
	}
	name := fl.Arg(0)
	if _, ok := bench.Scenarios[name]; !ok {
		fmt.Fprintf(stderr, "storeflow bench: unknown scenario %q; choose one of %s\n", name, strings.Join(names, ", "))
		return 2
	}
	lc, err := runtime.ParseLifecycle(*lifecycle)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow bench: --lifecycle-events: %v\n", err)
		return 2
	}
	defaults := map[string][2]int{"throughput": {20000, 0}, "waiting": {1000000, 10000}, "timers": {100000, 0}, "ingest": {0, 200000}, "limit": {20000, 0}}
	if *nodes < 1 || *nodes > 1 && *storeURL == "" {
		fmt.Fprintln(stderr, "storeflow bench: --nodes must be at least 1, and above 1 only with --store postgres://…")
		return 2
	}
	cfg := bench.Config{Instances: *instances, Events: *events, Clients: *clients, Dir: *dir, Store: *storeURL, Lifecycle: lc, Nodes: *nodes, Progress: stderr, LimitInstances: *limitInstances}
	if cfg.Instances == 0 {
		cfg.Instances = defaults[name][0]
	}
	if cfg.Events == 0 {
		cfg.Events = defaults[name][1]
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "storeflow bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	run := bench.Scenarios[name]
	if *vsLimit {
		run = func(ctx context.Context, cfg bench.Config) (bench.Result, error) {
			return bench.RunVsLimit(ctx, name, cfg)
		}
	}
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow bench %s: %v\n", name, err)
		return 1
	}
	line, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(line))
	return 0
}
