package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeText returns the block of README.md between the named markers,
// fenced as lang.
func readmeText(t *testing.T, name, lang string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(b), "<!-- "+name+" -->\n```"+lang+"\n")
	require.True(t, ok, "README.md has no block %s", name)
	block, _, ok := strings.Cut(rest, "```\n<!-- /"+name+" -->")
	require.True(t, ok, "README.md's block %s is not closed", name)
	return block
}

// TestReadmePretestsWorkAsWritten runs the README's pretest command in the
// repository's root, as a newcomer would, and its deliberately wrong
// variant, whose output must be the README's word for word. Not parallel:
// it changes the working directory.
func TestReadmePretestsWorkAsWritten(t *testing.T) {
	example, err := os.ReadFile("../../examples/abandoned-checkout.test.yaml")
	require.NoError(t, err)
	require.Equal(t, string(example), readmeText(t, "pretest-example", "yaml"), "the README shows examples/abandoned-checkout.test.yaml as it is")
	workflow, err := os.ReadFile("../../examples/abandoned-checkout.yaml")
	require.NoError(t, err)

	failure := readmeText(t, "pretest-failure", "text")
	command := strings.TrimSpace(readmeText(t, "pretest-run", "sh"))
	args, ok := strings.CutPrefix(command, "go run ./cmd/storeflow ")
	require.True(t, ok, "the README runs storeflow from the repository: %s", command)
	t.Chdir("../..")
	code, out, errOut := run(t, strings.Fields(args)...)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	said := regexp.MustCompile("prints `([0-9]+ passed, 0 failed)`").FindSubmatch(readme)
	require.NotNil(t, said, "the README says what the command prints")
	require.Equal(t, string(said[1])+"\n", out)

	// The edit the README describes, in a copy of examples/.
	wrong := strings.Replace(string(example), "- {at: PT1H,", "- {at: PT2H,", 1)
	require.NotEqual(t, string(example), wrong)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "examples"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "examples", "abandoned-checkout.yaml"), workflow, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "examples", "abandoned-checkout.test.yaml"), []byte(wrong), 0o644))
	t.Chdir(dir)
	code, out, _ = run(t, strings.Fields(args)...)
	require.Equal(t, 1, code)
	require.Equal(t, failure, out)
}

func TestTestCommand(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, "test", "../../pretest/testdata/wrong.test.yaml")
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAIL ../../pretest/testdata/wrong.test.yaml:6: wrong template and time\n")
	require.Contains(t, out, "  ../../pretest/testdata/wrong.test.yaml:12: sent[1]: expected email.send template cart-reminder-1 at PT2H (±PT1M); it was made at PT1H instead\n")
	require.True(t, strings.HasSuffix(out, "1 passed, 1 failed\n"), out)

	code, out, _ = run(t, "test", "--run", "right", "../../pretest/testdata/wrong.test.yaml")
	require.Equal(t, 0, code, out)
	require.Equal(t, "1 passed, 0 failed\n", out)

	code, out, _ = run(t, "test", "--json", "../../pretest/testdata/wrong.test.yaml")
	require.Equal(t, 1, code)
	var rep struct {
		Passed, Failed int
		Results        []struct {
			Scenario string
			Passed   bool
			Failures []struct {
				File, Expect, Message string
				Line                  int
			}
			Calls []struct{ Call, At string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, 1, rep.Passed)
	require.Equal(t, 1, rep.Failed)
	require.Len(t, rep.Results, 2)
	require.Equal(t, 11, rep.Results[0].Failures[0].Line)
	require.Equal(t, "sent[0]", rep.Results[0].Failures[0].Expect)
	require.Equal(t, "PT1H", rep.Results[0].Calls[0].At)

	code, out, _ = run(t, "test", "--run", "nothing like it", "../../pretest/testdata/wrong.test.yaml")
	require.Equal(t, 1, code)
	require.Contains(t, out, `no scenario is named "nothing like it"`)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.test.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("workflows: [x.yaml]\nscenarios:\n  - name: a\n    expcet: {}\n"), 0o644))
	code, out, _ = run(t, "test", dir)
	require.Equal(t, 1, code)
	require.Contains(t, out, bad+":3:5: /scenarios/0: missing property 'expect'")
	require.Contains(t, out, bad+`:4:5: /scenarios/0: unknown property "expcet"; did you mean "expect"?`)
	require.Contains(t, out, "0 passed, 0 failed, ")

	code, _, _ = run(t, "test")
	require.Equal(t, 2, code)
}
