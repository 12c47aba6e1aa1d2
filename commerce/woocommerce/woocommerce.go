// Package woocommerce verifies WooCommerce webhooks and maps them to
// canonical commerce events.
//
// The shop is the site's host name in X-WC-Webhook-Source ("example.com" for
// "http://example.com/"); the signature is the base64 HMAC-SHA256 of the
// body in X-WC-Webhook-Signature. The topic, resource, event, webhook id
// and delivery id headers are kept with each event as the extension
// attributes wctopic, wcresource, wcevent, wcwebhookid and wcdeliveryid.
//
// When a webhook is saved, WooCommerce sends an activation ping: the form
// body webhook_id=N, unsigned and without any X-WC-* header. Shop, Verify
// and Decode all answer it with commerce.ErrPing (answer 200, create
// nothing).
//
// Payloads are REST API v3 resources, exactly as GET /wp-json/wc/v3/<resource>s/<id>
// returns them (see testdata/SOURCE.md). WooCommerce does not retry
// deliveries, and its delivery ids are not unique (a hash of the webhook id
// and the second), so ids come from the resource: a fact that happens once
// per resource has an id of the resource alone ("order/727/paid",
// "refund/726"); a change that can happen many times has the resource id and
// its date_modified_gmt ("customer/25/updated/2017-03-21T19:12:28Z"). Refunds
// arrive as order.updated: each refund the order lists becomes a
// commerce.refund.created, logged once however often the order is updated
// afterwards. The ordering of every event is its resource and
// date_modified_gmt.
package woocommerce

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/storeflow/storeflow/commerce"
)

// Platform is the adapter's platform name and the scheme of its sources.
const Platform = "woocommerce"

// Adapter is the WooCommerce webhook adapter. The zero value is ready to use.
type Adapter struct{}

var _ commerce.Adapter = Adapter{}

// Platform implements commerce.Adapter.
func (Adapter) Platform() string { return Platform }

var pingBody = regexp.MustCompile(`^webhook_id=[0-9]+$`)

// IsPing reports whether the request is WooCommerce's activation ping. A
// delivery always carries JSON, so the form body alone tells.
func IsPing(body []byte) bool { return pingBody.Match([]byte(strings.TrimSpace(string(body)))) }

// Shop implements commerce.Adapter.
func (Adapter) Shop(h http.Header, body []byte) (string, error) {
	if IsPing(body) {
		return "", commerce.ErrPing
	}
	v := strings.TrimSpace(h.Get("X-WC-Webhook-Source"))
	if v == "" {
		return "", fmt.Errorf("%w: the X-WC-Webhook-Source header is missing", commerce.ErrNoShop)
	}
	return ShopID(v)
}

// ShopID names a site as the adapter does, and as package shop derives a
// WooCommerce shop's domain from its site URL: the host name, lower-case,
// without scheme, port or path ("https://Shop.Example.com:8443/store/" →
// "shop.example.com").
func ShopID(siteURL string) (string, error) {
	s := strings.TrimSpace(siteURL)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%w: %q is not a site URL", commerce.ErrNoShop, siteURL)
	}
	return strings.ToLower(u.Hostname()), nil
}

// Verify implements commerce.Adapter.
func (Adapter) Verify(h http.Header, body []byte, secrets [][]byte) error {
	if IsPing(body) {
		return commerce.ErrPing
	}
	v := strings.TrimSpace(h.Get("X-WC-Webhook-Signature"))
	return commerce.VerifyHMAC("X-WC-Webhook-Signature", v, commerce.Base64, sha256.New, body, secrets)
}

var kept = []struct{ name, ext string }{
	{"X-WC-Webhook-Topic", "wctopic"},
	{"X-WC-Webhook-Resource", "wcresource"},
	{"X-WC-Webhook-Event", "wcevent"},
	{"X-WC-Webhook-ID", "wcwebhookid"},
	{"X-WC-Webhook-Delivery-ID", "wcdeliveryid"},
	{"X-WC-Webhook-Source", ""},
	{"X-WC-Webhook-Signature", ""},
}

// Decode implements commerce.Adapter.
func (a Adapter) Decode(h http.Header, body []byte, shop commerce.Shop) (*commerce.Delivery, error) {
	if IsPing(body) {
		return nil, commerce.ErrPing
	}
	if shop.ID == "" {
		id, err := a.Shop(h, body)
		if err != nil {
			return nil, err
		}
		shop.ID = id
	}
	d := &commerce.Delivery{Platform: Platform, Shop: shop.ID, Headers: map[string]string{}, Body: body}
	ext := map[string]string{}
	for _, k := range kept {
		if v := strings.TrimSpace(h.Get(k.name)); v != "" {
			d.Headers[http.CanonicalHeaderKey(k.name)] = v
			if k.ext != "" {
				ext[k.ext] = v
			}
		}
	}
	topic := ext["wctopic"]
	if topic == "" && ext["wcresource"] != "" && ext["wcevent"] != "" {
		topic = ext["wcresource"] + "." + ext["wcevent"]
	}
	d.Topic = topic
	if topic == "" {
		return nil, commerce.Unmappable(Platform, "", "neither X-WC-Webhook-Topic nor X-WC-Webhook-Resource and -Event name the topic")
	}
	m := &mapper{Mapper: commerce.Mapper{Platform: Platform, Topic: topic, Shop: shop.ID, Body: body, Extensions: ext}, shop: shop}
	events, err := m.run()
	if err != nil {
		return nil, err
	}
	d.Events = events
	return d, nil
}

type mapper struct {
	commerce.Mapper
	shop commerce.Shop
}
