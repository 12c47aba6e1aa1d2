package main

// End-to-end tests of the commerce layer on a running `storeflow serve`
// (in process, on SQLite): shops' signed webhooks become canonical events,
// update customer profiles and start workflows; the template library's
// abandoned-checkout flow mails a real SMTP server a single-use code it had
// a Shopify Admin API stand-in make, and stops when the order comes.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/templates"
)

// e2eWait bounds every wait of these tests: far more than anything takes
// on an idle machine, so that a loaded one does not fail them.
const e2eWait = 90 * time.Second

// client talks to a running storeflow.
type client struct {
	t   *testing.T
	url string
}

// call sends a request and decodes the JSON answer.
func (c client) call(method, path, contentType, body string, headers map[string]string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &out), "%s %s answered %d: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func (c client) get(path string) map[string]any {
	c.t.Helper()
	status, body := c.call("GET", path, "", "", nil)
	require.Equal(c.t, http.StatusOK, status, "GET %s: %v", path, body)
	return body
}

func (c client) mustPost(path, contentType, body string, want int) map[string]any {
	c.t.Helper()
	status, out := c.call("POST", path, contentType, body, nil)
	require.Equal(c.t, want, status, "POST %s: %v", path, out)
	return out
}

// eventually polls cond until it holds, failing after e2eWait.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func hmacB64(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// shopifyHook posts body as Shopify delivers a webhook of topic: signed
// with the app's secret, with the headers of API 2026-04.
func (c client) shopifyHook(topic, webhookID string, body []byte, secret string) (int, map[string]any) {
	c.t.Helper()
	return c.call("POST", "/webhooks/shopify", "application/json", string(body), map[string]string{
		"X-Shopify-Topic":        topic,
		"X-Shopify-Shop-Domain":  "acme.myshopify.com",
		"X-Shopify-Hmac-Sha256":  hmacB64(body, secret),
		"X-Shopify-Webhook-Id":   webhookID,
		"X-Shopify-Event-Id":     "ev-" + webhookID,
		"X-Shopify-Triggered-At": time.Now().UTC().Format(time.RFC3339Nano),
		"X-Shopify-API-Version":  "2026-04",
	})
}

// wooHook posts body as WC_Webhook::deliver does.
func (c client) wooHook(topic, deliveryID string, body []byte, secret string) (int, map[string]any) {
	c.t.Helper()
	resource, event, _ := strings.Cut(topic, ".")
	return c.call("POST", "/webhooks/woocommerce", "application/json", string(body), map[string]string{
		"User-Agent":               "WooCommerce/9.8.1 Hookshot (WordPress/6.8)",
		"X-WC-Webhook-Source":      "https://example.com/",
		"X-WC-Webhook-Topic":       topic,
		"X-WC-Webhook-Resource":    resource,
		"X-WC-Webhook-Event":       event,
		"X-WC-Webhook-Signature":   hmacB64(body, secret),
		"X-WC-Webhook-ID":          "12",
		"X-WC-Webhook-Delivery-ID": deliveryID,
	})
}

// platformSample reads a published example payload of an adapter's
// testdata (see their SOURCE.md).
func platformSample(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../commerce/" + path)
	require.NoError(t, err)
	return b
}

