package shopadmin_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeShopify is a local stand-in for a shop's GraphQL Admin API, checking
// requests as Shopify documents them: POST /admin/api/{version}/graphql.json
// with X-Shopify-Access-Token and a JSON body {query, variables}, the
// variables of the types the root fields take, the inputs' required fields.
// It keeps discounts, customers and orders, and answers with Shopify's
// shapes: data under the field's alias, userErrors, top-level errors
// (THROTTLED, ACCESS_DENIED) and HTTP 401, 429 and 5xx.
type fakeShopify struct {
	*httptest.Server
	t       *testing.T
	version string
	token   string
	scopes  map[string]bool

	mu        sync.Mutex
	nextID    int
	discounts map[string]*fakeDiscount // by upper-case code
	customers map[string]*fakeCustomer // by gid
	orders    map[string]*string       // note by gid
	requests  []shopifyRequest
	// script answers the next requests instead of the API: a status with
	// a body, served before (or, with apply, after) the request is handled.
	script []scripted
}

type scripted struct {
	status int
	body   string
	apply  bool // handle the request, then answer this (an answer lost)
}

type shopifyRequest struct {
	Root        string // the root field
	Variables   map[string]any
	Idempotency string
}

type fakeDiscount struct {
	ID       string
	Type     string
	Input    map[string]any
	Title    string
	StartsAt string
	EndsAt   string
}

type fakeCustomer struct {
	Email string
	Tags  []string
}

const (
	shopifyToken = "shpat_0123456789abcdef"
	throttled    = `{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],"extensions":{"cost":{"requestedQueryCost":10,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":3,"restoreRate":100.0}}}}`
)

func startShopify(t *testing.T) *fakeShopify {
	t.Helper()
	f := &fakeShopify{t: t, version: "2026-04", token: shopifyToken,
		scopes:    map[string]bool{"write_discounts": true, "write_customers": true, "write_orders": true},
		discounts: map[string]*fakeDiscount{}, customers: map[string]*fakeCustomer{}, orders: map[string]*string{}, nextID: 1000}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeShopify) addCustomer(id, email string, tags ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.customers["gid://shopify/Customer/"+id] = &fakeCustomer{Email: email, Tags: tags}
}

func (f *fakeShopify) addOrder(id, note string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := note
	f.orders["gid://shopify/Order/"+id] = &n
}

func (f *fakeShopify) answerNext(s ...scripted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, s...)
}

func (f *fakeShopify) got() []shopifyRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]shopifyRequest(nil), f.requests...)
}

func (f *fakeShopify) roots() []string {
	var out []string
	for _, r := range f.got() {
		out = append(out, r.Root)
	}
	return out
}

var (
	opRe   = regexp.MustCompile(`^\s*(query|mutation)\s+\w+\s*\(([^)]*)\)\s*\{\s*(?:(\w+)\s*:\s*)?(\w+)\s*\(([^)]*)\)`)
	varRe  = regexp.MustCompile(`\$(\w+)\s*:\s*([\w\[\]!]+)`)
	argRe  = regexp.MustCompile(`(\w+)\s*:\s*(\$\w+|\d+)`)
	timeRe = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
)

// rootFields are the fields this stand-in serves: operation kind, the
// scope a mutation needs, and the types of its arguments.
var rootFields = map[string]struct {
	op    string
	scope string
	args  map[string]string
}{
	"discountCodeBasicCreate":        {"mutation", "write_discounts", map[string]string{"basicCodeDiscount": "DiscountCodeBasicInput!"}},
	"discountCodeFreeShippingCreate": {"mutation", "write_discounts", map[string]string{"freeShippingCodeDiscount": "DiscountCodeFreeShippingInput!"}},
	"codeDiscountNodeByCode":         {"query", "write_discounts", map[string]string{"code": "String!"}},
	"customer":                       {"query", "write_customers", map[string]string{"id": "ID!"}},
	"customers":                      {"query", "write_customers", map[string]string{"first": "Int", "query": "String"}},
	"tagsAdd":                        {"mutation", "write_customers", map[string]string{"id": "ID!", "tags": "[String!]!"}},
	"order":                          {"query", "write_orders", map[string]string{"id": "ID!"}},
	"orderUpdate":                    {"mutation", "write_orders", map[string]string{"input": "OrderInput!"}},
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Request-Id", "b5f3c1d2-test")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func gqlErr(msg, code string) string {
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": msg, "extensions": map[string]any{"code": code}}}})
	return string(b)
}

