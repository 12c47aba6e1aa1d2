// Package semver orders semantic versions (semver.org 2.0.0), the versions
// of workflow definitions: the latest version of a workflow is the highest
// by this order, not the last posted.
package semver

import (
	"regexp"
	"strconv"
	"strings"
)

var re = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// Valid reports whether v is a semantic version.
func Valid(v string) bool { return re.MatchString(v) }

// Compare orders two versions (-1, 0, 1). A pre-release sorts before its
// release, pre-release identifiers compare numerically when both are
// numbers, and build metadata is ignored. Strings that are not semantic
// versions sort among themselves as strings, and before any version.
func Compare(a, b string) int {
	ma, mb := re.FindStringSubmatch(a), re.FindStringSubmatch(b)
	switch {
	case ma == nil && mb == nil:
		return strings.Compare(a, b)
	case ma == nil:
		return -1
	case mb == nil:
		return 1
	}
	for i := 1; i <= 3; i++ {
		if c := compareNumbers(ma[i], mb[i]); c != 0 {
			return c
		}
	}
	switch pa, pb := ma[4], mb[4]; {
	case pa == pb:
		return 0
	case pa == "":
		return 1
	case pb == "":
		return -1
	default:
		return comparePrerelease(pa, pb)
	}
}

func comparePrerelease(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		_, errA := strconv.ParseUint(as[i], 10, 64)
		_, errB := strconv.ParseUint(bs[i], 10, 64)
		var c int
		switch {
		case errA == nil && errB == nil:
			c = compareNumbers(as[i], bs[i])
		case errA == nil:
			c = -1 // numeric identifiers sort before alphanumeric ones
		case errB == nil:
			c = 1
		default:
			c = strings.Compare(as[i], bs[i])
		}
		if c != 0 {
			return c
		}
	}
	return compareInts(len(as), len(bs))
}

// compareNumbers compares decimal digit strings without leading zeros, of
// any length.
func compareNumbers(a, b string) int {
	if c := compareInts(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
