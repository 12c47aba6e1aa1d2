package generic_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/generic"
)

var secret = []byte("form-secret")

// formsConfig maps a form builder's submissions and a review app's reviews,
// sent to one endpoint, told apart by the body's event_type.
func formsConfig() generic.Config {
	return generic.Config{
		Name:      "forms",
		Signature: generic.Signature{Header: "X-Forms-Signature", Prefix: "sha256="},
		Shop:      generic.ShopFrom{Header: "X-Forms-Shop"},
		Headers:   map[string]string{"formsdelivery": "X-Forms-Delivery"},
		Events: []generic.Mapping{
			{
				When:       &generic.Match{Pointer: "/event_type", Equals: "form_response"},
				Type:       "commerce.form.submitted",
				ID:         "/event_id",
				Subject:    "/form_response/token",
				OccurredAt: "/form_response/submitted_at",
				Data: map[string]string{
					"/formId":             "/form_response/form_id",
					"/submissionId":       "/form_response/token",
					"/customer/email":     "/form_response/hidden/email",
					"/customer/phone":     "/form_response/hidden/phone",
					"/customer/firstName": "/form_response/hidden/name",
					"/fields/interests":   "/form_response/answers/0/choices/labels",
					"/fields/newsletter":  "/form_response/answers/1/boolean",
					"/pageUrl":            "/form_response/hidden/page",
				},
			},
			{
				When:       &generic.Match{Pointer: "/event_type", Equals: "review"},
				Type:       "commerce.review.submitted",
				ID:         "/event_id",
				Subject:    "/review/id",
				OccurredAt: "/review/created",
				Data: map[string]string{
					"/reviewId":       "/review/id",
					"/productId":      "/review/product/id",
					"/rating":         "/review/stars",
					"/body":           "/review/text",
					"/customer/email": "/review/author/email",
				},
			},
		},
	}
}

// The bodies of testdata are shaped as a form builder and a review app send
// them (invented for these tests: no published samples are mapped here).
var (
	formBody   = readFile("form_response.json")
	reviewBody = readFile("review.json")
)

func readFile(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func newAdapter(t testing.TB, c generic.Config) *generic.Adapter {
	t.Helper()
	a, err := generic.New(c)
	require.NoError(t, err)
	return a
}

func sign(body, key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func request(body string) (http.Header, []byte) {
	b := []byte(body)
	h := http.Header{}
	h.Set("X-Forms-Signature", sign(b, secret))
	h.Set("X-Forms-Shop", "acme.myshopify.com")
	h.Set("X-Forms-Delivery", "d-1")
	return h, b
}

func decode(t *testing.T, a *generic.Adapter, body string) *commerce.Delivery {
	t.Helper()
	h, b := request(body)
	shop, err := a.Shop(h, b)
	require.NoError(t, err)
	require.NoError(t, a.Verify(h, b, [][]byte{secret}))
	d, err := a.Decode(h, b, commerce.Shop{ID: shop, Country: "US"})
	require.NoError(t, err)
	for _, e := range d.Events {
		require.NoError(t, commerce.Validate(e.Type, e.Data))
		_, err := e.Envelope()
		require.NoError(t, err)
	}
	return d
}

func data(t *testing.T, e commerce.Event) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Data, &m))
	return m
}

func TestFormSubmission(t *testing.T) {
	t.Parallel()
	d := decode(t, newAdapter(t, formsConfig()), formBody)
	require.Len(t, d.Events, 1)
	e := d.Events[0]
	require.Equal(t, "commerce.form.submitted", e.Type)
	require.Equal(t, "01JRXM2A3V", e.ID)
	require.Equal(t, "forms://acme.myshopify.com", e.Source)
	require.Equal(t, "a3a12ec67a1365927098a606107fac15", e.Subject)
	require.Equal(t, time.Date(2026, 4, 1, 12, 30, 0, 0, time.UTC), e.Time)
	require.Equal(t, map[string]string{"formsdelivery": "d-1"}, e.Extensions)
	require.Equal(t, commerce.Ordering{Key: "form/a3a12ec67a1365927098a606107fac15", At: e.Time}, e.Ordering)
	require.Equal(t, map[string]any{
		"shop": "acme.myshopify.com", "occurredAt": "2026-04-01T12:30:00Z",
		"formId": "lT4Z3j", "submissionId": "a3a12ec67a1365927098a606107fac15",
		"customer": map[string]any{"email": "ada@example.com", "phone": "+14155550132", "firstName": "Ada"},
		"fields":   map[string]any{"interests": []any{"shirts", "mugs"}, "newsletter": true},
		"pageUrl":  "https://acme.example/pages/contact",
	}, data(t, e))
	require.Equal(t, "commerce.form.submitted", d.Topic)
	require.Equal(t, "d-1", d.Headers["X-Forms-Delivery"])
}

