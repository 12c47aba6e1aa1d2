// Package eventkey says which fields of an event identify what it is
// about (the checkout, the order, the customer) so that events about the
// same thing are found by key, with store.EventLog's EventsByKey, instead
// of by scanning recent events. Webhooks arrive late, twice and out of
// order: an order may come before its checkout, a checkout again after its
// order, a listen may open long after the event it waits for, with
// thousands of other events between.
//
// The keys are fields of the canonical commerce data (package commerce),
// each qualified by the event's shop:
//
//	name           field of data          normalised
//	checkoutToken  checkoutToken          spaces trimmed
//	orderId        orderId                spaces trimmed
//	email          customer.email         spaces trimmed, lower case
//	customerId     customer.id            spaces trimmed
//
// The shop is data.shop, else the event's `shop` extension attribute, else
// "" (an event of no shop is indexed under the shop ""). A field that is
// absent, empty or not a string or an integer gives no key. Any event is
// indexed, not only commerce.* events: a custom event with these fields
// correlates the same way.
package eventkey

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/storeflow/storeflow/store"
)

// Names of the keys.
const (
	Checkout = "checkoutToken"
	Order    = "orderId"
	Email    = "email"
	Customer = "customerId"
)

// Extractor is one key: its name, the field of an event's data that holds
// its value, and how the value is normalised.
type Extractor struct {
	Name      string
	Path      []string
	Normalize func(string) string
}

// Extractors are the keys every logged event is indexed under.
var Extractors = []Extractor{
	{Name: Checkout, Path: []string{"checkoutToken"}, Normalize: strings.TrimSpace},
	{Name: Order, Path: []string{"orderId"}, Normalize: strings.TrimSpace},
	{Name: Email, Path: []string{"customer", "email"}, Normalize: NormalizeEmail},
	{Name: Customer, Path: []string{"customer", "id"}, Normalize: strings.TrimSpace},
}

// NormalizeEmail is the indexed form of an email address, as commerce
// events carry it: trimmed, lower case.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Of returns the keys of an event given in structured form.
func Of(env map[string]any) []store.EventKey {
	data, _ := env["data"].(map[string]any)
	if data == nil {
		return nil
	}
	shop := ShopOf(env)
	var out []store.EventKey
	for _, x := range Extractors {
		if k, ok := x.key(shop, field(data, x.Path)); ok {
			out = append(out, k)
		}
	}
	return out
}

// OfEnvelope returns the keys of an event given as its JSON envelope; an
// envelope that is not a JSON object has none.
// Only the fields the keys need are decoded: every event ingested passes
// here.
func OfEnvelope(b []byte) []store.EventKey {
	keys, _ := OfEnvelopeWithShop(b)
	return keys
}

// OfEnvelopeWithShop returns the keys of an event given as its JSON
// envelope and the shop it belongs to (ShopOf), from one decoding.
func OfEnvelopeWithShop(b []byte) ([]store.EventKey, string) {
	var env struct {
		Shop any `json:"shop"`
		Data *struct {
			Shop          any `json:"shop"`
			CheckoutToken any `json:"checkoutToken"`
			OrderID       any `json:"orderId"`
			Customer      *struct {
				ID    any `json:"id"`
				Email any `json:"email"`
			} `json:"customer"`
		} `json:"data"`
	}
	// A field of another type than expected (data a string, customer an
	// array) is left out and the rest decoded, as Of would read the event.
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(b, &env); err != nil && !errors.As(err, &typeErr) {
		return nil, ""
	}
	if env.Data == nil {
		return nil, ShopOf(map[string]any{"shop": env.Shop})
	}
	d := env.Data
	data := map[string]any{"shop": d.Shop, "checkoutToken": d.CheckoutToken, "orderId": d.OrderID}
	if c := d.Customer; c != nil {
		data["customer"] = map[string]any{"id": c.ID, "email": c.Email}
	}
	m := map[string]any{"shop": env.Shop, "data": data}
	return Of(m), ShopOf(m)
}

// ShopOf is the shop an event belongs to: data.shop, else the `shop`
// extension attribute.
func ShopOf(env map[string]any) string {
	if data, ok := env["data"].(map[string]any); ok {
		if s, ok := data["shop"].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	s, _ := env["shop"].(string)
	return strings.TrimSpace(s)
}

// Key returns the key named name of a value in a shop, normalised as its
// extractor does; false when name is no key or the value gives none.
func Key(name, shop string, value any) (store.EventKey, bool) {
	for _, x := range Extractors {
		if x.Name == name {
			return x.key(strings.TrimSpace(shop), value)
		}
	}
	return store.EventKey{}, false
}

func (x Extractor) key(shop string, v any) (store.EventKey, bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case float64:
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return store.EventKey{}, false
		}
		s = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		s = v.String()
	default:
		return store.EventKey{}, false
	}
	if s = x.Normalize(s); s == "" {
		return store.EventKey{}, false
	}
	return store.EventKey{Name: x.Name, Shop: shop, Value: s}, true
}

func field(data map[string]any, path []string) any {
	var v any = data
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// ShopField names, for ForExpression, the expression that extracts the
// event's shop.
const ShopField = "shop"

// ForExpression tells which key a correlation's `from` expression
// extracts: the key's name when the expression is the plain path of its
// field in the event (.data.checkoutToken, .data.customer.email), ShopField
// for .data.shop, false for anything else. Only a plain path is
// recognised, so that the key is certain to be what the expression yields.
func ForExpression(src string) (string, bool) {
	s := strings.TrimSpace(src)
	if inner, ok := strings.CutPrefix(s, "${"); ok {
		s, ok = strings.CutSuffix(inner, "}")
		if !ok {
			return "", false
		}
	}
	s = strings.Join(strings.Fields(s), "")
	if s == ".data.shop" {
		return ShopField, true
	}
	for _, x := range Extractors {
		if s == ".data."+strings.Join(x.Path, ".") {
			return x.Name, true
		}
	}
	return "", false
}
