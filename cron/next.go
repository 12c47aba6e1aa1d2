package cron

import (
	"math/bits"
	"time"
)

// horizon bounds the search: a schedule with no activation within it (such
// as February 30) never fires.
const horizon = 5 // years

const everyHour = 1<<24 - 1

// Next returns the first activation strictly after `after`, in after's
// location, or the zero Time when there is none within five years.
//
// Fields are matched against the wall clock of after's location. Where
// daylight-saving changes make the wall clock jump:
//
//   - Wall-clock times skipped when clocks go forward fire once, at the
//     moment of the change: a daily 02:30 job runs at 03:00 that day rather
//     than not at all.
//   - Wall-clock times repeated when clocks go back fire only the first time.
//
// Schedules whose hour field matches every hour (e.g. '*/15 * * * *' or
// '0 * * * *') follow elapsed time instead, so that they keep their rhythm:
// they have nothing to catch up in a skipped hour and run again in a repeated
// one.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := after.Location()
	limit := after.AddDate(horizon, 0, 0)
	elapsed := s.hour == everyHour

	// The location's history is a series of spans with a fixed UTC offset;
	// within a span, wall clock and instants map one to one.
	span := after
	_, offset := span.Zone()
	from := wall(after).Add(time.Second) // first wall-clock time to consider
	if start, _ := span.ZoneBounds(); !start.IsZero() && !elapsed {
		// after may lie in a repeated hour; its first pass already fired.
		if _, before := start.Add(-time.Second).Zone(); before > offset {
			from = later(from, wallAt(start, before))
		}
	}
	for {
		_, end := span.ZoneBounds()
		until := wallAt(limit, offset).Add(time.Second)
		if !end.IsZero() {
			until = earlier(until, wallAt(end, offset))
		}
		if w, ok := s.nextWall(from, until); ok {
			return instant(w, offset, loc)
		}
		if end.IsZero() || end.After(limit) {
			return time.Time{}
		}

		span = end.In(loc)
		_, next := span.Zone()
		switch {
		case next > offset && !elapsed:
			if _, ok := s.nextWall(wallAt(end, offset), wallAt(end, next)); ok {
				return span // an activation in the skipped hour
			}
			from = wallAt(end, next)
		case next < offset && !elapsed:
			from = wallAt(end, offset) // skip the repeated hour
		default:
			from = wallAt(end, next)
		}
		offset = next
	}
}

// wall returns t's wall-clock reading, whole seconds, as a UTC time so that
// date arithmetic on it follows no zone rules.
func wall(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	return time.Date(y, mo, d, h, mi, sec, 0, time.UTC)
}

// wallAt returns the wall-clock reading of instant t under a UTC offset.
func wallAt(t time.Time, offset int) time.Time {
	return wall(t.UTC().Add(time.Duration(offset) * time.Second))
}

// instant is the inverse of wallAt, in loc.
func instant(w time.Time, offset int, loc *time.Location) time.Time {
	return w.Add(-time.Duration(offset) * time.Second).In(loc)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// nextWall returns the first wall-clock time w with from <= w < until that
// the schedule matches. It skips whole months, days, hours and minutes that
// cannot match, so a search over years takes a few thousand steps.
func (s *Schedule) nextWall(from, until time.Time) (time.Time, bool) {
	t := from
	for t.Before(until) {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		switch {
		case !has(s.month, int(mo)):
			if m := nextBit(s.month, int(mo)); m > 0 {
				t = time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
			} else {
				t = time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC)
			}
		case !s.dayMatches(d, t.Weekday()):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case !has(s.hour, h):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
			if n := nextBit(s.hour, h); n > 0 {
				t = time.Date(y, mo, d, n, 0, 0, 0, time.UTC)
			}
		case !has(s.minute, mi):
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
			if n := nextBit(s.minute, mi); n > 0 {
				t = time.Date(y, mo, d, h, n, 0, 0, time.UTC)
			}
		case !has(s.second, sec):
			t = time.Date(y, mo, d, h, mi+1, 0, 0, time.UTC)
			if n := nextBit(s.second, sec); n > 0 {
				t = time.Date(y, mo, d, h, mi, n, 0, time.UTC)
			}
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Schedule) dayMatches(day int, weekday time.Weekday) bool {
	dom, dow := has(s.dom, day), has(s.dow, int(weekday))
	switch {
	case s.anyDOM:
		return dow // true for every day when day-of-week is * as well
	case s.anyDOW:
		return dom
	}
	return dom || dow
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

// nextBit returns the smallest value in set above v, or -1. Callers test for
// > 0, which -1 fails and no value above v can.
func nextBit(set uint64, v int) int {
	rest := set >> uint(v+1)
	if rest == 0 {
		return -1
	}
	return v + 1 + bits.TrailingZeros64(rest)
}
