package shopadmin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

var callAt = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

func shopifyConnector(f *fakeShopify) *shopadmin.Connector {
	shops := map[string]*shop.Shop{
		"acme": {ID: "acme", Platform: shop.Shopify, Domain: "acme.myshopify.com",
			Admin: &shop.Admin{URL: f.URL, AccessToken: shopifyToken}},
	}
	return &shopadmin.Connector{Shops: shopconfig.Fixed(shops), HTTP: f.Client()}
}

func call(c connector.Connector, function, key string, args map[string]any) (map[string]any, error) {
	out, err := c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: function, Args: args,
		IdempotencyKey: key, Instance: "inst-1", Task: "/do/1/discount", Attempt: 1, At: callAt})
	if err != nil {
		return nil, err
	}
	// The runtime keeps outputs as JSON: compare them in that form.
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func TestShopifyPercentDiscount(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	out, err := call(shopifyConnector(f), shopadmin.DiscountCreate, "inst-1/e-3", map[string]any{
		"shop": "acme", "percent": 10, "expiresIn": "P7D", "prefix": "COMEBACK-", "minimumSubtotal": "50.00"})
	require.NoError(t, err)

	code := shopadmin.DeriveCode("acme", "inst-1/e-3", "COMEBACK-")
	require.Regexp(t, `^COMEBACK-[A-HJ-NP-Z2-9]{10}$`, code)
	req := f.got()
	require.Len(t, req, 1)
	require.Equal(t, "discountCodeBasicCreate", req[0].Root)
	require.Equal(t, "inst-1/e-3", req[0].Idempotency, "the idempotency key goes with the request")
	require.Equal(t, map[string]any{
		"title": code, "code": code, "startsAt": "2026-04-01T12:00:00Z", "endsAt": "2026-04-08T12:00:00Z",
		"usageLimit": float64(1), "appliesOncePerCustomer": true, "context": map[string]any{"all": "ALL"},
		"customerGets":       map[string]any{"value": map[string]any{"percentage": 0.1}, "items": map[string]any{"all": true}},
		"minimumRequirement": map[string]any{"subtotal": map[string]any{"greaterThanOrEqualToSubtotal": "50.00"}},
	}, req[0].Variables["discount"])
	require.Equal(t, map[string]any{"shop": "acme", "platform": "shopify", "id": "gid://shopify/DiscountCodeNode/1001", "code": code,
		"title": code, "kind": "percent", "percent": float64(10), "startsAt": "2026-04-01T12:00:00Z", "endsAt": "2026-04-08T12:00:00Z", "created": true}, out)
}

func TestShopifyFixedAmountForOneCustomerAndFreeShipping(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	f.addCustomer("207119551", "ada@example.com")
	c := shopifyConnector(f)
	out, err := call(c, shopadmin.DiscountCreate, "k-amount", map[string]any{
		"shop": "acme", "amount": "5.00", "expiresAt": "2026-05-01T00:00:00+02:00", "title": "Thank you, Ada",
		"customer": map[string]any{"id": "207119551", "email": "Ada@Example.com", "firstName": "Ada"}})
	require.NoError(t, err)
	require.Equal(t, "amount", out["kind"])
	require.Equal(t, "5.00", out["amount"])
	require.Equal(t, "2026-04-30T22:00:00Z", out["endsAt"], "times go to Shopify in UTC")
	in := f.got()[0].Variables["discount"].(map[string]any)
	require.Equal(t, map[string]any{"customers": map[string]any{"add": []any{"gid://shopify/Customer/207119551"}}}, in["context"], "the code is the customer's alone")
	require.Equal(t, map[string]any{"discountAmount": map[string]any{"amount": "5.00", "appliesOnEachItem": false}}, in["customerGets"].(map[string]any)["value"])
	require.Equal(t, "Thank you, Ada", in["title"])

	out, err = call(c, shopadmin.DiscountCreate, "k-ship", map[string]any{"shop": "acme", "freeShipping": true, "expiresIn": "PT48H"})
	require.NoError(t, err)
	require.Equal(t, "freeShipping", out["kind"])
	require.Equal(t, true, out["freeShipping"])
	require.Equal(t, "2026-04-03T12:00:00Z", out["endsAt"])
	r := f.got()[1]
	require.Equal(t, "discountCodeFreeShippingCreate", r.Root)
	in = r.Variables["discount"].(map[string]any)
	require.Equal(t, map[string]any{"all": true}, in["destination"])
	require.NotContains(t, in, "customerGets")
	require.Equal(t, float64(1), in["usageLimit"], "single use")
}

