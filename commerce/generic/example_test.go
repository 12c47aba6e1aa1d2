package generic_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/generic"
)

// A back-in-stock form that posts JSON signed with a hex HMAC-SHA256.
func ExampleNew() {
	cfg, err := generic.ParseConfig([]byte(`{
	  "name": "stockalert",
	  "signature": {"header": "X-Signature"},
	  "shop": {"value": "acme.myshopify.com"},
	  "events": [{
	    "type": "commerce.form.submitted",
	    "id": "/id",
	    "subject": "/id",
	    "occurredAt": "/created_at",
	    "data": {"/formId": "/form", "/customer/email": "/email", "/fields/variant": "/variant_id"}
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := generic.New(*cfg)

	body := []byte(`{"id":"sub_81","form":"back-in-stock","email":"Ada@Example.com","variant_id":"6426670414","created_at":"2026-04-01T09:00:00Z"}`)
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))

	shop, _ := a.Shop(h, body)
	fmt.Println(a.Verify(h, body, [][]byte{[]byte("s3cret")}))
	d, err := a.Decode(h, body, commerce.Shop{ID: shop})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := d.Events[0]
	fmt.Println(e.Type, e.Source, e.ID)
	fmt.Println(string(e.Data))
	// Output:
	// <nil>
	// commerce.form.submitted stockalert://acme.myshopify.com sub_81
	// {"customer":{"email":"ada@example.com"},"fields":{"variant":"6426670414"},"formId":"back-in-stock","occurredAt":"2026-04-01T09:00:00Z","shop":"acme.myshopify.com"}
}

// Validate says everything that is wrong at once, and where.
func ExampleConfig_Validate() {
	cfg := generic.Config{
		Name:      "reviews",
		Signature: generic.Signature{Header: "X-Hmac", Encoding: "base64"},
		Shop:      generic.ShopFrom{Header: "X-Shop"},
		Events: []generic.Mapping{{
			Type: "commerce.review.submitted", ID: "/id", Subject: "review/id", OccurredAt: "/at",
			Data: map[string]string{"/stars": "/rating"},
		}},
	}
	fmt.Println(cfg.Validate())
	// Output:
	// events[0].subject: JSON pointer "review/id" must start with "/" (or be "" for the whole document)
	// events[0].data["/stars"]: the data of commerce.review.submitted has no property "stars" (it has "attributes", "body", "customer", "occurredAt", "orderId", "productId", "rating", "reviewId", "shop", "title", "verifiedBuyer")
}
