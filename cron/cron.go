// Package cron parses the cron expressions of workflow schedules
// (schedule.cron, e.g. '0 0 * * *') and finds their next activation.
//
// An expression has five fields, minute hour day-of-month month day-of-week,
// optionally preceded by a seconds field. A field is `*`, a value, a range
// `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to the end of the range), or
// a comma-separated list of these. Months may be written JAN-DEC and weekdays
// SUN-SAT (any case); 0 and 7 are both Sunday. `?` means `*` in the two day
// fields. The macros @yearly, @annually, @monthly, @weekly, @daily,
// @midnight and @hourly stand for whole expressions.
//
// As in classic cron, when both day fields are restricted (neither is `*`),
// a day matches if either of them matches: '0 0 13 * FRI' runs on every
// 13th and on every Friday.
package cron

import (
	"fmt"
	"strings"
)

// Schedule is a parsed cron expression. It is immutable and safe for
// concurrent use.
type Schedule struct {
	expr string
	// Bit v of a set is on when value v matches.
	second, minute, hour, dom, month, dow uint64
	// anyDOM and anyDOW record a day field written as `*`: only a restricted
	// day field takes part in the either-day rule.
	anyDOM, anyDOW bool
}

// fieldSpec describes one position of an expression.
type fieldSpec struct {
	name     string
	min, max int // values accepted
	last     int // where `*` and `a/n` end; below max only for day-of-week, where 7 repeats Sunday
	names    map[string]int
	hint     string // what to write instead of a wrong value
	day      bool   // accepts `?`
	weekday  bool   // a range may end on Sunday written as 0 or SUN
}

var (
	secondSpec = fieldSpec{name: "second", min: 0, max: 59, last: 59, hint: "use 0-59"}
	minuteSpec = fieldSpec{name: "minute", min: 0, max: 59, last: 59, hint: "use 0-59"}
	hourSpec   = fieldSpec{name: "hour", min: 0, max: 23, last: 23, hint: "use 0-23"}
	domSpec    = fieldSpec{name: "day-of-month", min: 1, max: 31, last: 31, hint: "use 1-31", day: true}
	monthSpec  = fieldSpec{name: "month", min: 1, max: 12, last: 12, hint: "use 1-12 or JAN-DEC", names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}}
	dowSpec = fieldSpec{name: "day-of-week", min: 0, max: 7, last: 6, hint: "use 0-7 or SUN-SAT", day: true, weekday: true, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}}
)

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

const fieldsHelp = "want 5: minute hour day-of-month month day-of-week (e.g. '0 9 * * MON'), optionally preceded by seconds"

// Parse parses a cron expression. Errors name the field and value to fix.
func Parse(expr string) (*Schedule, error) {
	parts := strings.Fields(expr)
	if len(parts) > 0 && strings.HasPrefix(parts[0], "@") {
		m, ok := macros[strings.ToLower(parts[0])]
		if !ok {
			return nil, fmt.Errorf("cron %q: unknown macro %q; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly", expr, parts[0])
		}
		if len(parts) > 1 {
			return nil, fmt.Errorf("cron %q: macro %s must be the whole expression", expr, parts[0])
		}
		parts = strings.Fields(m)
	}
	switch len(parts) {
	case 5:
		parts = append([]string{"0"}, parts...)
	case 6:
	default:
		return nil, fmt.Errorf("cron %q: found %d fields, %s", expr, len(parts), fieldsHelp)
	}

	s := &Schedule{expr: strings.TrimSpace(expr)}
	targets := []struct {
		spec *fieldSpec
		set  *uint64
	}{
		{&secondSpec, &s.second}, {&minuteSpec, &s.minute}, {&hourSpec, &s.hour},
		{&domSpec, &s.dom}, {&monthSpec, &s.month}, {&dowSpec, &s.dow},
	}
	for i, tg := range targets {
		set, err := tg.spec.parse(parts[i])
		if err != nil {
			return nil, fmt.Errorf("cron %q: %w", expr, err)
		}
		*tg.set = set
	}
	if s.dow&(1<<7) != 0 {
		s.dow = s.dow&^(1<<7) | 1 // 7 is Sunday
	}
	s.anyDOM = parts[3] == "*" || parts[3] == "?"
	s.anyDOW = parts[5] == "*" || parts[5] == "?"
	return s, nil
}

// String returns the expression as it was given, without surrounding space.
func (s *Schedule) String() string { return s.expr }

// parse turns one field into its set of matching values.
func (f *fieldSpec) parse(text string) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(text, ",") {
		if item == "" {
			return 0, fmt.Errorf("%s field %q has an empty list item; separate values with single commas", f.name, text)
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			// A step as wide as the range would match only its start, which
			// is almost always a mistake such as */60 for hourly.
			maxStep := f.last - f.min
			n, ok := number(stepText)
			if !ok || n < 1 || n > maxStep {
				return 0, fmt.Errorf("%s field %q: step %q must be a whole number in 1-%d", f.name, item, stepText, maxStep)
			}
			step = n
		}
		lo, hi := f.min, f.last
		switch {
		case base == "*" || (base == "?" && f.day):
		case strings.Contains(base, "-"):
			a, b, _ := strings.Cut(base, "-")
			var err error
			if lo, err = f.value(a, item); err != nil {
				return 0, err
			}
			if hi, err = f.value(b, item); err != nil {
				return 0, err
			}
			if f.weekday && hi == 0 && lo > 0 {
				hi = 7 // FRI-SUN ends on the Sunday after
			}
			if hi < lo {
				return 0, fmt.Errorf("%s field %q: range %s runs backwards; write the smaller value first or list both parts, e.g. '%d-%d,%d-%d'",
					f.name, item, base, lo, f.last, f.min, hi)
			}
		default:
			var err error
			if lo, err = f.value(base, item); err != nil {
				return 0, err
			}
			if !hasStep || lo > hi {
				hi = lo // a/n starting at 7 (Sunday) is just that day
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// value reads one number or name of the field.
func (f *fieldSpec) value(word, item string) (int, error) {
	if word == "" {
		return 0, fmt.Errorf("%s field %q is missing a value; %s", f.name, item, f.hint)
	}
	if n, ok := f.names[strings.ToLower(word)]; ok {
		return n, nil
	}
	n, ok := number(word)
	if !ok {
		if f.names != nil {
			return 0, fmt.Errorf("%s field %q is not a number or name; %s", f.name, word, f.hint)
		}
		return 0, fmt.Errorf("%s field %q is not a number; %s", f.name, word, f.hint)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%s field %q is out of range %d-%d", f.name, word, f.min, f.max)
	}
	return n, nil
}

// number parses plain decimal digits; unlike strconv.Atoi it rejects signs.
// Values too long to matter come back as some number above 999.
func number(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < 1000 {
			n = n*10 + int(c-'0')
		}
	}
	return n, true
}