func TestShopifyRetryAfterALostAnswerReturnsTheSameDiscount(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	c := shopifyConnector(f)
	// Shopify made the discount, but its answer never arrived.
	f.answerNext(scripted{status: 502, body: `<html>502 Bad Gateway</html>`, apply: true})
	args := map[string]any{"shop": "acme", "percent": 15, "expiresIn": "P3D"}
	_, err := call(c, shopadmin.DiscountCreate, "inst-7/e-2", args)
	problemtest.Require(t, err, problem.TypeCommunication, 503, "502", "same idempotency key")

	out, err := call(c, shopadmin.DiscountCreate, "inst-7/e-2", args)
	require.NoError(t, err)
	require.Equal(t, shopadmin.DeriveCode("acme", "inst-7/e-2", ""), out["code"], "the repeat asks for the same code")
	require.Equal(t, false, out["created"], "and finds the discount the first attempt made")
	require.Equal(t, "gid://shopify/DiscountCodeNode/1001", out["id"])
	require.Len(t, f.discounts, 1, "one discount, not two")
	require.Equal(t, []string{"discountCodeBasicCreate", "discountCodeBasicCreate", "codeDiscountNodeByCode"}, f.roots())
	for _, r := range f.got() {
		require.Equal(t, "inst-7/e-2", r.Idempotency)
	}

	other, err := call(c, shopadmin.DiscountCreate, "inst-8/e-2", args)
	require.NoError(t, err)
	require.NotEqual(t, out["code"], other["code"], "another call makes another code")
	require.Equal(t, true, other["created"])
}

func TestShopifyCodeTakenByAnotherDiscountIsAConflict(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	c := shopifyConnector(f)
	_, err := call(c, shopadmin.DiscountCreate, "k-1", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D", "code": "SUMMER26", "title": "Summer sale"})
	require.NoError(t, err)
	_, err = call(c, shopadmin.DiscountCreate, "k-2", map[string]any{"shop": "acme", "percent": 20, "expiresIn": "P1D", "code": "SUMMER26"})
	problemtest.Require(t, err, problem.TypeCommunication, 409, "SUMMER26", "another discount")

	again, err := call(c, shopadmin.DiscountCreate, "k-1", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D", "code": "SUMMER26", "title": "Summer sale"})
	require.NoError(t, err, "a named code of the same title is the repeat's own")
	require.Equal(t, false, again["created"])
}

func TestShopifyUserErrorsAreFinal(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	_, err := call(shopifyConnector(f), shopadmin.DiscountCreate, "k", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D",
		"customer": map[string]any{"id": "999"}})
	problemtest.Require(t, err, problem.TypeCommunication, 422, "Customer with id gid://shopify/Customer/999 does not exist", "(INVALID)", "not retried")
}

func TestShopifyFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer scripted
		token  string
		scopes map[string]bool
		status int
		typ    string
		says   []string
	}{
		{name: "throttled by cost", answer: scripted{status: 200, body: throttled}, status: 503, typ: problem.TypeCommunication, says: []string{"Throttled", "try again later"}},
		{name: "429", answer: scripted{status: 429, body: `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`}, status: 503, typ: problem.TypeCommunication, says: []string{"429", "Exceeded 2 calls"}},
		{name: "internal error", answer: scripted{status: 200, body: gqlErr("Internal error. Looks like something went wrong on our end.", "INTERNAL_SERVER_ERROR")}, status: 503, typ: problem.TypeCommunication, says: []string{"Internal error", "request b5f3c1d2-test"}},
		{name: "500", answer: scripted{status: 500, body: `{"errors":"Internal Server Error"}`}, status: 503, typ: problem.TypeCommunication},
		{name: "503", answer: scripted{status: 503, body: `{"errors":"Unavailable Shop"}`}, status: 503, typ: problem.TypeCommunication, says: []string{"Unavailable Shop"}},
		{name: "bad token", token: "shpat_wrong", status: 401, typ: problem.TypeAuthentication, says: []string{"Invalid API key or access token"}},
		{name: "scope missing", scopes: map[string]bool{}, status: 403, typ: problem.TypeAuthorization, says: []string{"write_discounts"}},
		{name: "402 frozen shop", answer: scripted{status: 402, body: `{"errors":"Unavailable Shop"}`}, status: 402, typ: problem.TypeCommunication, says: []string{"not retried"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startShopify(t)
			if tc.answer.status != 0 {
				f.answerNext(tc.answer)
			}
			if tc.token != "" {
				f.token = tc.token
			}
			if tc.scopes != nil {
				f.scopes = tc.scopes
			}
			_, err := call(shopifyConnector(f), shopadmin.DiscountCreate, "k", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D"})
			p := problemtest.Require(t, err, tc.typ, tc.status, tc.says...)
			require.NotContains(t, p.Detail, shopifyToken, "the token never shows")
			require.Empty(t, f.discounts)
		})
	}
}

