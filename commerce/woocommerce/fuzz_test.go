package woocommerce_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/woocommerce"
)

// FuzzDecode: never a panic, only events that keep commerce.Event's
// promises, only errors the HTTP layer can answer.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var topics []string
	for _, t := range woocommerce.Topics() {
		topics = append(topics, t.Topic)
	}
	topics = append(topics, "order.deleted", "action.woocommerce_add_to_cart")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for j := range topics {
			f.Add(uint8(j), b)
		}
	}
	f.Add(uint8(0), []byte("webhook_id=12"))
	f.Add(uint8(1), []byte(`{"id":1,"status":"completed","date_modified_gmt":"2017-03-22T19:28:02","refunds":[{"id":2,"total":"-0"}]}`))
	f.Fuzz(func(t *testing.T, topic uint8, body []byte) {
		tp := topics[int(topic)%len(topics)]
		d, err := woocommerce.Adapter{}.Decode(headers(tp, body), body, shopConfig)
		if err != nil {
			if !errors.Is(err, commerce.ErrUnmappable) && !errors.Is(err, commerce.ErrPing) {
				t.Fatalf("%s: an error the HTTP layer cannot classify: %v", tp, err)
			}
			return
		}
		for _, e := range d.Events {
			checkEvent(t, e)
		}
	})
}
