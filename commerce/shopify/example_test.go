package shopify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/shopify"
)

// The steps the HTTP layer takes with a Shopify webhook.
func ExampleAdapter() {
	body := []byte(`{"id":450789469,"name":"#1001","email":"Ada@Example.com","checkout_token":"c0ffee","currency":"EUR",` +
		`"total_price":"49.90","created_at":"2026-04-01T14:30:00+02:00","updated_at":"2026-04-01T14:30:01+02:00",` +
		`"line_items":[{"id":1,"title":"Mug","quantity":2,"price":"24.95"}]}`)
	mac := hmac.New(sha256.New, []byte("shpss_secret"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Shopify-Topic", "orders/create")
	h.Set("X-Shopify-Shop-Domain", "acme.myshopify.com")
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	h.Set("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
	h.Set("X-Shopify-Triggered-At", "2026-04-01T12:30:02Z")

	var a commerce.Adapter = shopify.Adapter{}
	shop, err := a.Shop(h, body)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	// The shop's secrets, current first: during a rotation the previous
	// one still verifies.
	secrets := [][]byte{[]byte("shpss_secret"), []byte("shpss_previous")}
	if err := a.Verify(h, body, secrets); errors.Is(err, commerce.ErrSignature) {
		fmt.Println("401:", err)
		return
	}
	d, err := a.Decode(h, body, commerce.Shop{ID: shop, Country: "DE"})
	if errors.Is(err, commerce.ErrUnmappable) {
		fmt.Println("422:", err)
		return
	}
	for _, e := range d.Events {
		fmt.Println(e.Type, e.Source, e.ID, e.Subject, e.Time)
		fmt.Println(string(e.Data))
	}
	// Output:
	// commerce.order.placed shopify://acme.myshopify.com order/450789469/placed 450789469 2026-04-01 12:30:00 +0000 UTC
	// {"shop":"acme.myshopify.com","occurredAt":"2026-04-01T12:30:00Z","checkoutToken":"c0ffee","orderId":"450789469","orderNumber":"#1001","customer":{"email":"ada@example.com"},"currency":"EUR","totalPrice":"49.90","lineItems":[{"id":"1","title":"Mug","quantity":2,"price":"24.95"}]}
}
