package woocommerce_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/woocommerce"
)

// WooCommerce pings a webhook's URL when the webhook is saved: unsigned, no
// X-WC-* headers. Every step answers it with ErrPing, so the HTTP layer
// replies 200 and records nothing.
func ExampleAdapter_ping() {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := woocommerce.Adapter{}.Shop(h, []byte("webhook_id=12"))
	fmt.Println(errors.Is(err, commerce.ErrPing))
	// Output: true
}

// An order update that lists a refund: the refund becomes its own event,
// with an id that later updates of the order repeat.
func ExampleAdapter_Decode() {
	body := []byte(`{"id":723,"number":"723","status":"refunded","currency":"EUR","total":"39.00",` +
		`"date_created_gmt":"2026-03-21T19:54:51","date_modified_gmt":"2026-03-22T08:00:00",` +
		`"billing":{"email":"Joao.Silva@example.com","phone":"(21) 98765-4321","country":"BR"},` +
		`"refunds":[{"id":726,"reason":"damaged","total":"-10.00"}]}`)
	h := http.Header{}
	h.Set("X-WC-Webhook-Source", "https://shop.example.com/")
	h.Set("X-WC-Webhook-Topic", "order.updated")
	d, err := woocommerce.Adapter{}.Decode(h, body, commerce.Shop{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range d.Events {
		fmt.Println(e.Type, e.Source, e.ID)
		fmt.Println(string(e.Data))
	}
	// Output:
	// commerce.refund.created woocommerce://shop.example.com refund/726
	// {"shop":"shop.example.com","occurredAt":"2026-03-22T08:00:00Z","orderId":"723","refundId":"726","customer":{"email":"joao.silva@example.com","phone":"+5521987654321"},"currency":"EUR","amount":"10.00","reason":"damaged"}
}
