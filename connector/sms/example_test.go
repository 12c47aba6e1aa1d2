package sms_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/sms"
)

func Example() {
	// Stands in for https://api.twilio.com.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fmt.Println(r.Method, r.URL.Path)
		fmt.Println("To:", r.PostForm.Get("To"), "From:", r.PostForm.Get("From"), "Body:", r.PostForm.Get("Body"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"sid":"SM00000000000000000000000000000001","status":"queued","to":%q,"from":%q,"num_segments":"1"}`,
			r.PostForm.Get("To"), r.PostForm.Get("From"))
	}))
	defer api.Close()

	reg := connector.NewRegistry()
	_ = reg.Define(sms.Builtin, &sms.Connector{Accounts: map[string]*sms.Account{"": {
		BaseURL:    api.URL,
		AccountSID: "AC0123456789abcdef0123456789abcdef",
		AuthToken:  "secret",
		From:       "Acme",
		Region:     "DE", // so that national numbers can be read
	}}})
	out, err := reg.Call(context.Background(), connector.Request{
		Kind: connector.KindFunction, Function: "sms.send",
		Args:           map[string]any{"to": "0151 23456789", "text": "Your parcel arrives today.", "category": "transactional"},
		IdempotencyKey: "inst-1/do/5/text",
	})
	fmt.Println(out, err)
	// Output:
	// POST /2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json
	// To: +4915123456789 From: Acme Body: Your parcel arrives today.
	// map[category:transactional from:Acme segments:1 sid:SM00000000000000000000000000000001 status:queued to:+4915123456789] <nil>
}
