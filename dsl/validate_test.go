package dsl_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/internal/ci"
)

const header = `document:
  dsl: '1.0.3'
  namespace: shop
  name: test
  version: '1.0.0'
`

func TestLoadReportsActionableErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		doc  string
		// want lists "LINE:COL: substring" for every expected error.
		want []string
	}{
		{"unknown task property with suggestion", header + `do:
  - getPet:
      call: http
      tiemout: PT1M
      with:
        method: get
        endpoint: https://example.com
`, []string{`9:7: unknown property "tiemout" in task "getPet"; did you mean "timeout"?`}},
		{"unknown top-level property", header + `do:
  - a:
      set: {x: 1}
outptu:
  as: .x
`, []string{`9:1: unknown property "outptu" in the workflow; did you mean "output"?`}},
		{"missing required properties", `document:
  dsl: '1.0.3'
  name: test
`, []string{`1:1: the workflow is missing the required property "do"`, `1:1: document is missing the required property "namespace"`, `1:1: document is missing the required property "version"`}},
		{"wrong type", header + `do:
  - a:
      fork:
        compete: yes-please
        branches:
          - b: {set: {x: 1}}
`, []string{`9:18: compete must be true or false, not a string`}},
		{"two tasks in one item", header + `do:
  - a:
    set:
      x: 1
`, []string{`7:5: task list item 0 holds 2 tasks ("a", "set"); each item holds exactly one named task: if "set" are properties of task "a", indent them under the task name`}},
		{"then names no task", header + `do:
  - first:
      set: {x: 1}
      then: secnd
  - second:
      set: {y: 2}
`, []string{`9:13: then: "secnd" names no task in this list; did you mean "second"?`}},
		{"undefined function", header + `do:
  - notify:
      call: sendEmail
      with: {to: a@b.c}
`, []string{`8:13: call: "sendEmail" is not a function defined in use.functions nor a call type`}},
		{"undefined references", header + `use:
  errors:
    outOfStock: {type: https://shop/errors/stock, status: 409}
  retries:
    fast: {delay: PT1S}
do:
  - a:
      raise:
        error: outOfStok
  - b:
      timeout: slow
      try:
        - c: {set: {x: 1}}
      catch:
        retry: fsat
  - d:
      call: http
      with:
        method: get
        endpoint:
          uri: https://example.com
          authentication:
            use: shopify
`, []string{`14:16: error "outOfStok" is not defined in use.errors; did you mean "outOfStock"?`,
			`16:16: timeout "slow" is not defined in use.timeouts; define it there first`,
			`20:16: retry policy "fsat" is not defined in use.retries; did you mean "fast"?`,
			`28:18: authentication "shopify" is not defined in use.authentications; define it there first`}},
		{"bad durations", header + `do:
  - a:
      wait: PT1X
  - b:
      wait: {minutes: 5, secs: 3}
`, []string{`8:13: "PT1X" is not an ISO 8601 duration`, `10:26: unknown property "secs" in duration; did you mean "seconds"?`}},
		{"bad cron", header + `schedule:
  cron: '0 25 * * *'
do:
  - a: {set: {x: 1}}
`, []string{`7:9: cron "0 25 * * *": hour`}},
		{"jq syntax error", header + `do:
  - a:
      set:
        total: ${ .items | map(.price * .qty) | add + }
`, []string{`9:16: jq syntax error in "${ .items | map(.price * .qty) | add + }" at offset`}},
		{"undefined jq variable", header + `do:
  - a:
      for: {each: line, in: .lines}
      do:
        - b:
            set:
              sku: ${ $lne.sku }
`, []string{`12:20: jq expression "${ $lne.sku }": undefined variable $lne`}},
		{"duplicate task names", header + `do:
  - a: {set: {x: 1}}
  - a: {set: {x: 2}}
`, []string{`8:5: task name "a" is used twice in this list`}},
		{"bodies missing", header + `do:
  - loop:
      for: {in: .xs}
  - par:
      fork: {}
  - guard:
      try: []
      catch: {}
`, []string{`7:5: task "loop" is missing the required property "do"`, `10:7: fork is missing the required property "branches"`, `12:12: try has no tasks`}},
		{"no task type", header + `do:
  - a:
      cal: http
`, []string{`7:5: task "a" has no task type; give it one of`, `(did you mean "call" instead of "cal"?)`}},
		{"several task types", header + `do:
  - a:
      set: {x: 1}
      wait: PT1S
`, []string{`7:5: task "a" has several task types ("set", "wait")`}},
		{"unsupported dsl version", strings.Replace(header, "1.0.3", "0.8", 1) + `do:
  - a: {set: {x: 1}}
`, []string{`2:8: DSL version "0.8" is not supported`}},
		// Syntax errors name the line at fault (the YAML parser itself names
		// where the enclosing block began) and its first character.
		{"yaml syntax", header + "do:\n  - a: {set: {x: 1}\n", []string{`wf.yaml:7:3: not valid YAML or JSON: did not find expected ',' or '}'`}},
		{"yaml indentation", header + "do:\n  - a:\n      set: {x: 1}\n     wait: PT1S\n", []string{`wf.yaml:9:6: not valid YAML or JSON: did not find expected key`}},
		{"yaml tab", header + "do:\n  - a:\n\t  set: {x: 1}\n", []string{`wf.yaml:8:1: not valid YAML or JSON: found character that cannot start any token`}},
		{"yaml unknown alias", header + "do:\n  - a:\n      set: *defaults\n", []string{`wf.yaml:8:7: not valid YAML or JSON: unknown anchor 'defaults' referenced`}},
		{"json syntax", "{\n  \"document\": {\"dsl\": \"1.0.3\"},\n  \"do\": [,]\n}\n", []string{`wf.yaml:3:10: not valid YAML or JSON`}},
		{"bad enum", header + `do:
  - a:
      call: http
      with:
        method: get
        endpoint: https://example.com
        output: contents
`, []string{`12:17: output "contents" is not one of "raw", "content", "response"; did you mean "content"?`}},
		{"invalid json schema", header + `input:
  schema:
    document: {type: objekt}
do:
  - a: {set: {x: 1}}
`, []string{`8:15: schema is not a valid JSON Schema`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := dsl.Load("wf.yaml", []byte(tc.doc))
			require.Error(t, err)
			var errs dsl.Errors
			require.True(t, errors.As(err, &errs), "error %T is not dsl.Errors", err)
			text := err.Error()
			for _, w := range tc.want {
				require.Contains(t, text, w)
			}
			for _, e := range errs {
				require.Equal(t, "wf.yaml", e.File)
				require.Positive(t, e.Line, e.Error())
				require.Positive(t, e.Column, e.Error())
			}
		})
	}
}