func TestShopifyTagsACustomer(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	f.addCustomer("207119551", "ada@example.com", "newsletter")
	c := shopifyConnector(f)
	out, err := call(c, shopadmin.CustomerTag, "k-tag", map[string]any{"shop": "acme", "customer": map[string]any{"id": 207119551}, "tags": []any{"VIP", "Newsletter"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"shop": "acme", "platform": "shopify", "customerId": "207119551", "tags": []any{"newsletter", "VIP"}, "added": []any{"VIP"}}, out)
	require.Equal(t, []string{"customer", "tagsAdd"}, f.roots())
	require.Equal(t, map[string]any{"id": "gid://shopify/Customer/207119551", "tags": []any{"VIP"}}, f.got()[1].Variables)

	out, err = call(c, shopadmin.CustomerTag, "k-tag", map[string]any{"shop": "acme", "customer": map[string]any{"email": "ADA@example.com"}, "tags": []any{"vip"}})
	require.NoError(t, err)
	require.Equal(t, []any{}, out["added"], "a tag the customer has is not added again")
	require.Equal(t, []string{"customer", "tagsAdd", "customers"}, f.roots(), "found by email; no mutation")
	require.Equal(t, `email:"ada@example.com"`, f.got()[2].Variables["query"])

	_, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "acme", "customer": map[string]any{"email": "nobody@example.com"}, "tags": []any{"x"}})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "nobody@example.com")
	_, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "acme", "customer": map[string]any{"id": "gid://shopify/Customer/5"}, "tags": []any{"x"}})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "customer")
	_, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "acme", "customer": map[string]any{"id": "gid://shopify/Order/5"}, "tags": []any{"x"}})
	problemtest.Require(t, err, problem.TypeValidation, 400, "not a Shopify customer id")
}

func TestShopifyNotesAnOrder(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	f.addOrder("450789469", "Gift wrap please")
	c := shopifyConnector(f)
	args := map[string]any{"shop": "acme", "orderId": "450789469", "note": "Recovered by the abandoned-cart flow"}
	out, err := call(c, shopadmin.OrderNote, "k-note", args)
	require.NoError(t, err)
	want := "Gift wrap please\nRecovered by the abandoned-cart flow"
	require.Equal(t, map[string]any{"shop": "acme", "platform": "shopify", "orderId": "450789469", "note": want, "added": true}, out)
	require.Equal(t, map[string]any{"input": map[string]any{"id": "gid://shopify/Order/450789469", "note": want}}, f.got()[1].Variables)

	out, err = call(c, shopadmin.OrderNote, "k-note", args)
	require.NoError(t, err)
	require.Equal(t, false, out["added"], "a repeat finds its note there")
	require.Equal(t, want, *f.orders["gid://shopify/Order/450789469"])
	require.Equal(t, []string{"order", "orderUpdate", "order"}, f.roots())

	f.addOrder("1", "")
	out, err = call(c, shopadmin.OrderNote, "k", map[string]any{"shop": "acme", "orderId": 1, "note": "first"})
	require.NoError(t, err)
	require.Equal(t, "first", out["note"])

	_, err = call(c, shopadmin.OrderNote, "k", map[string]any{"shop": "acme", "orderId": "77", "note": "x"})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "order 77")
}

func TestShopifyAPIVersionFromTheShop(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	f.version = "2026-07"
	shops := map[string]*shop.Shop{"acme": {ID: "acme", Platform: shop.Shopify, Admin: &shop.Admin{URL: f.URL + "/", AccessToken: shopifyToken, APIVersion: "2026-07"}}}
	_, err := call(&shopadmin.Connector{Shops: shopconfig.Fixed(shops), HTTP: f.Client()}, shopadmin.DiscountCreate, "k", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D"})
	require.NoError(t, err)
	_, err = call(shopifyConnector(f), shopadmin.DiscountCreate, "k", map[string]any{"shop": "acme", "percent": 10, "expiresIn": "P1D"})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "Not Found")
	require.True(t, strings.HasPrefix(f.URL, "https://"))
}
