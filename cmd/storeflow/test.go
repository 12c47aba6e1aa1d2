package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/storeflow/storeflow/pretest"
)

// testReport is what `storeflow test --json` prints.
type testReport struct {
	Passed  int              `json:"passed"`
	Failed  int              `json:"failed"`
	Errors  []*pretest.Error `json:"errors"`
	Results []pretest.Result `json:"results"`
}

func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("test", flag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "print a JSON report: passed, failed, errors of files that do not load, and per scenario its failures, calls and instances")
	only := fl.String("run", "", "run only the scenario of this name")
	verbose := fl.Bool("v", false, "name every scenario with its outcome, not only the failed ones")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow test [--json] [--run NAME] [-v] FILE|DIR...\n\nRuns pretests: the scenarios of NAME.test.yaml files (directories are searched),\neach on a fresh store with a virtual clock and recording connectors, so that\nnothing is sent. Prints every failed expectation as FILE:LINE: what happened\ninstead, then \"N passed, N failed\". Exit status 1 when any fails.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return flagExit(err)
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	files, loadErrs := testFiles(fl.Args())
	rep := testReport{Errors: []*pretest.Error{}, Results: []pretest.Result{}}
	rep.Errors = append(rep.Errors, loadErrs...)
	found := false
	for _, file := range files {
		f, err := pretest.LoadFile(file)
		if err != nil {
			var errs pretest.Errors
			if errors.As(err, &errs) {
				rep.Errors = append(rep.Errors, errs...)
			} else {
				rep.Errors = append(rep.Errors, &pretest.Error{File: file, Message: errorText(err)})
			}
			continue
		}
		results := pretest.RunFile(ctx, f, pretest.Options{Run: *only})
		if len(results) > 0 {
			found = true
		}
		for _, r := range results {
			if r.Passed {
				rep.Passed++
			} else {
				rep.Failed++
			}
			if !*asJSON {
				printResult(stdout, r, *verbose)
			}
		}
		rep.Results = append(rep.Results, results...)
	}
	if *only != "" && !found && len(rep.Errors) == 0 {
		rep.Errors = append(rep.Errors, &pretest.Error{File: strings.Join(fl.Args(), " "), Message: fmt.Sprintf("no scenario is named %q", *only)})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		for _, e := range rep.Errors {
			fmt.Fprintln(stdout, e.Error())
		}
		summary := fmt.Sprintf("%d passed, %d failed", rep.Passed, rep.Failed)
		if len(rep.Errors) > 0 {
			summary += fmt.Sprintf(", %d file error(s)", len(rep.Errors))
		}
		fmt.Fprintln(stdout, summary)
	}
	if rep.Failed > 0 || len(rep.Errors) > 0 {
		return 1
	}
	return 0
}

func printResult(w io.Writer, r pretest.Result, verbose bool) {
	if r.Passed {
		if verbose {
			fmt.Fprintf(w, "ok   %s:%d: %s (%s of virtual time in %s)\n", r.File, r.Line, r.Scenario, pretest.FormatOffset(r.Span), r.Took.Round(1e6))
		}
		return
	}
	fmt.Fprintf(w, "FAIL %s:%d: %s\n", r.File, r.Line, r.Scenario)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  %s\n", f)
	}
}

// testFiles expands directories into the pretest files (*.test.yaml,
// *.test.yml) they hold; a file named explicitly is always taken.
func testFiles(args []string) ([]string, []*pretest.Error) {
	var files []string
	var errs []*pretest.Error
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, &pretest.Error{File: arg, Message: "cannot read: " + errorText(err)})
			continue
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		_ = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &pretest.Error{File: path, Message: "cannot read: " + errorText(err)})
				return nil
			}
			if d.IsDir() && path != arg && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if name := strings.ToLower(d.Name()); !d.IsDir() && (strings.HasSuffix(name, ".test.yaml") || strings.HasSuffix(name, ".test.yml")) {
				files = append(files, path)
			}
			return nil
		})
	}
	sort.Strings(files)
	return files, errs
}
