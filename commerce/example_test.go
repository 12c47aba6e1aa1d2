package commerce_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/shopify"
	"github.com/storeflow/storeflow/commerce/woocommerce"
)

// receive is what the HTTP layer does with a webhook for any adapter: each
// step's failure is its own status.
func receive(a commerce.Adapter, h http.Header, body []byte, secrets func(shop string) [][]byte) (int, []commerce.Event) {
	shop, err := a.Shop(h, body)
	switch {
	case errors.Is(err, commerce.ErrPing):
		return http.StatusOK, nil
	case err != nil:
		return http.StatusBadRequest, nil
	}
	if err := a.Verify(h, body, secrets(shop)); err != nil {
		return http.StatusUnauthorized, nil
	}
	d, err := a.Decode(h, body, commerce.Shop{ID: shop, Country: "US", Currency: "USD"})
	if errors.Is(err, commerce.ErrUnmappable) {
		return http.StatusUnprocessableEntity, nil // and d.Body on the dead-letter list
	}
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	return http.StatusAccepted, d.Events
}

func ExampleAdapter() {
	noSecrets := func(string) [][]byte { return nil }

	// WooCommerce's activation ping: 200, nothing recorded.
	status, events := receive(woocommerce.Adapter{}, http.Header{}, []byte("webhook_id=7"), noSecrets)
	fmt.Println(status, len(events))

	// A Shopify webhook without its signature: 401.
	h := http.Header{}
	h.Set("X-Shopify-Shop-Domain", "acme.myshopify.com")
	h.Set("X-Shopify-Topic", "orders/create")
	status, _ = receive(shopify.Adapter{}, h, []byte(`{"id":1}`), func(string) [][]byte { return [][]byte{[]byte("k")} })
	fmt.Println(status)
	// Output:
	// 200 0
	// 401
}

func ExampleValidate() {
	err := commerce.Validate("commerce.order.paid", []byte(`{
		"shop": "acme.myshopify.com", "occurredAt": "2026-04-01T12:30:00Z",
		"orderId": "1001", "currency": "EUR", "totalPrice": 49.9,
		"customer": {"email": "ada@example.com"}
	}`))
	fmt.Println(err)
	// Output: data of commerce.order.paid does not match its schema: /totalPrice: got number, want string
}

func ExampleEvent_Envelope() {
	e, err := commerce.NewEvent("commerce.checkout.started", "checkout/c0ffee/started", "c0ffee", commerce.Data{
		Shop: "acme.myshopify.com", OccurredAt: "2026-04-01T12:20:00Z", CheckoutToken: "c0ffee",
		Customer: &commerce.Customer{Email: commerce.NormalizeEmail(" Ada@Example.com")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e.Source = commerce.Source("shopify", e.Shop)
	env, _ := e.Envelope()
	fmt.Println(string(env))
	// Output: {"data":{"shop":"acme.myshopify.com","occurredAt":"2026-04-01T12:20:00Z","checkoutToken":"c0ffee","customer":{"email":"ada@example.com"}},"datacontenttype":"application/json","id":"checkout/c0ffee/started","shop":"acme.myshopify.com","source":"shopify://acme.myshopify.com","specversion":"1.0","subject":"c0ffee","time":"2026-04-01T12:20:00Z","type":"commerce.checkout.started"}
}
