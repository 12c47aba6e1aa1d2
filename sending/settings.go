package sending

import (
	"fmt"
	"time"

	"github.com/storeflow/storeflow/shop"
)

// settings are a shop's sending rules, defaults filled in.
type settings struct {
	emailWindow, smsWindow time.Duration
	quiet                  *quietHours // nil: none
	ratePerMinute          int
	loc                    *time.Location
	country                string
}

// settingsOf reads a shop's rules; a call without a shop gets the
// defaults, in UTC.
func settingsOf(sh *shop.Shop) (settings, error) {
	if sh == nil {
		sh = &shop.Shop{}
	}
	s := sh.Sending // a copy: the defaults filled here stay here
	out := settings{emailWindow: window(s.SmartSendingEmail, shop.DefaultEmailSmartSending),
		smsWindow: window(s.SmartSendingSMS, shop.DefaultSMSSmartSending), ratePerMinute: s.RatePerMinute, country: sh.Country, loc: time.UTC}
	if sh.TimeZone != "" {
		loc, err := time.LoadLocation(sh.TimeZone)
		if err != nil {
			return out, fmt.Errorf("shop %q: time zone %q: %w", sh.ID, sh.TimeZone, err)
		}
		out.loc = loc
	}
	q := s.QuietHours
	if q.Off {
		return out, nil
	}
	if q.Start == "" && q.End == "" {
		q.Start, q.End = shop.DefaultQuietStart, shop.DefaultQuietEnd
	}
	qh, err := parseQuietHours(q.Start, q.End)
	if err != nil {
		return out, fmt.Errorf("shop %q: quiet hours: %w", sh.ID, err)
	}
	out.quiet = qh
	return out, nil
}

func window(d shop.Duration, def time.Duration) time.Duration {
	if d.IsZero() {
		return def
	}
	return d.Duration
}

// smartWindow is the smart-sending window of a channel (0: off).
func (s settings) smartWindow(channel string) time.Duration {
	if channel == ChannelSMS {
		return s.smsWindow
	}
	return s.emailWindow
}

// quietHours is a daily span of local time, in minutes after midnight;
// a span with start after end runs over midnight (21:00–08:00).
type quietHours struct{ start, end int }

func parseQuietHours(start, end string) (*quietHours, error) {
	var q quietHours
	for _, p := range []struct {
		s   string
		out *int
	}{{start, &q.start}, {end, &q.end}} {
		t, err := time.Parse("15:04", p.s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a time of day as HH:MM", p.s)
		}
		*p.out = t.Hour()*60 + t.Minute()
	}
	return &q, nil
}

// until reports whether t falls in the quiet hours, in loc, and when they
// end: the next time the clock in loc reads the end.
func (q *quietHours) until(t time.Time, loc *time.Location) (time.Time, bool) {
	if q == nil || q.start == q.end {
		return time.Time{}, false
	}
	local := t.In(loc)
	now := local.Hour()*60 + local.Minute()
	quiet := q.start <= now && now < q.end
	if q.start > q.end {
		quiet = now >= q.start || now < q.end
	}
	if !quiet {
		return time.Time{}, false
	}
	end := time.Date(local.Year(), local.Month(), local.Day(), q.end/60, q.end%60, 0, 0, loc)
	if !end.After(local) {
		end = time.Date(local.Year(), local.Month(), local.Day()+1, q.end/60, q.end%60, 0, 0, loc)
	}
	return end.UTC(), true
}
