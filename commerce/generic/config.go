// Package generic maps the signed JSON webhooks of any source — a form
// builder, a review app, a quote tool, a shop platform without an adapter of
// its own — to canonical commerce events, as a Config says.
//
// A Config names the source, where its HMAC signature is and how it is
// written, where the shop comes from, and one or more mappings. The first
// mapping whose When matches the body maps it: its type (fixed, or chosen by
// a value of the body), the JSON Pointers of the event's id, subject and
// time, and the data, each canonical data path read from a pointer into the
// body. Values are normalised on the way: emails trimmed and lower-cased,
// phones to E.164 with the shop's country, amounts written as numbers to
// decimal strings, ids written as numbers to strings, times to UTC RFC
// 3339, currencies upper-case. A source whose bodies mix several resources
// gets one mapping per resource.
//
// The event's id is the value at the mapping's id pointer: a source that
// repeats a delivery with the same id is logged once. Its ordering key is
// the type's resource and the subject ("order/1042"), its time the value at
// the version pointer (occurredAt when none is given).
package generic

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/storeflow/storeflow/commerce"
)

// Config describes one source. It is plain data, JSON-encodable, so that
// shop configuration can store it; Validate it before use (New does).
type Config struct {
	// Name names the source: the platform of its events and the scheme of
	// their source ("typeform" gives "typeform://<shop>").
	Name string `json:"name"`
	// Signature is where and how the source signs its bodies.
	Signature Signature `json:"signature"`
	// Shop is where the shop comes from.
	Shop ShopFrom `json:"shop"`
	// Headers are request headers kept with each event, by the
	// CloudEvents extension attribute name they are kept under
	// ("typeformevent": "Typeform-Event-Id").
	Headers map[string]string `json:"headers,omitempty"`
	// Events are the mappings, tried in order.
	Events []Mapping `json:"events"`
}

// Signature says how a body is signed: an HMAC of the raw body, in a header.
type Signature struct {
	Header string `json:"header"`
	// Algorithm is the HMAC's hash: sha256 (the default), sha1 or sha512.
	Algorithm string `json:"algorithm,omitempty"`
	// Encoding of the digest in the header: hex (the default) or base64.
	Encoding string `json:"encoding,omitempty"`
	// Prefix precedes the digest in the header ("sha256=").
	Prefix string `json:"prefix,omitempty"`
}

// ShopFrom gives the shop: fixed, from a header, or from the body. Exactly
// one is set.
type ShopFrom struct {
	Value   string `json:"value,omitempty"`
	Header  string `json:"header,omitempty"`
	Pointer string `json:"pointer,omitempty"`
}

// Mapping maps the bodies it matches to events of one canonical type.
type Mapping struct {
	// When selects the bodies the mapping applies to; nil matches all.
	When *Match `json:"when,omitempty"`
	// Type is the canonical type, or TypeFrom chooses it; one of the two.
	Type     string    `json:"type,omitempty"`
	TypeFrom *TypeFrom `json:"typeFrom,omitempty"`
	// ID, Subject and OccurredAt are JSON Pointers into the body: the
	// delivery's id (stable across the source's retries), the id of the
	// resource, and when it happened (RFC 3339, or Unix seconds).
	ID         string `json:"id"`
	Subject    string `json:"subject"`
	OccurredAt string `json:"occurredAt"`
	// Version points at the resource's version time, for ordering; empty
	// means OccurredAt.
	Version string `json:"version,omitempty"`
	// Data maps canonical data paths ("/customer/email") to pointers into
	// the body ("/form_response/answers/0/email"). shop and occurredAt are
	// set by the adapter.
	Data map[string]string `json:"data,omitempty"`
	// Lists map a canonical list ("/lineItems") from a list of the body.
	Lists map[string]List `json:"lists,omitempty"`
}

// Match holds when the value at Pointer, as text, equals Equals.
type Match struct {
	Pointer string `json:"pointer"`
	Equals  string `json:"equals"`
}

// TypeFrom chooses the type by the value at Pointer: Values maps the
// source's values ("order_created") to canonical types.
type TypeFrom struct {
	Pointer string            `json:"pointer"`
	Values  map[string]string `json:"values"`
}

// List maps each element of the body's list at From to an element of a
// canonical list: Fields maps the element's fields ("/sku") to pointers
// into the source element ("/item_code").
type List struct {
	From   string            `json:"from"`
	Fields map[string]string `json:"fields"`
}

var (
	sourceName    = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)
	hashes        = map[string]func() hash.Hash{"sha256": sha256.New, "sha1": sha1.New, "sha512": sha512.New}
)

