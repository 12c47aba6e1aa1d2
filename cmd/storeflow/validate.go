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
	"strings"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/dsl"
)

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("validate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	asJSON := fl.Bool("json", false, "print the errors as a JSON array of {file, line, column, path, message}")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow validate [--json] FILE|DIR...\n\nFlags may come before or after the files. Checks workflow definitions (.yaml, .yml, .json; directories are searched).\nExit status 0 when all are valid, 1 when any is not.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(reorderFlags(fl, args)); err != nil {
		return flagExit(err)
	}
	if fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	files, errs := workflowFiles(fl.Args())
	builtins := catalog.Default(catalog.Options{})
	for _, file := range files {
		if _, err := dsl.LoadFileWith(file, dsl.Options{Builtins: builtins}); err != nil {
			var list dsl.Errors
			if errors.As(err, &list) {
				errs = append(errs, list...)
				continue
			}
			errs = append(errs, &dsl.Error{File: file, Pos: dsl.Pos{Line: 1, Column: 1}, Message: err.Error()})
		}
	}
	if *asJSON {
		if errs == nil {
			errs = dsl.Errors{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(errs)
	} else {
		for _, e := range errs {
			fmt.Fprintln(stdout, e.Error())
		}
		if len(errs) == 0 {
			fmt.Fprintf(stderr, "%d workflow file(s) valid\n", len(files))
		}
	}
	if len(errs) > 0 {
		return 1
	}
	return 0
}

// workflowFiles expands directories into the workflow files they hold.
func workflowFiles(args []string) ([]string, dsl.Errors) {
	var files []string
	var errs dsl.Errors
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, &dsl.Error{File: arg, Pos: dsl.Pos{Line: 1, Column: 1}, Message: "cannot read: " + errorText(err)})
			continue
		}
		if !info.IsDir() {
			files = append(files, arg)
			continue
		}
		_ = filepath.WalkDir(arg, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, &dsl.Error{File: path, Pos: dsl.Pos{Line: 1, Column: 1}, Message: "cannot read: " + errorText(err)})
				return nil
			}
			if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != arg {
				return filepath.SkipDir
			}
			if !d.IsDir() && isWorkflowFile(path) {
				files = append(files, path)
			}
			return nil
		})
	}
	return files, errs
}

// isWorkflowFile tells the files a directory scan treats as workflows. Data
// kept beside workflows is named *.input.json, *.event.json or *.test.yaml
// and is skipped; a file named explicitly is always checked.
func isWorkflowFile(path string) bool {
	lower := strings.ToLower(path)
	switch filepath.Ext(lower) {
	case ".yaml", ".yml", ".json":
		for _, data := range []string{".input.", ".event.", ".test.", ".secrets."} {
			if strings.Contains(filepath.Base(lower), data) {
				return false
			}
		}
		return true
	}
	return false
}

func errorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
