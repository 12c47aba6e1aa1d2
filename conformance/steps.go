package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/storeflow/storeflow/internal/ci"
	yaml "go.yaml.in/yaml/v3"
)

// Outcome is how a run ended, as the features' assertions see it.
type Outcome struct {
	Status string         // "completed", "faulted" or "cancelled"
	Output any            // JSON-compatible value
	Error  map[string]any // problem details when faulted
	Tasks  []TaskRun      // every task that ran, in the order it started
}

// TaskRun is one run of a task.
type TaskRun struct {
	Name      string
	Reference string
	Status    string // completed, faulted or cancelled
	Output    any
	Error     map[string]any
}

// RunFunc runs a workflow definition (YAML) with an input to its end. It must
// make every outbound HTTP call through client.
type RunFunc func(ctx context.Context, definition []byte, input any, client *http.Client) (Outcome, error)

// RunFeatures runs every scenario of every feature file in dir.
func RunFeatures(t *testing.T, dir string, run RunFunc) {
	files, err := filepath.Glob(filepath.Join(dir, "*.feature"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .feature files in %s", dir)
	}
	for _, file := range files {
		feature, err := ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(file), ".feature"), func(t *testing.T) {
			t.Parallel()
			for _, sc := range feature.Scenarios {
				t.Run(sc.Name, func(t *testing.T) {
					t.Parallel()
					if err := RunScenario(context.Background(), t, feature.File, sc, run); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// scenarioState is what the steps of one scenario build up.
type scenarioState struct {
	definition []byte
	input      any
	outcome    *Outcome
}

// RunScenario runs one scenario; the error names the failing step's line.
func RunScenario(ctx context.Context, tb testing.TB, file string, sc *Scenario, run RunFunc) error {
	st := &scenarioState{}
	services := NewServices(tb)
	for _, step := range sc.Steps {
		if err := st.step(ctx, step, run, services); err != nil {
			return fmt.Errorf("%s:%d: %s %s: %w", file, step.Line, step.Keyword, step.Text, err)
		}
	}
	return nil
}

var (
	reProperties   = regexp.MustCompile(`^the workflow output should have properties ((?:'[^']*'(?:,\s*)?)+)$`)
	rePropertyVal  = regexp.MustCompile(`^the workflow output should have a '([^']*)' property with value:$`)
	rePropertyLen  = regexp.MustCompile(`^the workflow output should have a '([^']*)' property containing (\d+) items?$`)
	reRunFirst     = regexp.MustCompile(`^(\S+) should run first$`)
	reRunLast      = regexp.MustCompile(`^(\S+) should run last$`)
	reRunBefore    = regexp.MustCompile(`^(\S+) should run before (\S+)$`)
	reRunAfter     = regexp.MustCompile(`^(\S+) should run after (\S+)$`)
	reTaskStatus   = regexp.MustCompile(`^(\S+) should (complete|fault|cancel)$`)
	reTaskOutput   = regexp.MustCompile(`^(\S+) should complete with output:$`)
	reTaskFaultErr = regexp.MustCompile(`^(\S+) should fault with error:$`)
	quoted         = regexp.MustCompile(`'([^']*)'`)
)

func (st *scenarioState) step(ctx context.Context, s *Step, run RunFunc, services *Services) error {
	text := s.Text
	switch text {
	case "a workflow with definition:":
		if s.DocString == "" {
			return fmt.Errorf("the step needs the definition as a doc string")
		}
		st.definition = []byte(s.DocString)
		return nil
	case "given the workflow input is:", "the workflow input is:":
		v, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("workflow input: %w", err)
		}
		st.input = v
		return nil
	case "the workflow is executed":
		if st.definition == nil {
			return fmt.Errorf("no workflow was defined before it was executed")
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		out, err := run(ctx, st.definition, st.input, services.Client())
		if err != nil {
			return fmt.Errorf("run: %w", err)
		}
		st.outcome = &out
		return nil
	}
	o := st.outcome
	if o == nil {
		return fmt.Errorf("assertion before the workflow was executed")
	}
	switch text {
	case "the workflow should complete":
		return o.expectStatus("completed")
	case "the workflow should fault":
		return o.expectStatus("faulted")
	case "the workflow should cancel", "the workflow should be cancelled":
		return o.expectStatus("cancelled")
	case "the workflow should complete with output:":
		if err := o.expectStatus("completed"); err != nil {
			return err
		}
		want, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("expected output: %w", err)
		}
		return expectEqual("workflow output", want, o.Output)
	case "the workflow should fault with error:":
		if err := o.expectStatus("faulted"); err != nil {
			return err
		}
		want, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("expected error: %w", err)
		}
		return expectSubset("workflow error", want, o.Error)
	}
	if m := reProperties.FindStringSubmatch(text); m != nil {
		for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			if _, ok := lookup(o.Output, q[1]); !ok {
				return fmt.Errorf("workflow output has no property %q; output: %s", q[1], show(o.Output))
			}
		}
		return nil
	}
	if m := rePropertyVal.FindStringSubmatch(text); m != nil {
		got, ok := lookup(o.Output, m[1])
		if !ok {
			return fmt.Errorf("workflow output has no property %q; output: %s", m[1], show(o.Output))
		}
		want, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("expected value: %w", err)
		}
		return expectEqual("property "+m[1], want, got)
	}
	if m := rePropertyLen.FindStringSubmatch(text); m != nil {
		got, ok := lookup(o.Output, m[1])
		if !ok {
			return fmt.Errorf("workflow output has no property %q; output: %s", m[1], show(o.Output))
		}
		n, _ := strconv.Atoi(m[2])
		list, isList := got.([]any)
		if !isList || len(list) != n {
			return fmt.Errorf("property %q should hold %d items, holds %s", m[1], n, show(got))
		}
		return nil
	}
	if m := reRunFirst.FindStringSubmatch(text); m != nil {
		if len(o.Tasks) == 0 || o.Tasks[0].Name != m[1] {
			return fmt.Errorf("%s did not run first; tasks ran in this order: %s", m[1], o.order())
		}
		return nil
	}
	if m := reRunLast.FindStringSubmatch(text); m != nil {
		if len(o.Tasks) == 0 || o.Tasks[len(o.Tasks)-1].Name != m[1] {
			return fmt.Errorf("%s did not run last; tasks ran in this order: %s", m[1], o.order())
		}
		return nil
	}
	if m := reRunBefore.FindStringSubmatch(text); m != nil {
		return o.expectOrder(m[1], m[2])
	}
	if m := reRunAfter.FindStringSubmatch(text); m != nil {
		return o.expectOrder(m[2], m[1])
	}
	if m := reTaskOutput.FindStringSubmatch(text); m != nil {
		tr, err := o.task(m[1])
		if err != nil {
			return err
		}
		want, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("expected output: %w", err)
		}
		if tr.Status != "completed" {
			return fmt.Errorf("task %s ended %s, not completed", m[1], tr.Status)
		}
		return expectEqual("output of "+m[1], want, tr.Output)
	}
	if m := reTaskFaultErr.FindStringSubmatch(text); m != nil {
		tr, err := o.task(m[1])
		if err != nil {
			return err
		}
		want, err := decodeDoc(s.DocString)
		if err != nil {
			return fmt.Errorf("expected error: %w", err)
		}
		if tr.Status != "faulted" {
			return fmt.Errorf("task %s ended %s, not faulted", m[1], tr.Status)
		}
		return expectSubset("error of "+m[1], want, tr.Error)
	}
	if m := reTaskStatus.FindStringSubmatch(text); m != nil {
		tr, err := o.task(m[1])
		if err != nil {
			return err
		}
		want := map[string]string{"complete": "completed", "fault": "faulted", "cancel": "cancelled"}[m[2]]
		if tr.Status != want {
			return fmt.Errorf("task %s ended %s, not %s", m[1], tr.Status, want)
		}
		return nil
	}
	return fmt.Errorf("unknown step: no step definition matches %q", text)
}

// Known reports whether a step's text has a definition, for checking feature
// files before running them.
func Known(text string) bool {
	st := &scenarioState{outcome: &Outcome{}}
	err := st.step(context.Background(), &Step{Text: text, DocString: "{}"}, nil, nil)
	return err == nil || !strings.HasPrefix(err.Error(), "unknown step")
}

func (o *Outcome) expectStatus(want string) error {
	if o.Status == want {
		return nil
	}
	detail := ""
	if o.Error != nil {
		detail = "; error: " + show(o.Error)
	}
	return fmt.Errorf("the workflow ended %s, not %s%s", o.Status, want, detail)
}

func (o *Outcome) order() string {
	names := make([]string, len(o.Tasks))
	for i, t := range o.Tasks {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

func (o *Outcome) index(name string) int {
	for i, t := range o.Tasks {
		if t.Name == name {
			return i
		}
	}
	return -1
}

func (o *Outcome) expectOrder(before, after string) error {
	b, a := o.index(before), o.index(after)
	if b < 0 || a < 0 || b >= a {
		return fmt.Errorf("%s should run before %s; tasks ran in this order: %s", before, after, o.order())
	}
	return nil
}

func (o *Outcome) task(name string) (TaskRun, error) {
	for i := len(o.Tasks) - 1; i >= 0; i-- {
		if o.Tasks[i].Name == name {
			return o.Tasks[i], nil
		}
	}
	return TaskRun{}, fmt.Errorf("task %s did not run; tasks that ran: %s", name, o.order())
}

func decodeDoc(s string) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	return canonical(v), nil
}

// canonical round-trips a value through JSON so that numbers compare by
// value (1 == 1.0) and map types agree.
func canonical(v any) any {
	b, err := json.Marshal(convertKeys(v))
	if err != nil {
		return v
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func convertKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = convertKeys(val)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = convertKeys(val)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, val := range x {
			s[i] = convertKeys(val)
		}
		return s
	}
	return v
}

func expectEqual(what string, want, got any) error {
	w, g := canonical(want), canonical(got)
	if reflect.DeepEqual(w, g) {
		return nil
	}
	return fmt.Errorf("%s is %s, want %s", what, show(g), show(w))
}

// expectSubset checks that every property of want is in got with that value.
func expectSubset(what string, want any, got map[string]any) error {
	w, ok := canonical(want).(map[string]any)
	if !ok {
		return fmt.Errorf("expected %s must be an object", what)
	}
	g, _ := canonical(got).(map[string]any)
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(w[k], g[k]) {
			return fmt.Errorf("%s has %s = %s, want %s (whole: %s)", what, k, show(g[k]), show(w[k]), show(g))
		}
	}
	return nil
}

// lookup follows a dotted path ("request.headers") through objects.
func lookup(v any, path string) (any, bool) {
	cur := canonical(v)
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// FeaturesDir finds the conformance features: $STOREFLOW_CTK_DIR, or the
// spec shipped beside the repository (../shared/spec/ctk/features).
func FeaturesDir() (string, bool) {
	if d := os.Getenv("STOREFLOW_CTK_DIR"); d != "" {
		st, err := os.Stat(d)
		return d, err == nil && st.IsDir()
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{filepath.Join(dir, "shared", "spec", "ctk", "features"), filepath.Join(dir, "..", "shared", "spec", "ctk", "features")} {
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				return filepath.Clean(cand), true
			}
		}
		if filepath.Dir(dir) == dir {
			return "", false
		}
	}
}

// RequireFeatures returns the features directory. When it is absent the test
// is skipped, except under CI=true, where that is a failure.
func RequireFeatures(t *testing.T) string {
	t.Helper()
	dir, ok := FeaturesDir()
	if ok {
		return dir
	}
	if ci.Enabled() {
		t.Fatalf("conformance features not found (looked for ../shared/spec/ctk/features and $STOREFLOW_CTK_DIR=%q); CI must run them: set STOREFLOW_CTK_DIR", os.Getenv("STOREFLOW_CTK_DIR"))
	}
	t.Skip("conformance features not found; set STOREFLOW_CTK_DIR to run them")
	return ""
}
