package sending

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/shop"
)

func TestQuietHoursInTheShopsTimeZone(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	at := func(loc *time.Location, y int, mo time.Month, d, h, m int) time.Time {
		return time.Date(y, mo, d, h, m, 0, 0, loc)
	}
	overnight := &quietHours{start: 21 * 60, end: 8 * 60}
	lunch := &quietHours{start: 12 * 60, end: 13*60 + 30}
	for _, tc := range []struct {
		name  string
		q     *quietHours
		loc   *time.Location
		t     time.Time
		quiet bool
		until time.Time
	}{
		{"evening, before", overnight, berlin, at(berlin, 2026, 12, 4, 20, 59), false, time.Time{}},
		{"evening, at the start", overnight, berlin, at(berlin, 2026, 12, 4, 21, 0), true, at(berlin, 2026, 12, 5, 8, 0)},
		{"late evening", overnight, berlin, at(berlin, 2026, 12, 4, 23, 30), true, at(berlin, 2026, 12, 5, 8, 0)},
		{"after midnight", overnight, berlin, at(berlin, 2026, 12, 5, 3, 0), true, at(berlin, 2026, 12, 5, 8, 0)},
		{"at the end", overnight, berlin, at(berlin, 2026, 12, 5, 8, 0), false, time.Time{}},
		{"the shop's zone, not UTC", overnight, berlin, time.Date(2026, 12, 4, 20, 30, 0, 0, time.UTC), true, at(berlin, 2026, 12, 5, 8, 0)},
		{"over the change to summer time", overnight, berlin, at(berlin, 2026, 3, 28, 22, 0), true, at(berlin, 2026, 3, 29, 8, 0)},
		{"within a day span", lunch, time.UTC, at(time.UTC, 2026, 12, 4, 12, 15), true, at(time.UTC, 2026, 12, 4, 13, 30)},
		{"outside a day span", lunch, time.UTC, at(time.UTC, 2026, 12, 4, 13, 30), false, time.Time{}},
		{"none", nil, time.UTC, at(time.UTC, 2026, 12, 4, 23, 0), false, time.Time{}},
		{"empty span", &quietHours{start: 60, end: 60}, time.UTC, at(time.UTC, 2026, 12, 4, 1, 0), false, time.Time{}},
	} {
		until, quiet := tc.q.until(tc.t, tc.loc)
		require.Equal(t, tc.quiet, quiet, tc.name)
		require.True(t, tc.until.Equal(until), "%s: until %s, want %s", tc.name, until, tc.until)
	}
	// 8 hours after 00:00 on the night summer time begins is 09:00 local:
	// the end is read on the clock, not counted in hours.
	until, _ := overnight.until(at(berlin, 2026, 3, 29, 0, 30), berlin)
	require.Equal(t, 6*time.Hour+30*time.Minute, until.Sub(at(berlin, 2026, 3, 29, 0, 30)))
}

func TestSettingsOfAShop(t *testing.T) {
	t.Parallel()
	def, err := settingsOf(nil)
	require.NoError(t, err)
	require.Equal(t, 16*time.Hour, def.smartWindow(ChannelEmail))
	require.Equal(t, 24*time.Hour, def.smartWindow(ChannelSMS))
	require.Equal(t, &quietHours{start: 21 * 60, end: 8 * 60}, def.quiet)
	require.Equal(t, time.UTC, def.loc)
	require.Zero(t, def.ratePerMinute)

	sh := &shop.Shop{ID: "acme", TimeZone: "America/New_York", Country: "US", Sending: shop.Sending{
		SmartSendingEmail: shop.Duration{Duration: 2 * time.Hour}, SmartSendingSMS: shop.Off(),
		QuietHours: shop.QuietHours{Start: "22:00", End: "07:30"}, RatePerMinute: 60}}
	got, err := settingsOf(sh)
	require.NoError(t, err)
	require.Equal(t, 2*time.Hour, got.smartWindow(ChannelEmail))
	require.Zero(t, got.smartWindow(ChannelSMS), "0s turns smart sending off")
	require.Equal(t, &quietHours{start: 22 * 60, end: 7*60 + 30}, got.quiet)
	require.Equal(t, "America/New_York", got.loc.String())
	require.Equal(t, 60, got.ratePerMinute)
	require.Equal(t, "US", got.country)

	sh.Sending.QuietHours.Off = true
	got, err = settingsOf(sh)
	require.NoError(t, err)
	require.Nil(t, got.quiet)

	_, err = settingsOf(&shop.Shop{ID: "bad", TimeZone: "Mars/Olympus"})
	require.ErrorContains(t, err, "Mars/Olympus")
	_, err = settingsOf(&shop.Shop{ID: "bad", Sending: shop.Sending{QuietHours: shop.QuietHours{Start: "9pm", End: "8am"}}})
	require.ErrorContains(t, err, "9pm")
}