// derive returns a published sample with the changes given written over
// it (top-level keys; nil removes nothing, it sets JSON null).
func derive(t *testing.T, sample []byte, changes map[string]any) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(sample))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	for k, v := range changes {
		m[k] = v
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// eventsOf lists GET /v1/events for a query, all pages.
func (c client) eventsOf(query string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	path := "/v1/events?" + query
	for {
		body := c.get(path)
		for _, e := range body["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		next, ok := body["next"].(string)
		if !ok {
			return out
		}
		path = "/v1/events?" + query + "&after=" + next
	}
}

func cloudEvent(e map[string]any) map[string]any { return e["event"].(map[string]any) }

func instanceIDs(e map[string]any, field string) []string {
	var out []string
	for _, in := range e[field].([]any) {
		out = append(out, in.(map[string]any)["id"].(string))
	}
	return out
}

// TestE2EPublishedWebhooksBecomeEventsProfilesAndRuns posts Shopify's
// published 2026-04 webhook samples and WooCommerce's REST API v3 examples,
// signed, to a running storeflow: every one is accepted and becomes the
// canonical events its adapter maps it to, each starting the workflow that
// waits for its type; the customers they name get their profiles.
func TestE2EPublishedWebhooksBecomeEventsProfilesAndRuns(t *testing.T) {
	t.Parallel()
	url, _ := serveInProcess(t)
	c := client{t: t, url: url}
	c.mustPost("/v1/shops", "application/json", `{"id":"acme","platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"shpss_e2e"}}`, http.StatusCreated)
	c.mustPost("/v1/shops", "application/json", `{"id":"bolt","platform":"woocommerce","siteUrl":"https://example.com","currency":"USD","webhooks":{"secret":"wc_e2e"}}`, http.StatusCreated)

	// One workflow started by every canonical type the samples give.
	canonical := []string{"commerce.order.placed", "commerce.order.paid", "commerce.order.fulfilled", "commerce.order.cancelled",
		"commerce.checkout.started", "commerce.checkout.updated", "commerce.customer.created", "commerce.customer.updated",
		"commerce.consent.changed", "commerce.refund.created", "commerce.return.requested", "commerce.inventory.changed", "commerce.product.updated"}
	var filters strings.Builder
	for _, typ := range canonical {
		fmt.Fprintf(&filters, "        - with: {type: %s}\n", typ)
	}
	c.mustPost("/v1/workflows", "application/yaml", `document:
  dsl: '1.0.3'
  namespace: e2e
  name: tally
  version: '1.0.0'
schedule:
  on:
    any:
`+filters.String()+`do:
  - note:
      set:
        type: ${ .[0].type }
        shop: ${ .[0].data.shop }
`, http.StatusCreated)

	// Shopify: each sample with every topic it is published for (SOURCE.md).
	shopifyTopics := []struct{ topic, file string }{
		{"customers/create", "customers.json"},
		{"customers/update", "customers.json"},
		{"customers/email_marketing_consent_update", "customers_email_marketing_consent_update.json"},
		{"customers/marketing_consent_update", "customers_marketing_consent_update.json"},
		{"checkouts/create", "checkouts.json"},
		{"checkouts/update", "checkouts.json"},
		{"orders/create", "orders.json"},
		{"orders/paid", "orders.json"},
		{"orders/fulfilled", "orders.json"},
		{"orders/cancelled", "orders.json"},
		{"orders/updated", "orders.json"},
		{"refunds/create", "refunds_create.json"},
		{"returns/request", "returns_request.json"},
		{"fulfillments/create", "fulfillments.json"},
		{"fulfillments/update", "fulfillments.json"},
		{"inventory_levels/update", "inventory_levels_update.json"},
		{"products/update", "products.json"},
		{"orders/delete", "orders_delete.json"},
	}
	for i, tc := range shopifyTopics {
		body := platformSample(t, "shopify/testdata/"+tc.file)
		status, resp := c.shopifyHook(tc.topic, fmt.Sprintf("wh-%02d", i), body, "shpss_e2e")
		require.Equal(t, http.StatusOK, status, "%s: %v", tc.topic, resp)
	}
	// A delivery Shopify repeats (same webhook id, same body) changes nothing.
	orders := platformSample(t, "shopify/testdata/orders.json")
	status, resp := c.shopifyHook("orders/create", "wh-06", orders, "shpss_e2e")
	require.Equal(t, http.StatusOK, status, resp)
	require.Equal(t, float64(1), resp["duplicates"], "the repeat is recognised: %v", resp)
	status, _ = c.shopifyHook("orders/create", "wh-99", orders, "another secret")
	require.Equal(t, http.StatusUnauthorized, status, "a bad signature is refused")

	// WooCommerce: the activation ping, then the REST API's examples.
	status, resp = c.call("POST", "/webhooks/woocommerce", "application/x-www-form-urlencoded", "webhook_id=12", nil)
	require.Equal(t, http.StatusOK, status, "the unsigned activation ping is answered: %v", resp)
	wooTopics := []struct{ topic, file string }{
		{"customer.created", "customer.json"},
		{"customer.updated", "customer_updated.json"},
		{"order.created", "order.json"},
		{"order.updated", "order_completed.json"},
		{"order.updated", "order_refunded.json"},
		{"product.updated", "product.json"},
		{"coupon.created", "coupon.json"},
	}
	for i, tc := range wooTopics {
		body := platformSample(t, "woocommerce/testdata/"+tc.file)
		status, resp := c.wooHook(tc.topic, fmt.Sprintf("d-%02d", i), body, "wc_e2e")
		require.Equal(t, http.StatusOK, status, "%s %s: %v", tc.topic, tc.file, resp)
	}
	status, _ = c.wooHook("order.created", "d-99", platformSample(t, "woocommerce/testdata/order.json"), "guess")
	require.Equal(t, http.StatusUnauthorized, status)

	// The canonical events, as the adapters' tests map each sample (their
	// ids), and each of a canonical type started the tally.
	want := map[string]map[string]string{
		"acme": {
			"customer/706405506930370084/created":                "commerce.customer.created",
			"customer/706405506930370084/consent/email/ev-wh-02": "commerce.consent.changed",
			"customer/706405506930370084/consent/sms/ev-wh-03":   "commerce.consent.changed",
			"checkout/123123123/started":                         "commerce.checkout.started",
			"order/820982911946154508/placed":                    "commerce.order.placed",
			"order/820982911946154508/paid":                      "commerce.order.paid",
			"order/820982911946154508/fulfilled":                 "commerce.order.fulfilled",
			"order/820982911946154508/cancelled":                 "commerce.order.cancelled",
			"refund/890088186047892319":                          "commerce.refund.created",
			"return/123134564567890/requested":                   "commerce.return.requested",
		},
		"bolt": {
			"customer/25/created":                      "commerce.customer.created",
			"customer/25/updated/2017-03-21T19:12:28Z": "commerce.customer.updated",
			"order/727/placed":                         "commerce.order.placed",
			"order/727/paid":                           "commerce.order.paid",
			"order/727/fulfilled":                      "commerce.order.fulfilled",
			"order/723/fulfilled":                      "commerce.order.fulfilled",
			"refund/724":                               "commerce.refund.created",
			"refund/726":                               "commerce.refund.created",
			"product/794/updated/2017-03-23T20:01:14Z": "commerce.product.updated",
			"coupon.created/719/2017-03-21T18:23:00Z":  "woocommerce.coupon.created",
		},
	}
	isCanonical := map[string]bool{}
	for _, typ := range canonical {
		isCanonical[typ] = true
	}
	for shopID, ids := range want {
		eventually(t, "every canonical event of "+shopID+" started its run", func() bool {
			got := map[string]string{}
			for _, e := range c.eventsOf("shop=" + shopID) {
				ce := cloudEvent(e)
				got[ce["id"].(string)] = ce["type"].(string)
				if isCanonical[ce["type"].(string)] && len(instanceIDs(e, "started")) != 1 {
					return false
				}
			}
			for id, typ := range ids {
				if got[id] != typ {
					return false
				}
			}
			return true
		})
	}
	// Types the samples give beyond the fixed ids (updates carry the event
	// id or the time): every topic left its mark.
	types := map[string]bool{}
	for _, e := range c.eventsOf("shop=acme") {
		types[cloudEvent(e)["type"].(string)] = true
	}
	for _, typ := range []string{"commerce.checkout.updated", "commerce.customer.updated", "commerce.inventory.changed", "commerce.product.updated",
		"shopify.fulfillments/create", "shopify.fulfillments/update", "shopify.orders/delete"} {
		require.True(t, types[typ], "a %s from the samples", typ)
	}
	placed := c.eventsOf("shop=acme&type=commerce.order.placed")
	require.Len(t, placed, 1, "the repeated order is one event")
	require.Equal(t, "tally", placed[0]["started"].([]any)[0].(map[string]any)["workflow"].(map[string]any)["name"])

	// Profiles: Shopify's sample customer with the consent its topic gave;
	// WooCommerce's customer with the order the example made as a guest
	// with the same address.
	eventually(t, "the profiles", func() bool {
		bob := c.get("/v1/customers?shop=acme&email=bob@biller.com")["customers"].([]any)
		john := c.get("/v1/customers?shop=bolt&email=john.doe@example.com")["customers"].([]any)
		if len(bob) != 1 || len(john) != 1 {
			return false
		}
		consent, _ := bob[0].(map[string]any)["consent"].(map[string]any)["email"].(map[string]any)
		metrics := john[0].(map[string]any)["metrics"].(map[string]any)
		return consent != nil && consent["state"] == "not_subscribed" && metrics["orders"] == float64(1)
	})
	john := c.get("/v1/customers?shop=bolt&email=john.doe@example.com")["customers"].([]any)[0].(map[string]any)
	require.Equal(t, "John", john["firstName"])
	require.Equal(t, map[string]any{"USD": "29.35"}, john["metrics"].(map[string]any)["totalSpent"], "order 727 of the example")
	joao := c.get("/v1/customers?shop=bolt&email=joao.silva@example.com")["customers"].([]any)
	require.Len(t, joao, 1)
	require.Equal(t, map[string]any{"USD": "20.00"}, joao[0].(map[string]any)["metrics"].(map[string]any)["totalSpent"], "order 723's 39.00 less its two refunds")
}

// smtpInbox is a real SMTP server (emersion/go-smtp) on the loopback
// interface that keeps what it is sent.
type smtpInbox struct {
	host string
	port int
	mu   sync.Mutex
	msgs []*mailed
}

type mailed struct {
	from, to string
	header   mail.Header
	text     string // the decoded text of every part
}

func startMailbox(t *testing.T) *smtpInbox {
	t.Helper()
	mb := &smtpInbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().(*net.TCPAddr)
	mb.host, mb.port = addr.IP.String(), addr.Port
	return mb
}

// to returns the messages sent to an address.
func (mb *smtpInbox) to(addr string) []*mailed {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out []*mailed
	for _, m := range mb.msgs {
		if strings.EqualFold(m.to, addr) {
			out = append(out, m)
		}
	}
	return out
}

type mailSession struct {
	box  *smtpInbox
	from string
	rcpt []string
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpt = append(s.rcpt, to)
	return nil
}
func (s *mailSession) Reset()        { s.from, s.rcpt = "", nil }
func (s *mailSession) Logout() error { return nil }

func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "not a message: " + err.Error()}
	}
	text, err := decodeBody(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unreadable body: " + err.Error()}
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	for _, to := range s.rcpt {
		s.box.msgs = append(s.box.msgs, &mailed{from: s.from, to: to, header: msg.Header, text: text})
	}
	return nil
}

