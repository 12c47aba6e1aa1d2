package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
)

func TestCustomersAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", acmeShop)
	require.Equal(t, http.StatusCreated, status, body)
	ce := "application/cloudevents+json"
	post := func(id, typ, data string) {
		t.Helper()
		status, body, _ := a.do("POST", "/v1/events", ce, fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"test://acme","type":%q,"shop":"acme","data":%s}`, id, typ, data))
		require.Equal(t, http.StatusAccepted, status, body)
	}
	post("c1", "commerce.consent.changed", `{"shop":"acme","occurredAt":"2026-11-01T10:00:00Z","channel":"email","state":"subscribed","collectedFrom":"shopify","customer":{"id":"42","email":"ada@example.com"}}`)
	post("o1", "commerce.order.placed", `{"shop":"acme","occurredAt":"2026-11-02T10:00:00Z","orderId":"1001","orderNumber":"#1001","currency":"EUR","totalPrice":"1200.00","customer":{"id":"42","firstName":"Ada","lastName":"Lovelace"}}`)
	post("o2", "commerce.order.placed", `{"shop":"acme","occurredAt":"2026-11-03T10:00:00Z","orderId":"1002","currency":"EUR","totalPrice":"9.00","customer":{"email":"grace@example.com"}}`)

	// Ada unsubscribes through the link of a marketing email.
	links, err := email.NewUnsubscribeLinks(a.srv.URL+"/unsubscribe", unsubscribeKey)
	require.NoError(t, err)
	link, err := links.URL(email.Unsubscription{Shop: "acme", Recipient: "ada@example.com", Channel: email.ChannelEmail})
	require.NoError(t, err)
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var ada map[string]any
	require.Eventually(t, func() bool {
		_, body, _ := a.do("GET", "/v1/customers?shop=acme&email="+url.QueryEscape("Ada@Example.com"), "", "")
		list, _ := body["customers"].([]any)
		if len(list) != 1 {
			return false
		}
		ada = list[0].(map[string]any)
		c, _ := ada["consent"].(map[string]any)["email"].(map[string]any)
		return c != nil && c["state"] == "unsubscribed"
	}, 30*time.Second, 20*time.Millisecond, "the profile shows the unsubscription")
	require.Equal(t, "Lovelace", ada["lastName"])
	require.Equal(t, []any{"new", "vip"}, ada["segments"], "one order of 1200 EUR: acme's VIP spend is 1000 by default")
	require.Equal(t, map[string]any{"EUR": "1200.00"}, ada["metrics"].(map[string]any)["totalSpent"])

	status, body, _ = a.do("GET", "/v1/customers?shop=acme&segment=vip", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["customers"], 1)
	status, body, _ = a.do("GET", "/v1/customers?shop=acme&q=grace", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["customers"], 1)
	status, body, _ = a.do("GET", "/v1/customers?shop=acme&limit=1", "", "")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, body["customers"], 1)
	next := body["next"].(string)
	_, body, _ = a.do("GET", "/v1/customers?shop=acme&limit=1&after="+next, "", "")
	require.Len(t, body["customers"], 1)
	require.Nil(t, body["next"], "the last page")

	status, body, _ = a.do("GET", "/v1/customers/"+ada["id"].(string), "", "")
	require.Equal(t, http.StatusOK, status, body)
	hist := body["customer"].(map[string]any)["consent"].(map[string]any)["email"].(map[string]any)["history"].([]any)
	require.Len(t, hist, 2)
	require.Equal(t, "storeflow unsubscribe link", hist[1].(map[string]any)["source"])
	events := body["recentEvents"].([]any)
	require.Len(t, events, 3)
	first := events[0].(map[string]any)
	require.Equal(t, "commerce.consent.changed", first["type"], "newest first")
	order := events[1].(map[string]any)
	require.Equal(t, map[string]any{"orderId": "1001", "orderNumber": "#1001", "currency": "EUR", "totalPrice": "1200.00"}, order["summary"])
	require.Equal(t, []any{map[string]any{"to": "ada@example.com", "status": "sent"}}, body["messages"], "the message log's hook")

	for _, q := range []string{"", "?shop=acme&segment=whales", "?shop=acme&limit=0"} {
		status, body, _ = a.do("GET", "/v1/customers"+q, "", "")
		require.Equal(t, http.StatusBadRequest, status, q)
		require.NotEmpty(t, body["detail"], q)
	}
	status, _, _ = a.do("GET", "/v1/customers/cus_nope", "", "")
	require.Equal(t, http.StatusNotFound, status)
}

// Shopify's published webhook examples, posted signed, become the
// profiles they describe.
func TestShopifyWebhooksBuildProfiles(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", `{"id":"acme","platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"whsec-1"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	for i, topic := range []string{"customers/create", "customers/email_marketing_consent_update", "orders/create", "refunds/create"} {
		file := map[string]string{"customers/create": "customers.json", "customers/email_marketing_consent_update": "customers_email_marketing_consent_update.json",
			"orders/create": "orders.json", "refunds/create": "refunds_create.json"}[topic]
		payload := sample(t, "shopify/testdata/"+file)
		code, resp := a.post("/webhooks/shopify", payload, map[string]string{"Content-Type": "application/json", "X-Shopify-Topic": topic,
			"X-Shopify-Shop-Domain": "acme.myshopify.com", "X-Shopify-Hmac-Sha256": hmacBase64(payload, "whsec-1"),
			"X-Shopify-Webhook-Id": fmt.Sprint("wh-", i), "X-Shopify-Triggered-At": "2026-04-01T12:30:00Z", "X-Shopify-API-Version": "2026-04"})
		require.Equal(t, http.StatusOK, code, "%s: %s", topic, resp)
	}
	require.Eventually(t, func() bool {
		f, err := a.st.GetFollower(context.Background(), "customers")
		head, _ := a.st.LastEventSeq(context.Background())
		return err == nil && f.Cursor == head
	}, 30*time.Second, 20*time.Millisecond)

	_, body, _ = a.do("GET", "/v1/customers?shop=acme&email=bob@biller.com", "", "")
	require.Len(t, body["customers"], 1)
	bob := body["customers"].([]any)[0].(map[string]any)
	require.Equal(t, "Bob", bob["firstName"])
	require.Equal(t, "Ottawa", bob["address"].(map[string]any)["city"])
	require.Equal(t, "not_subscribed", bob["consent"].(map[string]any)["email"].(map[string]any)["state"], "the consent topic reached the customer's profile")

	_, body, _ = a.do("GET", "/v1/customers?shop=acme&q=115310627314723954", "", "")
	require.Len(t, body["customers"], 1, "the order's customer, by the platform's id")
	john := body["customers"].([]any)[0].(map[string]any)
	require.Equal(t, "Smith", john["lastName"])
	require.Equal(t, float64(0), john["metrics"].(map[string]any)["orders"], "Shopify's example is a test order, which counts for nothing")
	_, body, _ = a.do("GET", "/v1/customers/"+john["id"].(string), "", "")
	var types []string
	for _, e := range body["recentEvents"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	require.ElementsMatch(t, []string{"commerce.order.placed", "commerce.refund.created"}, types, "the refund, which names no customer, found the order's")
}