func TestReviewWithUnixTimeAndNumericIDs(t *testing.T) {
	t.Parallel()
	e := decode(t, newAdapter(t, formsConfig()), reviewBody).Events[0]
	require.Equal(t, "commerce.review.submitted", e.Type)
	got := data(t, e)
	require.Equal(t, "981", got["reviewId"], "ids written as numbers become strings")
	require.Equal(t, "7880321196", got["productId"])
	require.Equal(t, float64(4), got["rating"], "a rating stays a number")
	require.Equal(t, "2026-04-01T14:45:00Z", got["occurredAt"])
}

func TestTypeFromAndLists(t *testing.T) {
	t.Parallel()
	c := generic.Config{
		Name:      "erp",
		Signature: generic.Signature{Header: "X-Erp-Hmac", Encoding: "base64", Algorithm: "sha1"},
		Shop:      generic.ShopFrom{Pointer: "/tenant"},
		Events: []generic.Mapping{{
			TypeFrom:   &generic.TypeFrom{Pointer: "/kind", Values: map[string]string{"quote": "commerce.quote.requested", "order_paid": "commerce.order.paid"}},
			ID:         "/delivery",
			Subject:    "/doc/number",
			OccurredAt: "/doc/at",
			Version:    "/doc/changed",
			Data:       map[string]string{"/quoteId": "/doc/number", "/currency": "/doc/ccy", "/customer/email": "/doc/contact"},
			Lists:      map[string]generic.List{"/lineItems": {From: "/doc/rows", Fields: map[string]string{"/sku": "/code", "/quantity": "/qty", "/price": "/unit"}}},
		}},
	}
	// A mapping for two types may only target what both types have.
	err := c.Validate()
	require.ErrorContains(t, err, `events[0].data["/quoteId"]: the data of commerce.order.paid has no property "quoteId"`)
	c.Events[0].TypeFrom.Values = map[string]string{"quote": "commerce.quote.requested"}
	a := newAdapter(t, c)

	body := []byte(`{"tenant":"b2b.example","kind":"quote","delivery":"7f3a","doc":{"number":"Q-1207","at":"2026-04-11T08:30:00Z","changed":"2026-04-11T08:31:00Z","ccy":"eur","contact":"Buyer@Example.org",` +
		`"rows":[{"code":"TEE-S","qty":200,"unit":12.5},{"code":"MUG","qty":50,"unit":"6.00"}]}}`)
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Erp-Hmac", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	shop, err := a.Shop(h, body)
	require.NoError(t, err)
	require.Equal(t, "b2b.example", shop)
	require.NoError(t, a.Verify(h, body, [][]byte{[]byte("new"), secret}))
	d, err := a.Decode(h, body, commerce.Shop{ID: shop})
	require.NoError(t, err)
	require.Equal(t, "quote", d.Topic)
	e := d.Events[0]
	require.Equal(t, "commerce.quote.requested", e.Type)
	got := data(t, e)
	require.Equal(t, "EUR", got["currency"])
	require.Equal(t, []any{
		map[string]any{"sku": "TEE-S", "quantity": float64(200), "price": "12.5"},
		map[string]any{"sku": "MUG", "quantity": float64(50), "price": "6.00"},
	}, got["lineItems"], "amounts written as numbers become decimal strings of the same digits")
	require.Equal(t, time.Date(2026, 4, 11, 8, 31, 0, 0, time.UTC), e.Ordering.At)
	require.Equal(t, "quote/Q-1207", e.Ordering.Key)

	other := []byte(`{"tenant":"b2b.example","kind":"invoice","delivery":"1","doc":{"number":"I-1","at":"2026-04-11T08:30:00Z","changed":"2026-04-11T08:30:00Z"}}`)
	_, err = a.Decode(h, other, commerce.Shop{ID: shop})
	require.ErrorIs(t, err, commerce.ErrUnmappable)
	require.ErrorContains(t, err, `"invoice" at /kind maps to no type`)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*generic.Config)
		want []string
	}{
		{"valid", func(*generic.Config) {}, nil},
		{"no name", func(c *generic.Config) { c.Name = "" }, []string{`name: "" is not a source name`}},
		{"name not a scheme", func(c *generic.Config) { c.Name = "My Forms" }, []string{"name:"}},
		{"no signature header", func(c *generic.Config) { c.Signature.Header = "" }, []string{"signature.header: name the header"}},
		{"unknown algorithm", func(c *generic.Config) { c.Signature.Algorithm = "md5" }, []string{`signature.algorithm: "md5" is not one of sha256, sha1, sha512`}},
		{"unknown encoding", func(c *generic.Config) { c.Signature.Encoding = "base32" }, []string{"signature.encoding:"}},
		{"two shop sources", func(c *generic.Config) { c.Shop.Value = "acme" }, []string{"shop: give exactly one of value"}},
		{"no shop source", func(c *generic.Config) { c.Shop = generic.ShopFrom{} }, []string{"shop: give exactly one"}},
		{"bad extension name", func(c *generic.Config) { c.Headers = map[string]string{"Forms-Delivery": "X"} }, []string{`headers["Forms-Delivery"]: an extension attribute name`}},
		{"no mappings", func(c *generic.Config) { c.Events = nil }, []string{"events: give at least one mapping"}},
		{"unknown type", func(c *generic.Config) { c.Events[0].Type = "commerce.form.sent" }, []string{`events[0]: "commerce.form.sent" is not a canonical type; use one of commerce.checkout.started`}},
		{"type and typeFrom", func(c *generic.Config) {
			c.Events[0].TypeFrom = &generic.TypeFrom{Pointer: "/t", Values: map[string]string{"a": "commerce.form.submitted"}}
		}, []string{"events[0]: give type or typeFrom, not both"}},
		{"neither", func(c *generic.Config) { c.Events[1].Type = "" }, []string{"events[1]: give type (a canonical type) or typeFrom"}},
		{"pointer without slash", func(c *generic.Config) { c.Events[0].ID = "event_id" }, []string{`events[0].id: JSON pointer "event_id" must start with "/"`}},
		{"bad escape", func(c *generic.Config) { c.Events[0].Subject = "/a~2b" }, []string{`events[0].subject: JSON pointer "/a~2b": "~" must be followed by 0 or 1`}},
		{"missing time", func(c *generic.Config) { c.Events[1].OccurredAt = "" }, []string{"events[1].occurredAt: a JSON pointer into the body is required"}},
		{"typo in a data path", func(c *generic.Config) { c.Events[0].Data["/custmer/email"] = "/x" }, []string{`events[0].data["/custmer/email"]: the data of commerce.form.submitted has no property "custmer"`}},
		{"typo in a nested path", func(c *generic.Config) { c.Events[0].Data["/customer/mail"] = "/x" }, []string{`events[0].data["/customer/mail"]: /customer of commerce.form.submitted has no property "mail" (it has "email", "firstName", "id", "lastName", "phone")`}},
		{"shop is the adapter's", func(c *generic.Config) { c.Events[0].Data["/shop"] = "/x" }, []string{`events[0].data["/shop"]: shop is set by the adapter`}},
		{"list field unknown", func(c *generic.Config) {
			c.Events[0].Type = "commerce.quote.requested"
			c.Events[0].Data = map[string]string{"/quoteId": "/id"}
			c.Events[0].Lists = map[string]generic.List{"/lineItems": {From: "/rows", Fields: map[string]string{"/colour": "/c"}}}
		}, []string{`events[0].lists["/lineItems"].fields["/colour"]: /lineItems/- of commerce.quote.requested has no property "colour"`}},
		{"several problems at once", func(c *generic.Config) { c.Name = ""; c.Events[0].ID = "" }, []string{"name:", "events[0].id:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := formsConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			_, err = generic.New(c)
			require.Error(t, err, "New refuses what Validate refuses")
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(formsConfig())
	require.NoError(t, err)
	c, err := generic.ParseConfig(raw)
	require.NoError(t, err)
	require.Equal(t, formsConfig(), *c)
	_, err = generic.ParseConfig([]byte(`{"name":"x","signatur":{}}`))
	require.ErrorContains(t, err, `unknown field "signatur"`)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, formsConfig())
	body := []byte(formBody)
	digest := func(key []byte) string {
		mac := hmac.New(sha256.New, key)
		mac.Write(body)
		return hex.EncodeToString(mac.Sum(nil))
	}
	for _, tc := range []struct {
		name, header string
		secrets      [][]byte
		err          error
	}{
		{"current secret", "sha256=" + digest(secret), [][]byte{secret}, nil},
		{"previous secret during rotation", "sha256=" + digest([]byte("old")), [][]byte{secret, []byte("old")}, nil},
		{"upper-case hex", "sha256=" + strings.ToUpper(digest(secret)), [][]byte{secret}, nil},
		{"wrong secret", "sha256=" + digest([]byte("nope")), [][]byte{secret}, commerce.ErrSignature},
		{"missing prefix", digest(secret), [][]byte{secret}, commerce.ErrSignature},
		{"not hex", "sha256=zz", [][]byte{secret}, commerce.ErrSignature},
		{"missing header", "", [][]byte{secret}, commerce.ErrSignature},
		{"no secret", "sha256=" + digest(secret), nil, commerce.ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.header != "" {
				h.Set("X-Forms-Signature", tc.header)
			}
			err := a.Verify(h, body, tc.secrets)
			require.ErrorIs(t, err, tc.err)
			if err != nil {
				require.NotContains(t, err.Error(), "Ada")
			}
		})
	}
}