// decodeBody returns the text of a body, every part of a multipart one.
func decodeBody(contentType, encoding string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var out strings.Builder
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out.String(), nil
			}
			if err != nil {
				return "", err
			}
			text, err := decodeBody(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				return "", err
			}
			out.WriteString(text + "\n")
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}

// shopifyAdmin stands in for a shop's GraphQL Admin API (2026-04) for the
// mutations storeflow makes discounts with. It checks each request as
// Shopify documents it (endpoint, access token, JSON body, the mutation's
// argument and input types, a single-use code with an expiry) and answers
// as Shopify does; what it finds wrong it answers with an error and notes.
type shopifyAdmin struct {
	*httptest.Server
	token string
	mu    sync.Mutex
	// made are the discounts it created, by code, with their input.
	made     map[string]map[string]any
	creates  []string // the codes asked for, in order (repeats too)
	keys     []string // the Idempotency-Key of each create
	problems []string
}

var (
	gqlMutationRe = regexp.MustCompile(`(?s)^\s*mutation\s+\w*\s*\(\s*\$(\w+)\s*:\s*(\w+!?)\s*\)\s*\{\s*(?:(\w+)\s*:\s*)?(\w+)\s*\(\s*(\w+)\s*:\s*\$(\w+)\s*\)`)
	gqlQueryRe    = regexp.MustCompile(`(?s)^\s*query\s+\w*\s*\(\s*\$(\w+)\s*:\s*String!\s*\)\s*\{\s*(?:(\w+)\s*:\s*)?codeDiscountNodeByCode\s*\(\s*code\s*:\s*\$(\w+)\s*\)`)
)

