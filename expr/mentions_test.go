package expr

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMentions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		q, v string
		want bool
	}{
		{"$x + 1", "$x", true},
		{"$xy", "$x", false},
		{"$x_1 + $xy", "$x", false},
		{"$xy + $x", "$x", true},
		{`"\($workflow.id)"`, "$workflow", true},
		{`"$x"`, "$x", true}, // a mention in a string merely counts as a use
		{"$work", "$workflow", false},
		{".a | $context", "$context", true},
		{".a", "$context", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, mentions(c.q, c.v), "%s in %s", c.v, c.q)
	}
}

// Variables an expression does not mention are not handed to it; those
// it mentions are, however they are written.
func TestUnmentionedVariablesStayOut(t *testing.T) {
	t.Parallel()
	e, err := Compile(`${ [$item, "\($index)"] }`, []string{"$item", "$index", "$unused"})
	require.NoError(t, err)
	require.Contains(t, e.vars, "$workflow")
	require.Contains(t, e.vars, "$unused")
	for i, v := range e.vars {
		require.Equal(t, v == "$item" || v == "$index", e.uses[i], v)
	}
	unused := map[string]any{"n": int64(7)}
	out, err := e.Eval(context.Background(), nil, map[string]any{"$item": map[string]any{"n": int64(3)}, "$index": 2, "$unused": unused})
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{"n": 3}, "2"}, out)
	require.Equal(t, int64(7), unused["n"], "never walked (normalising would have made it an int)")
}