func TestShop(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, formsConfig())
	_, err := a.Shop(http.Header{}, []byte(formBody))
	require.ErrorIs(t, err, commerce.ErrNoShop)

	c := formsConfig()
	c.Shop = generic.ShopFrom{Pointer: "/shop/domain"}
	b := newAdapter(t, c)
	_, err = b.Shop(http.Header{}, []byte(`{"shop":{}}`))
	require.ErrorIs(t, err, commerce.ErrNoShop)
	_, err = b.Shop(http.Header{}, []byte(`not json`))
	require.ErrorIs(t, err, commerce.ErrNoShop)
	got, err := b.Shop(http.Header{}, []byte(`{"shop":{"domain":"acme.example"}}`))
	require.NoError(t, err)
	require.Equal(t, "acme.example", got)

	c.Shop = generic.ShopFrom{Value: "the-one-shop"}
	got, err = newAdapter(t, c).Shop(http.Header{}, nil)
	require.NoError(t, err)
	require.Equal(t, "the-one-shop", got)
}

func TestUnmappable(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, formsConfig())
	for _, tc := range []struct{ name, body, reason string }{
		{"malformed JSON", `{"event_type":`, "not JSON"},
		{"two documents", `{} {}`, "not JSON"},
		{"no mapping applies", `{"event_type":"ping"}`, `no mapping applies: events[0] wants "form_response" at /event_type, the body has "ping"; events[1] wants "review"`},
		{"no discriminator", `{}`, "the body has nothing"},
		{"no id", strings.Replace(formBody, `"event_id": "01JRXM2A3V",`, "", 1), "no id at /event_id"},
		{"bad time", strings.Replace(formBody, "2026-04-01T14:30:00+02:00", "yesterday", 1), "occurredAt at /form_response/submitted_at"},
		{"data that breaks the schema", strings.Replace(formBody, `"form_id": "lT4Z3j"`, `"form_id": {"x": 1}`, 1), "/formId"},
		{"rating out of range", strings.Replace(reviewBody, `"stars": 4`, `"stars": 9`, 1), "/rating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, b := request(tc.body)
			_, err := a.Decode(h, b, commerce.Shop{ID: "acme.myshopify.com"})
			var ue *commerce.UnmappableError
			require.True(t, errors.As(err, &ue), "%v", err)
			require.Equal(t, "forms", ue.Platform)
			require.Contains(t, ue.Reason, tc.reason)
		})
	}
}

