package commerce

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// NormalizeEmail trims and lower-cases an address; "" stays "".
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone returns a number in E.164 when it parses as a valid number,
// reading national numbers in country (ISO 3166-1 alpha-2, such as the
// address's or the shop's country); otherwise it returns the number trimmed,
// so that nothing the shop sent is lost. The library carries every
// country's numbering plan (trunk prefixes, lengths), which a hand-written
// normaliser would get wrong for most of them.
func NormalizePhone(raw, country string) string {
	s := strings.TrimSpace(raw)
	if s == "" {
		return ""
	}
	n, err := phonenumbers.Parse(s, strings.ToUpper(country))
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return s
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// Timestamp formats t as the events' times are: UTC, RFC 3339, with
// fractional seconds only when there are any. The zero time gives "".
func Timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ParseTime reads an RFC 3339 time, or one without a zone (as WooCommerce's
// *_gmt fields are), which is taken as UTC. "" gives the zero time.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
}

var decimalRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// Decimal checks that s is an amount written as the schemas want it
// ("29.35", "-10.00", "3"), after trimming; it never goes through a float.
func Decimal(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !decimalRE.MatchString(s) {
		return "", fmt.Errorf("%q is not a decimal amount", s)
	}
	return s, nil
}

// AddDecimals sums amounts exactly; the result has as many decimals as the
// most precise term. No terms give "0".
func AddDecimals(terms ...string) (string, error) {
	sum := new(big.Rat)
	scale := 0
	for _, t := range terms {
		d, err := Decimal(t)
		if err != nil {
			return "", err
		}
		if i := strings.IndexByte(d, '.'); i >= 0 && len(d)-i-1 > scale {
			scale = len(d) - i - 1
		}
		r, _ := new(big.Rat).SetString(d)
		sum.Add(sum, r)
	}
	return sum.FloatString(scale), nil
}

// AbsDecimal drops the sign of an amount (WooCommerce writes refunds as
// negative totals).
func AbsDecimal(s string) (string, error) {
	d, err := Decimal(s)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(d, "-"), nil
}
