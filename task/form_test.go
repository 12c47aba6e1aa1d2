package task_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/task"
)

const approvalFields = `[
  {"name": "approved", "type": "boolean", "required": true, "label": "Approve the refund?"},
  {"name": "amount", "type": "number"},
  {"name": "reason", "type": "choice", "options": ["damaged", "late", "other"]},
  {"name": "note"},
  {"name": "pickup", "type": "date"},
  {"name": "contact", "type": "email"}
]`

func TestFormChecksAnswers(t *testing.T) {
	t.Parallel()
	schemaForm := `{"type": "object", "required": ["decision"], "properties": {"decision": {"enum": ["ship", "hold"]}, "boxes": {"type": "integer", "minimum": 1}}}`
	tests := []struct {
		name   string
		form   string
		answer string
		want   []string // problems as "field: message"; nil: it fits
	}{
		{"fields: a full answer", approvalFields, `{"approved": true, "amount": 12.5, "reason": "late", "note": "ok", "pickup": "2026-03-02", "contact": "ada@example.com"}`, nil},
		{"fields: only the required one", approvalFields, `{"approved": false}`, nil},
		{"fields: the required one missing", approvalFields, `{"note": "x"}`, []string{"approved: required"}},
		{"fields: wrong types", approvalFields, `{"approved": "yes", "amount": "12"}`, []string{"amount: got string, want number", "approved: got string, want boolean"}},
		{"fields: not an option", approvalFields, `{"approved": true, "reason": "bored"}`, []string{"reason: value must be one of 'damaged', 'late', 'other'"}},
		{"fields: a field the form has not", approvalFields, `{"approved": true, "approve": true}`, []string{"approve: not a field of the form"}},
		{"fields: a bad date and email", approvalFields, `{"approved": true, "pickup": "next week", "contact": "ada"}`, []string{"contact: 'ada' is not valid email: missing @", "pickup: 'next week' is not valid date: "}},
		{"schema: fits", schemaForm, `{"decision": "ship", "boxes": 2}`, nil},
		{"schema: misfits", schemaForm, `{"boxes": 0}`, []string{"boxes: minimum: got 0, want 1", "decision: required"}},
		{"no form: any object", ``, `{"anything": [1, 2]}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := task.ParseForm(json.RawMessage(tc.form))
			require.NoError(t, err)
			var answer map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.answer), &answer))
			err = f.Check(answer)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var inv *task.InvalidAnswer
			require.ErrorAs(t, err, &inv)
			var got []string
			for _, p := range inv.Problems {
				got = append(got, p.String())
			}
			require.Len(t, got, len(tc.want), "%v", got)
			for i := range tc.want {
				require.Contains(t, got[i], tc.want[i])
			}
		})
	}
}

func TestParseFormRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, form, want string
	}{
		{"an unknown type", `[{"name": "x", "type": "colour"}]`, `type "colour": use one of text, number`},
		{"a choice without options", `[{"name": "x", "type": "choice"}]`, "a choice needs options"},
		{"options of a text", `[{"name": "x", "options": ["a"]}]`, "options are for choice fields"},
		{"a field twice", `[{"name": "x"}, {"name": "x"}]`, `field "x" is given twice`},
		{"a bad name", `[{"name": "my field"}]`, `name "my field"`},
		{"a misspelt key", `[{"name": "x", "requird": true}]`, `unknown field "requird"`},
		{"no fields", `[]`, "at least one field"},
		{"a schema of no object", `{"type": "string"}`, `an answer is an object`},
		{"a schema that reads files", `{"type": "object", "properties": {"x": {"$ref": "file:///etc/passwd"}}}`, "cannot refer to file:///etc/passwd"},
		{"a schema that fetches", `{"$ref": "https://example.com/s.json"}`, "cannot refer to https://example.com/s.json"},
		{"neither", `"approve"`, "a list of fields or a JSON Schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := task.ParseForm(json.RawMessage(tc.form))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