func startShopifyAdmin(t *testing.T, token string) *shopifyAdmin {
	a := &shopifyAdmin{token: token, made: map[string]map[string]any{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *shopifyAdmin) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	a.mu.Lock()
	a.problems = append(a.problems, msg)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": msg}}})
}

func (a *shopifyAdmin) answer(w http.ResponseWriter, alias string, data any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Request-Id", "e2e-"+alias)
	_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{alias: data},
		"extensions": map[string]any{"cost": map[string]any{"requestedQueryCost": 10, "actualQueryCost": 10}}})
}

func (a *shopifyAdmin) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path != "/admin/api/2026-04/graphql.json":
		a.fail(w, http.StatusNotFound, "no endpoint %s (want /admin/api/2026-04/graphql.json)", r.URL.Path)
		return
	case r.Method != http.MethodPost:
		a.fail(w, http.StatusMethodNotAllowed, "%s: GraphQL Admin requests are POSTs", r.Method)
		return
	case r.Header.Get("X-Shopify-Access-Token") != a.token:
		a.fail(w, http.StatusUnauthorized, "[API] Invalid API key or access token (unrecognized login or wrong password)")
		return
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		a.fail(w, http.StatusBadRequest, "Content-Type %q: send application/json", r.Header.Get("Content-Type"))
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		a.fail(w, http.StatusBadRequest, "the body is not {query, variables}: %v", err)
		return
	}
	if m := gqlQueryRe.FindStringSubmatch(req.Query); m != nil {
		alias := m[2]
		if alias == "" {
			alias = "codeDiscountNodeByCode"
		}
		code, _ := req.Variables[m[3]].(string)
		a.mu.Lock()
		in, ok := a.made[code]
		a.mu.Unlock()
		if !ok {
			a.answer(w, alias, nil)
			return
		}
		a.answer(w, alias, discountNode(code, in))
		return
	}
	m := gqlMutationRe.FindStringSubmatch(req.Query)
	if m == nil {
		a.fail(w, http.StatusOK, "a query this stand-in does not know: %s", req.Query)
		return
	}
	varName, varType, alias, field, arg, argVar := m[1], m[2], m[3], m[4], m[5], m[6]
	if alias == "" {
		alias = field
	}
	if field != "discountCodeBasicCreate" || arg != "basicCodeDiscount" || varType != "DiscountCodeBasicInput!" || argVar != varName {
		a.fail(w, http.StatusOK, "want discountCodeBasicCreate(basicCodeDiscount: $x) with $x: DiscountCodeBasicInput!, got %s(%s: $%s) with $%s: %s", field, arg, argVar, varName, varType)
		return
	}
	if !strings.Contains(req.Query, "userErrors") || !strings.Contains(req.Query, "codeDiscountNode") {
		a.fail(w, http.StatusOK, "the mutation selects neither codeDiscountNode nor userErrors")
		return
	}
	in, _ := req.Variables[varName].(map[string]any)
	code, _ := in["code"].(string)
	var wrong []string
	check := func(ok bool, what string) {
		if !ok {
			wrong = append(wrong, what)
		}
	}
	check(code != "", "code")
	title, _ := in["title"].(string)
	check(title != "", "title")
	starts, err1 := time.Parse(time.RFC3339, fmt.Sprint(in["startsAt"]))
	ends, err2 := time.Parse(time.RFC3339, fmt.Sprint(in["endsAt"]))
	check(err1 == nil && err2 == nil && ends.After(starts), "startsAt before endsAt (ISO 8601)")
	check(in["usageLimit"] == float64(1), "usageLimit 1 (a single-use code)")
	check(in["appliesOncePerCustomer"] == true, "appliesOncePerCustomer")
	gets, _ := in["customerGets"].(map[string]any)
	value, _ := gets["value"].(map[string]any)
	pct, _ := value["percentage"].(float64)
	check(pct > 0 && pct <= 1, "customerGets.value.percentage in (0, 1]")
	items, _ := gets["items"].(map[string]any)
	check(items["all"] == true, "customerGets.items.all")
	_, hasContext := in["context"].(map[string]any)
	check(hasContext, "context (who may use it)")
	if len(wrong) > 0 {
		a.fail(w, http.StatusOK, "discountCodeBasicCreate input lacks or gets wrong: %s; input %v", strings.Join(wrong, ", "), in)
		return
	}
	a.mu.Lock()
	a.creates = append(a.creates, code)
	a.keys = append(a.keys, r.Header.Get("Idempotency-Key"))
	_, taken := a.made[code]
	if !taken {
		a.made[code] = in
	}
	a.mu.Unlock()
	if taken {
		a.answer(w, alias, map[string]any{"codeDiscountNode": nil,
			"userErrors": []any{map[string]any{"field": []string{"basicCodeDiscount", "code"}, "code": "TAKEN", "message": "Code must be unique. Please try a different code."}}})
		return
	}
	a.answer(w, alias, map[string]any{"codeDiscountNode": discountNode(code, in), "userErrors": []any{}})
}

