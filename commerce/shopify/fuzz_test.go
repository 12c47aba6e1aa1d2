package shopify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/shopify"
)

// FuzzDecode feeds the decoder arbitrary bodies under every mapped topic:
// it must never panic, every event it returns must keep the promises of
// commerce.Event, and every failure must be one the HTTP layer can answer.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	var topics []string
	for _, t := range shopify.Topics() {
		topics = append(topics, t.Topic)
	}
	topics = append(topics, "orders/delete", "app/uninstalled")
	for i, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for j := range topics {
			if j%len(files) == i%len(topics) || strings.Contains(name, strings.Split(topics[j], "/")[0]) {
				f.Add(uint8(j), b)
			}
		}
	}
	f.Add(uint8(0), []byte(`{"id":"1","created_at":"2026-01-01T00:00:00Z","line_items":[{"quantity":-1}]}`))
	f.Add(uint8(5), []byte(`{"token":"t","completed_at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, topic uint8, body []byte) {
		tp := topics[int(topic)%len(topics)]
		d, err := shopify.Adapter{}.Decode(headers(tp, body), body, shopConfig)
		if err != nil {
			if !errors.Is(err, commerce.ErrUnmappable) {
				t.Fatalf("%s: an error the HTTP layer cannot classify: %v", tp, err)
			}
			return
		}
		for _, e := range d.Events {
			checkEvent(t, e)
		}
	})
}