func (f *fakeShopify) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/admin/api/"+f.version+"/graphql.json" {
		writeJSON(w, 404, `{"errors":"Not Found"}`)
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, 405, `{"errors":"Method Not Allowed"}`)
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != f.token {
		writeJSON(w, 401, `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeJSON(w, 400, `{"errors":"Bad Request"}`)
		return
	}
	var body struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, `{"errors":{"query":"Required parameter missing or invalid"}}`)
		return
	}
	m := opRe.FindStringSubmatch(body.Query)
	if m == nil {
		writeJSON(w, 200, gqlErr("Parse error in the query", "parseError"))
		return
	}
	op, alias, root := m[1], m[3], m[4]
	if alias == "" {
		alias = root
	}
	spec, ok := rootFields[root]
	if !ok || spec.op != op {
		writeJSON(w, 200, gqlErr(fmt.Sprintf("Field '%s' doesn't exist on type '%s'", root, map[string]string{"query": "QueryRoot", "mutation": "Mutation"}[op]), "undefinedField"))
		return
	}
	declared := map[string]string{}
	for _, v := range varRe.FindAllStringSubmatch(m[2], -1) {
		declared[v[1]] = v[2]
	}
	for _, a := range argRe.FindAllStringSubmatch(m[5], -1) {
		want, known := spec.args[a[1]]
		if !known {
			writeJSON(w, 200, gqlErr(fmt.Sprintf("Field '%s' doesn't accept argument '%s'", root, a[1]), "argumentNotAccepted"))
			return
		}
		if v, isVar := strings.CutPrefix(a[2], "$"); isVar && declared[v] != want && declared[v] != want+"!" {
			// A variable may be stricter than its argument (String! for String), never looser.
			writeJSON(w, 200, gqlErr(fmt.Sprintf("Type mismatch on variable $%s and argument %s (%s / %s)", v, a[1], declared[v], want), "variableMismatch"))
			return
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, shopifyRequest{Root: root, Variables: body.Variables, Idempotency: r.Header.Get("Idempotency-Key")})
	var next *scripted
	if len(f.script) > 0 {
		next = &f.script[0]
		f.script = f.script[1:]
		if next.status == 0 {
			next = nil // this request is served as usual
		}
	}
	f.mu.Unlock()
	if next != nil && !next.apply {
		writeJSON(w, next.status, next.body)
		return
	}
	if !f.scopes[spec.scope] {
		writeJSON(w, 200, gqlErr(fmt.Sprintf("Access denied for %s field. Required access: `%s` access scope.", root, spec.scope), "ACCESS_DENIED"))
		return
	}
	data := f.resolve(root, body.Variables)
	if next != nil {
		writeJSON(w, next.status, next.body)
		return
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{alias: data}, "extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10, "actualQueryCost": 10}}})
	writeJSON(w, 200, string(b))
}

func userErrs(field []string, code, msg string) []any {
	e := map[string]any{"field": field, "message": msg}
	if code != "" {
		e["code"] = code
	}
	return []any{e}
}

func (f *fakeShopify) resolve(root string, vars map[string]any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch root {
	case "discountCodeBasicCreate", "discountCodeFreeShippingCreate":
		arg, typ := "basicCodeDiscount", "DiscountCodeBasic"
		if root == "discountCodeFreeShippingCreate" {
			arg, typ = "freeShippingCodeDiscount", "DiscountCodeFreeShipping"
		}
		in, _ := vars["discount"].(map[string]any)
		if errs := f.checkDiscount(arg, typ, in); errs != nil {
			return map[string]any{"codeDiscountNode": nil, "userErrors": errs}
		}
		code := in["code"].(string)
		if _, dup := f.discounts[strings.ToUpper(code)]; dup {
			return map[string]any{"codeDiscountNode": nil, "userErrors": userErrs([]string{arg, "code"}, "TAKEN", "Code must be unique. Please try a different code.")}
		}
		f.nextID++
		d := &fakeDiscount{ID: "gid://shopify/DiscountCodeNode/" + strconv.Itoa(f.nextID), Type: typ, Input: in,
			Title: in["title"].(string), StartsAt: in["startsAt"].(string)}
		d.EndsAt, _ = in["endsAt"].(string)
		f.discounts[strings.ToUpper(code)] = d
		return map[string]any{"codeDiscountNode": d.node(), "userErrors": []any{}}
	case "codeDiscountNodeByCode":
		d := f.discounts[strings.ToUpper(fmt.Sprint(vars["code"]))]
		if d == nil {
			return nil
		}
		return d.node()
	case "customer":
		c := f.customers[fmt.Sprint(vars["id"])]
		if c == nil {
			return nil
		}
		return map[string]any{"id": vars["id"], "email": c.Email, "tags": c.Tags}
	case "customers":
		q := fmt.Sprint(vars["query"])
		email, ok := strings.CutPrefix(q, "email:")
		nodes := []any{}
		if unq, err := strconv.Unquote(email); ok && err == nil {
			for id, c := range f.customers {
				if strings.EqualFold(c.Email, unq) {
					nodes = append(nodes, map[string]any{"id": id, "email": c.Email, "tags": c.Tags})
				}
			}
		}
		return map[string]any{"nodes": nodes}
	case "tagsAdd":
		id := fmt.Sprint(vars["id"])
		c := f.customers[id]
		if c == nil {
			return map[string]any{"node": nil, "userErrors": userErrs([]string{"id"}, "", "Resource not found")}
		}
		tags, _ := vars["tags"].([]any)
		if len(tags) == 0 {
			return map[string]any{"node": nil, "userErrors": userErrs([]string{"tags"}, "", "Tags can't be blank")}
		}
		for _, t := range tags {
			if !containsFold(c.Tags, t.(string)) {
				c.Tags = append(c.Tags, t.(string))
			}
		}
		return map[string]any{"node": map[string]any{"id": id, "tags": c.Tags}, "userErrors": []any{}}
	case "order":
		note, ok := f.orders[fmt.Sprint(vars["id"])]
		if !ok {
			return nil
		}
		var n any
		if *note != "" {
			n = *note
		}
		return map[string]any{"id": vars["id"], "name": "#1001", "note": n}
	case "orderUpdate":
		in, _ := vars["input"].(map[string]any)
		id := fmt.Sprint(in["id"])
		note, ok := f.orders[id]
		if !ok {
			return map[string]any{"order": nil, "userErrors": userErrs([]string{"id"}, "", "Order does not exist")}
		}
		if n, isString := in["note"].(string); isString {
			*note = n
		}
		return map[string]any{"order": map[string]any{"id": id, "note": *note}, "userErrors": []any{}}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// checkDiscount holds an input to what Shopify requires on create: code,
// title, startsAt and context (customerGets for an amount off, a
// destination for free shipping), valid times and values, known customers.
func (f *fakeShopify) checkDiscount(arg, typ string, in map[string]any) []any {
	for _, field := range []string{"code", "title", "startsAt", "context"} {
		if in[field] == nil {
			return userErrs([]string{arg, field}, "BLANK", field+" can't be blank")
		}
	}
	for _, field := range []string{"startsAt", "endsAt"} {
		if v, ok := in[field]; ok && !timeRe.MatchString(fmt.Sprint(v)) {
			return userErrs([]string{arg, field}, "INVALID", field+" is invalid")
		}
	}
	if s, e := fmt.Sprint(in["startsAt"]), in["endsAt"]; e != nil {
		st, _ := time.Parse(time.RFC3339, s)
		en, _ := time.Parse(time.RFC3339, fmt.Sprint(e))
		if !en.After(st) {
			return userErrs([]string{arg, "endsAt"}, "INVALID", "Ends at needs to be after starts_at")
		}
	}
	ctx, _ := in["context"].(map[string]any)
	if cs, ok := ctx["customers"].(map[string]any); ok {
		for _, id := range cs["add"].([]any) {
			if f.customers[id.(string)] == nil {
				return userErrs([]string{arg, "context", "customers", "add"}, "INVALID", fmt.Sprintf("Customer with id %s does not exist", id))
			}
		}
	} else if ctx["all"] != "ALL" {
		return userErrs([]string{arg, "context"}, "INVALID", "Context is invalid")
	}
	if typ == "DiscountCodeFreeShipping" {
		if in["customerGets"] != nil {
			return userErrs([]string{arg, "customerGets"}, "INVALID", "customerGets is not an input of a free shipping discount")
		}
		if d, _ := in["destination"].(map[string]any); d["all"] != true {
			return userErrs([]string{arg, "destination"}, "BLANK", "Destination can't be blank")
		}
		return nil
	}
	gets, _ := in["customerGets"].(map[string]any)
	value, _ := gets["value"].(map[string]any)
	if items, _ := gets["items"].(map[string]any); items["all"] != true {
		return userErrs([]string{arg, "customerGets", "items"}, "BLANK", "Items can't be blank")
	}
	switch {
	case value["percentage"] != nil:
		p, ok := value["percentage"].(float64)
		if !ok || p <= 0 || p > 1 {
			return userErrs([]string{arg, "customerGets", "value", "percentage"}, "VALUE_OUTSIDE_RANGE", "Value must be between 0.0 and 1.0")
		}
	case value["discountAmount"] != nil:
		amt, _ := value["discountAmount"].(map[string]any)
		if _, err := strconv.ParseFloat(fmt.Sprint(amt["amount"]), 64); err != nil {
			return userErrs([]string{arg, "customerGets", "value", "discountAmount", "amount"}, "INVALID", "Amount is invalid")
		}
	default:
		return userErrs([]string{arg, "customerGets", "value"}, "BLANK", "Value can't be blank")
	}
	return nil
}

func (d *fakeDiscount) node() map[string]any {
	cd := map[string]any{"__typename": d.Type, "title": d.Title, "startsAt": d.StartsAt, "usageLimit": d.Input["usageLimit"]}
	if d.EndsAt != "" {
		cd["endsAt"] = d.EndsAt
	} else {
		cd["endsAt"] = nil
	}
	return map[string]any{"id": d.ID, "codeDiscount": cd}
}