func discountNode(code string, in map[string]any) map[string]any {
	sum := sha256.Sum256([]byte(code))
	return map[string]any{"id": fmt.Sprintf("gid://shopify/DiscountCodeNode/%d", 1000000+int(sum[0])<<8+int(sum[1])),
		"codeDiscount": map[string]any{"__typename": "DiscountCodeBasic", "title": in["title"], "startsAt": in["startsAt"], "endsAt": in["endsAt"], "usageLimit": 1}}
}

func (a *shopifyAdmin) state() (made map[string]map[string]any, creates, keys, problems []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	made = map[string]map[string]any{}
	for k, v := range a.made {
		made[k] = v
	}
	return made, append([]string(nil), a.creates...), append([]string(nil), a.keys...), append([]string(nil), a.problems...)
}

// TestE2EAbandonedCheckoutMailsADiscountCodeAndStopsAtTheOrder runs the
// template library's abandoned-checkout flow (its delays set short) on a
// running storeflow fed by signed Shopify webhooks, derived from Shopify's
// published samples with each change written out:
//
//   - Ada (email consent given) leaves a checkout: the first reminder comes
//     by SMTP, then a second with a single-use code made through
//     discountCodeBasicCreate on the Admin API stand-in, the code in the
//     mail; her order (with the checkout's checkout_token) stops the flow,
//     before the third reminder. Every webhook delivered twice changes
//     nothing.
//   - Bob gave no consent: the marketing email is suppressed, visible in
//     the message log, and the flow ends.
//   - Cy's order arrives before her checkout: the checkout starts nothing,
//     and she gets no email.
func TestE2EAbandonedCheckoutMailsADiscountCodeAndStopsAtTheOrder(t *testing.T) {
	t.Parallel()
	mb := startMailbox(t)
	admin := startShopifyAdmin(t, "shpat_e2e_token")
	base, _ := serveInProcess(t)
	c := client{t: t, url: base}
	const secret = "shpss_e2e_secret"

	acme, err := json.Marshal(map[string]any{
		"id": "acme", "platform": "shopify", "domain": "acme.myshopify.com", "currency": "USD", "timeZone": "America/New_York",
		"webhooks": map[string]any{"secret": secret},
		"admin":    map[string]any{"url": admin.URL, "apiVersion": "2026-04", "accessToken": "shpat_e2e_token"},
		"email":    map[string]any{"host": mb.host, "port": mb.port, "security": "none", "from": "shop@acme.example", "fromName": "Acme"},
		// The reminders come seconds apart here, not a day: smart sending
		// would hold back the second.
		"sending": map[string]any{"smartSendingEmail": "0s"},
		// No emailTemplates: the template library's emails serve the shop.
	})
	require.NoError(t, err)
	c.mustPost("/v1/shops", "application/json", string(acme), http.StatusCreated)

	tpl, err := templates.Get("abandoned-checkout")
	require.NoError(t, err)
	// The reminders a second apart; the third an hour after the second,
	// so that the order certainly comes before it.
	flow, err := tpl.Render(map[string]string{"firstDelay": "PT1S", "secondDelay": "PT1S", "thirdDelay": "PT1H"})
	require.NoError(t, err)
	c.mustPost("/v1/workflows", "application/yaml", string(flow), http.StatusCreated)

	now := time.Now().UTC().Truncate(time.Second)
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	hook := func(topic, id string, body []byte) map[string]any {
		t.Helper()
		status, resp := c.shopifyHook(topic, id, body, secret)
		require.Equal(t, http.StatusOK, status, "%s %s: %v", topic, id, resp)
		return resp
	}
	// hookTwice delivers a webhook and its repeat, which changes nothing.
	hookTwice := func(topic, id string, body []byte) {
		t.Helper()
		first := hook(topic, id, body)
		require.Nil(t, first["duplicates"], "%s %s: %v", topic, id, first)
		events, _ := first["events"].([]any)
		require.NotEmpty(t, events, "%s %s: %v", topic, id, first)
		again := hook(topic, id, body)
		require.Equal(t, float64(len(events)), again["duplicates"], "%s %s delivered again is all duplicates: %v", topic, id, again)
		require.Equal(t, events, again["events"])
	}
	customerSample := platformSample(t, "shopify/testdata/customers.json")
	consentSample := platformSample(t, "shopify/testdata/customers_email_marketing_consent_update.json")
	checkoutSample := platformSample(t, "shopify/testdata/checkouts.json")
	orderSample := platformSample(t, "shopify/testdata/orders.json")
	customer := func(id int64, email, first, last string) map[string]any {
		return map[string]any{"id": id, "email": email, "first_name": first, "last_name": last, "state": "enabled", "verified_email": true, "currency": "USD"}
	}
	checkout := func(token string, cust map[string]any) []byte {
		// The published checkout, of another token and customer, started
		// five minutes ago and not completed.
		return derive(t, checkoutSample, map[string]any{"token": token, "cart_token": "cart-" + token, "email": cust["email"], "customer": cust,
			"created_at": stamp(-5 * time.Minute), "updated_at": stamp(-5 * time.Minute), "completed_at": nil,
			"abandoned_checkout_url": "https://acme.example/checkouts/" + token + "/recover"})
	}
	order := func(id int64, token string, cust map[string]any, codes []any) []byte {
		// The published order (a voided test order) made a real, paid one
		// from the checkout, placed now.
		return derive(t, orderSample, map[string]any{"id": id, "admin_graphql_api_id": fmt.Sprintf("gid://shopify/Order/%d", id),
			"order_number": id % 10000, "name": fmt.Sprintf("#%d", id%10000), "checkout_token": token, "email": cust["email"], "contact_email": cust["email"],
			"customer": cust, "test": false, "confirmed": true, "financial_status": "paid", "cancelled_at": nil, "cancel_reason": nil, "closed_at": nil,
			"created_at": stamp(0), "updated_at": stamp(0), "processed_at": stamp(0), "discount_codes": codes})
	}

	ada := customer(7001, "ada@example.com", "Ada", "Lovelace")
	bob := customer(7002, "bob@example.com", "Bob", "Babbage")
	cy := customer(7003, "cy@example.com", "Cy", "Young")
	for _, cust := range []map[string]any{ada, bob, cy} {
		id := cust["id"].(int64)
		hookTwice("customers/create", fmt.Sprint("cust-", id), derive(t, customerSample, map[string]any{"id": id, "email": cust["email"],
			"first_name": cust["first_name"], "last_name": cust["last_name"], "admin_graphql_api_id": fmt.Sprintf("gid://shopify/Customer/%d", id),
			"created_at": stamp(-time.Hour), "updated_at": stamp(-time.Hour)}))
	}
	// Ada and Cy subscribed to email marketing; Bob never did.
	for _, cust := range []map[string]any{ada, cy} {
		hookTwice("customers/email_marketing_consent_update", fmt.Sprint("consent-", cust["id"]), derive(t, consentSample, map[string]any{
			"customer_id": cust["id"], "email_address": cust["email"],
			"email_marketing_consent": map[string]any{"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": stamp(-time.Hour)}}))
	}

	// Cy's order comes before her checkout, which then starts nothing.
	hookTwice("orders/create", "order-cy", order(5003, "cy-t1", cy, []any{}))
	hookTwice("checkouts/create", "checkout-cy", checkout("cy-t1", cy))
	cyEvents := c.eventsOf("shop=acme&subject=cy-t1")
	require.Len(t, cyEvents, 1)
	require.Equal(t, "commerce.checkout.updated", cloudEvent(cyEvents[0])["type"], "a checkout whose order is known is no abandoned checkout")
	require.Empty(t, cyEvents[0]["started"])

	hookTwice("checkouts/create", "checkout-bob", checkout("bob-t1", bob))
	hookTwice("checkouts/create", "checkout-ada", checkout("ada-t1", ada))

	// Ada: the first reminder, then the second with the code the shop made.
	eventually(t, "Ada's two reminders", func() bool { return len(mb.to("ada@example.com")) >= 2 })
	mails := mb.to("ada@example.com")
	first, second := mails[0], mails[1]
	require.Equal(t, "Ada, your cart is waiting", first.header.Get("Subject"))
	require.Contains(t, first.text, "https://acme.example/checkouts/ada-t1/recover")
	made, creates, keys, problems := admin.state()
	require.Empty(t, problems, "the Admin API stand-in found the requests as Shopify documents them")
	require.Len(t, made, 1, "one discount: %v", creates)
	var code string
	for k := range made {
		code = k
	}
	require.Regexp(t, `^COMEBACK-[A-Z0-9]+$`, code)
	require.Equal(t, "Abandoned checkout ada-t1", made[code]["title"])
	require.InDelta(t, 0.1, made[code]["customerGets"].(map[string]any)["value"].(map[string]any)["percentage"], 1e-9, "10% off")
	starts, _ := time.Parse(time.RFC3339, made[code]["startsAt"].(string))
	ends, _ := time.Parse(time.RFC3339, made[code]["endsAt"].(string))
	require.Equal(t, 48*time.Hour, ends.Sub(starts), "valid for the template's two days")
	for _, k := range keys {
		require.NotEmpty(t, k, "every Admin API call carries its idempotency key")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(second.header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "10% off the cart you left", subject)
	require.Contains(t, second.text, "use the code "+code+" at checkout", "the mail carries the code the shop made")
	require.Equal(t, "shop@acme.example", second.from)
	unsubscribe := second.header.Get("List-Unsubscribe")
	require.Contains(t, unsubscribe, base+"/unsubscribe/", "a marketing mail has its one-click unsubscribe link, on this storeflow")
	require.Equal(t, "List-Unsubscribe=One-Click", second.header.Get("List-Unsubscribe-Post"))

	// Her order, from the checkout and with the code, stops the flow.
	hookTwice("orders/create", "order-ada", order(5001, "ada-t1", ada, []any{map[string]any{"code": code, "amount": "40.50", "type": "percentage"}}))
	var adaRun map[string]any
	eventually(t, "Ada's run ends recovered", func() bool {
		started := c.eventsOf("shop=acme&subject=ada-t1&type=commerce.checkout.started")
		if len(started) != 1 || len(instanceIDs(started[0], "started")) != 1 {
			return false
		}
		adaRun = c.get("/v1/instances/" + instanceIDs(started[0], "started")[0])
		return adaRun["status"] == "completed"
	})
	require.Equal(t, map[string]any{"outcome": "recovered", "checkoutToken": "ada-t1", "orderId": "5001"}, adaRun["output"])
	placed := c.eventsOf("shop=acme&subject=5001&type=commerce.order.placed")
	require.Len(t, placed, 1)
	require.Equal(t, []string{adaRun["id"].(string)}, instanceIDs(placed[0], "resumed"), "the order resumed Ada's run")

	// Bob: no consent, so the reminder is suppressed and the flow ends.
	var bobRun map[string]any
	eventually(t, "Bob's run ends", func() bool {
		started := c.eventsOf("shop=acme&subject=bob-t1&type=commerce.checkout.started")
		if len(started) != 1 || len(instanceIDs(started[0], "started")) != 1 {
			return false
		}
		bobRun = c.get("/v1/instances/" + instanceIDs(started[0], "started")[0])
		return bobRun["status"] == "completed"
	})
	require.Equal(t, map[string]any{"outcome": "skipped", "reason": "no-consent", "checkoutToken": "bob-t1"}, bobRun["output"])
	suppressed := false
	for _, h := range bobRun["history"].([]any) {
		suppressed = suppressed || h.(map[string]any)["type"] == "message.suppressed"
	}
	require.True(t, suppressed, "the suppression is in the run's history")
	messages := c.get("/v1/messages?shop=acme&address=bob@example.com")["messages"].([]any)
	require.Len(t, messages, 1)
	require.Equal(t, "suppressed", messages[0].(map[string]any)["status"])
	require.Equal(t, "no-consent", messages[0].(map[string]any)["reason"])

	// Ada's profile: the order counted once, the consent kept.
	eventually(t, "Ada's profile", func() bool {
		list := c.get("/v1/customers?shop=acme&email=ada@example.com")["customers"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["metrics"].(map[string]any)["orders"] == float64(1)
	})
	profile := c.get("/v1/customers?shop=acme&email=ada@example.com")["customers"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"USD": "404.95"}, profile["metrics"].(map[string]any)["totalSpent"], "the sample's total, once")
	require.Equal(t, "subscribed", profile["consent"].(map[string]any)["email"].(map[string]any)["state"])
	require.Equal(t, "Lovelace", profile["lastName"])
	sent := c.get("/v1/messages?shop=acme&address=ada@example.com")["messages"].([]any)
	var statuses []string
	for _, m := range sent {
		statuses = append(statuses, m.(map[string]any)["status"].(string))
	}
	require.Equal(t, []string{"sent", "sent"}, statuses)

	// Nothing more: no third reminder for Ada (the order stopped her run),
	// no mail to Bob or Cy, one discount only, and no request the stand-in
	// found wrong.
	require.Len(t, mb.to("ada@example.com"), 2)
	require.Empty(t, mb.to("bob@example.com"))
	require.Empty(t, mb.to("cy@example.com"))
	made, _, _, problems = admin.state()
	require.Len(t, made, 1)
	require.Empty(t, problems)

	// The mail's one-click unsubscribe (RFC 8058), as a mail client sends
	// it, reaches this storeflow and withdraws Ada's consent.
	link := strings.TrimSuffix(strings.TrimPrefix(unsubscribe, "<"), ">")
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	eventually(t, "Ada unsubscribed", func() bool {
		list := c.get("/v1/customers?shop=acme&email=ada@example.com")["customers"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["consent"].(map[string]any)["email"].(map[string]any)["state"] == "unsubscribed"
	})
	var kinds []string
	for _, e := range c.eventsOf("shop=acme&type=commerce.checkout.started") {
		kinds = append(kinds, cloudEvent(e)["subject"].(string))
	}
	sort.Strings(kinds)
	require.Equal(t, []string{"ada-t1", "bob-t1"}, kinds, "each checkout once, Cy's none")
}
