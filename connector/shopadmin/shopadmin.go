// Package shopadmin is the shop Admin actions of the default catalog:
// `shop.discount.create` (a single-use discount code), `shop.customer.tag`
// and `shop.order.note`, each performed through the Admin API of the call's
// shop with the credentials of its configuration (package shop): Shopify's
// GraphQL Admin API, or WooCommerce's REST API v3.
//
// Shopify: POST {admin.url}/admin/api/{admin.apiVersion}/graphql.json with
// X-Shopify-Access-Token; discountCodeBasicCreate (percent or fixed amount
// off) and discountCodeFreeShippingCreate, tagsAdd, orderUpdate (note).
// WooCommerce: {siteUrl}/wp-json/wc/v3/… over HTTPS with the consumer key
// and secret as HTTP basic authentication; POST coupons, PUT customers/{id}
// (tags kept in the customer's meta data), POST orders/{id}/notes.
//
// Every call is made so that the runtime's repeat of it (after a crash, a
// lost answer, a retry) changes nothing twice. The idempotency key goes with
// every request as Idempotency-Key, which neither platform honours for these
// operations, so the connector also makes each operation idempotent itself:
//
//   - a discount code is derived from the shop and the call's idempotency
//     key (unless the call names it), so a repeat asks for the same code;
//     Shopify then answers that the code is taken and the connector returns
//     the discount that has it, and on WooCommerce the connector looks for a
//     coupon of that code before it makes one (the coupon carries the key in
//     its meta data, storeflow_idempotency_key, so that a coupon of the same
//     code made by someone else is a conflict, not a success);
//   - tags are added to those a customer has (adding a tag twice is adding
//     it once);
//   - a note is appended to a Shopify order's note, and added to a
//     WooCommerce order's notes, unless the order already has it.
//
// Failures are problems with the status rule of every storeflow connector
// (package apicall): 503 when the shop throttled the call (HTTP 429, or
// Shopify's THROTTLED error), failed (5xx) or could not be reached, worth
// retrying with the same key; 401 rejected credentials, 403 a missing
// access scope; 404 an unknown order or customer; 422 what the shop refused
// (Shopify's userErrors, WooCommerce's 400s), 409 a code taken by another
// discount. All of them but 503 are final.
package shopadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/shop"
)

// Names of the built-ins.
const (
	DiscountCreate = "shop.discount.create"
	CustomerTag    = "shop.customer.tag"
	OrderNote      = "shop.order.note"
	Version        = "1.0.0"
)

// DefaultShopifyVersion is the Admin API version called when the shop's
// configuration names none: the version whose webhooks storeflow maps.
const DefaultShopifyVersion = "2026-04"

// customerSchema is the customer a call is about: the `customer` of a
// canonical commerce event fits it as it is.
const customerSchema = `{
	"type": "object",
	"description": "the customer, as commerce events give it: the platform's id and/or the email address",
	"properties": {
		"id": {"type": ["string", "integer"], "minLength": 1, "description": "the platform's customer id (Shopify: 207119551 or gid://shopify/Customer/207119551)"},
		"email": {"type": "string", "minLength": 3}
	},
	"anyOf": [{"required": ["id"]}, {"required": ["email"]}]
}`

const shopSchema = `{"type": "string", "minLength": 1, "description": "the shop (its id in storeflow) whose Admin API to call; commerce events carry it as data.shop"}`

// Builtins declare the functions in the default catalog.
var (
	DiscountBuiltin = connector.Builtin{
		Name:        DiscountCreate,
		Version:     Version,
		Description: "creates a single-use discount code in the shop: percent or a fixed amount off, or free shipping, until it expires",
		Schema: []byte(`{
			"type": "object",
			"additionalProperties": false,
			"required": ["shop"],
			"properties": {
				"shop": ` + shopSchema + `,
				"percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100, "description": "percent off the order's items (10 is 10 %)"},
				"amount": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "description": "a fixed amount off the order, in the shop's currency, as a decimal string (\"5.00\")"},
				"freeShipping": {"const": true, "description": "free shipping to any destination"},
				"expiresAt": {"type": "string", "minLength": 1, "description": "when the code stops working, RFC 3339 (2026-05-01T00:00:00Z)"},
				"expiresIn": {"type": "string", "pattern": "^P", "description": "how long after the call the code stops working, ISO 8601 (P7D, PT48H)"},
				"code": {"type": "string", "pattern": "^[A-Za-z0-9_-]{4,64}$", "description": "the code itself; derived from the call's idempotency key when absent, so that a repeated call makes the same code"},
				"prefix": {"type": "string", "pattern": "^[A-Za-z0-9_-]{0,24}$", "description": "what a derived code begins with (COMEBACK-)"},
				"title": {"type": "string", "minLength": 1, "maxLength": 255, "description": "the discount's name in the shop's admin; the code when absent"},
				"minimumSubtotal": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "description": "the order subtotal the code needs, as a decimal string"},
				"customer": ` + customerSchema + `
			},
			"allOf": [
				{"oneOf": [{"required": ["percent"]}, {"required": ["amount"]}, {"required": ["freeShipping"]}]},
				{"oneOf": [{"required": ["expiresAt"]}, {"required": ["expiresIn"]}]},
				{"not": {"required": ["code", "prefix"]}}
			]
		}`),
	}
	TagBuiltin = connector.Builtin{
		Name:        CustomerTag,
		Version:     Version,
		Description: "adds tags to a customer of the shop (Shopify customer tags; WooCommerce: the customer's storeflow_tags meta data)",
		Schema: []byte(`{
			"type": "object",
			"additionalProperties": false,
			"required": ["shop", "customer", "tags"],
			"properties": {
				"shop": ` + shopSchema + `,
				"customer": ` + customerSchema + `,
				"tags": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,]+$"}, "description": "the tags to add; tags the customer has stay"}
			}
		}`),
	}
	NoteBuiltin = connector.Builtin{
		Name:        OrderNote,
		Version:     Version,
		Description: "adds a note to an order of the shop (Shopify: appended to the order's note; WooCommerce: an order note)",
		Schema: []byte(`{
			"type": "object",
			"additionalProperties": false,
			"required": ["shop", "orderId", "note"],
			"properties": {
				"shop": ` + shopSchema + `,
				"orderId": {"type": ["string", "integer"], "minLength": 1, "description": "the platform's order id, as commerce events give it in data.orderId (Shopify: 450789469 or gid://shopify/Order/450789469)"},
				"note": {"type": "string", "minLength": 1, "maxLength": 5000, "description": "the note's text"},
				"customerNote": {"type": "boolean", "description": "WooCommerce: a note to the customer, which WooCommerce emails them (false by default); Shopify has none"}
			}
		}`),
	}
)

