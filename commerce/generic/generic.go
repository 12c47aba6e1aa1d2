package generic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
)

// Adapter maps one source's webhooks as its Config says.
type Adapter struct {
	cfg Config
}

var _ commerce.Adapter = (*Adapter)(nil)

// New validates the configuration and returns its adapter.
func New(cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("generic webhook configuration %q: %w", cfg.Name, err)
	}
	return &Adapter{cfg: cfg}, nil
}

// Platform implements commerce.Adapter: the configuration's name.
func (a *Adapter) Platform() string { return a.cfg.Name }

// Shop implements commerce.Adapter.
func (a *Adapter) Shop(h http.Header, body []byte) (string, error) {
	s := a.cfg.Shop
	switch {
	case s.Value != "":
		return s.Value, nil
	case s.Header != "":
		if v := strings.TrimSpace(h.Get(s.Header)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%w: the %s header is missing", commerce.ErrNoShop, s.Header)
	}
	doc, err := parse(body)
	if err != nil {
		return "", fmt.Errorf("%w: the body is not JSON, so %s names no shop", commerce.ErrNoShop, s.Pointer)
	}
	tokens, _ := commerce.ParsePointer(s.Pointer) // validated by New
	if v, ok := commerce.Lookup(doc, tokens); ok {
		if text, ok := scalar(v); ok && text != "" {
			return text, nil
		}
	}
	return "", fmt.Errorf("%w: the body has no shop at %s", commerce.ErrNoShop, s.Pointer)
}

// Verify implements commerce.Adapter.
func (a *Adapter) Verify(h http.Header, body []byte, secrets [][]byte) error {
	sig := a.cfg.Signature
	v := strings.TrimSpace(h.Get(sig.Header))
	if v != "" && sig.Prefix != "" {
		rest, ok := strings.CutPrefix(v, sig.Prefix)
		if !ok {
			return fmt.Errorf("%w: %s does not start with %q", commerce.ErrSignature, sig.Header, sig.Prefix)
		}
		v = rest
	}
	enc := commerce.Hex
	if sig.encoding() == "base64" {
		enc = commerce.Base64
	}
	return commerce.VerifyHMAC(sig.Header, v, enc, hashes[sig.algorithm()], body, secrets)
}

// Decode implements commerce.Adapter.
func (a *Adapter) Decode(h http.Header, body []byte, shop commerce.Shop) (*commerce.Delivery, error) {
	if shop.ID == "" {
		id, err := a.Shop(h, body)
		if err != nil {
			return nil, err
		}
		shop.ID = id
	}
	d := &commerce.Delivery{Platform: a.cfg.Name, Shop: shop.ID, Headers: map[string]string{}, Body: body}
	ext := map[string]string{}
	for _, name := range sortedKeys(a.cfg.Headers) {
		header := a.cfg.Headers[name]
		if v := strings.TrimSpace(h.Get(header)); v != "" {
			ext[name] = v
			d.Headers[http.CanonicalHeaderKey(header)] = v
		}
	}
	doc, err := parse(body)
	if err != nil {
		return nil, commerce.Unmappable(a.cfg.Name, "", "the body is not JSON: %v", err)
	}
	m, why := a.match(doc)
	if m == nil {
		return nil, commerce.Unmappable(a.cfg.Name, "", "no mapping applies: %s", why)
	}
	typ, topic, err := m.typeOf(doc)
	if err != nil {
		return nil, commerce.Unmappable(a.cfg.Name, topic, "%v", err)
	}
	d.Topic = topic
	fail := func(format string, args ...any) error {
		return commerce.Unmappable(a.cfg.Name, topic, format, args...)
	}
	id, err := text(doc, m.ID, "id")
	if err != nil {
		return nil, fail("%v", err)
	}
	subject, err := text(doc, m.Subject, "subject")
	if err != nil {
		return nil, fail("%v", err)
	}
	occurred, err := timeAt(doc, m.OccurredAt, "occurredAt")
	if err != nil {
		return nil, fail("%v", err)
	}
	version := occurred
	if m.Version != "" {
		if version, err = timeAt(doc, m.Version, "version"); err != nil {
			return nil, fail("%v", err)
		}
	}
	data, err := m.data(doc, shop)
	if err != nil {
		return nil, fail("%v", err)
	}
	data["shop"] = shop.ID
	data["occurredAt"] = commerce.Timestamp(occurred)
	e, err := commerce.NewEvent(typ, id, subject, data)
	if err != nil {
		return nil, fail("%v", err)
	}
	e.Source = commerce.Source(a.cfg.Name, shop.ID)
	e.Ordering = commerce.Ordering{Key: resource(typ) + "/" + subject, At: version}
	if len(ext) > 0 {
		e.Extensions = ext
	}
	d.Events = []commerce.Event{e}
	return d, nil
}

// match finds the first mapping whose When holds, or says why none does.
func (a *Adapter) match(doc any) (*Mapping, string) {
	var why []string
	for i := range a.cfg.Events {
		m := &a.cfg.Events[i]
		if m.When == nil {
			return m, ""
		}
		tokens, _ := commerce.ParsePointer(m.When.Pointer)
		v, ok := commerce.Lookup(doc, tokens)
		got, isText := scalar(v)
		if ok && isText && got == m.When.Equals {
			return m, ""
		}
		if !ok {
			got = "nothing"
		} else {
			got = strconv.Quote(got)
		}
		why = append(why, fmt.Sprintf("events[%d] wants %q at %s, the body has %s", i, m.When.Equals, m.When.Pointer, got))
	}
	return nil, strings.Join(why, "; ")
}

// typeOf returns the event type and the source's name for what happened.
func (m *Mapping) typeOf(doc any) (typ, topic string, err error) {
	if m.TypeFrom == nil {
		return m.Type, m.Type, nil
	}
	v, err := text(doc, m.TypeFrom.Pointer, "typeFrom")
	if err != nil {
		return "", "", err
	}
	t, ok := m.TypeFrom.Values[v]
	if !ok {
		return "", v, fmt.Errorf("%q at %s maps to no type (typeFrom.values has %s)", v, m.TypeFrom.Pointer, strings.Join(sortedKeys(m.TypeFrom.Values), ", "))
	}
	return t, v, nil
}

// data builds the event's data from the mapping's paths.
func (m *Mapping) data(doc any, shop commerce.Shop) (map[string]any, error) {
	out := map[string]any{}
	for _, target := range sortedKeys(m.Data) {
		tokens, _ := commerce.ParsePointer(m.Data[target])
		v, ok := commerce.Lookup(doc, tokens)
		if !ok || v == nil {
			continue // absent: the schema says whether it had to be there
		}
		if err := put(out, target, v, shop); err != nil {
			return nil, err
		}
	}
	for _, target := range sortedKeys(m.Lists) {
		l := m.Lists[target]
		tokens, _ := commerce.ParsePointer(l.From)
		v, ok := commerce.Lookup(doc, tokens)
		if !ok || v == nil {
			continue
		}
		src, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a list", l.From)
		}
		list := make([]any, 0, len(src))
		for i, el := range src {
			item := map[string]any{}
			for _, field := range sortedKeys(l.Fields) {
				ft, _ := commerce.ParsePointer(l.Fields[field])
				fv, ok := commerce.Lookup(el, ft)
				if !ok || fv == nil {
					continue
				}
				if err := put(item, field, fv, shop); err != nil {
					return nil, fmt.Errorf("%s/%d: %w", l.From, i, err)
				}
			}
			list = append(list, item)
		}
		if err := put(out, target, list, shop); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// put sets the value at the pointer target in out, normalised for where it
// goes, creating the objects on the way.
func put(out map[string]any, target string, v any, shop commerce.Shop) error {
	tokens, err := commerce.ParsePointer(target)
	if err != nil || len(tokens) == 0 {
		return fmt.Errorf("bad data path %q", target)
	}
	obj := out
	for _, t := range tokens[:len(tokens)-1] {
		next, ok := obj[t].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[t] = next
		}
		obj = next
	}
	leaf := tokens[len(tokens)-1]
	nv, err := normalize(leaf, v, shop)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	obj[leaf] = nv
	return nil
}

var amounts = map[string]bool{
	"subtotalPrice": true, "totalPrice": true, "totalTax": true, "totalDiscounts": true, "totalShipping": true,
	"amount": true, "price": true, "totalDiscount": true, "compareAtPrice": true,
}

var times = map[string]bool{"completedAt": true, "cancelledAt": true, "consentUpdatedAt": true}

// normalize writes a value as the canonical data wants it at a property
// named leaf.
func normalize(leaf string, v any, shop commerce.Shop) (any, error) {
	s, isScalar := scalar(v)
	switch {
	case !isScalar:
		return v, nil
	case leaf == "email":
		return commerce.NormalizeEmail(s), nil
	case leaf == "phone":
		return commerce.NormalizePhone(s, shop.Country), nil
	case leaf == "currency" || leaf == "countryCode":
		return strings.ToUpper(strings.TrimSpace(s)), nil
	case amounts[leaf]:
		if _, isBool := v.(bool); isBool {
			return v, nil // the schema will say it is no amount
		}
		d, err := commerce.Decimal(s)
		if err != nil {
			return nil, err
		}
		return d, nil
	case times[leaf]:
		t, err := parseTime(v)
		if err != nil {
			return nil, err
		}
		return commerce.Timestamp(t), nil
	case leaf == "id" || strings.HasSuffix(leaf, "Id") || strings.HasSuffix(leaf, "Token"):
		if n, ok := v.(json.Number); ok {
			return n.String(), nil
		}
	}
	if n, ok := v.(json.Number); ok {
		// A number where the data wants one (quantity, rating, available):
		// keep it a number, exactly as written.
		return n, nil
	}
	return v, nil
}

func parse(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return doc, nil
}

// scalar is a string, number or boolean as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// text is the scalar at pointer p, which must be there.
func text(doc any, p, what string) (string, error) {
	tokens, _ := commerce.ParsePointer(p)
	v, ok := commerce.Lookup(doc, tokens)
	if !ok || v == nil {
		return "", fmt.Errorf("the body has no %s at %s", what, p)
	}
	s, ok := scalar(v)
	if !ok || s == "" {
		return "", fmt.Errorf("the %s at %s is not a string or number", what, p)
	}
	return s, nil
}

func timeAt(doc any, p, what string) (time.Time, error) {
	tokens, _ := commerce.ParsePointer(p)
	v, ok := commerce.Lookup(doc, tokens)
	if !ok || v == nil {
		return time.Time{}, fmt.Errorf("the body has no %s at %s", what, p)
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s at %s: %w", what, p, err)
	}
	return t, nil
}

// parseTime reads RFC 3339 text or Unix seconds.
func parseTime(v any) (time.Time, error) {
	if n, ok := v.(json.Number); ok {
		f, err := n.Int64()
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not whole Unix seconds", n)
		}
		return time.Unix(f, 0).UTC(), nil
	}
	s, _ := v.(string)
	if s == "" {
		return time.Time{}, fmt.Errorf("%v is not a time", v)
	}
	return commerce.ParseTime(s)
}

// resource is the noun of a canonical type: "order" of commerce.order.paid.
func resource(typ string) string {
	noun, _, _ := strings.Cut(strings.TrimPrefix(typ, commerce.Prefix), ".")
	return noun
}
