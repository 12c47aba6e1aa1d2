package commerce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// WireID reads an id as platforms put it in JSON, a number or a string, into
// a string without going through a float (Shopify's ids exceed 2^53). null
// reads as "".
type WireID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *WireID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = WireID(strings.TrimSpace(s))
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("an id must be a number or a string, not %s", b)
		}
		*id = WireID(n.String())
	}
	return nil
}

// String returns the id.
func (id WireID) String() string { return string(id) }

// WireAmount reads an amount as platforms put it in JSON, a decimal string
// ("29.35") or a number (29.35), keeping its digits as written. null and ""
// read as "".
type WireAmount string

// UnmarshalJSON implements json.Unmarshaler.
func (a *WireAmount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	switch {
	case bytes.Equal(b, []byte("null")):
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("an amount must be a decimal string or a number, not %s", b)
		}
		s = n.String()
	}
	if s = strings.TrimSpace(s); s == "" {
		*a = ""
		return nil
	}
	d, err := Decimal(s)
	if err != nil {
		return err
	}
	*a = WireAmount(d)
	return nil
}

// String returns the amount.
func (a WireAmount) String() string { return string(a) }
