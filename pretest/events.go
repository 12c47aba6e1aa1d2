package pretest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// shopOf reads the file's shop over the defaults: id test-shop, Shopify,
// ID.myshopify.com, USD, and a webhook secret of its own.
func shopOf(v Value) (shop.Shop, int, error) {
	sh := shop.Shop{}
	if v.Set && v.V != nil {
		b, err := json.Marshal(v.V)
		if err != nil {
			return sh, v.Line, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sh); err != nil {
			return sh, v.Line, fmt.Errorf("shop: %v (the keys are those of storeflow's shop configuration, see README \"Shops\")", err)
		}
	}
	if sh.ID == "" {
		sh.ID = "test-shop"
	}
	if sh.Platform == "" {
		sh.Platform = shop.Shopify
	}
	switch {
	case sh.Platform == shop.Shopify && sh.Domain == "":
		sh.Domain = sh.ID + ".myshopify.com"
	case sh.Platform == shop.WooCommerce && sh.SiteURL == "":
		sh.SiteURL = "https://" + sh.ID + ".example"
	}
	if sh.Currency == "" {
		sh.Currency = "USD"
	}
	if sh.Webhooks.Secret == "" {
		sh.Webhooks.Secret = randomSecret()
	}
	return sh, v.Line, nil
}

// source is the CloudEvents source of the shop's own events.
func (s *scenario) source() string {
	name := s.shop.Platform
	if g := s.shop.Webhooks.Generic; g != nil && g.Name != "" {
		name = g.Name
	}
	return commerce.Source(name, s.shop.Domain)
}