// Validate checks the configuration and lists every problem, each with
// where it is and how to fix it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
	}
	pointer := func(where, p string) {
		if _, err := commerce.ParsePointer(p); err != nil {
			bad(where, "%v", err)
		}
	}
	required := func(where, p string) {
		if p == "" {
			bad(where, "a JSON pointer into the body is required")
			return
		}
		pointer(where, p)
	}

	if !sourceName.MatchString(c.Name) {
		bad("name", "%q is not a source name: lower-case letters, digits, +, - and . starting with a letter (it becomes the scheme of the events' source)", c.Name)
	}
	if c.Signature.Header == "" {
		bad("signature.header", "name the header that carries the body's HMAC")
	}
	if _, ok := hashes[c.Signature.algorithm()]; !ok {
		bad("signature.algorithm", "%q is not one of sha256, sha1, sha512", c.Signature.Algorithm)
	}
	if e := c.Signature.encoding(); e != "hex" && e != "base64" {
		bad("signature.encoding", "%q is not hex or base64", c.Signature.Encoding)
	}
	set := 0
	for _, v := range []string{c.Shop.Value, c.Shop.Header, c.Shop.Pointer} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		bad("shop", "give exactly one of value (a fixed shop), header or pointer")
	}
	if c.Shop.Pointer != "" {
		pointer("shop.pointer", c.Shop.Pointer)
	}
	for _, ext := range sortedKeys(c.Headers) {
		if !extensionName.MatchString(ext) || ext == "shop" {
			bad(fmt.Sprintf("headers[%q]", ext), "an extension attribute name is 1 to 20 lower-case letters and digits, and not shop")
		}
		if c.Headers[ext] == "" {
			bad(fmt.Sprintf("headers[%q]", ext), "name the header to keep")
		}
	}
	if len(c.Events) == 0 {
		bad("events", "give at least one mapping")
	}
	for i, m := range c.Events {
		at := fmt.Sprintf("events[%d]", i)
		if m.When != nil {
			required(at+".when.pointer", m.When.Pointer)
		}
		types, err := m.types()
		if err != nil {
			bad(at, "%v", err)
		}
		if m.TypeFrom != nil {
			required(at+".typeFrom.pointer", m.TypeFrom.Pointer)
		}
		for _, t := range types {
			if !commerce.IsCanonical(t) {
				bad(at, "%q is not a canonical type; use one of %s", t, strings.Join(commerce.Types(), ", "))
			}
		}
		required(at+".id", m.ID)
		required(at+".subject", m.Subject)
		required(at+".occurredAt", m.OccurredAt)
		if m.Version != "" {
			pointer(at+".version", m.Version)
		}
		for _, target := range sortedKeys(m.Data) {
			where := fmt.Sprintf("%s.data[%q]", at, target)
			if top := topLevel(target); top == "shop" || top == "occurredAt" {
				bad(where, "%s is set by the adapter", top)
				continue
			}
			if target == "" {
				bad(where, "name a property of the data")
				continue
			}
			required(where, m.Data[target])
			for _, t := range types {
				if commerce.IsCanonical(t) {
					if err := commerce.DataPath(t, target); err != nil {
						bad(where, "%v", err)
					}
				}
			}
		}
		for _, target := range sortedKeys(m.Lists) {
			l := m.Lists[target]
			where := fmt.Sprintf("%s.lists[%q]", at, target)
			required(where+".from", l.From)
			if len(l.Fields) == 0 {
				bad(where+".fields", "map at least one field of the elements")
			}
			for _, field := range sortedKeys(l.Fields) {
				fw := fmt.Sprintf("%s.fields[%q]", where, field)
				pointer(fw, l.Fields[field])
				for _, t := range types {
					if commerce.IsCanonical(t) {
						if err := commerce.DataPath(t, target+"/-"+field); err != nil {
							bad(fw, "%v", err)
						}
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// types lists the types a mapping can give.
func (m *Mapping) types() ([]string, error) {
	switch {
	case m.Type != "" && m.TypeFrom != nil:
		return nil, errors.New("give type or typeFrom, not both")
	case m.Type != "":
		return []string{m.Type}, nil
	case m.TypeFrom != nil:
		if len(m.TypeFrom.Values) == 0 {
			return nil, errors.New("typeFrom.values maps no value to a type")
		}
		var out []string
		for _, k := range sortedKeys(m.TypeFrom.Values) {
			if t := m.TypeFrom.Values[k]; !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out, nil
	}
	return nil, errors.New("give type (a canonical type) or typeFrom (a pointer and the types of its values)")
}

func (s Signature) algorithm() string {
	if s.Algorithm == "" {
		return "sha256"
	}
	return strings.ToLower(s.Algorithm)
}

func (s Signature) encoding() string {
	if s.Encoding == "" {
		return "hex"
	}
	return strings.ToLower(s.Encoding)
}

func topLevel(p string) string {
	tokens, err := commerce.ParsePointer(p)
	if err != nil || len(tokens) == 0 {
		return ""
	}
	return tokens[0]
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ParseConfig reads a JSON configuration, refusing unknown fields (a typo
// would otherwise silently map nothing), and validates it.
func ParseConfig(b []byte) (*Config, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("generic webhook configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("generic webhook configuration %q: %w", c.Name, err)
	}
	return &c, nil
}
