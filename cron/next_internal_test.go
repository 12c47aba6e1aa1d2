package cron

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/stretchr/testify/require"
)

// matches reports whether the wall clock of t matches, field by field.
func (s *Schedule) matches(t time.Time) bool {
	return has(s.month, int(t.Month())) && s.dayMatches(t.Day(), t.Weekday()) &&
		has(s.hour, t.Hour()) && has(s.minute, t.Minute()) && has(s.second, t.Second())
}

// randomExpr builds a 5-field expression from a few likely shapes per field.
func randomExpr(r *rand.Rand) string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	return fmt.Sprintf("%s %s %s %s %s",
		pick("*", "0", "*/7", "15,45", "10-20/5", fmt.Sprint(r.IntN(60))),
		pick("*", "*", "0", "*/5", "9-17", fmt.Sprint(r.IntN(24))),
		pick("*", "*", "1", "13", "*/10", "28-31", fmt.Sprint(1+r.IntN(31))),
		pick("*", "*", "feb", "1-6", "*/3", fmt.Sprint(1+r.IntN(12))),
		pick("*", "*", "mon-fri", "0", "7", "sat-sun", fmt.Sprint(r.IntN(8))),
	)
}

// TestNextAgainstScan compares Next with stepping a minute at a time:
// exactly in UTC, and in a DST zone for schedules that follow elapsed time.
func TestNextAgainstScan(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		loc   *time.Location
		start time.Time
	}{
		{time.UTC, time.Date(2028, 2, 20, 0, 0, 0, 0, time.UTC)},
		{berlin, time.Date(2026, 3, 27, 0, 0, 0, 0, berlin)},
		{berlin, time.Date(2026, 10, 23, 0, 0, 0, 0, berlin)},
	}
	const window = 20 * 24 * time.Hour
	for range 150 {
		expr := randomExpr(r)
		s, err := Parse(expr)
		require.NoError(t, err, expr)
		for _, tc := range cases {
			if tc.loc != time.UTC && s.hour != everyHour {
				continue
			}
			after := tc.start.Add(time.Duration(r.IntN(24*60)) * time.Minute)
			want := time.Time{}
			for m := after.Add(time.Minute); m.Before(after.Add(window)); m = m.Add(time.Minute) {
				if s.matches(m) {
					want = m
					break
				}
			}
			got := s.Next(after)
			if want.IsZero() {
				require.True(t, got.IsZero() || !got.Before(after.Add(window)), "%q after %v: got %v", expr, after, got)
				continue
			}
			require.True(t, want.Equal(got), "%q after %v: want %v, got %v", expr, after, want, got)
		}
	}
}
