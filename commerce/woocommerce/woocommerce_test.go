package woocommerce_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/commercetest"
	"github.com/storeflow/storeflow/commerce/woocommerce"
)

var (
	secret     = []byte("wc-secret")
	oldSecret  = []byte("wc-previous")
	shopConfig = commerce.Shop{ID: "example.com", Country: "US", Currency: "USD"}
)

var (
	sample = commercetest.Sample
	edit   = commercetest.Edit
	data   = commercetest.Data
)

func sign(body, key []byte) string { return commercetest.SignBase64(body, key) }

func checkEvent(t testing.TB, e commerce.Event) {
	t.Helper()
	commercetest.CheckEvent(t, woocommerce.Platform, e)
}

// headers are those WC_Webhook::deliver sends.
func headers(topic string, body []byte) http.Header {
	resource, event, _ := strings.Cut(topic, ".")
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "WooCommerce/9.8.1 Hookshot (WordPress/6.8)")
	h.Set("X-WC-Webhook-Source", "http://example.com/")
	h.Set("X-WC-Webhook-Topic", topic)
	h.Set("X-WC-Webhook-Resource", resource)
	h.Set("X-WC-Webhook-Event", event)
	h.Set("X-WC-Webhook-Signature", sign(body, secret))
	h.Set("X-WC-Webhook-ID", "12")
	h.Set("X-WC-Webhook-Delivery-ID", "a5f4c1ea8e2d0a6b5bbf1d1e5b8e9f00")
	return h
}

func decode(t *testing.T, topic string, body []byte) *commerce.Delivery {
	t.Helper()
	d, err := woocommerce.Adapter{}.Decode(headers(topic, body), body, shopConfig)
	require.NoError(t, err)
	for _, e := range d.Events {
		checkEvent(t, e)
	}
	return d
}

func ids(d *commerce.Delivery) map[string]string {
	out := map[string]string{}
	for _, e := range d.Events {
		out[e.ID] = e.Type
	}
	return out
}

func TestPublishedExamplesMapToValidEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		topic, file string
		want        map[string]string // id → type
	}{
		{"order.created", "order.json", map[string]string{"order/727/placed": "commerce.order.placed", "order/727/paid": "commerce.order.paid"}},
		{"order.updated", "order.json", map[string]string{"order/727/paid": "commerce.order.paid"}},
		{"order.updated", "order_completed.json", map[string]string{"order/727/paid": "commerce.order.paid", "order/727/fulfilled": "commerce.order.fulfilled"}},
		// Completed without date_paid (paid by cheque, say): no paid fact;
		// its two refunds arrive on the order.
		{"order.updated", "order_refunded.json", map[string]string{"order/723/fulfilled": "commerce.order.fulfilled", "refund/726": "commerce.refund.created", "refund/724": "commerce.refund.created"}},
		{"customer.created", "customer.json", map[string]string{"customer/25/created": "commerce.customer.created"}},
		{"customer.updated", "customer_updated.json", map[string]string{"customer/25/updated/2017-03-21T19:12:28Z": "commerce.customer.updated"}},
		{"product.created", "product.json", map[string]string{"product/794/updated/2017-03-23T20:01:14Z": "commerce.product.updated"}},
		{"product.updated", "product.json", map[string]string{"product/794/updated/2017-03-23T20:01:14Z": "commerce.product.updated"}},
		{"coupon.created", "coupon.json", map[string]string{"coupon.created/719/2017-03-21T18:23:00Z": "woocommerce.coupon.created"}},
		{"coupon.updated", "coupon.json", map[string]string{"coupon.updated/719/2017-03-21T18:23:00Z": "woocommerce.coupon.updated"}},
		{"order.deleted", "", map[string]string{"order.deleted/727": "woocommerce.order.deleted"}},
	} {
		t.Run(tc.topic+" "+tc.file, func(t *testing.T) {
			t.Parallel()
			body := []byte(`{"id":727}`) // a deletion carries the id alone
			if tc.file != "" {
				body = sample(t, tc.file)
			}
			d := decode(t, tc.topic, body)
			require.Equal(t, tc.want, ids(d))
			require.Equal(t, body, d.Body)
			for _, e := range d.Events {
				require.Equal(t, "woocommerce://example.com", e.Source)
				require.Equal(t, tc.topic, e.Extensions["wctopic"])
				require.Equal(t, "12", e.Extensions["wcwebhookid"])
				require.Equal(t, "a5f4c1ea8e2d0a6b5bbf1d1e5b8e9f00", e.Extensions["wcdeliveryid"])
				require.Equal(t, strings.Split(tc.topic, ".")[0], e.Extensions["wcresource"])
			}
		})
	}
}

