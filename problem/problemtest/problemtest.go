// Package problemtest asserts on the problems that connectors and the
// engine return, in tests.
package problemtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/problem"
)

// Require fails the test unless err is a problem of that type and status
// whose detail contains every one of details. It returns the problem.
func Require(t testing.TB, err error, typ string, status int, details ...string) *problem.Problem {
	t.Helper()
	p := problem.As(err)
	require.NotNil(t, p, "want a %s problem (%d), got no error", problem.ShortType(typ), status)
	require.Equal(t, typ, p.Type, p.Error())
	require.Equal(t, status, p.Status, p.Error())
	for _, d := range details {
		require.Contains(t, p.Detail, d)
	}
	return p
}