func TestDuplicatesAndOrdering(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, formsConfig())
	first := decode(t, a, reviewBody)
	again := decode(t, a, reviewBody)
	require.Equal(t, first.Events, again.Events, "a repeated delivery is the same event")

	edited := strings.Replace(strings.Replace(reviewBody, `"ev-77"`, `"ev-78"`, 1), "1775054700", "1775058300", 1)
	newer := decode(t, a, edited).Events[0]
	require.NotEqual(t, first.Events[0].ID, newer.ID)
	require.True(t, newer.Ordering.Supersedes(first.Events[0].Ordering))
	require.False(t, first.Events[0].Ordering.Supersedes(newer.Ordering), "the older review arriving late does not replace the newer")
}

// FuzzDecode: no panic, valid events only, classifiable errors only.
func FuzzDecode(f *testing.F) {
	a := newAdapter(f, formsConfig())
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		f.Add([]byte(readFile(filepath.Base(name))))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := a.Decode(http.Header{}, body, commerce.Shop{ID: "acme.myshopify.com", Country: "US"})
		if err != nil {
			if !errors.Is(err, commerce.ErrUnmappable) {
				t.Fatalf("an error the HTTP layer cannot classify: %v", err)
			}
			return
		}
		for _, e := range d.Events {
			if err := commerce.Validate(e.Type, e.Data); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Envelope(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
