package problem_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/problem"
)

func TestSameType(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want bool
	}{
		{problem.TypeCommunication, "https://open-workflow-specification.org/dsl/errors/types/communication", true},
		{problem.TypeCommunication, "https://serverlessworkflow.io/spec/1.0.0/errors/communication", true},
		{problem.TypeCommunication, problem.TypeTimeout, false},
		{"https://shop.example/errors/declined", "https://shop.example/errors/declined", true},
		{"https://shop.example/errors/declined", "https://other.example/errors/declined", false},
		{"communication", problem.TypeCommunication, false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, problem.SameType(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
	}
}

func TestAsAndMap(t *testing.T) {
	t.Parallel()
	p := problem.New(problem.TypeValidation, 400, "Validation Error", "email is required")
	wrapped := fmt.Errorf("start order flow: %w", p)
	require.Same(t, p, problem.As(wrapped))
	other := problem.As(errors.New("disk full"))
	require.Equal(t, problem.TypeRuntime, other.Type)
	require.Equal(t, 500, other.Status)
	require.Nil(t, problem.As(nil))

	at := p.WithInstance("/do/0/check")
	require.Equal(t, "/do/0/check", at.Instance)
	require.Empty(t, p.Instance, "WithInstance copies")
	require.Equal(t, at, at.WithInstance("/elsewhere"))
	require.Equal(t, map[string]any{"type": problem.TypeValidation, "status": 400, "title": "Validation Error", "detail": "email is required", "instance": "/do/0/check"}, at.Map())
	require.Equal(t, "Validation Error (400): email is required at /do/0/check", at.Error())
}
