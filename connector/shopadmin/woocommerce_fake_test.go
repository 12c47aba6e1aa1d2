package shopadmin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeWoo is a local stand-in for a WooCommerce site's REST API v3, as
// WooCommerce documents it: /wp-json/wc/v3/…, the consumer key and secret as
// HTTP basic authentication over HTTPS, JSON bodies, errors as {code,
// message, data: {status}}. It keeps coupons, customers and order notes.
type fakeWoo struct {
	*httptest.Server
	key, secret string

	mu        sync.Mutex
	nextID    int64
	coupons   []map[string]any
	customers map[int64]map[string]any
	notes     map[int64][]map[string]any // by order
	requests  []wooRequest
	script    []scripted
	// beforeCreate runs when a coupon is about to be made.
	beforeCreate func()
}

type wooRequest struct {
	Method, Path string
	Query        string
	Body         map[string]any
	Idempotency  string
}

const (
	wooKey    = "ck_4f1e0c7d9b2a"
	wooSecret = "cs_8e2d6a1f3c5b"
)

func startWoo(t *testing.T) *fakeWoo {
	t.Helper()
	f := &fakeWoo{key: wooKey, secret: wooSecret, nextID: 700, customers: map[int64]map[string]any{}, notes: map[int64][]map[string]any{}}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeWoo) addCustomer(id int64, email string, meta ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if meta == nil {
		meta = []map[string]any{}
	}
	f.customers[id] = map[string]any{"id": id, "email": email, "first_name": "Ada", "role": "customer", "meta_data": meta}
}

func (f *fakeWoo) addOrder(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes[id] = []map[string]any{}
}

func (f *fakeWoo) answerNext(s ...scripted) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, s...)
}

func (f *fakeWoo) got() []wooRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wooRequest(nil), f.requests...)
}

