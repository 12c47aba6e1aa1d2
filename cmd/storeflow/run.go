package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/semver"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	fl.SetOutput(stderr)
	input := fl.String("input", "", "workflow input: inline JSON, or @FILE with JSON or YAML")
	secrets := fl.String("secrets", "", "secrets the workflow may read as $secrets: @FILE with a JSON or YAML object")
	virtual := fl.Bool("virtual-clock", false, "jump time to each due timer instead of waiting (a 'wait 7 days' ends at once)")
	workflows := fl.String("workflows", "", "directory of workflows that `run: workflow` may start (default: the workflow file's directory)")
	timeout := fl.Duration("timeout", 0, "give up after this much real time (0: no limit)")
	exprLimits := exprLimitFlags(fl)
	var events listFlag
	fl.Var(&events, "event", "a CloudEvent (inline JSON or @FILE) delivered to the workflow's listens; repeatable")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow run FILE [--input JSON|@file] [--virtual-clock] [--event JSON|@file]... [--secrets @file] [--workflows DIR] [--timeout D]\n\nRuns the workflow to its end in memory and prints its output as JSON.\nA fault prints the problem details on stderr and exits with status 1.")
		fl.PrintDefaults()
	}
	if code := parseOneArg(fl, args); code >= 0 {
		return code
	}
	file := fl.Arg(0)
	limits, err := exprLimits()
	if err != nil {
		fmt.Fprintf(stderr, "storeflow run: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	calls := catalog.Default(catalog.Options{Logger: logger})
	wf, err := dsl.LoadFileWith(file, dsl.Options{Builtins: calls})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	in, err := readValue(*input)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow run: --input: %v\n", err)
		return 2
	}
	sec, err := readValue(*secrets)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow run: --secrets: %v\n", err)
		return 2
	}
	secMap, ok := sec.(map[string]any)
	if sec != nil && !ok {
		fmt.Fprintln(stderr, "storeflow run: --secrets must hold an object of named secrets")
		return 2
	}
	var evs []map[string]any
	for _, e := range events {
		v, err := readValue(e)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow run: --event: %v\n", err)
			return 2
		}
		m, ok := v.(map[string]any)
		if !ok {
			fmt.Fprintln(stderr, "storeflow run: --event must be a CloudEvent object with at least type and data")
			return 2
		}
		evs = append(evs, m)
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	var clk clock.Clock = clock.Real()
	var vc *clock.Virtual
	if *virtual {
		vc = clock.NewVirtual(time.Now().UTC())
		clk = vc
	}
	dir := *workflows
	if dir == "" {
		dir = filepath.Dir(file)
	}
	eng := engine.New(clk)
	eng.Secrets = secMap
	eng.Limits = limits
	eng.Builtins = calls
	eng.Logger = logger
	local := &engine.Local{
		Engine:     eng,
		Connectors: calls,
		Workflows:  directoryWorkflows(dir, calls),
		Events:     evs,
		Virtual:    vc,
	}
	res, err := local.Run(ctx, wf, in)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow run: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if res.Instance.Status == engine.StatusFaulted {
		errEnc := json.NewEncoder(stderr)
		errEnc.SetIndent("", "  ")
		_ = errEnc.Encode(res.Instance.Error)
		return 1
	}
	if err := enc.Encode(res.Instance.Output); err != nil {
		fmt.Fprintf(stderr, "storeflow run: write output: %v\n", err)
		return 1
	}
	return 0
}

// parseOneArg parses flags, which may also follow the argument, and
// requires exactly one argument. It returns an exit status when the command
// must stop, or -1.
func parseOneArg(fl *flag.FlagSet, args []string) int {
	if err := fl.Parse(reorderFlags(fl, args)); err != nil {
		return flagExit(err)
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	return -1
}

// readValue reads inline JSON or @FILE (JSON or YAML) into a JSON-compatible value.
func readValue(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	data := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		data = b
	}
	var v any
	if err := json.Unmarshal(data, &v); err == nil {
		return v, nil
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not valid JSON or YAML: %w", err)
	}
	return expr.Normalize(v), nil
}

// directoryWorkflows resolves child workflows among the files of dir.
func directoryWorkflows(dir string, builtins dsl.Builtins) func(engine.WorkflowRef) (*dsl.Workflow, error) {
	return func(ref engine.WorkflowRef) (*dsl.Workflow, error) {
		files, _ := workflowFiles([]string{dir})
		var candidates []*dsl.Workflow
		for _, f := range files {
			wf, err := dsl.LoadFileWith(f, dsl.Options{Builtins: builtins})
			if err != nil {
				continue
			}
			d := wf.Document
			if d.Namespace == ref.Namespace && d.Name == ref.Name && (ref.Version == "" || ref.Version == "latest" || d.Version == ref.Version) {
				candidates = append(candidates, wf)
			}
		}
		if len(candidates) == 0 {
			return nil, fmt.Errorf("workflow %s not found in %s", ref, dir)
		}
		best := candidates[0]
		for _, c := range candidates[1:] {
			if semver.Compare(c.Document.Version, best.Document.Version) > 0 {
				best = c
			}
		}
		return best, nil
	}
}
