// Package shopify verifies Shopify webhooks and maps them to canonical
// commerce events.
//
// The shop comes from X-Shopify-Shop-Domain; the signature is the base64
// HMAC-SHA256 of the raw body in X-Shopify-Hmac-Sha256, checked against the
// current and the previous secret (Shopify takes up to an hour to switch
// after a rotation). Every X-Shopify-* header is also read in its unprefixed
// Shopify-* form. X-Shopify-Webhook-Id, -Event-Id, -Triggered-At,
// -API-Version, -Topic and -Name are kept with each event as the extension
// attributes shopifywebhookid, shopifyeventid, shopifytriggeredat,
// shopifyapiversion, shopifytopic and shopifyname.
//
// Payloads are read as of API 2026-04 (the samples in testdata are
// Shopify's published ones, see testdata/SOURCE.md): orders link to their
// checkout by checkout_token, which is the checkout's token; marketing
// consent comes on the consent topics, not in customer payloads.
//
// Event ids. A fact that happens once per resource has an id derived from
// the resource alone — "order/<id>/placed", "order/<id>/paid",
// "fulfillment/<id>/delivered", "refund/<id>" — so that a retried delivery,
// and the same fact reported by two topics (orders/paid and orders/updated),
// are logged once. A change that can happen many times (checkout, customer,
// product, inventory and consent updates) has an id of the resource and the
// delivery's X-Shopify-Event-Id (shared by Shopify's retries of one change),
// falling back to X-Shopify-Webhook-Id. Topics kept as platform events
// ("shopify.<topic>") have "<topic>/<event id>".
//
// Ordering. Each event's Ordering is the resource and its updated_at, or
// X-Shopify-Triggered-At where the payload has no updated_at, so that a
// later layer can refuse a retry that carries older data than it holds.
package shopify

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
)

// Platform is the adapter's platform name and the scheme of its sources.
const Platform = "shopify"

// Adapter is the Shopify webhook adapter. The zero value is ready to use.
type Adapter struct{}

var _ commerce.Adapter = Adapter{}

// Platform implements commerce.Adapter.
func (Adapter) Platform() string { return Platform }

// header reads a Shopify header in its X-Shopify-* or Shopify-* form.
func header(h http.Header, name string) (value, found string) {
	return commerce.Header(h, "X-Shopify-"+name, "Shopify-"+name)
}

var shopDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// Shop implements commerce.Adapter: the shop's myshopify.com domain,
// lower-case.
func (Adapter) Shop(h http.Header, _ []byte) (string, error) {
	v, _ := header(h, "Shop-Domain")
	if v == "" {
		return "", fmt.Errorf("%w: the X-Shopify-Shop-Domain header is missing", commerce.ErrNoShop)
	}
	d := strings.ToLower(v)
	if !shopDomain.MatchString(d) {
		return "", fmt.Errorf("%w: X-Shopify-Shop-Domain %q is not a domain", commerce.ErrNoShop, v)
	}
	return d, nil
}

// Verify implements commerce.Adapter.
func (Adapter) Verify(h http.Header, body []byte, secrets [][]byte) error {
	v, name := header(h, "Hmac-Sha256")
	if name == "" {
		name = "X-Shopify-Hmac-Sha256"
	}
	return commerce.VerifyHMAC(name, v, commerce.Base64, sha256.New, body, secrets)
}

// kept are the headers recorded with the delivery and, under their
// extension names, with each event.
var kept = []struct{ name, ext string }{
	{"Topic", "shopifytopic"},
	{"Webhook-Id", "shopifywebhookid"},
	{"Event-Id", "shopifyeventid"},
	{"Triggered-At", "shopifytriggeredat"},
	{"API-Version", "shopifyapiversion"},
	{"Name", "shopifyname"},
	{"Shop-Domain", ""},
	{"Hmac-Sha256", ""},
}

// Decode implements commerce.Adapter.
func (a Adapter) Decode(h http.Header, body []byte, shop commerce.Shop) (*commerce.Delivery, error) {
	if shop.ID == "" {
		id, err := a.Shop(h, body)
		if err != nil {
			return nil, err
		}
		shop.ID = id
	}
	topic, _ := header(h, "Topic")
	d := &commerce.Delivery{Platform: Platform, Shop: shop.ID, Topic: topic, Headers: map[string]string{}, Body: body}
	ext := map[string]string{}
	for _, k := range kept {
		if v, name := header(h, k.name); v != "" {
			d.Headers[name] = v
			if k.ext != "" {
				ext[k.ext] = v
			}
		}
	}
	if topic == "" {
		return nil, commerce.Unmappable(Platform, "", "the X-Shopify-Topic header is missing")
	}
	m := &mapper{Mapper: commerce.Mapper{Platform: Platform, Topic: topic, Shop: shop.ID, Body: body, Extensions: ext}, shop: shop}
	if v, _ := header(h, "Triggered-At"); v != "" {
		t, err := commerce.ParseTime(v)
		if err != nil {
			return nil, m.Fail("X-Shopify-Triggered-At: %v", err)
		}
		m.triggered = t
	}
	m.version, _ = header(h, "Event-Id")
	if m.version == "" {
		m.version, _ = header(h, "Webhook-Id")
	}
	if m.version == "" {
		// Without Shopify's ids, the body itself tells one change from
		// another, and a retry (same payload) from a new change.
		m.version = m.BodyHash()
	}
	events, err := m.run()
	if err != nil {
		return nil, err
	}
	d.Events = events
	return d, nil
}

// mapper maps one delivery.
type mapper struct {
	commerce.Mapper
	shop      commerce.Shop
	triggered time.Time
	version   string // the change's id: event id, else webhook id
}
