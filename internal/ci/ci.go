// Package ci tells whether the tests run under continuous integration,
// where what a laptop may skip (a PostgreSQL server, the spec beside the
// repository) is required.
package ci

import (
	"os"
	"strings"
)

// Enabled reports whether the CI environment variable says so: "1" or
// "true" in any case (CI systems set either).
func Enabled() bool { return is(os.Getenv("CI")) }

func is(v string) bool {
	v = strings.TrimSpace(v)
	return v == "1" || strings.EqualFold(v, "true")
}
