// Command mutation checks that the test suite guards storeflow's core
// promises: it makes each deliberate bug of the list below, one at a
// time, in a temporary copy of the source tree (never in the working
// tree), runs the tests of the package the bug is in, and prints which
// bugs the tests caught and which survived. It exits 1 when one survived,
// or no longer applies to the code (the code moved: update the list).
//
//	go run ./mutation            # every mutation, the package's whole tests
//	go run ./mutation -only fence -focus
//
// With -focus only the tests named as the guards of each mutation run,
// which is quicker but proves less: the guard may catch it and nothing else.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// A mutation replaces one piece of code by a deliberate bug.
type mutation struct {
	name string
	bug  string // what the bug breaks, as a reader would say it
	file string
	old  string // must occur exactly once in file
	new  string
	pkg  string // the package whose tests must catch it
	// guards are the tests meant to catch it (for -focus and the report).
	guards string
}

var mutations = []mutation{
	{
		name: "idempotency-key", bug: "the idempotency key changes on every attempt of an outbox call",
		file: "runtime/outbox.go",
		old:  "req.Attempt = o.Attempts + 1\n",
		new:  "req.Attempt = o.Attempts + 1\n\t\treq.IdempotencyKey = fmt.Sprintf(\"%s#%d\", req.IdempotencyKey, req.Attempt)\n",
		pkg:  "./runtime/", guards: "TestRepeatedCallKeepsItsKey",
	},
	{
		name: "overdue-timers", bug: "timers that came due while a node was down are never loaded (loading starts at now)",
		file: "runtime/timers.go",
		old:  `afterDue, afterID, lastScan = time.Time{}, "", time.Time{}`,
		new:  `afterDue, afterID, lastScan = now, "", time.Time{}`,
		pkg:  "./runtime/", guards: "TestTimersDueWhileDownFireAfterRestart",
	},
	{
		name: "fence", bug: "the runtime never sets the fence on a commit (split-brain writes allowed)",
		file: "runtime/workers.go",
		old:  "change.Fence = fence\n",
		new:  "_ = fence\n",
		pkg:  "./runtime/", guards: "TestTakenOverNodeCannotCommit",
	},
	{
		name: "trigger-source", bug: "a trigger key without the event's source (two shops, same event id: one start)",
		file: "runtime/matcher.go",
		old:  `trigger := "event:" + ev.Source + "/" + ev.ID`,
		new:  `trigger := "event:" + ev.ID`,
		pkg:  "./runtime/", guards: "TestTriggerKeyIncludesTheSource",
	},
	{
		name: "trigger-unique", bug: "a trigger key unique per start (a redelivered event starts again)",
		file: "runtime/matcher.go",
		old:  "start: &startReq{wf: wf, input: input, trigger: trigger}})\n\t}\n\tdelivered",
		new:  "start: &startReq{wf: wf, input: input, trigger: trigger + \"#\" + id}})\n\t}\n\tdelivered",
		pkg:  "./runtime/", guards: "TestTriggerKeyIsStable",
	},
	{
		name: "yaml-line", bug: "YAML syntax errors always reported at line 1",
		file: "dsl/decode.go",
		old:  "e := &Error{File: file, Pos: Pos{1, 1}}\n",
		new:  "e := &Error{File: file, Pos: Pos{1, 1}}\n\tdefer func() { e.Line, e.Column = 1, 1 }()\n",
		pkg:  "./dsl/", guards: "TestLoadReportsActionableErrors",
	},
	{
		name: "migration-lock", bug: "the PostgreSQL migration advisory lock removed",
		file: "store/postgres/store.go",
		old:  "`SELECT pg_advisory_lock($1)`",
		new:  "`SELECT $1::bigint`",
		pkg:  "./store/postgres/", guards: "TestConcurrentOpenMigratesOnce",
	},
}

func main() {
	only := flag.String("only", "", "run only the mutations with these names (comma-separated)")
	focus := flag.Bool("focus", false, "run only each mutation's guard tests, not its package's whole tests")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long one package's tests may run")
	verbose := flag.Bool("v", false, "print the test output of every mutation")
	flag.Parse()
	if err := run(*only, *focus, *timeout, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "mutation:", err)
		os.Exit(1)
	}
}

type outcome struct {
	m       mutation
	verdict string // caught, SURVIVED, NOT APPLIED, BROKEN BUILD
	took    time.Duration
	detail  string
}

