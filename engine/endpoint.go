package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/storeflow/storeflow/problem"
)

// interpolate replaces {name} placeholders with top-level fields of data,
// path-escaped: https://shop/orders/{orderId}.
func interpolate(uriTemplate string, data any) (string, error) {
	if !strings.Contains(uriTemplate, "{") {
		return uriTemplate, nil
	}
	m, _ := data.(map[string]any)
	var b strings.Builder
	rest := uriTemplate
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Endpoint",
				Detail: fmt.Sprintf("endpoint %q has an unclosed {", uriTemplate)}
		}
		name := strings.TrimSpace(rest[open+1 : open+end])
		b.WriteString(rest[:open])
		v, ok := m[name]
		if !ok {
			return "", &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Endpoint",
				Detail: fmt.Sprintf("endpoint %q: placeholder {%s} has no value; the task input has no top-level field %q", uriTemplate, name, name)}
		}
		switch x := v.(type) {
		case string:
			b.WriteString(url.PathEscape(x))
		case nil:
			b.WriteString("null")
		case bool, int, int64, float64, json.Number:
			b.WriteString(url.PathEscape(fmt.Sprint(x)))
		default:
			return "", &problem.Problem{Type: problem.TypeExpression, Status: 400, Title: "Invalid Endpoint",
				Detail: fmt.Sprintf("endpoint %q: placeholder {%s} is %T; only strings, numbers, booleans and null fit in a URI", uriTemplate, name, v)}
		}
		rest = rest[open+end+1:]
	}
}
