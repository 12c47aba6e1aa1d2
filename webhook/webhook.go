// Package webhook is the ingress of shops' webhooks: from a signed request
// of Shopify, WooCommerce or a generic source to durable canonical events.
// It finds the shop, checks the signature against the shop's secrets,
// maps the payload with the platform's adapter (package commerce), logs
// the events through the runtime's ingest, and keeps the raw body beside
// them; what cannot be mapped goes to the dead-letter list, to be replayed
// after a fix.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/commerce/generic"
	"github.com/storeflow/storeflow/commerce/shopify"
	"github.com/storeflow/storeflow/commerce/woocommerce"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Errors Receive reports, each with its HTTP status in Status.
var (
	// ErrUnknownShop: no shop is configured for the webhook's domain.
	ErrUnknownShop = errors.New("no shop is configured for this webhook")
	// ErrUnavailable: the webhook could not be made durable (the store is
	// down); the platform should deliver it again.
	ErrUnavailable = errors.New("the webhook could not be stored; deliver it again")
	// ErrNotDeadLetter: a replay was asked of a delivery that is no dead
	// letter (accepted, or replayed already).
	ErrNotDeadLetter = errors.New("not a dead letter")
)

// Receiver turns webhooks into events.
type Receiver struct {
	Shops *shop.Directory
	// Ingest logs events durably (runtime.Runtime.Ingest).
	Ingest func(ctx context.Context, events []store.Event) ([]store.Event, error)
	// Deliveries keeps raw bodies and dead letters.
	Deliveries store.Webhooks
	// Events finds logged events by key, so that a checkout whose order is
	// known is no start (see settleCheckouts); Deliveries' store when nil
	// and it is one.
	Events KeyedEvents
	Logger *slog.Logger
	// Now is the clock of signatures' rotation windows and of records; the
	// wall clock when nil.
	Now func() time.Time
}

// Result is what a received webhook became.
type Result struct {
	// Ping is an activation ping: nothing was created.
	Ping bool `json:"ping,omitempty"`
	// Delivery is the id of the kept delivery (its raw body), or of the
	// dead letter.
	Delivery string `json:"delivery,omitempty"`
	Shop     string `json:"shop,omitempty"`
	Topic    string `json:"topic,omitempty"`
	// Events are the ids of the events logged; Duplicates those of them
	// that had been logged before (a repeated delivery changes nothing).
	Events     []string `json:"events,omitempty"`
	Duplicates int      `json:"duplicates,omitempty"`
	// Reason says why a dead letter could not be mapped.
	Reason string `json:"reason,omitempty"`
}

// Status is the HTTP status a Receive error answers with.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, commerce.ErrNoShop):
		return http.StatusBadRequest
	case errors.Is(err, commerce.ErrSignature), errors.Is(err, commerce.ErrNoSecret):
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnknownShop):
		return http.StatusNotFound
	case errors.Is(err, commerce.ErrUnmappable):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrNotDeadLetter):
		return http.StatusConflict
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Receiver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// Receive handles one webhook of a platform (shop.Shopify,
// shop.WooCommerce, shop.Generic). shopID names the shop when the URL
// does (generic webhooks); otherwise the webhook's headers do. An
// unmappable payload is kept as a dead letter and reported with the
// result naming it; the error says why.
func (r *Receiver) Receive(ctx context.Context, platform, shopID string, h http.Header, body []byte) (Result, error) {
	sh, adapter, err := r.find(ctx, platform, shopID, h, body)
	if errors.Is(err, commerce.ErrPing) {
		return Result{Ping: true}, nil
	}
	if err != nil {
		r.log().Warn("webhook refused", "platform", platform, "shop", shopID, "err", err)
		return Result{}, err
	}
	if err := adapter.Verify(h, body, sh.AcceptsSecretAt(r.now())); err != nil {
		// The body is never logged: an unsigned request is anyone's.
		r.log().Warn("webhook signature refused", "platform", platform, "shop", sh.ID, "topic", topicOf(h), "bytes", len(body), "err", err)
		return Result{Shop: sh.ID}, err
	}
	return r.decode(ctx, sh, adapter, h, body, "")
}