func run(only string, focus bool, timeout time.Duration, verbose bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	chosen := mutations
	if only != "" {
		chosen = nil
		for _, name := range strings.Split(only, ",") {
			m, ok := find(strings.TrimSpace(name))
			if !ok {
				return fmt.Errorf("no mutation named %q; the names are %s", name, names())
			}
			chosen = append(chosen, m)
		}
	}
	tmp, err := os.MkdirTemp("", "storeflow-mutation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyTree(root, tmp); err != nil {
		return fmt.Errorf("copy the source tree: %w", err)
	}
	specEnv = findSpec(root)
	fmt.Fprintf(os.Stderr, "mutation: testing %d mutations in a copy of %s at %s\n", len(chosen), root, tmp)

	// The guards must pass on the copy as it is, or a failure would prove
	// nothing about the mutation.
	baseline := map[string][]string{}
	var pkgs []string
	for _, m := range chosen {
		if _, ok := baseline[m.pkg]; !ok {
			pkgs = append(pkgs, m.pkg)
		}
		baseline[m.pkg] = append(baseline[m.pkg], m.guards)
	}
	for _, pkg := range pkgs {
		fmt.Fprintf(os.Stderr, "mutation: baseline: the guards in %s pass unmutated … ", pkg)
		out, err := goCmd(tmp, timeout, "test", "-count=1", "-run", "^("+strings.Join(baseline[pkg], "|")+")$", pkg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "no")
			return fmt.Errorf("the guards fail without any mutation:\n%s", out)
		}
		fmt.Fprintln(os.Stderr, "yes")
	}

	var results []outcome
	for _, m := range chosen {
		fmt.Fprintf(os.Stderr, "mutation: %s: %s … ", m.name, m.bug)
		res := try(tmp, m, focus, timeout)
		fmt.Fprintf(os.Stderr, "%s (%s)\n", res.verdict, res.took.Round(time.Second))
		if verbose || res.verdict != "caught" {
			if res.detail != "" {
				fmt.Fprintln(os.Stderr, indent(res.detail))
			}
		}
		results = append(results, res)
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "MUTATION\tBUG\tPACKAGE\tGUARD\tRESULT\tTIME")
	failed := 0
	for _, r := range results {
		if r.verdict != "caught" {
			failed++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.m.name, r.m.bug, r.m.pkg, r.m.guards, r.verdict, r.took.Round(time.Second))
	}
	_ = w.Flush()
	fmt.Printf("%d caught, %d not\n", len(results)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d mutations not caught", failed, len(results))
	}
	return nil
}

// try makes one mutation in the copy at dir, runs the tests, and undoes it.
func try(dir string, m mutation, focus bool, timeout time.Duration) outcome {
	began := time.Now()
	res := outcome{m: m}
	path := filepath.Join(dir, m.file)
	orig, err := os.ReadFile(path)
	if err != nil {
		res.verdict, res.detail = "NOT APPLIED", err.Error()
		return res
	}
	if n := bytes.Count(orig, []byte(m.old)); n != 1 {
		res.verdict = "NOT APPLIED"
		res.detail = fmt.Sprintf("%s holds the code to change %d times, not once: update mutation/main.go", m.file, n)
		return res
	}
	if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
		res.verdict, res.detail = "NOT APPLIED", err.Error()
		return res
	}
	defer func() { _ = os.WriteFile(path, orig, 0o644) }()

	if out, err := goCmd(dir, timeout, "vet", m.pkg); err != nil {
		res.verdict, res.detail, res.took = "BROKEN BUILD", out, time.Since(began)
		return res
	}
	args := []string{"test", "-count=1", "-timeout", timeout.String()}
	if focus {
		args = append(args, "-run", "^("+m.guards+")$")
	}
	out, err := goCmd(dir, timeout+time.Minute, append(args, m.pkg)...)
	res.took = time.Since(began)
	res.detail = out
	var exit *exec.ExitError
	switch {
	case err == nil:
		res.verdict = "SURVIVED"
	case errors.As(err, &exit):
		res.verdict = "caught"
		res.detail = failures(out)
	default:
		res.verdict, res.detail = "BROKEN BUILD", err.Error()+"\n"+out
	}
	return res
}

// specEnv points the tests in the copy at the DSL spec and conformance
// kit, which ship beside the repository and so are not beside the copy.
var specEnv []string

func findSpec(root string) []string {
	var env []string
	for dir := root; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{filepath.Join(dir, "shared", "spec"), filepath.Join(dir, "..", "shared", "spec")} {
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				if os.Getenv("STOREFLOW_SPEC_DIR") == "" {
					env = append(env, "STOREFLOW_SPEC_DIR="+filepath.Clean(cand))
				}
				if os.Getenv("STOREFLOW_CTK_DIR") == "" {
					env = append(env, "STOREFLOW_CTK_DIR="+filepath.Join(filepath.Clean(cand), "ctk", "features"))
				}
				return env
			}
		}
		if filepath.Dir(dir) == dir {
			return nil
		}
	}
}

func goCmd(dir string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), specEnv...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// failures keeps the lines of test output that say what failed.
func failures(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--- FAIL") || strings.HasPrefix(t, "Error:") || strings.HasPrefix(t, "Messages:") || strings.HasPrefix(t, "panic:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func find(name string) (mutation, bool) {
	for _, m := range mutations {
		if m.name == name {
			return m, true
		}
	}
	return mutation{}, false
}

func names() string {
	var out []string
	for _, m := range mutations {
		out = append(out, m.name)
	}
	return strings.Join(out, ", ")
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the storeflow module")
	}
	return filepath.Dir(mod), nil
}

// copyTree copies the files git knows of (tracked, or new and not
// ignored), so that the copy has the work in progress but no data
// directories or build output.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("list the files: %w", err)
	}
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(dst, rel), info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
