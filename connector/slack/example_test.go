package slack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/slack"
)

func Example() {
	// Stands in for https://hooks.slack.com/services/…, the shop's webhook.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println("Slack got:", string(body))
		_, _ = io.WriteString(w, "ok")
	}))
	defer hook.Close()

	reg := connector.NewRegistry()
	_ = reg.Define(slack.Builtin, &slack.Connector{Webhooks: map[slack.Target]string{
		{Shop: "acme", Webhook: "orders"}: hook.URL + "/services/T0/B0/secret",
	}})
	out, err := reg.Call(context.Background(), connector.Request{
		Kind: connector.KindFunction, Function: "slack.post",
		Args:           map[string]any{"text": "Order 1042 paid: 59.90 EUR", "shop": "acme", "webhook": "orders"},
		IdempotencyKey: "inst-1/do/3/notify",
	})
	fmt.Println(out, err)
	// Output:
	// Slack got: {"text":"Order 1042 paid: 59.90 EUR"}
	// map[ok:true shop:acme webhook:orders] <nil>
}
