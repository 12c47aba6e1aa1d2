package ci

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIs(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"1": true, "true": true, "TRUE": true, "True": true, " true\n": true,
		"": false, "0": false, "false": false, "yes": false, "truthy": false, "11": false,
	} {
		require.Equal(t, want, is(v), "CI=%q", v)
	}
}

func TestEnabledReadsTheEnvironment(t *testing.T) {
	t.Setenv("CI", "True")
	require.True(t, Enabled())
	t.Setenv("CI", "")
	require.False(t, Enabled())
}
