package semver_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/semver"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"1.0.0", "1.0.1", -1},
		{"1.10.0", "1.9.0", 1},
		{"10.0.0", "9.9.9", 1},
		{"1.0.0-alpha", "1.0.0", -1},
		{"1.0.0-alpha.2", "1.0.0-alpha.10", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-rc.1", "1.0.0-beta.11", 1},
		{"1.0.0+build.1", "1.0.0+build.2", 0},
		{"latest", "0.0.1", -1},
		{"abc", "abd", -1},
	} {
		require.Equal(t, tc.want, semver.Compare(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
		require.Equal(t, -tc.want, semver.Compare(tc.b, tc.a), "%s vs %s", tc.b, tc.a)
	}
}

func TestSpecOrder(t *testing.T) {
	t.Parallel()
	// The precedence example of semver.org 2.0.0, item 11.
	want := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, semver.Compare)
	require.Equal(t, want, got)
	require.True(t, semver.Valid("1.2.3-rc.1+b5"))
	require.False(t, semver.Valid("1.2"))
	require.False(t, semver.Valid("01.2.3"))
}
