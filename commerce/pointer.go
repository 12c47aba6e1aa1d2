package commerce

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParsePointer splits a JSON Pointer (RFC 6901) into its unescaped tokens;
// "" is the whole document.
func ParsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with \"/\" (or be \"\" for the whole document)", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || t[j+1] != '0' && t[j+1] != '1') {
				return nil, fmt.Errorf("JSON pointer %q: \"~\" must be followed by 0 or 1 (write ~0 for ~ and ~1 for /)", p)
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// Lookup returns the value at the JSON Pointer's tokens in a decoded JSON
// document, and whether there is one.
func Lookup(doc any, tokens []string) (any, bool) {
	v := doc
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[t]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != t {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// DataPath checks that the data of a canonical type can hold a value at
// the JSON Pointer p ("/customer/email", "/lineItems/0/sku"; "-" stands for
// any element of a list), by the type's schema, so that a mapping is
// checked before the first webhook arrives.
func DataPath(typ, p string) error {
	set := schemas()
	doc, ok := set.docs[typ]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownType, typ)
	}
	tokens, err := ParsePointer(p)
	if err != nil {
		return err
	}
	node := map[string]any(doc)
	for i, t := range tokens {
		node = set.resolve(node)
		where := "the data of " + typ
		if i > 0 {
			where = pointer(tokens[:i]) + " of " + typ
		}
		if props, ok := node["properties"].(map[string]any); ok {
			if next, ok := props[t].(map[string]any); ok {
				node = next
				continue
			}
		}
		if items, ok := node["items"].(map[string]any); ok {
			if _, err := strconv.Atoi(t); err == nil || t == "-" {
				node = items
				continue
			}
			return fmt.Errorf("%s is a list: address its elements by index or \"-\", not %q", where, t)
		}
		if node["type"] == "object" && node["additionalProperties"] != false {
			return nil // free-form (attributes, form fields): any name goes
		}
		if _, ok := node["properties"]; !ok {
			return fmt.Errorf("%s is a %v: there is no %q below it", where, node["type"], t)
		}
		return fmt.Errorf("%s has no property %q (it has %s)", where, t, strings.Join(keys(node["properties"]), ", "))
	}
	return nil
}

// resolve follows a node's $ref into the shared definitions.
func (s *schemaSet) resolve(node map[string]any) map[string]any {
	for {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		next, ok := s.defs[name].(map[string]any)
		if !ok {
			return node
		}
		node = next
	}
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, strconv.Quote(k))
	}
	slices.Sort(out)
	return out
}
