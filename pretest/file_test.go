package pretest_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/pretest"
)

// badFile writes a pretest file beside a copy of the example workflow and
// loads it.
func badFile(t *testing.T, src string) pretest.Errors {
	t.Helper()
	dir := t.TempDir()
	wf, err := os.ReadFile("../examples/abandoned-checkout.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flow.yaml"), wf, 0o644))
	path := filepath.Join(dir, "bad.test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	_, err = pretest.LoadFile(path)
	require.Error(t, err)
	var errs pretest.Errors
	require.True(t, errors.As(err, &errs), "%v", err)
	for _, e := range errs {
		require.Equal(t, path, e.File)
	}
	return errs
}

func TestLoadNamesTheLineOfEveryProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		line      int
		message   string
	}{
		{"misspelt key", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    expcet: {}\n", 4, `unknown property "expcet"; did you mean "expect"?`},
		{"misspelt expectation key", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    expect:\n      sent:\n        - {call: email.send, tempalte: x}\n", 6, `unknown property "tempalte"; did you mean "template"?`},
		{"missing expect", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    events: []\n", 3, "missing property 'expect'"},
		{"bad offset", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    events:\n      - {at: 1h, type: x}\n    expect: {}\n", 5, `"1h" is neither an offset (PT1H, -P30D) nor a time`},
		{"bad duration", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    for: 3 days\n    expect: {}\n", 4, `"3 days" is not an ISO 8601 duration`},
		{"wrong type", "workflows: flow.yaml\nscenarios:\n  - {name: a, expect: {}}\n", 1, "got string, want array"},
		{"bad status", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    expect:\n      instances:\n        - {workflow: w, status: done}\n", 6, "value must be one of"},
		{"unknown customer", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    events:\n      - {at: PT0S, type: x, customer: bob}\n    expect: {}\n", 5, `customer "bob" is not among the file's customers`},
		{"missing workflow", "workflows: [nowhere.yaml]\nscenarios:\n  - {name: a, expect: {}}\n", 1, "workflow file nowhere.yaml: no such file or directory"},
		{"twice named", "workflows: [flow.yaml]\nscenarios:\n  - {name: a, expect: {}}\n  - {name: a, expect: {}}\n", 4, `scenario "a" is named twice (also on line 3)`},
		{"yaml syntax", "workflows: [flow.yaml\nscenarios: []\n", 1, "did not find expected ',' or ']'"},
		{"event without type", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    events:\n      - {at: PT0S}\n    expect: {}\n", 5, "missing property 'type'"},
		{"a task answer by nobody of the file", "workflows: [flow.yaml]\nusers: [{id: alice, roles: [admin]}]\nscenarios:\n  - name: a\n    events:\n      - {at: PT1H, task: {title: x, by: bob}}\n    expect: {}\n", 6, `user "bob" is not among the file's users`},
		{"a task answer by no one", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    events:\n      - {at: PT1H, task: {title: x}}\n    expect: {}\n", 5, "missing property 'by'"},
		{"a task answer misspelt", "workflows: [flow.yaml]\nusers: [{id: alice, roles: [admin]}]\nscenarios:\n  - name: a\n    events:\n      - {at: PT1H, task: {title: x, by: alice, anwser: {}}}\n    expect: {}\n", 6, `unknown property "anwser"; did you mean "answer"?`},
		{"a user without roles", "workflows: [flow.yaml]\nusers: [{id: alice}]\nscenarios:\n  - {name: a, expect: {}}\n", 2, "missing property 'roles'"},
		{"a user twice", "workflows: [flow.yaml]\nusers:\n  - {id: alice, roles: [admin]}\n  - {id: alice, roles: [support]}\nscenarios:\n  - {name: a, expect: {}}\n", 4, `user "alice" is given twice`},
		{"a task expectation misspelt", "workflows: [flow.yaml]\nscenarios:\n  - name: a\n    expect:\n      tasks:\n        - {titel: x}\n", 6, `unknown property "titel"; did you mean "title"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := badFile(t, tc.src)
			var lines []int
			for _, e := range errs {
				lines = append(lines, e.Line)
				if e.Line == tc.line {
					require.Contains(t, e.Message, tc.message, "%v", errs)
					return
				}
			}
			t.Fatalf("no error on line %d (errors on %v): %v", tc.line, lines, errs)
		})
	}
}

func TestSchemaIsValidAndDescribesTheExample(t *testing.T) {
	t.Parallel()
	// Load checks the example against the schema; the schema itself
	// compiles when the package loads.
	f, err := pretest.LoadFile("../examples/abandoned-checkout.test.yaml")
	require.NoError(t, err)
	require.Len(t, f.Scenarios, 3)
	require.Equal(t, 8, f.Scenarios[0].Line)
	require.Equal(t, 14, f.Scenarios[0].Expect.Sent[0].Line)
}

func asErrors(err error, target *pretest.Errors) bool { return errors.As(err, target) }
