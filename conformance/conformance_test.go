package conformance_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/conformance"
)

const feature = `Feature: Sample
  Some description line.

  # a comment
  Scenario: One
    Given a workflow with definition:
    """yaml
    document:
      name: x
    do: []
    """
    And given the workflow input is:
    """yaml
    color: red
    """
    When the workflow is executed
    Then the workflow should complete with output:
    """yaml
    colors: [ red, 1 ]
    """
    And the workflow output should have properties 'colors'
    And the workflow output should have a 'colors' property containing 2 items
    And first should run first
    And second should run after first
    And second should run last
    And second should complete
`

func TestParse(t *testing.T) {
	t.Parallel()
	f, err := conformance.Parse("sample.feature", feature)
	require.NoError(t, err)
	require.Equal(t, "Sample", f.Name)
	require.Len(t, f.Scenarios, 1)
	sc := f.Scenarios[0]
	require.Equal(t, "One", sc.Name)
	require.Equal(t, 5, sc.Line)
	require.Len(t, sc.Steps, 10)
	require.Equal(t, "document:\n  name: x\ndo: []", sc.Steps[0].DocString)
	require.Equal(t, "yaml", sc.Steps[0].MediaType)
	require.Equal(t, 6, sc.Steps[0].Line)
	require.Equal(t, "And", sc.Steps[1].Keyword)

	_, err = conformance.Parse("bad.feature", "Feature: x\n  Scenario: y\n    Given a thing:\n    \"\"\"\n    never closed\n")
	require.ErrorContains(t, err, "bad.feature:5: doc string is not closed")
	_, err = conformance.Parse("bad.feature", "Feature: x\n  Scenario: y\n    Frobnicate the thing\n")
	require.ErrorContains(t, err, "bad.feature:3")
}

func TestAssertionsDetectWrongOutcomes(t *testing.T) {
	t.Parallel()
	good := conformance.Outcome{Status: "completed", Output: map[string]any{"colors": []any{"red", 1.0}},
		Tasks: []conformance.TaskRun{{Name: "first", Status: "completed"}, {Name: "second", Status: "completed"}}}
	cases := map[string]func(o *conformance.Outcome){
		"passes":          nil,
		"faulted":         func(o *conformance.Outcome) { o.Status = "faulted" },
		"wrong output":    func(o *conformance.Outcome) { o.Output = map[string]any{"colors": []any{"blue", 1}} },
		"wrong order":     func(o *conformance.Outcome) { o.Tasks[0], o.Tasks[1] = o.Tasks[1], o.Tasks[0] },
		"task faulted":    func(o *conformance.Outcome) { o.Tasks[1].Status = "faulted" },
		"missing a task":  func(o *conformance.Outcome) { o.Tasks = o.Tasks[:1] },
		"missing a field": func(o *conformance.Outcome) { o.Output = map[string]any{} },
	}
	f, err := conformance.Parse("sample.feature", feature)
	require.NoError(t, err)
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out := good
			out.Tasks = append([]conformance.TaskRun{}, good.Tasks...)
			if mutate != nil {
				mutate(&out)
			}
			var gotInput any
			run := func(ctx context.Context, def []byte, input any, client *http.Client) (conformance.Outcome, error) {
				gotInput = input
				return out, nil
			}
			err := conformance.RunScenario(context.Background(), t, "sample.feature", f.Scenarios[0], run)
			require.Equal(t, map[string]any{"color": "red"}, gotInput)
			if mutate == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "sample.feature:")
		})
	}
}

func TestUnknownStepFails(t *testing.T) {
	t.Parallel()
	f, err := conformance.Parse("x.feature", "Feature: x\n  Scenario: y\n    Given a workflow with definition:\n    \"\"\"\n    do: []\n    \"\"\"\n    When the workflow is executed\n    Then the moon should be full\n")
	require.NoError(t, err)
	run := func(context.Context, []byte, any, *http.Client) (conformance.Outcome, error) {
		return conformance.Outcome{Status: "completed"}, nil
	}
	err = conformance.RunScenario(context.Background(), t, "x.feature", f.Scenarios[0], run)
	require.ErrorContains(t, err, "x.feature:8: Then the moon should be full: unknown step")
}

func TestEveryFeatureStepIsKnown(t *testing.T) {
	t.Parallel()
	dir := conformance.RequireFeatures(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.feature"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		f, err := conformance.ParseFile(file)
		require.NoError(t, err)
		for _, sc := range f.Scenarios {
			for _, st := range sc.Steps {
				require.True(t, conformance.Known(st.Text), "%s:%d: %q has no step definition", file, st.Line, st.Text)
			}
		}
	}
}

func TestServicesAnswerForAnyHost(t *testing.T) {
	t.Parallel()
	s := conformance.NewServices(t)
	c := s.Client()
	resp, err := c.Get("https://petstore.swagger.io/v2/pet/1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), `"name":"Milou"`)

	req, _ := http.NewRequest(http.MethodGet, "https://httpbin.org/basic-auth/u/p", nil)
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req.SetBasicAuth("u", "p")
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
