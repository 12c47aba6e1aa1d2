package cron_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/cron"
)

func TestNext(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		expr, after, want string
	}{
		{"0 0 * * *", "2026-11-23 10:00:00", "2026-11-24 00:00:00"},
		{"*/15 * * * *", "2026-11-23 10:07:30", "2026-11-23 10:15:00"},
		{"0 9 * * MON-FRI", "2026-11-27 09:00:00", "2026-11-30 09:00:00"},
		{"30 8 1 * *", "2026-12-05 00:00:00", "2027-01-01 08:30:00"},
		{"0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00:00"},
		{"0 12 13 * 5", "2026-11-01 00:00:00", "2026-11-06 12:00:00"}, // Friday or the 13th
		{"0 0 * * 7", "2026-11-23 00:00:00", "2026-11-29 00:00:00"},
		{"*/10 * * * * *", "2026-11-23 10:00:05", "2026-11-23 10:00:10"},
		{"@hourly", "2026-11-23 10:59:59", "2026-11-23 11:00:00"},
		{"@weekly", "2026-11-23 10:00:00", "2026-11-29 00:00:00"},
		{"0 0 1 jan,jul *", "2026-02-01 00:00:00", "2026-07-01 00:00:00"},
		{"5-10/5 3 * * *", "2026-11-23 03:05:00", "2026-11-23 03:10:00"},
		{"0 0 31 * *", "2026-11-01 00:00:00", "2026-12-31 00:00:00"},
	}
	for _, tc := range cases {
		t.Run(tc.expr+"@"+tc.after, func(t *testing.T) {
			t.Parallel()
			s, err := cron.Parse(tc.expr)
			require.NoError(t, err)
			require.Equal(t, at(tc.want), s.Next(at(tc.after)))
		})
	}
	s, err := cron.Parse("0 0 30 2 *")
	require.NoError(t, err)
	require.True(t, s.Next(at("2026-01-01 00:00:00")).IsZero(), "February 30 never comes")
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"0 25 * * *":   `hour field "25" is out of range 0-23`,
		"* * *":        "found 3 fields; write 5 fields",
		"0 0 * FOO *":  `month field "FOO": "FOO" is not a number`,
		"*/0 * * * *":  "step \"0\" must be a positive whole number",
		"0 10-5 * * *": "range 10-5 goes backwards",
		"@sometimes":   "unknown macro",
		"0 0 ,1 * *":   "empty list item",
	}
	for expr, want := range cases {
		t.Run(expr, func(t *testing.T) {
			t.Parallel()
			_, err := cron.Parse(expr)
			require.ErrorContains(t, err, want)
		})
	}
}

func TestNextInLocation(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database")
	}
	s, err := cron.Parse("0 10 * * *")
	require.NoError(t, err)
	next := s.Next(time.Date(2026, 3, 28, 12, 0, 0, 0, berlin)) // DST starts on the 29th
	require.Equal(t, time.Date(2026, 3, 29, 10, 0, 0, 0, berlin), next)
	require.Equal(t, 8, next.UTC().Hour())
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0 0 * * *", "*/5 1-3 1,15 jan-mar mon", "@daily", "0 0 30 2 *", "1/7 * * * * *", "? ? ? ? ?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := cron.Parse(expr)
		if err != nil {
			return
		}
		after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if next := s.Next(after); !next.IsZero() && !next.After(after) {
			t.Fatalf("%q: next %v is not after %v", expr, next, after)
		}
	})
}