func (f *fakeWoo) calls() []string {
	var out []string
	for _, r := range f.got() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

func wooErr(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(map[string]any{"code": code, "message": msg, "data": map[string]any{"status": status}})
	writeJSON(w, status, string(b))
}

func send(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeJSON(w, status, string(b))
}

var (
	customerPath = regexp.MustCompile(`^/wp-json/wc/v3/customers/(\d+)$`)
	notesPath    = regexp.MustCompile(`^/wp-json/wc/v3/orders/(\d+)/notes$`)
	amountRe     = regexp.MustCompile(`^\d+(\.\d+)?$`)
)

func (f *fakeWoo) serve(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		// Basic authentication is for HTTPS only; plain http needs OAuth 1.0a.
		wooErr(w, 401, "woocommerce_rest_authentication_error", "Invalid signature - failed to sort parameters.")
		return
	}
	if key, secret, ok := r.BasicAuth(); !ok || key != f.key || secret != f.secret {
		wooErr(w, 401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			wooErr(w, 400, "rest_invalid_json", "Invalid JSON body passed.")
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			wooErr(w, 400, "rest_invalid_json", "Invalid JSON body passed.")
			return
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, wooRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Idempotency: r.Header.Get("Idempotency-Key")})
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
	rec := httptest.NewRecorder()
	f.route(rec, r, body)
	if next != nil {
		writeJSON(w, next.status, next.body)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *fakeWoo) route(w http.ResponseWriter, r *http.Request, body map[string]any) {
	p := r.URL.Path
	switch {
	case p == "/wp-json/wc/v3/coupons" && r.Method == http.MethodGet:
		f.mu.Lock()
		defer f.mu.Unlock()
		code := strings.ToLower(r.URL.Query().Get("code"))
		out := []map[string]any{}
		for _, c := range f.coupons {
			if code == "" || c["code"] == code {
				out = append(out, c)
			}
		}
		send(w, 200, out)
	case p == "/wp-json/wc/v3/coupons" && r.Method == http.MethodPost:
		if f.beforeCreate != nil {
			f.beforeCreate()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.createCoupon(w, body)
	case customerPath.MatchString(p):
		id, _ := strconv.ParseInt(customerPath.FindStringSubmatch(p)[1], 10, 64)
		f.mu.Lock()
		defer f.mu.Unlock()
		c := f.customers[id]
		if c == nil {
			wooErr(w, 404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
			return
		}
		if r.Method == http.MethodPut {
			metas, _ := body["meta_data"].([]any)
			have := c["meta_data"].([]map[string]any)
			for _, m := range metas {
				m := m.(map[string]any)
				replaced := false
				for _, h := range have {
					if h["key"] == m["key"] {
						h["value"], replaced = m["value"], true
						break
					}
				}
				if !replaced {
					f.nextID++
					have = append(have, map[string]any{"id": f.nextID, "key": m["key"], "value": m["value"]})
				}
			}
			c["meta_data"] = have
		}
		send(w, 200, c)
	case p == "/wp-json/wc/v3/customers" && r.Method == http.MethodGet:
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []map[string]any{}
		for _, c := range f.customers {
			if strings.EqualFold(fmt.Sprint(c["email"]), r.URL.Query().Get("email")) {
				out = append(out, c)
			}
		}
		send(w, 200, out)
	case notesPath.MatchString(p):
		id, _ := strconv.ParseInt(notesPath.FindStringSubmatch(p)[1], 10, 64)
		f.mu.Lock()
		defer f.mu.Unlock()
		notes, ok := f.notes[id]
		if !ok {
			wooErr(w, 404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
			return
		}
		if r.Method == http.MethodGet {
			send(w, 200, notes)
			return
		}
		text, _ := body["note"].(string)
		if text == "" {
			wooErr(w, 400, "woocommerce_rest_missing_note", "Missing note")
			return
		}
		f.nextID++
		n := map[string]any{"id": f.nextID, "author": "storeflow", "date_created_gmt": "2026-04-01T12:00:00", "note": text, "customer_note": body["customer_note"] == true}
		f.notes[id] = append(notes, n)
		send(w, 201, n)
	default:
		wooErr(w, 404, "rest_no_route", "No route was found matching the URL and request method.")
	}
}

// createCoupon checks a coupon as WooCommerce does (a code, a known
// discount type, a decimal amount, a unique code) and keeps it with its
// code in lower case.
func (f *fakeWoo) createCoupon(w http.ResponseWriter, in map[string]any) {
	code, _ := in["code"].(string)
	if code == "" {
		wooErr(w, 400, "rest_missing_callback_param", "Missing parameter(s): code")
		return
	}
	code = strings.ToLower(code)
	for _, c := range f.coupons {
		if c["code"] == code {
			wooErr(w, 400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
			return
		}
	}
	switch in["discount_type"] {
	case "percent", "fixed_cart", "fixed_product":
	default:
		wooErr(w, 400, "rest_invalid_param", "Invalid parameter(s): discount_type")
		return
	}
	if a, ok := in["amount"].(string); !ok || !amountRe.MatchString(a) {
		wooErr(w, 400, "rest_invalid_param", "Invalid parameter(s): amount")
		return
	}
	if e, ok := in["date_expires_gmt"].(string); ok {
		if _, err := time.Parse("2006-01-02T15:04:05", e); err != nil {
			wooErr(w, 400, "rest_invalid_param", "Invalid parameter(s): date_expires_gmt")
			return
		}
	}
	f.nextID++
	c := map[string]any{"id": f.nextID, "date_created_gmt": "2026-04-01T12:00:00", "free_shipping": false, "usage_count": 0,
		"email_restrictions": []any{}, "minimum_amount": "0.00", "description": ""}
	for k, v := range in {
		c[k] = v
	}
	c["code"] = code
	amount, _ := strconv.ParseFloat(in["amount"].(string), 64)
	c["amount"] = strconv.FormatFloat(amount, 'f', 2, 64) // WooCommerce answers "10.00"
	var metas []map[string]any
	ms, _ := in["meta_data"].([]any)
	for _, m := range ms {
		f.nextID++
		m := m.(map[string]any)
		metas = append(metas, map[string]any{"id": f.nextID, "key": m["key"], "value": m["value"]})
	}
	c["meta_data"] = metas
	f.coupons = append(f.coupons, c)
	send(w, 201, c)
}