// identity is a customer as events name them.
func (c *Customer) identity() map[string]any {
	m := map[string]any{"id": c.ID}
	for k, v := range map[string]string{"email": c.Email, "phone": c.Phone, "firstName": c.FirstName, "lastName": c.LastName} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

func (s *scenario) customer(id string) *Customer {
	for i := range s.f.Customers {
		if s.f.Customers[i].ID == id {
			return &s.f.Customers[i]
		}
	}
	return nil
}

// history logs the customers: each one's creation, consent and past
// orders, in time order per customer.
func (s *scenario) history(ctx context.Context) error {
	for len(s.f.history) > 0 {
		n := min(len(s.f.history), 1000)
		batch := s.f.history[:n]
		s.f.history = s.f.history[n:]
		if _, err := s.rt.Ingest(ctx, batch); err != nil {
			return err
		}
	}
	for i := range s.f.Customers {
		c := &s.f.Customers[i]
		since := s.start.AddDate(-1, 0, 0)
		if !c.Since.IsZero() {
			since = c.Since.At(s.start, s.zone)
		}
		created := map[string]any{"customer": c.identity()}
		if len(c.Tags) > 0 {
			created["tags"] = c.Tags
		}
		if err := s.logCanonical(ctx, c.Line, "commerce.customer.created", "customer/"+c.ID+"/created", c.ID, since, created); err != nil {
			return err
		}
		channels := make([]string, 0, len(c.Consent))
		for ch := range c.Consent {
			channels = append(channels, ch)
		}
		// One order for every run: map order is random.
		slices.Sort(channels)
		for _, ch := range channels {
			data := map[string]any{"customer": c.identity(), "channel": ch, "state": c.Consent[ch], "consentUpdatedAt": commerce.Timestamp(since)}
			if err := s.logCanonical(ctx, c.Line, "commerce.consent.changed", "customer/"+c.ID+"/consent/"+ch, c.ID, since, data); err != nil {
				return err
			}
		}
		for j, o := range c.Orders {
			data := map[string]any{}
			if o.Data.Set {
				m, ok := o.Data.V.(map[string]any)
				if !ok {
					return &lineErr{o.Line, fmt.Errorf("the order's data must be an object")}
				}
				data = m
			}
			id := o.ID
			if id == "" {
				id = fmt.Sprintf("%s-past-%d", c.ID, j+1)
			}
			data["orderId"] = id
			data["customer"] = c.identity()
			if o.Total != "" {
				data["totalPrice"] = o.Total
			}
			if o.Currency != "" || o.Total != "" {
				data["currency"] = firstOf(o.Currency, s.shop.Currency)
			}
			at := o.At.At(s.start, s.zone)
			if err := s.logCanonical(ctx, o.Line, "commerce.order.placed", "order/"+id+"/placed", id, at, data); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// logCanonical logs a commerce event of the shop, its data completed with
// the shop and the time and checked against the type's schema.
func (s *scenario) logCanonical(ctx context.Context, line int, typ, id, subject string, at time.Time, data map[string]any) error {
	if _, ok := data["shop"]; !ok {
		// The shop's id, as the webhook ingress gives it: the sending rules
		// and the connectors name shops by id.
		data["shop"] = s.shop.ID
	}
	if _, ok := data["occurredAt"]; !ok {
		data["occurredAt"] = commerce.Timestamp(at)
	}
	ev, err := commerce.NewEvent(typ, id, subject, data)
	if err != nil {
		return &lineErr{line, err}
	}
	ev.Source = s.source()
	env, err := ev.Envelope()
	if err != nil {
		return &lineErr{line, err}
	}
	_, err = s.rt.Ingest(ctx, []store.Event{{ID: ev.ID, Source: ev.Source, Type: ev.Type, Subject: ev.Subject, Time: ev.Time, Envelope: env, ReceivedAt: s.vc.Now()}})
	return err
}

// deliver hands one event of the timeline to the runtime: through the
// shop's webhook ingress for a webhook, straight to the log otherwise.
func (s *scenario) deliver(ctx context.Context, te timedEvent) error {
	e := te.ev
	if e.Webhook != nil {
		return s.webhook(ctx, te)
	}
	if e.Task != nil {
		return s.act(ctx, te)
	}
	if e.raw != nil {
		ev := *e.raw
		ev.ReceivedAt = s.vc.Now()
		_, err := s.rt.Ingest(ctx, []store.Event{ev})
		return err
	}
	id := e.ID
	if id == "" {
		id = fmt.Sprintf("pretest-%d", te.index+1)
	}
	var data map[string]any
	switch v := e.Data.V.(type) {
	case nil:
	case map[string]any:
		data = v
	default:
		if strings.HasPrefix(e.Type, "commerce.") {
			return fmt.Errorf("the data of a %s event is an object (see docs/events.md)", e.Type)
		}
	}
	if e.Customer != "" {
		if data == nil {
			data = map[string]any{}
		}
		if _, ok := data["customer"]; !ok {
			data["customer"] = s.customer(e.Customer).identity()
		}
	}
	if strings.HasPrefix(e.Type, "commerce.") {
		if data == nil {
			data = map[string]any{}
		}
		subject := e.Subject
		if subject == "" {
			subject = subjectOf(data)
		}
		if e.Source != "" {
			return s.logCustom(ctx, e, id, e.Source, subject, withShop(data, s.shop.ID, te.at))
		}
		return s.logCanonical(ctx, e.Line, e.Type, id, subject, te.at, data)
	}
	source := firstOf(e.Source, "pretest")
	var payload any = e.Data.V
	if data != nil {
		payload = data
	}
	return s.logCustom(ctx, e, id, source, e.Subject, payload)
}

func withShop(data map[string]any, id string, at time.Time) map[string]any {
	if _, ok := data["shop"]; !ok {
		data["shop"] = id
	}
	if _, ok := data["occurredAt"]; !ok {
		data["occurredAt"] = commerce.Timestamp(at)
	}
	return data
}

// logCustom logs an event as written: any type, any source.
func (s *scenario) logCustom(ctx context.Context, e *Event, id, source, subject string, data any) error {
	if strings.HasPrefix(e.Type, "commerce.") {
		if err := commerce.Validate(e.Type, data); err != nil {
			return err
		}
	}
	now := s.vc.Now()
	env := map[string]any{"specversion": "1.0", "id": id, "source": source, "type": e.Type, "time": commerce.Timestamp(now)}
	if subject != "" {
		env["subject"] = subject
	}
	if data != nil {
		env["datacontenttype"] = "application/json"
		env["data"] = data
	}
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	_, err = s.rt.Ingest(ctx, []store.Event{{ID: id, Source: source, Type: e.Type, Subject: subject, Time: now, Envelope: b, ReceivedAt: now}})
	return err
}

// subjectOf picks the resource a commerce event is about.
func subjectOf(data map[string]any) string {
	for _, k := range []string{"orderId", "checkoutToken", "returnId", "refundId", "productId", "quoteId", "formId"} {
		if v, ok := data[k].(string); ok && v != "" {
			return v
		}
	}
	if c, ok := data["customer"].(map[string]any); ok {
		if v, ok := c["id"].(string); ok {
			return v
		}
	}
	return ""
}

// webhook delivers a webhook as the shop's platform sends it: with its
// headers, signed with the shop's secret, through the real ingress and
// adapter.
func (s *scenario) webhook(ctx context.Context, te timedEvent) error {
	w := te.ev.Webhook
	body, err := s.webhookBody(w)
	if err != nil {
		return err
	}
	id := w.ID
	if id == "" {
		id = fmt.Sprintf("pretest-webhook-%d", te.index+1)
	}
	now := s.vc.Now()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	secret := []byte(s.shop.Webhooks.Secret)
	switch s.shop.Platform {
	case shop.Shopify:
		h.Set("X-Shopify-Topic", w.Topic)
		h.Set("X-Shopify-Shop-Domain", s.shop.Domain)
		h.Set("X-Shopify-Webhook-Id", id)
		h.Set("X-Shopify-Event-Id", id)
		h.Set("X-Shopify-Triggered-At", now.Format(time.RFC3339Nano))
		h.Set("X-Shopify-API-Version", "2026-04")
		h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(sign(sha256.New, secret, body)))
	case shop.WooCommerce:
		resource, event, _ := strings.Cut(w.Topic, ".")
		h.Set("X-WC-Webhook-Source", strings.TrimSuffix(s.shop.SiteURL, "/")+"/")
		h.Set("X-WC-Webhook-Topic", w.Topic)
		h.Set("X-WC-Webhook-Resource", resource)
		h.Set("X-WC-Webhook-Event", event)
		h.Set("X-WC-Webhook-ID", "1")
		h.Set("X-WC-Webhook-Delivery-ID", id)
		h.Set("X-WC-Webhook-Signature", base64.StdEncoding.EncodeToString(sign(sha256.New, secret, body)))
	case shop.Generic:
		g := s.shop.Webhooks.Generic
		newHash := map[string]func() hash.Hash{"": sha256.New, "sha256": sha256.New, "sha1": sha1.New, "sha512": sha512.New}[g.Signature.Algorithm]
		if newHash == nil {
			return fmt.Errorf("webhooks.generic.signature.algorithm %q: use sha256, sha1 or sha512", g.Signature.Algorithm)
		}
		mac := sign(newHash, secret, body)
		sig := hex.EncodeToString(mac)
		if g.Signature.Encoding == "base64" {
			sig = base64.StdEncoding.EncodeToString(mac)
		}
		h.Set(g.Signature.Header, g.Signature.Prefix+sig)
	}
	for k, v := range w.Headers {
		h.Set(k, v)
	}
	if _, err := s.hooks.Receive(ctx, s.shop.Platform, s.shop.ID, h, body); err != nil {
		return fmt.Errorf("the %s webhook %s was refused: %w", s.shop.Platform, w.Topic, err)
	}
	return nil
}

func sign(newHash func() hash.Hash, secret, body []byte) []byte {
	mac := hmac.New(newHash, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

// webhookBody is the raw body as the platform would send it.
func (s *scenario) webhookBody(w *Webhook) ([]byte, error) {
	if w.BodyFile != "" {
		return os.ReadFile(filepath.Join(filepath.Dir(s.f.Path), w.BodyFile))
	}
	if str, ok := w.Body.V.(string); ok {
		return []byte(str), nil
	}
	return json.Marshal(w.Body.V)
}

// recorded is the recording twin's form of a scripted answer.
func (a Answer) recorded() recording.Answer {
	switch {
	case a.Timeout:
		return recording.Answer{Err: timeoutProblem()}
	case a.Error != nil:
		return recording.Answer{Err: a.Error.problem()}
	}
	return recording.Answer{Output: normalize(a.Output.V)}
}

// normalize gives a value the types decoded JSON has, as workflows see
// outputs after they crossed the outbox.
func normalize(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}
