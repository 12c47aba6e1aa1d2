package cron_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the host's zone files

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/cron"
)

type nextCase struct {
	expr, after, want string // RFC 3339; want "" means no activation
}

// checkNext runs cases with after in the named location; want is compared
// as written, offset included, so the hour of a DST change is unambiguous.
func checkNext(t *testing.T, zone string, cases []nextCase) {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.expr+" after "+tc.after, func(t *testing.T) {
			t.Parallel()
			s, err := cron.Parse(tc.expr)
			require.NoError(t, err)
			after, err := time.Parse(time.RFC3339, tc.after)
			require.NoError(t, err)
			got := s.Next(after.In(loc))
			if tc.want == "" {
				require.True(t, got.IsZero(), "got %v", got)
				return
			}
			require.Equal(t, tc.want, got.Format(time.RFC3339))
			require.Equal(t, loc, got.Location())
		})
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	checkNext(t, "UTC", []nextCase{
		// Strictly after, also from a fraction of a second.
		{"0 0 * * *", "2026-11-23T10:00:00Z", "2026-11-24T00:00:00Z"},
		{"0 0 * * *", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{"* * * * * *", "2026-11-23T23:59:59.5Z", "2026-11-24T00:00:00Z"},
		{"* * * * *", "2026-11-23T10:00:30Z", "2026-11-23T10:01:00Z"},

		// Month and year ends.
		{"30 8 1 * *", "2026-12-05T00:00:00Z", "2027-01-01T08:30:00Z"},
		{"59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
		{"0 0 31 * *", "2026-11-01T00:00:00Z", "2026-12-31T00:00:00Z"},
		{"0 0 31 * *", "2027-01-31T00:00:00Z", "2027-03-31T00:00:00Z"},
		{"0 0 30 2 *", "2026-01-01T00:00:00Z", ""},
		{"0 0 31 2,4,6,9,11 *", "2026-01-01T00:00:00Z", ""},

		// Leap years; 2100 is not one, so within five years of 2097 there is none.
		{"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"0 0 29 2 *", "2097-03-01T00:00:00Z", ""},
		{"0 0 29 2 *", "2100-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},

		// Day of month OR day of week when both are restricted.
		{"0 12 13 * 5", "2026-11-01T00:00:00Z", "2026-11-06T12:00:00Z"},   // a Friday
		{"0 12 13 * 5", "2026-11-27T12:00:00Z", "2026-12-04T12:00:00Z"},   // next Friday
		{"0 12 13 * MON", "2026-12-08T00:00:00Z", "2026-12-13T12:00:00Z"}, // the 13th, a Sunday
		{"0 0 */10 * MON", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"},
		{"0 9 * * MON-FRI", "2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z"},
		{"0 9 ? * MON-FRI", "2026-11-27T09:00:00Z", "2026-11-30T09:00:00Z"},
		{"0 9 15 * *", "2026-11-23T00:00:00Z", "2026-12-15T09:00:00Z"},
		{"0 9 15 * ?", "2026-11-23T00:00:00Z", "2026-12-15T09:00:00Z"},

		// Sunday as 0, 7 and SUN, also closing a range.
		{"0 0 * * 7", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"},
		{"0 0 * * 0", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"},
		{"0 10 * * sat-sun", "2026-11-23T00:00:00Z", "2026-11-28T10:00:00Z"},
		{"0 10 * * 6-7", "2026-11-28T10:00:00Z", "2026-11-29T10:00:00Z"},
		{"0 10 * * 7/2", "2026-11-23T00:00:00Z", "2026-11-29T10:00:00Z"},

		// Steps.
		{"*/15 * * * *", "2026-11-23T10:07:30Z", "2026-11-23T10:15:00Z"},
		{"*/15 * * * *", "2026-11-23T10:45:00Z", "2026-11-23T11:00:00Z"},
		{"5-10/5 3 * * *", "2026-11-23T03:05:00Z", "2026-11-23T03:10:00Z"},
		{"5-10/5 3 * * *", "2026-11-23T03:10:00Z", "2026-11-24T03:05:00Z"},
		{"10/20 * * * *", "2026-11-23T10:31:00Z", "2026-11-23T10:50:00Z"},
		{"0 */6 * * *", "2026-11-23T19:00:00Z", "2026-11-24T00:00:00Z"},
		{"0 0 1 */5 *", "2026-07-01T00:00:00Z", "2026-11-01T00:00:00Z"},

		// Names in any case.
		{"0 0 1 jan,JUL *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"0 0 1 Jan-Mar/2 *", "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"0 0 1 NOV-dec *", "2026-12-01T00:00:00Z", "2027-11-01T00:00:00Z"},

		// Seconds field.
		{"*/10 * * * * *", "2026-11-23T10:00:05Z", "2026-11-23T10:00:10Z"},
		{"*/10 * * * * *", "2026-11-23T10:59:50Z", "2026-11-23T11:00:00Z"},
		{"30 0 0 * * *", "2026-11-23T00:00:30Z", "2026-11-24T00:00:30Z"},
		{"15,45 30 9 * * MON", "2026-11-23T09:30:20Z", "2026-11-23T09:30:45Z"},

		// Macros.
		{"@yearly", "2026-11-23T10:00:00Z", "2027-01-01T00:00:00Z"},
		{"@annually", "2026-11-23T10:00:00Z", "2027-01-01T00:00:00Z"},
		{"@monthly", "2026-11-23T10:00:00Z", "2026-12-01T00:00:00Z"},
		{"@weekly", "2026-11-23T10:00:00Z", "2026-11-29T00:00:00Z"},
		{"@daily", "2026-11-23T10:00:00Z", "2026-11-24T00:00:00Z"},
		{"@MIDNIGHT", "2026-11-23T10:00:00Z", "2026-11-24T00:00:00Z"},
		{"@hourly", "2026-11-23T10:59:59Z", "2026-11-23T11:00:00Z"},
	})
}

func TestNextKeepsFixedOffset(t *testing.T) {
	t.Parallel()
	s, err := cron.Parse("0 9 * * *")
	require.NoError(t, err)
	tokyo := time.FixedZone("JST", 9*3600)
	got := s.Next(time.Date(2026, 11, 23, 10, 0, 0, 0, tokyo))
	require.Equal(t, "2026-11-24T09:00:00+09:00", got.Format(time.RFC3339))
}

func TestNextAcrossDST(t *testing.T) {
	t.Parallel()
	t.Run("Europe/Berlin", func(t *testing.T) {
		t.Parallel()
		checkNext(t, "Europe/Berlin", []nextCase{
			{"0 10 * * *", "2026-03-28T12:00:00+01:00", "2026-03-29T10:00:00+02:00"},
			// 02:00-03:00 is skipped on 29 March: a daily job runs at the change.
			{"30 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-29T03:00:00+02:00"},
			{"30 2 * * *", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"},
			{"*/20 2 * * *", "2026-03-29T01:59:00+01:00", "2026-03-29T03:00:00+02:00"},
			// Every-hour schedules keep elapsed time instead.
			{"30 * * * *", "2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"},
			{"*/30 * * * *", "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00"},
			// 02:00-03:00 happens twice on 25 October: a daily job runs once.
			{"30 2 * * *", "2026-10-25T00:00:00+02:00", "2026-10-25T02:30:00+02:00"},
			{"30 2 * * *", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
			{"30 2 * * *", "2026-10-25T02:10:00+01:00", "2026-10-26T02:30:00+01:00"},
			{"0 3 * * *", "2026-10-25T02:10:00+01:00", "2026-10-25T03:00:00+01:00"},
			{"*/30 * * * *", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00"},
			{"*/30 * * * *", "2026-10-25T02:00:00+01:00", "2026-10-25T02:30:00+01:00"},
			// Beyond the zone table, where Go applies the zone's rule.
			{"30 2 * * *", "2040-03-24T12:00:00+01:00", "2040-03-25T03:00:00+02:00"},
		})
	})
	t.Run("America/New_York", func(t *testing.T) {
		t.Parallel()
		checkNext(t, "America/New_York", []nextCase{
			{"15 2 * * *", "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00"},
			{"30 1 * * *", "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00"},
			{"30 1 * * *", "2026-11-01T01:10:00-05:00", "2026-11-02T01:30:00-05:00"},
			{"59 59 1 * * *", "2026-11-01T01:59:59-04:00", "2026-11-02T01:59:59-05:00"},
			{"0 * * * *", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00"},
			{"0 * * * *", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"},
		})
	})
	t.Run("America/Sao_Paulo", func(t *testing.T) {
		t.Parallel()
		// Midnight did not exist on 4 November 2018.
		checkNext(t, "America/Sao_Paulo", []nextCase{
			{"@daily", "2018-11-03T12:00:00-03:00", "2018-11-04T01:00:00-02:00"},
			{"@daily", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"},
		})
	})
	t.Run("Pacific/Apia", func(t *testing.T) {
		t.Parallel()
		// Samoa skipped 30 December 2011 entirely.
		checkNext(t, "Pacific/Apia", []nextCase{
			{"0 12 * * *", "2011-12-29T13:00:00-10:00", "2011-12-31T00:00:00+14:00"},
			{"0 12 * * *", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"},
			{"0 12 30 * *", "2011-12-01T00:00:00-10:00", "2011-12-31T00:00:00+14:00"},
		})
	})
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ expr, want string }{
		{"0 25 * * *", `cron "0 25 * * *": hour field "25" is out of range 0-23`},
		{"60 * * * *", `minute field "60" is out of range 0-59`},
		{"0 0 0 * *", `day-of-month field "0" is out of range 1-31`},
		{"0 0 * 13 *", `month field "13" is out of range 1-12`},
		{"0 0 * * 8", `day-of-week field "8" is out of range 0-7`},
		{"60 0 0 * * *", `second field "60" is out of range 0-59`},
		{"0 1,25 * * *", `hour field "25" is out of range 0-23`},
		{"", "found 0 fields, want 5: minute hour day-of-month month day-of-week"},
		{"* * *", "found 3 fields, want 5: minute hour day-of-month month day-of-week"},
		{"0 0 0 1 1 * 2026", "found 7 fields"},
		{"0 0 * FOO *", `month field "FOO" is not a number or name; use 1-12 or JAN-DEC`},
		{"0 0 * * MONDAY", `day-of-week field "MONDAY" is not a number or name; use 0-7 or SUN-SAT`},
		{"0 0 JAN * *", `day-of-month field "JAN" is not a number; use 1-31`},
		{"+5 * * * *", `minute field "+5" is not a number`},
		{"0 1- * * *", `hour field "1-" is missing a value; use 0-23`},
		{"*/0 * * * *", `minute field "*/0": step "0" must be a whole number in 1-59`},
		{"*/60 * * * *", `step "60" must be a whole number in 1-59`},
		{"0 */x * * *", `hour field "*/x": step "x" must be a whole number in 1-23`},
		{"0 22-2 * * *", `hour field "22-2": range 22-2 runs backwards; write the smaller value first or list both parts, e.g. '22-23,0-2'`},
		{"0 0 ,1 * *", `day-of-month field ",1" has an empty list item`},
		{"? * * * *", `minute field "?" is not a number`},
		{"@sometimes", `unknown macro "@sometimes"; use @yearly`},
		{"@daily 5", "macro @daily must be the whole expression"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			s, err := cron.Parse(tc.expr)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, s)
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"0 0 * * *", "@Daily", "*/5 * * * * *"} {
		s, err := cron.Parse("  " + expr + "\n")
		require.NoError(t, err)
		require.Equal(t, expr, s.String())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0 0 * * *", "*/5 1-3 1,15 jan-mar mon", "@daily", "0 0 30 2 *",
		"1/7 * * * * *", "? ? ? ? ?", "59 59 1 * * *", "0 0 13 * fri-sun", "7/3 2 * * 7",
	} {
		f.Add(s)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(f, err)
	starts := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 1, 59, 30, 0, berlin),  // before clocks go forward
		time.Date(2026, 10, 25, 2, 59, 59, 0, berlin), // in the hour that repeats
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := cron.Parse(expr)
		if err != nil {
			require.ErrorContains(t, err, "cron ")
			return
		}
		again, err := cron.Parse(s.String())
		require.NoError(t, err, "String() must parse again")
		for _, after := range starts {
			prev := after
			for range 3 {
				next := s.Next(prev)
				require.Equal(t, next, again.Next(prev))
				if next.IsZero() {
					break
				}
				require.True(t, next.After(prev), "%q: next %v is not after %v", expr, next, prev)
				require.Zero(t, next.Nanosecond())
				prev = next
			}
		}
	})
}
