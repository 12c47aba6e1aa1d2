package main

import (
	"fmt"
	"time"
)

// parseRetention reads --retention: a Go duration, 0 keeping everything.
func parseRetention(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--retention %q: give a duration such as 720h, or 0 to keep events and history forever", v)
	}
	return d, nil
}
