package shopadmin

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
)

// Customer is the customer a call is about: its platform id, its email
// address, or both. It reads a commerce event's `customer` as it is
// (firstName, phone and the rest are ignored).
type Customer struct {
	ID    string
	Email string
}

// UnmarshalJSON reads {"id": …, "email": …}, the id a number or a string.
func (c *Customer) UnmarshalJSON(b []byte) error {
	var v struct {
		ID    commerce.WireID `json:"id"`
		Email string          `json:"email"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("customer: %w", err)
	}
	c.ID, c.Email = strings.TrimSpace(v.ID.String()), strings.ToLower(strings.TrimSpace(v.Email))
	return nil
}

// MarshalJSON writes the customer back as the object it was read from.
func (c Customer) MarshalJSON() ([]byte, error) {
	m := map[string]string{}
	if c.ID != "" {
		m["id"] = c.ID
	}
	if c.Email != "" {
		m["email"] = c.Email
	}
	return json.Marshal(m)
}

func (c *Customer) empty() bool { return c == nil || c.ID == "" && c.Email == "" }

// DiscountArgs are the arguments of shop.discount.create.
type DiscountArgs struct {
	Shop            string    `json:"shop"`
	Percent         *float64  `json:"percent,omitempty"`
	Amount          string    `json:"amount,omitempty"`
	FreeShipping    bool      `json:"freeShipping,omitempty"`
	ExpiresAt       string    `json:"expiresAt,omitempty"`
	ExpiresIn       string    `json:"expiresIn,omitempty"`
	Code            string    `json:"code,omitempty"`
	Prefix          string    `json:"prefix,omitempty"`
	Title           string    `json:"title,omitempty"`
	MinimumSubtotal string    `json:"minimumSubtotal,omitempty"`
	Customer        *Customer `json:"customer,omitempty"`
}

// TagArgs are the arguments of shop.customer.tag.
type TagArgs struct {
	Shop     string   `json:"shop"`
	Customer Customer `json:"customer"`
	Tags     []string `json:"tags"`
}

// NoteArgs are the arguments of shop.order.note.
type NoteArgs struct {
	Shop         string          `json:"shop"`
	OrderID      commerce.WireID `json:"orderId"`
	Note         string          `json:"note"`
	CustomerNote bool            `json:"customerNote,omitempty"`
}

// Kinds of discount.
const (
	KindPercent      = "percent"
	KindAmount       = "amount"
	KindFreeShipping = "freeShipping"
)

// discount is a checked shop.discount.create: what either platform makes.
type discount struct {
	Code    string
	Derived bool // the code derives from the idempotency key
	Title   string
	Kind    string
	// Percent is for KindPercent; Amount for KindAmount, a decimal string.
	Percent  float64
	Amount   string
	Minimum  string
	StartsAt time.Time
	EndsAt   time.Time
	Customer *Customer
	Key      string // the call's idempotency key
}

// value renders the discount's value for the output.
func (d discount) value() map[string]any {
	switch d.Kind {
	case KindPercent:
		return map[string]any{"percent": d.Percent}
	case KindAmount:
		return map[string]any{"amount": d.Amount}
	}
	return map[string]any{"freeShipping": true}
}

// discount checks the arguments and settles what is derived: the code, the
// title, the expiry.
func (a DiscountArgs) discount(req connector.Request, shopID, platform string) (discount, error) {
	bad := func(format string, args ...any) (discount, error) {
		return discount{}, invalid(DiscountCreate, format, args...)
	}
	d := discount{StartsAt: now(req), Minimum: a.MinimumSubtotal, Customer: a.Customer, Key: req.IdempotencyKey}
	if d.Customer.empty() {
		d.Customer = nil
	}
	n := 0
	if a.Percent != nil {
		n++
		d.Kind, d.Percent = KindPercent, *a.Percent
		if d.Percent <= 0 || d.Percent > 100 {
			return bad("percent: %v is not between 0 (excluded) and 100", d.Percent)
		}
	}
	if a.Amount != "" {
		n++
		d.Kind, d.Amount = KindAmount, a.Amount
		if !decimal(a.Amount) {
			return bad("amount: %q is not a decimal amount such as \"5.00\"", a.Amount)
		}
	}
	if a.FreeShipping {
		n++
		d.Kind = KindFreeShipping
	}
	if n != 1 {
		return bad("give exactly one of percent, amount and freeShipping: true")
	}
	if d.Minimum != "" && !decimal(d.Minimum) {
		return bad("minimumSubtotal: %q is not a decimal amount such as \"50.00\"", d.Minimum)
	}
	switch {
	case a.ExpiresAt != "" && a.ExpiresIn != "":
		return bad("give expiresAt or expiresIn, not both")
	case a.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, a.ExpiresAt)
		if err != nil {
			return bad("expiresAt: %q is not an RFC 3339 time such as 2026-05-01T00:00:00Z", a.ExpiresAt)
		}
		d.EndsAt = t.UTC()
	case a.ExpiresIn != "":
		dur, err := dsl.ParseISODuration(a.ExpiresIn)
		if err != nil || dur <= 0 {
			return bad("expiresIn: %q is not a positive ISO 8601 duration such as P7D", a.ExpiresIn)
		}
		d.EndsAt = d.StartsAt.Add(dur).Truncate(time.Second)
	default:
		return bad("give when the code expires: expiresIn (P7D) or expiresAt (an RFC 3339 time)")
	}
	if !d.EndsAt.After(d.StartsAt) {
		return bad("expiresAt: %s is not after the call (%s)", d.EndsAt.Format(time.RFC3339), d.StartsAt.Format(time.RFC3339))
	}
	switch {
	case a.Code != "" && a.Prefix != "":
		return bad("give code or prefix, not both")
	case a.Code != "":
		d.Code = a.Code
	default:
		if req.IdempotencyKey == "" {
			return bad("code: a code is derived from the call's idempotency key, and this call has none; give the code")
		}
		d.Code, d.Derived = DeriveCode(shopID, req.IdempotencyKey, a.Prefix), true
	}
	if platform == "woocommerce" {
		// WooCommerce keeps codes in lower case; the output says the
		// code the shop has.
		d.Code = strings.ToLower(d.Code)
	}
	d.Title = a.Title
	if d.Title == "" {
		d.Title = d.Code
	}
	return d, nil
}

// codeAlphabet leaves out 0, O, 1 and I, which customers misread.
const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// codeLength is the random part's length: 32^10 codes, so that two calls'
// codes never meet.
const codeLength = 10

// DeriveCode is the discount code of a call of shop.discount.create that
// names none: prefix, then ten characters derived from the shop and the
// call's idempotency key. A repeated call derives the same code.
func DeriveCode(shopID, key, prefix string) string {
	sum := sha256.Sum256([]byte("storeflow discount code\x00" + shopID + "\x00" + key))
	n := new(big.Int).SetBytes(sum[:])
	base := big.NewInt(int64(len(codeAlphabet)))
	var b strings.Builder
	b.WriteString(prefix)
	m := new(big.Int)
	for range codeLength {
		n.DivMod(n, base, m)
		b.WriteByte(codeAlphabet[m.Int64()])
	}
	return b.String()
}

func decimal(s string) bool {
	if s == "" || strings.Count(s, ".") > 1 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// percentString writes a percentage as WooCommerce takes it ("12.5").
func percentString(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) }

// fraction is a percentage as Shopify takes it, a fraction of 1 (10 is
// 0.1), computed in decimal so that 7 is 0.07, not 0.07000000000000001.
func fraction(p float64) json.Number {
	return json.Number(shiftPoint(strconv.FormatFloat(p, 'f', -1, 64)))
}

// shiftPoint divides a decimal string by 100.
func shiftPoint(s string) string {
	whole, frac, _ := strings.Cut(s, ".")
	for len(whole) < 3 {
		whole = "0" + whole
	}
	out := whole[:len(whole)-2] + "." + whole[len(whole)-2:] + frac
	out = strings.TrimRight(out, "0")
	out = strings.TrimSuffix(out, ".")
	out = strings.TrimLeft(out, "0")
	if out == "" || out[0] == '.' {
		out = "0" + out
	}
	return out
}

// tagsCSV joins tags as both platforms list them: "a, b".
func tagsCSV(tags []string) string { return strings.Join(tags, ", ") }

// splitTags reads a comma-separated tag list.
func splitTags(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// mergeTags adds tags to have, case-insensitively as both platforms
// compare tags, and returns all of them and the ones added.
func mergeTags(have, add []string) (all, added []string) {
	seen := map[string]bool{}
	for _, t := range have {
		seen[strings.ToLower(t)] = true
		all = append(all, t)
	}
	for _, t := range add {
		t = strings.TrimSpace(t)
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		seen[strings.ToLower(t)] = true
		all = append(all, t)
		added = append(added, t)
	}
	return all, added
}

func (a TagArgs) check() error {
	if a.Customer.empty() {
		return invalid(CustomerTag, "customer: give the customer's id or email")
	}
	for _, t := range a.Tags {
		if strings.TrimSpace(t) == "" || strings.Contains(t, ",") {
			return invalid(CustomerTag, "tags: %q is not a tag; a tag is a non-empty text without commas", t)
		}
	}
	if len(a.Tags) == 0 {
		return invalid(CustomerTag, "tags: give at least one tag to add")
	}
	return nil
}

// hasNote reports whether note already holds text as whole lines.
func hasNote(note, text string) bool {
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	return strings.Contains("\n"+norm(note)+"\n", "\n"+norm(text)+"\n")
}