func TestOrderData(t *testing.T) {
	t.Parallel()
	d := decode(t, "order.created", sample(t, "order.json"))
	placed := data(t, d.Events[0])
	require.Equal(t, "commerce.order.placed", d.Events[0].Type)
	require.Equal(t, "2017-03-22T19:28:02Z", placed["occurredAt"], "date_created_gmt")
	require.Equal(t, "727", placed["orderId"])
	require.Equal(t, "727", placed["orderNumber"])
	require.Equal(t, "processing", placed["status"])
	require.Equal(t, "29.35", placed["totalPrice"])
	require.Equal(t, "18.00", placed["subtotalPrice"], "the lines' subtotals, 6.00 + 12.00")
	require.Equal(t, "10.00", placed["totalShipping"])
	require.Equal(t, map[string]any{"email": "john.doe@example.com", "phone": "(555) 555-5555", "firstName": "John", "lastName": "Doe"}, placed["customer"],
		"a guest (customer_id 0) has no id; 555-5555 is no valid number and is kept as sent")
	lines := placed["lineItems"].([]any)
	require.Equal(t, map[string]any{"id": "315", "productId": "93", "title": "Woo Single #1", "quantity": float64(2), "price": "3"}, lines[0], "a number price becomes a decimal string")
	require.Equal(t, "23", lines[1].(map[string]any)["variantId"])
	require.Equal(t, map[string]any{"firstName": "John", "lastName": "Doe", "address1": "969 Market", "city": "San Francisco", "provinceCode": "CA", "zip": "94103", "countryCode": "US"}, placed["shippingAddress"])
	require.Equal(t, "2017-03-22T19:28:08Z", data(t, d.Events[1])["occurredAt"], "paid at date_paid_gmt")
	require.Equal(t, commerce.Ordering{Key: "order/727", At: time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC)}, d.Events[0].Ordering)
}

func TestRefundsArriveOnTheOrder(t *testing.T) {
	t.Parallel()
	d := decode(t, "order.updated", sample(t, "order_refunded.json"))
	var refunds []map[string]any
	for _, e := range d.Events {
		if e.Type == "commerce.refund.created" {
			refunds = append(refunds, data(t, e))
		}
	}
	require.Len(t, refunds, 2)
	require.Equal(t, "726", refunds[0]["refundId"])
	require.Equal(t, "723", refunds[0]["orderId"])
	require.Equal(t, "10.00", refunds[0]["amount"], "WooCommerce's -10.00, as a positive amount")
	require.Equal(t, "USD", refunds[0]["currency"])
	require.Equal(t, "26", refunds[0]["customer"].(map[string]any)["id"])

	// A later update of the order lists the same refunds: same ids, so
	// the log keeps each once.
	later := edit(t, sample(t, "order_refunded.json"), map[string]any{"date_modified_gmt": "2017-03-25T10:00:00", "customer_note": "call before delivery"})
	again := ids(decode(t, "order.updated", later))
	require.Equal(t, "commerce.refund.created", again["refund/726"])
	require.Equal(t, "commerce.refund.created", again["refund/724"])
}

func TestOrderStates(t *testing.T) {
	t.Parallel()
	cancelled := edit(t, sample(t, "order.json"), map[string]any{"status": "cancelled", "date_modified_gmt": "2017-03-23T08:00:00"})
	got := ids(decode(t, "order.updated", cancelled))
	require.Equal(t, map[string]string{"order/727/cancelled": "commerce.order.cancelled"}, got, "a cancelled order is not reported paid")

	onHold := edit(t, sample(t, "order.json"), map[string]any{"status": "on-hold", "date_paid_gmt": nil})
	d := decode(t, "order.updated", onHold)
	require.Equal(t, map[string]string{"order.updated/727/2017-03-22T19:28:08Z": "woocommerce.order.updated"}, ids(d), "an update that shows no fact is kept as it came")
	require.Equal(t, commerce.Ordering{Key: "order/727", At: time.Date(2017, 3, 22, 19, 28, 8, 0, time.UTC)}, d.Events[0].Ordering)
}

