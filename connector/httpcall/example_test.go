package httpcall_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/storeflow/storeflow/connector/httpcall"
)

func ExampleClient_Do() {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"order":%q,"key":%q}`, r.URL.Path, r.Header.Get("Idempotency-Key"))
	}))
	defer shop.Close()

	out, err := (&httpcall.Client{}).Do(context.Background(), httpcall.Request{Method: "get", URI: shop.URL + "/orders/1042", IdempotencyKey: "instance-1/3"})
	fmt.Println(out, err)
	// Output: map[key:instance-1/3 order:/orders/1042] <nil>
}