// Connector performs the shop Admin built-ins.
type Connector struct {
	// Shops finds a shop's configuration with its Admin API credentials
	// (shop.Directory's Get).
	Shops shopconfig.Func
	// HTTP sends the requests; apicall.Client when nil.
	HTTP *http.Client
}

// Call implements connector.Connector.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	name, _, _ := connector.ParseRef(req.Function)
	var args struct {
		Shop string `json:"shop"`
	}
	if err := json.Unmarshal(mustJSON(req.Args), &args); err != nil || args.Shop == "" {
		return nil, problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", "%s: shop: missing; name the shop whose Admin API to call (data.shop of a commerce event)", name)
	}
	api, err := c.api(ctx, name, args.Shop, req.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	switch name {
	case DiscountCreate:
		var a DiscountArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		d, err := a.discount(req, args.Shop, api.platform())
		if err != nil {
			return nil, err
		}
		return api.createDiscount(ctx, d)
	case CustomerTag:
		var a TagArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		if err := a.check(); err != nil {
			return nil, err
		}
		return api.tagCustomer(ctx, a)
	case OrderNote:
		var a NoteArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		if strings.TrimSpace(a.Note) == "" {
			return nil, invalid(OrderNote, "note: empty; give the note's text")
		}
		if a.OrderID == "" {
			return nil, invalid(OrderNote, "orderId: missing; give the order's id (data.orderId of an order event)")
		}
		return api.noteOrder(ctx, a)
	}
	return nil, connector.NotFound(req)
}

// adminAPI is one platform's Admin API of one shop.
type adminAPI interface {
	platform() string
	createDiscount(ctx context.Context, d discount) (map[string]any, error)
	tagCustomer(ctx context.Context, a TagArgs) (map[string]any, error)
	noteOrder(ctx context.Context, a NoteArgs) (map[string]any, error)
}

// api finds the call's shop and the Admin API its credentials open.
func (c *Connector) api(ctx context.Context, function, id, key string) (adminAPI, error) {
	sh, err := shopconfig.Lookup(ctx, c.Shops, function, id)
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Shops Not Configured", "%s: this storeflow has no shops to call the Admin API of", function)
	}
	unconfigured := func(format string, a ...any) error {
		return problem.Newf(problem.TypeConfiguration, 500, "Admin API Not Configured", "%s: shop %q: %s", function, id, fmt.Sprintf(format, a...))
	}
	a := sh.Admin
	if a == nil {
		return nil, unconfigured("no Admin API credentials are configured; add them (admin.url and the access token, or WooCommerce's consumer key and secret) with storeflow shop update")
	}
	base := a.URL
	if base == "" {
		base = sh.SiteURL
	}
	u, err := apicall.CheckURL(strings.TrimSuffix(base, "/"))
	if err != nil {
		return nil, unconfigured("admin.url: %v", err)
	}
	switch sh.Platform {
	case shop.Shopify:
		if a.AccessToken == "" {
			return nil, unconfigured("Shopify's Admin API needs an access token (admin.accessToken)")
		}
		version := a.APIVersion
		if version == "" {
			version = DefaultShopifyVersion
		}
		return &shopify{http: c.HTTP, shop: id, key: key, endpoint: u.String() + "/admin/api/" + version + "/graphql.json", version: version, token: a.AccessToken}, nil
	case shop.WooCommerce:
		if a.ConsumerKey == "" || a.ConsumerSecret == "" {
			return nil, unconfigured("WooCommerce's REST API needs a consumer key and secret (admin.consumerKey, admin.consumerSecret)")
		}
		return &woo{http: c.HTTP, shop: id, idempotencyKey: key, base: u.String() + "/wp-json/wc/v3", key: a.ConsumerKey, secret: a.ConsumerSecret}, nil
	}
	return nil, unconfigured("its platform %q has no Admin API storeflow speaks (Shopify or WooCommerce)", sh.Platform)
}

func invalid(function, format string, a ...any) error {
	return problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", function+": "+format, a...)
}

// refused is the problem of an operation the shop refused (Shopify's
// userErrors, WooCommerce's 400s): final, 422.
func refused(service, detail string) error {
	return problem.Newf(problem.TypeCommunication, 422, "Refused by the Shop", "%s refused the call: %s; it is not retried", service, detail)
}

func notFound(service, what string) error {
	return problem.Newf(problem.TypeCommunication, 404, "Not Found", "%s has no %s", service, what)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// now is the call's time, the runtime clock's; the wall clock for a
// request made without one.
func now(req connector.Request) time.Time {
	if req.At.IsZero() {
		return time.Now().UTC()
	}
	return req.At.UTC()
}
