package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/store"
)

func hmacBase64(body, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func hmacHex(body, key string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// post sends a webhook and returns its status and body.
func (a *api) post(path, body string, headers map[string]string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest("POST", a.srv.URL+path, strings.NewReader(body))
	require.NoError(a.t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sample(t *testing.T, path string) string {
	b, err := os.ReadFile("../commerce/" + path)
	require.NoError(t, err)
	return string(b)
}

func (a *api) events(typ string) []store.Event {
	evs, err := a.st.ReadEvents(context.Background(), 0, typ, 1000)
	require.NoError(a.t, err)
	return evs
}

func TestShopifyWebhooks(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", `{"id":"acme","platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"whsec-1"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	status, body, _ = a.do("POST", "/v1/workflows", "application/yaml", `document:
  dsl: '1.0.3'
  namespace: shop
  name: thanks
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: commerce.order.placed}
do:
  - thank:
      set:
        order: ${ .orderNumber }
        shop: ${ .shop }
`)
	require.Equal(t, http.StatusCreated, status, body)
	order := sample(t, "shopify/testdata/orders.json")
	headers := func(body, secret string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": "acme.myshopify.com",
			"X-Shopify-Hmac-Sha256": hmacBase64(body, secret), "X-Shopify-Webhook-Id": "wh-1", "X-Shopify-Event-Id": "ev-1",
			"X-Shopify-Triggered-At": "2026-04-01T12:30:00Z", "X-Shopify-API-Version": "2026-04"}
	}

	code, resp := a.post("/webhooks/shopify", order, headers(order, "whsec-1"))
	require.Equal(t, http.StatusOK, code, resp)
	require.Contains(t, resp, `"shop": "acme"`)
	placed := a.events("commerce.order.placed")
	require.Len(t, placed, 1)
	require.Equal(t, "shopify://acme", placed[0].Source)
	require.Contains(t, string(placed[0].Envelope), `"shop":"acme"`)
	require.Eventually(t, func() bool {
		list, err := a.st.ListInstances(context.Background(), store.InstanceQuery{Name: "thanks", Status: "completed", Limit: 10})
		return err == nil && len(list) == 1
	}, 10*time.Second, 10*time.Millisecond, "the webhook's event starts the workflow")

	code, resp = a.post("/webhooks/shopify", order, headers(order, "whsec-1"))
	require.Equal(t, http.StatusOK, code, "a repeated delivery is accepted: %s", resp)
	require.Contains(t, resp, `"duplicates": 1`)
	require.Len(t, a.events("commerce.order.placed"), 1, "and changes nothing")
	kept, err := a.st.ListDeliveries(context.Background(), store.DeliveryQuery{Shop: "acme"})
	require.NoError(t, err)
	require.Len(t, kept, 1, "the raw body is kept once")
	require.Equal(t, order, string(kept[0].Body))

	code, resp = a.post("/webhooks/shopify", order, headers(order, "guess"))
	require.Equal(t, http.StatusUnauthorized, code)
	require.NotContains(t, resp, "line_items", "a refusal never quotes the body")
	unsigned := headers(order, "whsec-1")
	delete(unsigned, "X-Shopify-Hmac-Sha256")
	code, _ = a.post("/webhooks/shopify", order, unsigned)
	require.Equal(t, http.StatusUnauthorized, code)

	// The unprefixed header forms Shopify also sends.
	plain := map[string]string{}
	for k, v := range headers(order, "whsec-1") {
		plain[strings.Replace(k, "X-Shopify-", "Shopify-", 1)] = v
	}
	code, resp = a.post("/webhooks/shopify", order, plain)
	require.Equal(t, http.StatusOK, code, resp)

	other := headers(order, "whsec-1")
	other["X-Shopify-Shop-Domain"] = "other.myshopify.com"
	code, resp = a.post("/webhooks/shopify", order, other)
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, resp, "storeflow shop add")

	// A rotation: the old secret still verifies for a while.
	status, body, _ = a.do("PUT", "/v1/shops/acme", "application/json", `{"platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"whsec-2"}}`)
	require.Equal(t, http.StatusOK, status, body)
	paid := headers(order, "whsec-1")
	paid["X-Shopify-Topic"] = "orders/paid"
	code, resp = a.post("/webhooks/shopify", order, paid)
	require.Equal(t, http.StatusOK, code, resp)
	paid["X-Shopify-Hmac-Sha256"] = hmacBase64(order, "whsec-2")
	code, _ = a.post("/webhooks/shopify", order, paid)
	require.Equal(t, http.StatusOK, code)

	// A body that cannot be mapped goes to the dead-letter list, raw.
	broken := `{"id": 1, "line_items": "not a list"`
	code, resp = a.post("/webhooks/shopify", broken, headers(broken, "whsec-2"))
	require.Equal(t, http.StatusUnprocessableEntity, code, resp)
	require.Contains(t, resp, `"deadLetter"`)
	status, list, _ := a.do("GET", "/v1/deadletters", "", "")
	require.Equal(t, http.StatusOK, status)
	letters := list["deadLetters"].([]any)
	require.Len(t, letters, 1)
	id := letters[0].(map[string]any)["id"].(string)
	status, one, _ := a.do("GET", "/v1/deadletters/"+id, "", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, broken, one["body"])
	require.Equal(t, "orders/create", one["headers"].(map[string]any)["X-Shopify-Topic"])
	require.NotEmpty(t, one["reason"])
	status, replay, _ := a.do("POST", "/v1/deadletters/"+id+"/replay", "", "")
	require.Equal(t, http.StatusUnprocessableEntity, status, "still unmappable: %v", replay)
}

func TestWooCommerceWebhooks(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", `{"id":"woo","platform":"woocommerce","siteUrl":"https://example.com","currency":"USD","webhooks":{"secret":"wc-secret"}}`)
	require.Equal(t, http.StatusCreated, status, body)

	code, resp := a.post("/webhooks/woocommerce", "webhook_id=7", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, http.StatusOK, code, "the activation ping is answered: %s", resp)
	require.Contains(t, resp, `"ping": true`)
	evs, err := a.st.ReadEvents(context.Background(), 0, "", 100)
	require.NoError(t, err)
	require.Empty(t, evs, "and creates nothing")

	order := sample(t, "woocommerce/testdata/order.json")
	h := map[string]string{"Content-Type": "application/json", "X-WC-Webhook-Source": "https://example.com/", "X-WC-Webhook-Topic": "order.created",
		"X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created", "X-WC-Webhook-ID": "7", "X-WC-Webhook-Delivery-ID": "99",
		"X-WC-Webhook-Signature": hmacBase64(order, "wc-secret")}
	code, resp = a.post("/webhooks/woocommerce", order, h)
	require.Equal(t, http.StatusOK, code, resp)
	require.Len(t, a.events("commerce.order.placed"), 1)
	h["X-WC-Webhook-Delivery-ID"] = "100" // WooCommerce's delivery ids repeat and differ: the event id does not
	code, _ = a.post("/webhooks/woocommerce", order, h)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, a.events("commerce.order.placed"), 1)
}

func TestGenericWebhooksAndReplayAfterAFix(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	config := func(subject string) string {
		return `{"id":"forms","platform":"generic","currency":"EUR","webhooks":{"secret":"g-secret","generic":{"name":"typeform",
		  "signature":{"header":"X-Signature","prefix":"sha256="},
		  "events":[{"type":"commerce.form.submitted","id":"/event_id","subject":"` + subject + `","occurredAt":"/submitted_at",
		    "data":{"/formId":"/form_id","/customer/email":"/answer/email"}}]}}}`
	}
	status, body, _ := a.do("POST", "/v1/shops", "application/json", config("/form"))
	require.Equal(t, http.StatusCreated, status, body)

	form := `{"event_id":"e-1","form_id":"newsletter","submitted_at":"2026-11-20T10:00:00Z","answer":{"email":"ada@example.com"}}`
	h := map[string]string{"X-Signature": "sha256=" + hmacHex(form, "g-secret")}
	code, resp := a.post("/webhooks/generic/forms", form, h)
	require.Equal(t, http.StatusUnprocessableEntity, code, "the mapping points where the body has nothing: %s", resp)
	code, _ = a.post("/webhooks/generic/nobody", form, h)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = a.post("/webhooks/generic/forms", form, map[string]string{"X-Signature": "sha256=00"})
	require.Equal(t, http.StatusUnauthorized, code)

	status, list, _ := a.do("GET", "/v1/deadletters?shop=forms", "", "")
	require.Equal(t, http.StatusOK, status)
	id := list["deadLetters"].([]any)[0].(map[string]any)["id"].(string)

	status, body, _ = a.do("PUT", "/v1/shops/forms", "application/json", config("/form_id"))
	require.Equal(t, http.StatusOK, status, body)
	status, replay, _ := a.do("POST", "/v1/deadletters/"+id+"/replay", "", "")
	require.Equal(t, http.StatusOK, status, "the fixed mapping maps it: %v", replay)
	submitted := a.events("commerce.form.submitted")
	require.Len(t, submitted, 1)
	require.Contains(t, string(submitted[0].Envelope), `"email":"ada@example.com"`)
	status, _, _ = a.do("POST", "/v1/deadletters/"+id+"/replay", "", "")
	require.Equal(t, http.StatusConflict, status, "a replayed dead letter is no longer one")
	status, list, _ = a.do("GET", "/v1/deadletters?shop=forms", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, list["deadLetters"])
}

func TestPostedCommerceEventsFollowTheirSchemas(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ok := `{"specversion":"1.0","id":"f1","source":"site","type":"commerce.form.submitted","data":{"shop":"acme","occurredAt":"2026-12-01T10:00:00Z","formId":"newsletter","customer":{"email":"ada@example.com"}}}`
	status, body, _ := a.do("POST", "/v1/events", "application/cloudevents+json", ok)
	require.Equal(t, http.StatusAccepted, status, body)
	bad := strings.Replace(ok, `"occurredAt":"2026-12-01T10:00:00Z"`, `"occurredAt":12`, 1)
	status, body, _ = a.do("POST", "/v1/events", "application/cloudevents+json", bad)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["detail"], "occurredAt")
	status, body, _ = a.do("POST", "/v1/events", "application/cloudevents+json", strings.Replace(ok, "commerce.form.submitted", "commerce.form.sent", 1))
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body["detail"], "commerce.form.submitted", "an unknown commerce type lists the known ones")
	status, _, _ = a.do("POST", "/v1/events", "application/cloudevents+json", strings.Replace(ok, "commerce.form.submitted", "form.sent", 1))
	require.Equal(t, http.StatusAccepted, status, "other types are free")
}

func TestUnsubscribeLinkRecordsConsentOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// The links customers get point at the server; its own verify them.
	links, err := email.NewUnsubscribeLinks(a.srv.URL+"/unsubscribe", unsubscribeKey)
	require.NoError(t, err)
	link, err := links.URL(email.Unsubscription{Shop: "acme", Recipient: "ada@example.com", Channel: email.ChannelEmail, MessageID: "<m1@acme>"})
	require.NoError(t, err)

	resp, err := http.Get(link)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), `method="post"`, "opening the link asks first")
	require.Empty(t, a.events("commerce.consent.changed"), "a scanner opening the link unsubscribes nobody")

	for range 2 {
		resp, err = http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		require.NoError(t, err)
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", page)
		require.Contains(t, string(page), "You are unsubscribed")
	}
	consent := a.events("commerce.consent.changed")
	require.Len(t, consent, 1, "the same link records once")
	require.Contains(t, string(consent[0].Envelope), `"state":"unsubscribed"`)
	require.Contains(t, string(consent[0].Envelope), `"email":"ada@example.com"`)
	require.Contains(t, string(consent[0].Envelope), `"shop":"acme"`)

	resp, err = http.Post(a.srv.URL+"/unsubscribe/u1.forged", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a made-up link unsubscribes nobody")
}