// Replay maps a dead letter again, after a fix (a corrected generic
// mapping, a storeflow that maps more): its signature was checked when it
// arrived. A dead letter that still cannot be mapped stays on the list.
func (r *Receiver) Replay(ctx context.Context, id string) (Result, error) {
	d, err := r.Deliveries.GetDelivery(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if d.Status != store.DeliveryDeadLetter {
		return Result{Delivery: id, Shop: d.Shop}, fmt.Errorf("delivery %s is %s: %w", id, d.Status, ErrNotDeadLetter)
	}
	sh, err := r.Shops.Get(ctx, d.Shop)
	if err != nil {
		return Result{}, fmt.Errorf("shop %s of dead letter %s: %w", d.Shop, id, err)
	}
	adapter, err := adapterFor(sh)
	if err != nil {
		return Result{}, err
	}
	h := http.Header{}
	var kept map[string]string
	if err := json.Unmarshal(d.Headers, &kept); err != nil {
		return Result{}, fmt.Errorf("read headers of dead letter %s: %w", id, err)
	}
	for k, v := range kept {
		h.Set(k, v)
	}
	return r.decode(ctx, sh, adapter, h, d.Body, id)
}

// find looks up the shop a webhook comes from and the adapter of its
// platform.
func (r *Receiver) find(ctx context.Context, platform, shopID string, h http.Header, body []byte) (*shop.Shop, commerce.Adapter, error) {
	var sh *shop.Shop
	var err error
	switch platform {
	case shop.Shopify, shop.WooCommerce:
		var adapter commerce.Adapter = shopify.Adapter{}
		if platform == shop.WooCommerce {
			adapter = woocommerce.Adapter{}
		}
		domain, err := adapter.Shop(h, body)
		if err != nil {
			return nil, nil, err
		}
		sh, err = r.Shops.ByDomain(ctx, platform, domain)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: %s shop %q; add it with `storeflow shop add --platform %s --domain %s`", ErrUnknownShop, platform, domain, platform, domain)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return sh, adapter, nil
	case shop.Generic:
		sh, err = r.Shops.Get(ctx, shopID)
		if errors.Is(err, store.ErrNotFound) || err == nil && sh.Platform != shop.Generic {
			return nil, nil, fmt.Errorf("%w: no generic shop %q; add it with `storeflow shop add --platform generic --id %s --file …`", ErrUnknownShop, shopID, shopID)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		adapter, err := adapterFor(sh)
		return sh, adapter, err
	}
	return nil, nil, fmt.Errorf("%w: no webhooks of platform %q", ErrUnknownShop, platform)
}

func adapterFor(sh *shop.Shop) (commerce.Adapter, error) {
	switch sh.Platform {
	case shop.Shopify:
		return shopify.Adapter{}, nil
	case shop.WooCommerce:
		return woocommerce.Adapter{}, nil
	case shop.Generic:
		if sh.Webhooks.Generic == nil {
			return nil, fmt.Errorf("shop %s has no webhooks.generic configuration", sh.ID)
		}
		return generic.New(*sh.Webhooks.Generic)
	}
	return nil, fmt.Errorf("shop %s: unknown platform %q", sh.ID, sh.Platform)
}

// decode maps a verified webhook and logs its events; replaying names the
// dead letter being replayed.
func (r *Receiver) decode(ctx context.Context, sh *shop.Shop, adapter commerce.Adapter, h http.Header, body []byte, replaying string) (Result, error) {
	now := r.now()
	res := Result{Shop: sh.ID, Topic: topicOf(h)}
	d, err := adapter.Decode(h, body, commerce.Shop{ID: sh.ID, Country: sh.Country, Currency: sh.Currency})
	if errors.Is(err, commerce.ErrPing) {
		return Result{Ping: true, Shop: sh.ID}, nil
	}
	var events []store.Event
	if err == nil {
		res.Topic = d.Topic
		if err := r.settleCheckouts(ctx, d.Events); err != nil {
			return res, fmt.Errorf("%w: look up the checkout's order: %v", ErrUnavailable, err)
		}
		events, err = storeEvents(d.Events, now)
	}
	if err != nil {
		if !errors.Is(err, commerce.ErrUnmappable) {
			err = &commerce.UnmappableError{Platform: sh.Platform, Topic: res.Topic, Reason: err.Error()}
		}
		res.Reason = err.Error()
		if replaying != "" {
			return Result{Delivery: replaying, Shop: sh.ID, Topic: res.Topic, Reason: res.Reason}, err
		}
		dead := store.WebhookDelivery{ID: engine.NewID(), Shop: sh.ID, Platform: sh.Platform, Topic: res.Topic, Headers: keptHeaders(h),
			Body: body, Status: store.DeliveryDeadLetter, Reason: res.Reason, ReceivedAt: now, UpdatedAt: now}
		if _, perr := r.Deliveries.PutDelivery(ctx, dead); perr != nil {
			return res, fmt.Errorf("%w: keep the dead letter: %v", ErrUnavailable, perr)
		}
		res.Delivery = dead.ID
		r.log().Warn("webhook on the dead-letter list", "shop", sh.ID, "topic", res.Topic, "delivery", dead.ID, "reason", res.Reason)
		return res, err
	}
	logged, err := r.Ingest(ctx, events)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	refs := make([]string, len(logged))
	for i, e := range logged {
		refs[i] = e.Source + " " + e.ID
		res.Events = append(res.Events, e.ID)
		if e.Duplicate {
			res.Duplicates++
		}
	}
	if replaying != "" {
		if err := r.Deliveries.ResolveDelivery(ctx, replaying, refs, now); err != nil {
			return res, err
		}
		res.Delivery = replaying
		return res, nil
	}
	kept := store.WebhookDelivery{ID: engine.NewID(), Shop: sh.ID, Platform: sh.Platform, Topic: res.Topic, Key: strings.Join(refs, "\n"),
		Headers: keptHeaders(h), Body: body, Status: store.DeliveryAccepted, Events: refs, ReceivedAt: now, UpdatedAt: now}
	if _, err := r.Deliveries.PutDelivery(ctx, kept); err != nil {
		return res, fmt.Errorf("%w: keep the raw body: %v", ErrUnavailable, err)
	}
	res.Delivery = kept.ID
	return res, nil
}

// storeEvents renders canonical events for the log, checking each against
// its type's schema.
func storeEvents(evs []commerce.Event, now time.Time) ([]store.Event, error) {
	out := make([]store.Event, 0, len(evs))
	for _, e := range evs {
		if strings.HasPrefix(e.Type, "commerce.") {
			if err := commerce.Validate(e.Type, e.Data); err != nil {
				return nil, fmt.Errorf("event %s does not fit %s: %w", e.ID, e.Type, err)
			}
		}
		env, err := e.Envelope()
		if err != nil {
			return nil, err
		}
		out = append(out, store.Event{ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject, Time: e.Time.UTC(), Envelope: env, ReceivedAt: now})
	}
	return out, nil
}

// dropped are request headers never kept: credentials of the connection,
// not of the shop's message.
var dropped = []string{"Authorization", "Cookie", "Proxy-Authorization"}

func keptHeaders(h http.Header) []byte {
	m := map[string]string{}
	for k, v := range h {
		if len(v) > 0 && !slices.Contains(dropped, http.CanonicalHeaderKey(k)) {
			m[http.CanonicalHeaderKey(k)] = v[0]
		}
	}
	b, _ := json.Marshal(m) // strings always encode
	return b
}

// topicOf reads the platform's topic header, for logs.
func topicOf(h http.Header) string {
	for _, name := range []string{"X-Shopify-Topic", "Shopify-Topic", "X-Wc-Webhook-Topic"} {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}
