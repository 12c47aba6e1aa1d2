package pretest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/storeflow/storeflow/dsl"
)

// Duration is an ISO 8601 duration as the file writes it, with a leading
// minus for the past.
type Duration struct {
	D   time.Duration
	Raw string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return lineError(n, err)
	}
	*d = Duration{D: v, Raw: n.Value}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	v, err := dsl.ParseISODuration(strings.TrimPrefix(s, "-"))
	if err != nil {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration: write PT1H, P1DT12H, P2W, or -P30D for the past", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// When is a moment of a scenario: an offset from its start, or a time. A
// time written without a zone is in the shop's time zone.
type When struct {
	Offset time.Duration
	// Time is set for a time; Local marks one written without a zone, whose
	// clock reading is in Time's fields, in UTC, until resolved.
	Time  time.Time
	Local bool
	Raw   string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (w *When) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseWhen(n.Value)
	if err != nil {
		return lineError(n, err)
	}
	*w = v
	return nil
}

func parseWhen(s string) (When, error) {
	if strings.HasPrefix(s, "P") || strings.HasPrefix(s, "-P") {
		d, err := parseDuration(s)
		return When{Offset: d, Raw: s}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return When{Time: t.UTC(), Raw: s}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return When{Time: t, Local: true, Raw: s}, nil
		}
	}
	return When{}, fmt.Errorf("%q is neither an offset (PT1H, -P30D) nor a time (2026-03-02T10:00:00Z, or 2026-03-02T10:00:00 in the shop's time zone)", s)
}

// IsZero reports a When not written.
func (w When) IsZero() bool { return w.Raw == "" }

// At resolves the moment in a scenario that starts at start, in zone.
func (w When) At(start time.Time, zone *time.Location) time.Time {
	switch {
	case w.Raw == "":
		return start
	case w.Time.IsZero():
		return start.Add(w.Offset)
	case w.Local:
		t := w.Time
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone).UTC()
	}
	return w.Time
}

// FormatOffset writes a duration as ISO 8601 (PT1H, P1DT2H30M, -PT5M), the
// way test files write offsets, so that reports read like the file.
func FormatOffset(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	b.WriteByte('P')
	if days := d / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10) + "D")
		d -= days * 24 * time.Hour
	}
	if d == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := d / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
		d -= m * time.Minute
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}