func TestCustomerData(t *testing.T) {
	t.Parallel()
	body := edit(t, sample(t, "customer.json"), map[string]any{
		"email":   " John.Doe@Example.com",
		"billing": map[string]any{"first_name": "John", "last_name": "Doe", "address_1": "969 Market", "city": "San Francisco", "state": "CA", "postcode": "94103", "country": "US", "email": "john.doe@example.com", "phone": "(415) 555-0132"},
	})
	got := data(t, decode(t, "customer.created", body).Events[0])
	require.Equal(t, map[string]any{"id": "25", "email": "john.doe@example.com", "phone": "+14155550132", "firstName": "John", "lastName": "Doe"}, got["customer"])
	require.Equal(t, "2017-03-21T19:09:28Z", got["occurredAt"])
	require.Equal(t, "+14155550132", got["address"].(map[string]any)["phone"])
}

func TestProductAndStock(t *testing.T) {
	t.Parallel()
	got := data(t, decode(t, "product.updated", sample(t, "product.json")).Events[0])
	require.Equal(t, "Premium Quality", got["title"])
	require.Equal(t, "21.99", got["price"])
	require.Equal(t, "USD", got["currency"], "the shop's currency: product payloads name none")
	require.Equal(t, "publish", got["status"])

	stocked := edit(t, sample(t, "product.json"), map[string]any{"manage_stock": true, "stock_quantity": 4, "sku": "PQ-1"})
	d := decode(t, "product.updated", stocked)
	require.Equal(t, map[string]string{"product/794/updated/2017-03-23T20:01:14Z": "commerce.product.updated", "inventory/794/2017-03-23T20:01:14Z": "commerce.inventory.changed"}, ids(d))
	inv := data(t, d.Events[1])
	require.Equal(t, float64(4), inv["available"])
	require.Equal(t, "PQ-1", inv["sku"])
}

func TestPing(t *testing.T) {
	t.Parallel()
	a := woocommerce.Adapter{}
	body := []byte("webhook_id=12")
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("User-Agent", "WooCommerce/9.8.1 Hookshot (WordPress/6.8)")
	_, err := a.Shop(h, body)
	require.ErrorIs(t, err, commerce.ErrPing)
	require.ErrorIs(t, a.Verify(h, body, [][]byte{secret}), commerce.ErrPing)
	_, err = a.Decode(h, body, commerce.Shop{})
	require.ErrorIs(t, err, commerce.ErrPing)
	require.True(t, woocommerce.IsPing([]byte("webhook_id=3\n")))
	for _, notPing := range []string{`{"webhook_id":3}`, "webhook_id=3&x=1", "webhook_id=", ""} {
		require.False(t, woocommerce.IsPing([]byte(notPing)), notPing)
	}
}

func TestShop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		source, want string
		err          error
	}{
		{"http://example.com/", "example.com", nil},
		{"https://Shop.Example.com/store/", "shop.example.com", nil},
		{"example.com", "example.com", nil},
		{"http://localhost:8080/", "localhost", nil},
		{"", "", commerce.ErrNoShop},
		{"http:///nohost", "", commerce.ErrNoShop},
	} {
		h := http.Header{}
		if tc.source != "" {
			h.Set("X-WC-Webhook-Source", tc.source)
		}
		got, err := woocommerce.Adapter{}.Shop(h, []byte(`{}`))
		require.ErrorIs(t, err, tc.err, tc.source)
		require.Equal(t, tc.want, got, tc.source)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body := sample(t, "order.json")
	for _, tc := range []struct {
		name      string
		signature string
		secrets   [][]byte
		err       error
	}{
		{"current secret", sign(body, secret), [][]byte{secret}, nil},
		{"previous secret during rotation", sign(body, oldSecret), [][]byte{secret, oldSecret}, nil},
		{"wrong secret", sign(body, []byte("nope")), [][]byte{secret, oldSecret}, commerce.ErrSignature},
		{"missing header", "", [][]byte{secret}, commerce.ErrSignature},
		{"not base64", "***", [][]byte{secret}, commerce.ErrSignature},
		{"hex instead of base64", "6e6f7065", [][]byte{secret}, commerce.ErrSignature},
		{"no secret", sign(body, secret), nil, commerce.ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.signature != "" {
				h.Set("X-WC-Webhook-Signature", tc.signature)
			}
			err := woocommerce.Adapter{}.Verify(h, body, tc.secrets)
			require.ErrorIs(t, err, tc.err)
			if err != nil {
				require.NotContains(t, err.Error(), "john.doe", "a signature error never quotes the body")
			}
		})
	}
}

