package shopify_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/commercetest"
	"github.com/storeflow/storeflow/commerce/shopify"
)

const shopDomain = "acme.myshopify.com"

var (
	secret     = []byte("current-secret")
	oldSecret  = []byte("previous-secret")
	shopConfig = commerce.Shop{ID: shopDomain, Country: "US", Currency: "USD"}
)

var (
	sample = commercetest.Sample
	edit   = commercetest.Edit
	data   = commercetest.Data
	types  = commercetest.Types
)

func sign(body, key []byte) string { return commercetest.SignBase64(body, key) }

func checkEvent(t testing.TB, e commerce.Event) {
	t.Helper()
	commercetest.CheckEvent(t, shopify.Platform, e)
}

// headers are those of a delivery of topic, as Shopify sends them.
func headers(topic string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Hmac-Sha256", sign(body, secret))
	h.Set("X-Shopify-Shop-Domain", shopDomain)
	h.Set("X-Shopify-API-Version", "2026-04")
	h.Set("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
	h.Set("X-Shopify-Event-Id", "98880550-7158-44d4-b7cd-2c97c8a091b5")
	h.Set("X-Shopify-Triggered-At", "2026-04-01T12:30:00.123456Z")
	return h
}

func decode(t *testing.T, topic string, body []byte) *commerce.Delivery {
	t.Helper()
	d, err := shopify.Adapter{}.Decode(headers(topic, body), body, shopConfig)
	require.NoError(t, err)
	for _, e := range d.Events {
		checkEvent(t, e)
	}
	return d
}

func TestPublishedSamplesMapToValidEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		topic, file string
		types       []string
		ids         []string
		subject     string
	}{
		{"orders/create", "orders.json", []string{"commerce.order.placed"}, []string{"order/820982911946154508/placed"}, "820982911946154508"},
		{"orders/paid", "orders.json", []string{"commerce.order.paid"}, []string{"order/820982911946154508/paid"}, "820982911946154508"},
		{"orders/fulfilled", "orders.json", []string{"commerce.order.fulfilled"}, []string{"order/820982911946154508/fulfilled"}, "820982911946154508"},
		{"orders/cancelled", "orders.json", []string{"commerce.order.cancelled"}, []string{"order/820982911946154508/cancelled"}, "820982911946154508"},
		// The sample order is cancelled and voided: the update shows the
		// cancellation, with the id orders/cancelled gives.
		{"orders/updated", "orders.json", []string{"commerce.order.cancelled"}, []string{"order/820982911946154508/cancelled"}, "820982911946154508"},
		{"checkouts/create", "checkouts.json", []string{"commerce.checkout.started"}, []string{"checkout/123123123/started"}, "123123123"},
		{"checkouts/update", "checkouts.json", []string{"commerce.checkout.updated"}, []string{"checkout/123123123/updated/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "123123123"},
		{"customers/create", "customers.json", []string{"commerce.customer.created"}, []string{"customer/706405506930370084/created"}, "706405506930370084"},
		{"customers/update", "customers.json", []string{"commerce.customer.updated"}, []string{"customer/706405506930370084/updated/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"customers_email_marketing_consent/update", "customers_email_marketing_consent_update.json", []string{"commerce.consent.changed"}, []string{"customer/706405506930370084/consent/email/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"customers/email_marketing_consent_update", "customers_email_marketing_consent_update.json", []string{"commerce.consent.changed"}, []string{"customer/706405506930370084/consent/email/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"customers_marketing_consent/update", "customers_marketing_consent_update.json", []string{"commerce.consent.changed"}, []string{"customer/706405506930370084/consent/sms/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"customers/marketing_consent_update", "customers_marketing_consent_update.json", []string{"commerce.consent.changed"}, []string{"customer/706405506930370084/consent/sms/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"customers_whats_app_marketing_consent/update", "customers_whats_app_marketing_consent_update.json", []string{"commerce.consent.changed"}, []string{"customer/706405506930370084/consent/whatsapp/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "706405506930370084"},
		{"refunds/create", "refunds_create.json", []string{"commerce.refund.created"}, []string{"refund/890088186047892319"}, "890088186047892319"},
		{"returns/request", "returns_request.json", []string{"commerce.return.requested"}, []string{"return/123134564567890/requested"}, "123134564567890"},
		// The sample fulfillment is pending: nothing has shipped.
		{"fulfillments/create", "fulfillments.json", []string{"shopify.fulfillments/create"}, []string{"fulfillments/create/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "123456"},
		{"fulfillments/update", "fulfillments.json", []string{"shopify.fulfillments/update"}, []string{"fulfillments/update/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "123456"},
		{"inventory_levels/update", "inventory_levels_update.json", []string{"commerce.inventory.changed"}, []string{"inventory/271878346596884015/24826418/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "271878346596884015"},
		{"products/create", "products.json", []string{"commerce.product.updated"}, []string{"product/788032119674292922/updated/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "788032119674292922"},
		{"products/update", "products.json", []string{"commerce.product.updated"}, []string{"product/788032119674292922/updated/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "788032119674292922"},
		{"orders/delete", "orders_delete.json", []string{"shopify.orders/delete"}, []string{"orders/delete/98880550-7158-44d4-b7cd-2c97c8a091b5"}, "820982911946154508"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			t.Parallel()
			body := sample(t, tc.file)
			d := decode(t, tc.topic, body)
			require.Equal(t, tc.types, types(d))
			for i, e := range d.Events {
				require.Equal(t, tc.ids[i], e.ID)
				require.Equal(t, tc.subject, e.Subject)
				require.Equal(t, "shopify://acme.myshopify.com", e.Source)
				require.Equal(t, "2026-04", e.Extensions["shopifyapiversion"])
				require.Equal(t, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", e.Extensions["shopifywebhookid"])
				require.Equal(t, "98880550-7158-44d4-b7cd-2c97c8a091b5", e.Extensions["shopifyeventid"])
				require.Equal(t, "2026-04-01T12:30:00.123456Z", e.Extensions["shopifytriggeredat"])
				require.Equal(t, tc.topic, e.Extensions["shopifytopic"])
			}
			require.Equal(t, body, d.Body, "the raw body is kept unchanged")
			require.Equal(t, tc.topic, d.Topic)
			require.Equal(t, "2026-04", d.Headers["X-Shopify-Api-Version"])
		})
	}
}

func TestOrderData(t *testing.T) {
	t.Parallel()
	d := decode(t, "orders/create", sample(t, "orders.json"))
	got := data(t, d.Events[0])
	require.Equal(t, "acme.myshopify.com", got["shop"])
	require.Equal(t, "2022-01-01T00:00:00Z", got["occurredAt"], "created_at in UTC")
	require.Equal(t, "820982911946154508", got["orderId"], "ids stay exact strings")
	require.Equal(t, "#9999", got["orderNumber"])
	require.Equal(t, "USD", got["currency"])
	require.Equal(t, "404.95", got["totalPrice"])
	require.Equal(t, "10.00", got["totalShipping"])
	require.Equal(t, map[string]any{"id": "115310627314723954", "email": "john@example.com", "firstName": "John", "lastName": "Smith"}, got["customer"])
	lines := got["lineItems"].([]any)
	require.Len(t, lines, 5)
	require.Equal(t, map[string]any{"id": "487817672276298554", "productId": "788032119674292922", "sku": "SKU2006-001", "title": "Aviator sunglasses", "quantity": float64(1), "price": "89.99", "totalDiscount": "0.00"}, lines[0])
	ship := got["shippingAddress"].(map[string]any)
	require.Equal(t, "555-555-SHIP", ship["phone"], "a number that is not one is kept as sent")
	require.Equal(t, []any{"tag1", "tag2"}, got["tags"])
	require.Equal(t, true, got["test"])
	require.NotContains(t, got, "checkoutToken", "the sample order has no checkout")
	require.Equal(t, commerce.Ordering{Key: "order/820982911946154508", At: time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)}, d.Events[0].Ordering)
}

// An order links to its checkout by checkout_token, the checkout's token.
func TestOrderLinksToCheckoutByToken(t *testing.T) {
	t.Parallel()
	checkout := decode(t, "checkouts/create", sample(t, "checkouts.json")).Events[0]
	order := decode(t, "orders/create", edit(t, sample(t, "orders.json"), map[string]any{"checkout_token": "123123123", "checkout_id": nil})).Events[0]
	require.Equal(t, data(t, checkout)["checkoutToken"], data(t, order)["checkoutToken"])
	require.Equal(t, checkout.Subject, data(t, order)["checkoutToken"])
}

func TestCheckoutData(t *testing.T) {
	t.Parallel()
	e := decode(t, "checkouts/create", sample(t, "checkouts.json")).Events[0]
	got := data(t, e)
	require.Equal(t, "2022-01-01T00:00:00Z", got["occurredAt"])
	require.Equal(t, "421.88", got["totalPrice"])
	require.Equal(t, "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token", got["recoveryUrl"])
	// The customer object's email wins over the checkout's contact email.
	require.Equal(t, "john@example.com", got["customer"].(map[string]any)["email"])
	require.Len(t, got["lineItems"], 2)
}

// A checkout Shopify reports as completed is not a start: it maps to
// checkout.updated with completedAt, so no reminder begins for it while a
// waiting flow still learns it is done.
func TestCompletedCheckoutIsNotStarted(t *testing.T) {
	t.Parallel()
	body := edit(t, sample(t, "checkouts.json"), map[string]any{"completed_at": "2021-12-31T19:05:00-05:00", "updated_at": "2021-12-31T19:05:00-05:00"})
	d := decode(t, "checkouts/create", body)
	require.Equal(t, []string{"commerce.checkout.updated"}, types(d))
	got := data(t, d.Events[0])
	require.Equal(t, "2022-01-01T00:05:00Z", got["completedAt"])
	require.Equal(t, "2022-01-01T00:05:00Z", got["occurredAt"])
}

func TestOrderUpdatedShowsFactsWithTheDedicatedTopicsIDs(t *testing.T) {
	t.Parallel()
	paidFulfilled := edit(t, sample(t, "orders.json"), map[string]any{
		"cancelled_at": nil, "cancel_reason": nil, "financial_status": "paid", "fulfillment_status": "fulfilled",
		"fulfillments": []any{map[string]any{"id": 255858046, "order_id": 820982911946154508, "status": "success", "created_at": "2022-01-02T10:00:00-05:00", "tracking_company": "UPS", "tracking_number": "1Z2345", "line_items": []any{}}},
	})
	up := decode(t, "orders/updated", paidFulfilled)
	require.Equal(t, []string{"commerce.order.paid", "commerce.order.fulfilled"}, types(up))
	paid := decode(t, "orders/paid", paidFulfilled)
	fulfilled := decode(t, "orders/fulfilled", paidFulfilled)
	require.Equal(t, paid.Events[0].ID, up.Events[0].ID)
	require.Equal(t, fulfilled.Events[0].ID, up.Events[1].ID)
	require.Equal(t, "fulfillment/255858046/fulfilled", up.Events[1].ID)
	f := data(t, up.Events[1])["fulfillment"].(map[string]any)
	require.Equal(t, []any{"1Z2345"}, f["trackingNumbers"])

	// An update that shows no new fact is kept as it came.
	plain := edit(t, sample(t, "orders.json"), map[string]any{"cancelled_at": nil, "financial_status": "pending"})
	require.Equal(t, []string{"shopify.orders/updated"}, types(decode(t, "orders/updated", plain)))
}

func TestFulfillmentShippedAndDelivered(t *testing.T) {
	t.Parallel()
	shipped := edit(t, sample(t, "fulfillments.json"), map[string]any{"status": "success", "shipment_status": "in_transit"})
	for _, topic := range []string{"fulfillments/create", "fulfillments/update"} {
		d := decode(t, topic, shipped)
		require.Equal(t, []string{"commerce.order.fulfilled"}, types(d))
		require.Equal(t, "fulfillment/123456/fulfilled", d.Events[0].ID, "create and update of one shipment are one fact")
		got := data(t, d.Events[0])
		require.Equal(t, "820982911946154508", got["orderId"])
		require.Equal(t, map[string]any{"email": "jon@example.com"}, got["customer"])
		require.Equal(t, "UPS", got["fulfillment"].(map[string]any)["trackingCompany"])
	}
	delivered := edit(t, sample(t, "fulfillments.json"), map[string]any{"status": "success", "shipment_status": "delivered", "updated_at": "2022-01-04T12:00:00-05:00"})
	d := decode(t, "fulfillments/update", delivered)
	require.Equal(t, []string{"commerce.order.delivered"}, types(d))
	require.Equal(t, "fulfillment/123456/delivered", d.Events[0].ID)
	require.Equal(t, "2022-01-04T17:00:00Z", data(t, d.Events[0])["occurredAt"])
}

func TestRefundAmountAndCurrency(t *testing.T) {
	t.Parallel()
	got := data(t, decode(t, "refunds/create", sample(t, "refunds_create.json")).Events[0])
	require.Equal(t, "85.00", got["amount"], "the two successful refund transactions, 75.00 + 10.00")
	require.Equal(t, "USD", got["currency"], "from the refunded lines: the transactions name none")
	require.Equal(t, "820982911946154508", got["orderId"])
	require.Equal(t, "Things were damaged", got["reason"])
	require.Len(t, got["lineItems"], 5)

	noTx := edit(t, sample(t, "refunds_create.json"), map[string]any{"transactions": []any{}})
	require.Equal(t, "414.95", data(t, decode(t, "refunds/create", noTx).Events[0])["amount"], "without transactions, the refunded lines and their tax")
}

func TestConsent(t *testing.T) {
	t.Parallel()
	email := data(t, decode(t, "customers_email_marketing_consent/update", sample(t, "customers_email_marketing_consent_update.json")).Events[0])
	require.Equal(t, "email", email["channel"])
	require.Equal(t, "not_subscribed", email["state"])
	require.Equal(t, map[string]any{"id": "706405506930370084", "email": "bob@biller.com"}, email["customer"])
	require.Equal(t, "2026-04-01T12:30:00.123456Z", email["occurredAt"], "no consent_updated_at: the delivery's triggered-at")

	sms := data(t, decode(t, "customers_marketing_consent/update", sample(t, "customers_marketing_consent_update.json")).Events[0])
	require.Equal(t, "sms", sms["channel"])
	require.Equal(t, "unknown", sms["state"], "Shopify's null state")
	require.Equal(t, "other", sms["collectedFrom"])

	subscribed := edit(t, sample(t, "customers_marketing_consent_update.json"), map[string]any{
		"phone": "(415) 555-0132", "sms_marketing_consent": map[string]any{"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2026-03-31T08:00:00-07:00"},
	})
	got := data(t, decode(t, "customers_marketing_consent/update", subscribed).Events[0])
	require.Equal(t, "subscribed", got["state"])
	require.Equal(t, "+14155550132", got["customer"].(map[string]any)["phone"], "a national number read in the shop's country")
	require.Equal(t, "2026-03-31T15:00:00Z", got["consentUpdatedAt"])
	require.Equal(t, "2026-03-31T15:00:00Z", got["occurredAt"])
}

func TestCustomerHasNoConsentButAddressAndPhone(t *testing.T) {
	t.Parallel()
	body := edit(t, sample(t, "customers.json"), map[string]any{"phone": "613-555-0199", "email": "  Bob@Biller.COM "})
	got := data(t, decode(t, "customers/create", body).Events[0])
	require.Equal(t, map[string]any{"id": "706405506930370084", "email": "bob@biller.com", "phone": "+16135550199", "firstName": "Bob", "lastName": "Biller"}, got["customer"],
		"email trimmed and lower-cased, phone read in the default address's country")
	require.Equal(t, "K2P 2L8", got["address"].(map[string]any)["zip"])
	require.NotContains(t, got, "state")
}

func TestProductPricesInTheShopsCurrency(t *testing.T) {
	t.Parallel()
	got := data(t, decode(t, "products/update", sample(t, "products.json")).Events[0])
	require.Equal(t, "USD", got["currency"])
	require.Equal(t, []any{"example", "mens", "t-shirt"}, got["tags"])
	v := got["variants"].([]any)
	require.Equal(t, map[string]any{"id": "642667041472713922", "title": "Small", "price": "19.99", "compareAtPrice": "24.99", "inventoryQuantity": float64(75)}, v[0])
}

func TestUntrackedInventoryIsKeptAsPlatformEvent(t *testing.T) {
	t.Parallel()
	body := edit(t, sample(t, "inventory_levels_update.json"), map[string]any{"available": nil})
	require.Equal(t, []string{"shopify.inventory_levels/update"}, types(decode(t, "inventory_levels/update", body)))
}

func TestShop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
		err    error
	}{
		{"prefixed", map[string]string{"X-Shopify-Shop-Domain": "acme.myshopify.com"}, "acme.myshopify.com", nil},
		{"unprefixed", map[string]string{"Shopify-Shop-Domain": "acme.myshopify.com"}, "acme.myshopify.com", nil},
		{"case and space", map[string]string{"X-Shopify-Shop-Domain": " ACME.myshopify.com "}, "acme.myshopify.com", nil},
		{"missing", nil, "", commerce.ErrNoShop},
		{"not a domain", map[string]string{"X-Shopify-Shop-Domain": "acme/../x"}, "", commerce.ErrNoShop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got, err := shopify.Adapter{}.Shop(h, nil)
			require.ErrorIs(t, err, tc.err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := sample(t, "orders.json")
	for _, tc := range []struct {
		name    string
		header  map[string]string
		secrets [][]byte
		err     error
	}{
		{"current secret", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, secret)}, [][]byte{secret, oldSecret}, nil},
		{"previous secret during rotation", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, oldSecret)}, [][]byte{secret, oldSecret}, nil},
		{"previous secret after rotation", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, oldSecret)}, [][]byte{secret}, commerce.ErrSignature},
		{"wrong secret", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, []byte("guess"))}, [][]byte{secret}, commerce.ErrSignature},
		{"unprefixed header", map[string]string{"Shopify-Hmac-Sha256": sign(body, secret)}, [][]byte{secret}, nil},
		{"missing header", nil, [][]byte{secret}, commerce.ErrSignature},
		{"not base64", map[string]string{"X-Shopify-Hmac-Sha256": "%%%"}, [][]byte{secret}, commerce.ErrSignature},
		{"signature of another body", map[string]string{"X-Shopify-Hmac-Sha256": sign([]byte(`{"id":1}`), secret)}, [][]byte{secret}, commerce.ErrSignature},
		{"no secret configured", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, secret)}, nil, commerce.ErrNoSecret},
		{"empty secret is none", map[string]string{"X-Shopify-Hmac-Sha256": sign(body, nil)}, [][]byte{{}}, commerce.ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			err := shopify.Adapter{}.Verify(h, body, tc.secrets)
			require.ErrorIs(t, err, tc.err)
			if err != nil {
				require.NotContains(t, err.Error(), "820982911946154508", "a signature error never quotes the body")
				require.NotContains(t, err.Error(), string(secret))
			}
		})
	}
}

func TestUnprefixedHeadersAreKept(t *testing.T) {
	t.Parallel()
	body := sample(t, "customers.json")
	h := http.Header{}
	for k, v := range headers("customers/update", body) {
		h[strings.Replace(k, "X-Shopify-", "Shopify-", 1)] = v
	}
	a := shopify.Adapter{}
	shop, err := a.Shop(h, body)
	require.NoError(t, err)
	require.NoError(t, a.Verify(h, body, [][]byte{secret}))
	d, err := a.Decode(h, body, commerce.Shop{ID: shop})
	require.NoError(t, err)
	require.Equal(t, "customers/update", d.Topic)
	require.Equal(t, "2026-04", d.Headers["Shopify-Api-Version"])
	require.Equal(t, "98880550-7158-44d4-b7cd-2c97c8a091b5", d.Events[0].Extensions["shopifyeventid"])
}

func TestUnmappable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, topic string
		body        []byte
		reason      string
	}{
		{"malformed JSON", "orders/create", []byte(`{"id": 1,`), "not the JSON of an order"},
		{"malformed JSON, platform topic", "orders/delete", []byte(`{"id"`), "not JSON"},
		{"not an object", "orders/create", []byte(`[1,2]`), "not the JSON of an order"},
		{"order without id", "orders/create", []byte(`{"name":"#1"}`), "no id"},
		{"checkout without token", "checkouts/create", []byte(`{"id":5}`), "no token"},
		{"bad time", "orders/create", []byte(`{"id":1,"created_at":"yesterday"}`), "created_at"},
		{"amount that is not one", "orders/create", []byte(`{"id":1,"total_price":"12,50"}`), "not a decimal"},
		{"refund without order", "refunds/create", []byte(`{"id":7}`), "order_id"},
		{"consent without customer", "customers_email_marketing_consent/update", []byte(`{"email_marketing_consent":{"state":"subscribed"}}`), "no id"},
		{"unknown consent state", "customers_email_marketing_consent/update", []byte(`{"customer_id":1,"email_marketing_consent":{"state":"maybe"}}`), "/state"},
		{"order with a currency that is not one", "orders/create", []byte(`{"id":1,"currency":"dollars","total_price":"1.00","created_at":"2026-01-01T00:00:00Z"}`), "/currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := shopify.Adapter{}.Decode(headers(tc.topic, tc.body), tc.body, shopConfig)
			require.ErrorIs(t, err, commerce.ErrUnmappable)
			var ue *commerce.UnmappableError
			require.True(t, errors.As(err, &ue))
			require.Equal(t, tc.topic, ue.Topic)
			require.Contains(t, ue.Reason, tc.reason)
		})
	}

	t.Run("no topic", func(t *testing.T) {
		t.Parallel()
		body := sample(t, "orders.json")
		h := headers("orders/create", body)
		h.Del("X-Shopify-Topic")
		_, err := shopify.Adapter{}.Decode(h, body, shopConfig)
		require.ErrorIs(t, err, commerce.ErrUnmappable)
	})
}

func TestRepeatedDeliveryGetsTheSameEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ topic, file string }{
		{"orders/create", "orders.json"},
		{"checkouts/update", "checkouts.json"},
		{"customers_email_marketing_consent/update", "customers_email_marketing_consent_update.json"},
		{"inventory_levels/update", "inventory_levels_update.json"},
		{"orders/delete", "orders_delete.json"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			t.Parallel()
			body := sample(t, tc.file)
			first := decode(t, tc.topic, body)
			retry := decode(t, tc.topic, body)
			require.Equal(t, first.Events, retry.Events)
			for i := range first.Events {
				a, err := first.Events[i].Envelope()
				require.NoError(t, err)
				b, err := retry.Events[i].Envelope()
				require.NoError(t, err)
				require.JSONEq(t, string(a), string(b))
			}
		})
	}
}

func TestDistinctChangesGetDistinctIDs(t *testing.T) {
	t.Parallel()
	body := sample(t, "checkouts.json")
	a := decode(t, "checkouts/update", body)
	h := headers("checkouts/update", body)
	h.Set("X-Shopify-Event-Id", "another-change")
	h.Set("X-Shopify-Webhook-Id", "another-delivery")
	b, err := shopify.Adapter{}.Decode(h, body, shopConfig)
	require.NoError(t, err)
	require.NotEqual(t, a.Events[0].ID, b.Events[0].ID)

	// Without Shopify's ids the body tells changes apart.
	h.Del("X-Shopify-Event-Id")
	h.Del("X-Shopify-Webhook-Id")
	c1, err := shopify.Adapter{}.Decode(h, body, shopConfig)
	require.NoError(t, err)
	c2, err := shopify.Adapter{}.Decode(h, body, shopConfig)
	require.NoError(t, err)
	require.Equal(t, c1.Events[0].ID, c2.Events[0].ID)
	other := edit(t, body, map[string]any{"updated_at": "2022-01-01T00:00:00-05:00"})
	c3, err := shopify.Adapter{}.Decode(h, other, shopConfig)
	require.NoError(t, err)
	require.NotEqual(t, c1.Events[0].ID, c3.Events[0].ID)
}