func TestLoadAcceptsValidDocuments(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"json": `{"document":{"dsl":"1.0.0","namespace":"shop","name":"j","version":"0.1.0"},"do":[{"a":{"set":{"x":1}}}]}`,
		"schedule on stays a key": header + `schedule:
  on:
    one:
      with:
        type: com.shop.order.paid.v1
do:
  - a: {set: {x: 1}}
`,
		"loose mode bare strings": header + `evaluate:
  mode: loose
do:
  - a:
      set:
        greeting: Hello there
        total: .price * 2
`,
		"anchors": header + `do:
  - a:
      set: &v {x: 1}
  - b:
      set: *v
`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wf, err := dsl.Load("wf", []byte(doc))
			require.NoError(t, err)
			require.NotEmpty(t, wf.Do)
		})
	}
	wf, err := dsl.Load("wf", []byte(cases["schedule on stays a key"]))
	require.NoError(t, err)
	require.NotNil(t, wf.Schedule.On)
	require.NotNil(t, wf.Schedule.On.One)
}

func TestSpecExamplesAreValid(t *testing.T) {
	t.Parallel()
	dir := specDir(t, "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			_, err := dsl.LoadFile(f)
			require.NoError(t, err)
		})
	}
}

func TestTaskPositions(t *testing.T) {
	t.Parallel()
	wf, err := dsl.Load("wf", []byte(header+`do:
  - outer:
      do:
        - inner/one:
            set: {x: 1}
`))
	require.NoError(t, err)
	inner := wf.Do[0].Task.Do[0]
	require.Equal(t, "/do/0/outer/do/0/inner~1one", inner.Path)
	require.Equal(t, dsl.Pos{Line: 9, Column: 11}, wf.Source.Pos(inner.Path))
}

// specDir finds ../shared/spec/SUB: the spec ships beside the repository.
// Under CI=true it must be there.
func specDir(t *testing.T, sub string) string {
	t.Helper()
	if d := os.Getenv("STOREFLOW_SPEC_DIR"); d != "" {
		return filepath.Join(d, sub)
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "spec", sub)
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		cand = filepath.Join(dir, "..", "shared", "spec", sub)
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if ci.Enabled() {
		t.Fatalf("spec directory %q not found beside the repository; set STOREFLOW_SPEC_DIR", sub)
	}
	t.Skipf("spec directory %q not found; set STOREFLOW_SPEC_DIR to run this test", sub)
	return ""
}
