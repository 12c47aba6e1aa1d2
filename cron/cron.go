// Package cron parses the cron expressions of workflow schedules and finds
// their next activation.
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron expression.
type Schedule struct {
	src                                   string
	second, minute, hour, dom, month, dow uint64
	domStar, dowStar                      bool
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	secondField = field{name: "second", min: 0, max: 59}
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day-of-month", min: 1, max: 31}
	monthField  = field{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	dowField = field{name: "day-of-week", min: 0, max: 7, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

// Parse parses a 5-field (minute hour day-of-month month day-of-week) or
// 6-field (with leading seconds) expression, or a macro such as @daily.
func Parse(expr string) (*Schedule, error) {
	src := strings.TrimSpace(expr)
	text := src
	if m, ok := macros[strings.ToLower(text)]; ok {
		text = m
	} else if strings.HasPrefix(text, "@") {
		return nil, fmt.Errorf("cron %q: unknown macro; use @yearly, @monthly, @weekly, @daily or @hourly", expr)
	}
	parts := strings.Fields(text)
	if len(parts) == 5 {
		parts = append([]string{"0"}, parts...)
	} else if len(parts) != 6 {
		return nil, fmt.Errorf("cron %q: found %d fields; write 5 fields: minute hour day-of-month month day-of-week (e.g. '0 9 * * 1' for Mondays at 09:00)", expr, len(parts))
	}
	s := &Schedule{src: src}
	var err error
	fields := []struct {
		f   field
		dst *uint64
	}{{secondField, &s.second}, {minuteField, &s.minute}, {hourField, &s.hour}, {domField, &s.dom}, {monthField, &s.month}, {dowField, &s.dow}}
	for i, fd := range fields {
		if *fd.dst, err = parseField(parts[i], fd.f); err != nil {
			return nil, fmt.Errorf("cron %q: %w", expr, err)
		}
	}
	if s.dow&(1<<7) != 0 {
		s.dow |= 1 // 7 is Sunday too
	}
	s.domStar = parts[3] == "*" || parts[3] == "?"
	s.dowStar = parts[5] == "*" || parts[5] == "?"
	return s, nil
}

func parseField(text string, f field) (uint64, error) {
	var set uint64
	for _, part := range strings.Split(text, ",") {
		if part == "" {
			return 0, fmt.Errorf("%s field %q has an empty list item", f.name, text)
		}
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%s field %q: step %q must be a positive whole number", f.name, text, stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if f.name == "day-of-week" {
				hi = 6
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a, text); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = f.value(b, text); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("%s field %q: range %s goes backwards", f.name, text, rng)
				}
			} else if hasStep {
				hi = f.max
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func (f field) value(s, whole string) (int, error) {
	if n, ok := f.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s field %q: %q is not a number", f.name, whole, s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%s field %q is out of range %d-%d", f.name, s, f.min, f.max)
	}
	return n, nil
}

// String returns the expression as written.
func (s *Schedule) String() string { return s.src }

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (s *Schedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	switch {
	case s.domStar && s.dowStar:
		return true
	case s.domStar:
		return dow
	case s.dowStar:
		return dom
	}
	return dom || dow // classic cron: either restricted day field may match
}

// Next returns the first activation strictly after `after`, in after's
// location, or the zero time when there is none within five years. Times are
// computed on the local wall clock: an activation inside a skipped DST hour
// happens at the shifted instant Go's time.Date gives, and one in a repeated
// hour happens once.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := after.Location()
	t := after.Truncate(time.Second).Add(time.Second)
	limit := after.AddDate(5, 0, 0)
	for t.Before(limit) {
		if !has(s.month, int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
			continue
		}
		if !s.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
			continue
		}
		if !has(s.hour, t.Hour()) {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
			continue
		}
		if !has(s.minute, t.Minute()) {
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
			continue
		}
		if !has(s.second, t.Second()) {
			next := nextBit(s.second, t.Second())
			if next < 0 {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()+1, 0, 0, loc)
			} else {
				t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), next, 0, loc)
			}
			continue
		}
		if t.After(after) {
			return t
		}
		t = t.Add(time.Second)
	}
	return time.Time{}
}

// nextBit returns the smallest set bit above v, or -1.
func nextBit(set uint64, v int) int {
	rest := set >> uint(v+1)
	if rest == 0 {
		return -1
	}
	return v + 1 + bits.TrailingZeros64(rest)
}