// Shopify retries with the original payload and keeps no order: a retry of
// an older change arriving after a newer one carries an ordering that does
// not supersede the newer.
func TestOlderAfterNewer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		topic, file string
		field       string
	}{
		{"orders/updated", "orders.json", "updated_at"},
		{"checkouts/update", "checkouts.json", "updated_at"},
		{"customers/update", "customers.json", "updated_at"},
		{"products/update", "products.json", "updated_at"},
		{"inventory_levels/update", "inventory_levels_update.json", "updated_at"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			t.Parallel()
			older := sample(t, tc.file)
			newer := edit(t, older, map[string]any{tc.field: "2022-01-05T09:00:00-05:00"})
			n := decode(t, tc.topic, newer).Events[0]
			h := headers(tc.topic, older)
			h.Set("X-Shopify-Event-Id", "the-older-change")
			h.Set("X-Shopify-Triggered-At", "2026-04-01T12:45:00Z") // the retry comes later
			d, err := shopify.Adapter{}.Decode(h, older, shopConfig)
			require.NoError(t, err)
			o := d.Events[0]
			require.Equal(t, n.Ordering.Key, o.Ordering.Key)
			require.True(t, n.Ordering.Supersedes(o.Ordering))
			require.False(t, o.Ordering.Supersedes(n.Ordering), "older data must not replace newer")
		})
	}

	t.Run("consent without updated_at orders by triggered-at", func(t *testing.T) {
		t.Parallel()
		body := sample(t, "customers_email_marketing_consent_update.json")
		first := decode(t, "customers_email_marketing_consent/update", body).Events[0]
		h := headers("customers_email_marketing_consent/update", body)
		h.Set("X-Shopify-Triggered-At", "2026-04-01T13:00:00Z")
		h.Set("X-Shopify-Event-Id", "a-later-change")
		d, err := shopify.Adapter{}.Decode(h, body, shopConfig)
		require.NoError(t, err)
		require.True(t, d.Events[0].Ordering.Supersedes(first.Ordering))
	})
}
