package shopadmin_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

func wooConnector(f *fakeWoo) *shopadmin.Connector {
	shops := map[string]*shop.Shop{
		"woo": {ID: "woo", Platform: shop.WooCommerce, SiteURL: f.URL,
			Admin: &shop.Admin{URL: f.URL, ConsumerKey: wooKey, ConsumerSecret: wooSecret}},
	}
	return &shopadmin.Connector{Shops: shopconfig.Fixed(shops), HTTP: f.Client()}
}

func TestWooPercentCoupon(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	out, err := call(wooConnector(f), shopadmin.DiscountCreate, "inst-1/e-3", map[string]any{
		"shop": "woo", "percent": 12.5, "expiresIn": "P7D", "prefix": "BACK-", "minimumSubtotal": "30",
		"customer": map[string]any{"email": "Ada@Example.com"}})
	require.NoError(t, err)
	code := strings.ToLower(shopadmin.DeriveCode("woo", "inst-1/e-3", "BACK-"))
	require.Equal(t, []string{"GET /wp-json/wc/v3/coupons", "POST /wp-json/wc/v3/coupons"}, f.calls(), "it looks for the code before it makes it")
	req := f.got()
	require.Equal(t, "code="+code, req[0].Query)
	require.Equal(t, map[string]any{
		"code": code, "description": code, "discount_type": "percent", "amount": "12.5", "date_expires_gmt": "2026-04-08T12:00:00",
		"usage_limit": float64(1), "usage_limit_per_user": float64(1), "minimum_amount": "30", "email_restrictions": []any{"ada@example.com"},
		"meta_data": []any{map[string]any{"key": "storeflow_idempotency_key", "value": "inst-1/e-3"}},
	}, req[1].Body)
	for _, r := range req {
		require.Equal(t, "inst-1/e-3", r.Idempotency)
	}
	require.Equal(t, map[string]any{"shop": "woo", "platform": "woocommerce", "id": "701", "code": code, "title": code, "kind": "percent", "percent": 12.5,
		"startsAt": "2026-04-01T12:00:00Z", "endsAt": "2026-04-08T12:00:00Z", "created": true}, out)
}

func TestWooFixedAndFreeShippingCoupons(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	c := wooConnector(f)
	_, err := call(c, shopadmin.DiscountCreate, "k-1", map[string]any{"shop": "woo", "amount": "5.00", "expiresAt": "2026-05-01T00:00:00Z", "code": "THANKS-ADA", "title": "Thank you"})
	require.NoError(t, err)
	in := f.got()[1].Body
	require.Equal(t, "fixed_cart", in["discount_type"])
	require.Equal(t, "5.00", in["amount"])
	require.Equal(t, "thanks-ada", in["code"], "WooCommerce keeps codes in lower case")
	require.Equal(t, "Thank you", in["description"])

	out, err := call(c, shopadmin.DiscountCreate, "k-2", map[string]any{"shop": "woo", "freeShipping": true, "expiresIn": "P1D"})
	require.NoError(t, err)
	in = f.got()[3].Body
	require.Equal(t, true, in["free_shipping"])
	require.Equal(t, "fixed_cart", in["discount_type"])
	require.Equal(t, "0", in["amount"])
	require.Equal(t, "freeShipping", out["kind"])
}

func TestWooRetryFindsTheCouponItMade(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	c := wooConnector(f)
	f.answerNext(scripted{}, scripted{status: 504, body: `<html>Gateway Timeout</html>`, apply: true})
	args := map[string]any{"shop": "woo", "percent": 10, "expiresIn": "P3D"}
	_, err := call(c, shopadmin.DiscountCreate, "inst-9/e-1", args)
	problemtest.Require(t, err, problem.TypeCommunication, 503, "504")
	out, err := call(c, shopadmin.DiscountCreate, "inst-9/e-1", args)
	require.NoError(t, err)
	require.Equal(t, false, out["created"])
	require.Equal(t, strings.ToLower(shopadmin.DeriveCode("woo", "inst-9/e-1", "")), out["code"])
	require.Len(t, f.coupons, 1, "one coupon, not two")
	require.Equal(t, []string{"GET /wp-json/wc/v3/coupons", "POST /wp-json/wc/v3/coupons", "GET /wp-json/wc/v3/coupons"}, f.calls())
}

func TestWooCouponMadeMeanwhile(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	c := wooConnector(f)
	// Another attempt of the same call makes the coupon between this
	// attempt's look and its create.
	f.beforeCreate = func() {
		f.beforeCreate = nil
		_, err := call(wooConnector(f), shopadmin.DiscountCreate, "k-race", map[string]any{"shop": "woo", "percent": 10, "expiresIn": "P3D"})
		require.NoError(t, err)
	}
	out, err := call(c, shopadmin.DiscountCreate, "k-race", map[string]any{"shop": "woo", "percent": 10, "expiresIn": "P3D"})
	require.NoError(t, err)
	require.Equal(t, false, out["created"])
	require.Len(t, f.coupons, 1)
}

func TestWooCodeOfAnotherCouponIsAConflict(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	f.coupons = append(f.coupons, map[string]any{"id": 5, "code": "summer26", "amount": "10.00", "discount_type": "percent", "meta_data": []any{}})
	_, err := call(wooConnector(f), shopadmin.DiscountCreate, "k", map[string]any{"shop": "woo", "percent": 10, "expiresIn": "P1D", "code": "SUMMER26"})
	problemtest.Require(t, err, problem.TypeCommunication, 409, "summer26", "another coupon")
	require.Equal(t, []string{"GET /wp-json/wc/v3/coupons"}, f.calls(), "nothing is made")
}

func TestWooFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer scripted
		key    string
		status int
		typ    string
		says   []string
	}{
		{name: "wrong key", key: "ck_other", status: 401, typ: problem.TypeAuthentication, says: []string{"woocommerce_rest_authentication_error", "Consumer key is invalid"}},
		{name: "forbidden", answer: scripted{status: 403, body: `{"code":"woocommerce_rest_cannot_create","message":"Sorry, you are not allowed to create resources.","data":{"status":403}}`}, status: 403, typ: problem.TypeAuthorization, says: []string{"not allowed to create"}},
		{name: "429", answer: scripted{status: 429, body: `{"code":"rest_too_many_requests","message":"Too many requests","data":{"status":429}}`}, status: 503, typ: problem.TypeCommunication, says: []string{"429", "try again later"}},
		{name: "500", answer: scripted{status: 500, body: `{"code":"internal_server_error","message":"There has been a critical error on this website.","data":{"status":500}}`}, status: 503, typ: problem.TypeCommunication, says: []string{"critical error"}},
		{name: "503 maintenance", answer: scripted{status: 503, body: `<html>Briefly unavailable for scheduled maintenance.</html>`}, status: 503, typ: problem.TypeCommunication, says: []string{"maintenance"}},
		{name: "400", answer: scripted{status: 400, body: `{"code":"rest_invalid_param","message":"Invalid parameter(s): code","data":{"status":400}}`}, status: 422, typ: problem.TypeCommunication, says: []string{"rest_invalid_param", "not retried"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := startWoo(t)
			if tc.answer.status != 0 {
				f.answerNext(tc.answer)
			}
			if tc.key != "" {
				f.key = tc.key
			}
			_, err := call(wooConnector(f), shopadmin.DiscountCreate, "k", map[string]any{"shop": "woo", "percent": 10, "expiresIn": "P1D"})
			p := problemtest.Require(t, err, tc.typ, tc.status, tc.says...)
			require.NotContains(t, p.Detail, wooSecret)
			require.Empty(t, f.coupons)
		})
	}
}

func TestWooTagsACustomer(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	f.addCustomer(25, "ada@example.com", map[string]any{"id": 1, "key": "storeflow_tags", "value": "newsletter"}, map[string]any{"id": 2, "key": "loyalty", "value": "gold"})
	c := wooConnector(f)
	out, err := call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "woo", "customer": map[string]any{"id": "25"}, "tags": []any{"VIP", "newsletter"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"shop": "woo", "platform": "woocommerce", "customerId": "25", "tags": []any{"newsletter", "VIP"}, "added": []any{"VIP"}}, out)
	require.Equal(t, []string{"GET /wp-json/wc/v3/customers/25", "PUT /wp-json/wc/v3/customers/25"}, f.calls())
	require.Equal(t, map[string]any{"meta_data": []any{map[string]any{"key": "storeflow_tags", "value": "newsletter, VIP"}}}, f.got()[1].Body)
	require.Equal(t, "gold", f.customers[25]["meta_data"].([]map[string]any)[1]["value"], "other meta data stays")

	out, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "woo", "customer": map[string]any{"email": "ADA@example.com"}, "tags": []any{"vip"}})
	require.NoError(t, err)
	require.Equal(t, []any{}, out["added"])
	require.Equal(t, "GET /wp-json/wc/v3/customers", f.calls()[2])
	require.Equal(t, "email=ada%40example.com&role=all", f.got()[2].Query)
	require.Len(t, f.calls(), 3, "nothing new: no update")

	_, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "woo", "customer": map[string]any{"id": 404}, "tags": []any{"x"}})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "Invalid resource ID")
	_, err = call(c, shopadmin.CustomerTag, "k", map[string]any{"shop": "woo", "customer": map[string]any{"email": "x@example.com"}, "tags": []any{"x"}})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "x@example.com")
}

func TestWooNotesAnOrder(t *testing.T) {
	t.Parallel()
	f := startWoo(t)
	f.addOrder(727)
	c := wooConnector(f)
	args := map[string]any{"shop": "woo", "orderId": 727, "note": "Recovered by the abandoned-cart flow"}
	out, err := call(c, shopadmin.OrderNote, "k", args)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"shop": "woo", "platform": "woocommerce", "orderId": "727", "note": "Recovered by the abandoned-cart flow", "noteId": "701", "added": true}, out)
	require.Equal(t, map[string]any{"note": "Recovered by the abandoned-cart flow", "customer_note": false}, f.got()[1].Body)

	out, err = call(c, shopadmin.OrderNote, "k", args)
	require.NoError(t, err)
	require.Equal(t, false, out["added"])
	require.Len(t, f.notes[727], 1, "a repeat adds no second note")

	_, err = call(c, shopadmin.OrderNote, "k", map[string]any{"shop": "woo", "orderId": "9", "note": "x"})
	problemtest.Require(t, err, problem.TypeCommunication, 404, "Invalid order ID")
	_, err = call(c, shopadmin.OrderNote, "k", map[string]any{"shop": "woo", "orderId": "gid://shopify/Order/1", "note": "x"})
	problemtest.Require(t, err, problem.TypeValidation, 400, "not a WooCommerce order id")
}
