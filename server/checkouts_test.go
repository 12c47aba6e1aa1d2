package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

const recoveryFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: recovery
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: commerce.checkout.started}
do:
  - awaitOrder:
      listen:
        to:
          one:
            with: {type: commerce.order.placed}
            correlate:
              checkout:
                from: .data.checkoutToken
                expect: ${ .checkoutToken }
      output:
        as: '{outcome: "recovered", order: .[0].orderId}'
`

// shopifyHook posts a signed Shopify webhook of acme.
func (a *api) shopifyHook(topic, id, body string) string {
	a.t.Helper()
	code, resp := a.post("/webhooks/shopify", body, map[string]string{"Content-Type": "application/json", "X-Shopify-Topic": topic,
		"X-Shopify-Shop-Domain": "acme.myshopify.com", "X-Shopify-Hmac-Sha256": hmacBase64(body, "whsec-1"), "X-Shopify-Webhook-Id": id,
		"X-Shopify-Triggered-At": "2026-04-01T12:30:00Z", "X-Shopify-API-Version": "2026-04"})
	require.Equal(a.t, http.StatusOK, code, resp)
	return resp
}

// with returns a Shopify sample with some fields replaced.
func with(t *testing.T, sampleJSON string, fields map[string]any) string {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(sampleJSON), &m))
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// unrelated logs n orders of other checkouts and customers.
func (a *api) unrelated(n int) {
	for b := 0; b < n; b += 500 {
		batch := make([]store.Event, 0, 500)
		for i := b; i < b+500 && i < n; i++ {
			id := fmt.Sprintf("noise/%d", i)
			env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "shopify://acme", "type": "commerce.order.placed", "shop": "acme",
				"data": map[string]any{"shop": "acme", "orderId": fmt.Sprint(7000 + i), "checkoutToken": fmt.Sprintf("other-%d", i),
					"customer": map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}}})
			batch = append(batch, store.Event{ID: id, Source: "shopify://acme", Type: "commerce.order.placed", Envelope: env})
		}
		_, err := a.rt.Ingest(context.Background(), batch)
		require.NoError(a.t, err)
	}
}

func (a *api) recoveries() []store.Instance {
	list, err := a.st.ListInstances(context.Background(), store.InstanceQuery{Name: "recovery", Limit: 100})
	require.NoError(a.t, err)
	return list
}

// An order whose webhook came before its checkout's, and a checkout
// delivered again after its order, with 5,000 other events between,
// never start a recovery.
func TestCheckoutsAfterTheirOrderStartNoRecovery(t *testing.T) {
	// Not parallel: thousands of events would slow every test beside it.
	a := newAPI(t)
	status, body, _ := a.do("POST", "/v1/shops", "application/json", `{"id":"acme","platform":"shopify","domain":"acme.myshopify.com","currency":"USD","webhooks":{"secret":"whsec-1"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	status, body, _ = a.do("POST", "/v1/workflows", "application/yaml", recoveryFlow)
	require.Equal(t, http.StatusCreated, status, body)
	checkout, order := sample(t, "shopify/testdata/checkouts.json"), sample(t, "shopify/testdata/orders.json")

	// The order first, thousands of events, then its checkout.
	a.shopifyHook("orders/create", "wh-order-1", with(t, order, map[string]any{"id": 1001, "checkout_token": "early"}))
	a.unrelated(5000)
	a.shopifyHook("checkouts/create", "wh-checkout-1", with(t, checkout, map[string]any{"token": "early"}))
	updated := a.events("commerce.checkout.updated")
	require.Len(t, updated, 1, "the checkout is logged as an update")
	require.Contains(t, string(updated[0].Envelope), `"checkoutToken":"early"`)
	require.Empty(t, a.events("commerce.checkout.started"), "not as a start")

	// A checkout that started a recovery, its order, thousands of events,
	// and the checkout's webhook again (a retry, with a new webhook id).
	a.shopifyHook("checkouts/create", "wh-checkout-2", with(t, checkout, map[string]any{"token": "late"}))
	require.Eventually(t, func() bool { return len(a.recoveries()) == 1 }, 30*time.Second, 10*time.Millisecond, "the checkout starts a recovery")
	a.shopifyHook("orders/create", "wh-order-2", with(t, order, map[string]any{"id": 1002, "checkout_token": "late"}))
	a.unrelated(5000)
	resp := a.shopifyHook("checkouts/create", "wh-checkout-2-retry", with(t, checkout, map[string]any{"token": "late"}))
	require.Contains(t, resp, `"duplicates": 1`)
	var done store.Instance
	require.Eventually(t, func() bool {
		list := a.recoveries()
		if len(list) == 1 && list[0].Status == "completed" {
			done = list[0]
		}
		return done.ID != ""
	}, 30*time.Second, 10*time.Millisecond, "the recovery is stopped by its order")
	time.Sleep(200 * time.Millisecond) // anything more would have started by now
	require.Len(t, a.recoveries(), 1, "one recovery, for the checkout that came first")
	require.Len(t, a.events("commerce.checkout.started"), 1)
	got, err := a.st.GetInstance(context.Background(), done.ID)
	require.NoError(t, err)
	require.Contains(t, string(got.State), `"outcome":"recovered"`)
}