func TestUnmappable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, topic, body, reason string
	}{
		{"malformed JSON", "order.created", `{"id":727,`, "not the JSON of an order"},
		{"malformed JSON, kept topic", "coupon.created", `{"id"`, "not JSON"},
		{"order without id", "order.updated", `{"status":"processing"}`, "no id"},
		{"order without dates", "order.created", `{"id":1}`, "date_created_gmt"},
		{"bad date", "customer.updated", `{"id":1,"date_modified_gmt":"22/03/2017"}`, "date_modified_gmt"},
		{"bad amount", "order.created", `{"id":1,"total":"29,35","date_created_gmt":"2017-03-22T19:28:02","date_modified_gmt":"2017-03-22T19:28:02"}`, "not a decimal"},
		{"refund without id", "order.updated", `{"id":1,"status":"refunded","date_modified_gmt":"2017-03-22T19:28:02","refunds":[{"total":"-1.00"}]}`, "refund"},
		{"product without id", "product.updated", `{"name":"x"}`, "no id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tc.body)
			_, err := woocommerce.Adapter{}.Decode(headers(tc.topic, body), body, shopConfig)
			var ue *commerce.UnmappableError
			require.True(t, errors.As(err, &ue), "%v", err)
			require.Equal(t, tc.topic, ue.Topic)
			require.Contains(t, ue.Reason, tc.reason)
		})
	}

	t.Run("no topic", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		h.Set("X-WC-Webhook-Source", "http://example.com/")
		_, err := woocommerce.Adapter{}.Decode(h, []byte(`{"id":1}`), commerce.Shop{})
		require.ErrorIs(t, err, commerce.ErrUnmappable)
	})
	t.Run("topic from resource and event", func(t *testing.T) {
		t.Parallel()
		body := sample(t, "customer.json")
		h := headers("customer.created", body)
		h.Del("X-WC-Webhook-Topic")
		d, err := woocommerce.Adapter{}.Decode(h, body, commerce.Shop{})
		require.NoError(t, err)
		require.Equal(t, "customer.created", d.Topic)
		require.Equal(t, "example.com", d.Shop, "the shop read from the request")
	})
}

// Delivery ids are not unique and WooCommerce sends the same resource
// again on every save: ids come from the resource and its date_modified.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	body := sample(t, "customer_updated.json")
	first := decode(t, "customer.updated", body)
	h := headers("customer.updated", body)
	h.Set("X-WC-Webhook-Delivery-ID", "another-delivery")
	again, err := woocommerce.Adapter{}.Decode(h, body, shopConfig)
	require.NoError(t, err)
	require.Equal(t, first.Events[0].ID, again.Events[0].ID)
	require.Equal(t, first.Events[0].Data, again.Events[0].Data)

	// The same delivery id on a different change does not merge them.
	changed := edit(t, body, map[string]any{"date_modified_gmt": "2017-03-21T19:15:00"})
	h = headers("customer.updated", changed)
	h.Set("X-WC-Webhook-Delivery-ID", first.Headers["X-Wc-Webhook-Delivery-Id"])
	other, err := woocommerce.Adapter{}.Decode(h, changed, shopConfig)
	require.NoError(t, err)
	require.NotEqual(t, first.Events[0].ID, other.Events[0].ID)

	// Custom action topics carry no version: the body's hash tells them apart.
	act := []byte(`{"action":"woocommerce_add_to_cart","arg":"7d04bbbe5494ae9d2f5a76aa1c00fa2f"}`)
	a1 := decode(t, "action.woocommerce_add_to_cart", act)
	a2 := decode(t, "action.woocommerce_add_to_cart", act)
	require.Equal(t, a1.Events[0].ID, a2.Events[0].ID)
	require.Equal(t, "woocommerce.action.woocommerce_add_to_cart", a1.Events[0].Type)
}

func TestOlderAfterNewer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ topic, file string }{
		{"order.updated", "order.json"},
		{"customer.updated", "customer.json"},
		{"product.updated", "product.json"},
		{"coupon.updated", "coupon.json"},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			t.Parallel()
			older := sample(t, tc.file)
			newer := edit(t, older, map[string]any{"date_modified_gmt": "2018-01-01T00:00:00"})
			n := decode(t, tc.topic, newer).Events[0]
			o := decode(t, tc.topic, older).Events[0]
			require.Equal(t, n.Ordering.Key, o.Ordering.Key)
			require.True(t, n.Ordering.Supersedes(o.Ordering))
			require.False(t, o.Ordering.Supersedes(n.Ordering))
		})
	}
}
