package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Simulator.
type Options struct {
	// Target is the storeflow the webhooks go to (http://127.0.0.1:8080);
	// they are posted to Target/webhooks/shopify.
	Target string
	// Domain is the shop's myshopify.com domain, Secret its webhook
	// secret: the shop must be configured in the target with both. Shop
	// is its id there, which the storefront's events name.
	Domain, Secret, Shop string
	// Speed is how much faster than real time the shop's life runs: at
	// 1440 a day of the shop takes a minute.
	Speed float64
	// Rate is how many visitors arrive per minute of real time.
	Rate float64
	// Seed makes runs repeatable; 0 picks one.
	Seed   uint64
	Logger *slog.Logger
	HTTP   *http.Client
}

// Stats count what a simulator did.
type Stats struct {
	Webhooks   int64 `json:"webhooks"`
	Repeated   int64 `json:"repeated"` // webhooks delivered a second time, as shops do
	Refused    int64 `json:"refused"`
	Signups    int64 `json:"signups"`
	Checkouts  int64 `json:"checkouts"`
	Orders     int64 `json:"orders"`
	Deliveries int64 `json:"deliveries"`
	Returns    int64 `json:"returns"`
	Restocks   int64 `json:"restocks"`
	Views      int64 `json:"views"`
}

// Simulator is a shop with fictitious customers, sending its life to a
// storeflow as Shopify sends it: signed webhooks, some twice.
type Simulator struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	rnd       *rand.Rand
	customers []*customer
	products  []*product
	nextID    int64
	wg        sync.WaitGroup

	webhooks, repeated, refused                                      atomic.Int64
	signups, checkouts, orders, deliveries, returns, restocks, views atomic.Int64
}

type customer struct {
	ID                 int64
	First, Last, Email string
	Subscribed         bool
	ordered            bool
}

type product struct {
	ID, VariantID, InventoryItemID int64
	Title, SKU, Price              string
	Stock                          int
	restocking                     bool
}

// The shop's catalogue: tea, and things to drink it from.
var catalogue = []struct{ title, sku, price string }{
	{"Sencha, 100 g", "TEA-SEN", "12.90"},
	{"Assam breakfast, 250 g", "TEA-ASM", "9.50"},
	{"Jasmine pearls, 50 g", "TEA-JAS", "14.00"},
	{"Rooibos vanilla, 100 g", "TEA-ROO", "7.90"},
	{"Glass teapot, 0.8 l", "POT-GLS", "34.00"},
	{"Stoneware cup", "CUP-STN", "11.50"},
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia", "John", "Hedy", "Tim", "Sophie", "Linus", "Karen", "Niklaus", "Joan", "Guido"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie", "Perlman", "McCarthy", "Lamarr", "Berners", "Wilson", "Torvalds", "Jones", "Wirth", "Clarke", "Rossum"}
	domains    = []string{"example.com", "example.net", "example.org"}
)

// NewSimulator makes a shop with its catalogue in stock.
func NewSimulator(opts Options) *Simulator {
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Simulator{opts: opts, log: opts.Logger, rnd: rand.New(rand.NewPCG(opts.Seed, opts.Seed>>1|1)), nextID: 7_000_000}
	for i, c := range catalogue {
		s.products = append(s.products, &product{ID: int64(8_000_001 + i), VariantID: int64(9_000_001 + i), InventoryItemID: int64(4_000_001 + i),
			Title: c.title, SKU: c.sku, Price: c.price, Stock: 6 + s.rnd.IntN(8)})
	}
	return s
}

// Stats returns what it did so far.
func (s *Simulator) Stats() Stats {
	return Stats{Webhooks: s.webhooks.Load(), Repeated: s.repeated.Load(), Refused: s.refused.Load(), Signups: s.signups.Load(),
		Checkouts: s.checkouts.Load(), Orders: s.orders.Load(), Deliveries: s.deliveries.Load(), Returns: s.returns.Load(), Restocks: s.restocks.Load(), Views: s.views.Load()}
}

func (s *Simulator) id() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return s.nextID
}

// chance is true with probability p.
func (s *Simulator) chance(p float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Float64() < p
}

// between is a duration of shop time between lo and hi.
func (s *Simulator) between(lo, hi time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return lo + time.Duration(s.rnd.Int64N(int64(hi-lo)+1))
}

func (s *Simulator) newCustomer() *customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	first, last := firstNames[s.rnd.IntN(len(firstNames))], lastNames[s.rnd.IntN(len(lastNames))]
	c := &customer{ID: s.nextID, First: first, Last: last, Subscribed: s.rnd.Float64() < 0.8,
		Email: fmt.Sprintf("%s.%s.%d@%s", strings.ToLower(first), strings.ToLower(last), s.nextID%10000, domains[s.rnd.IntN(len(domains))])}
	s.customers = append(s.customers, c)
	return c
}

// someCustomer is a returning customer now and then, else a new one,
// who ticks "email me news and offers" at the checkout most of the time.
func (s *Simulator) someCustomer(ctx context.Context) *customer {
	s.mu.Lock()
	if len(s.customers) > 5 && s.rnd.Float64() < 0.3 {
		c := s.customers[s.rnd.IntN(len(s.customers))]
		s.mu.Unlock()
		return c
	}
	s.mu.Unlock()
	c := s.newCustomer()
	if c.Subscribed {
		s.consent(ctx, c, time.Now())
	}
	return c
}

// later runs f after d of shop time, unless ctx ends first.
func (s *Simulator) later(ctx context.Context, d time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(time.Duration(float64(d) / s.opts.Speed))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			f()
		}
	}()
}

// Run makes visitors arrive at the rate until ctx ends, then waits for
// what they were doing to stop.
func (s *Simulator) Run(ctx context.Context) error {
	defer s.wg.Wait()
	every := time.Duration(float64(time.Minute) / s.opts.Rate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	s.visit(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			s.visit(ctx)
		}
	}
}

// visit is one visitor: a signup, a checkout or a known customer who
// only looks around.
func (s *Simulator) visit(ctx context.Context) {
	switch r := s.between(0, 99); {
	case r < 20:
		s.signup(ctx, s.newCustomer())
	case r < 75:
		s.checkout(ctx, s.someCustomer(ctx))
	case r < 95:
		s.browse(ctx, s.someCustomer(ctx))
	}
}

// browse views a product or two, as the storefront's tracking reports
// it: storefront.product.viewed events posted to the target's events API.
func (s *Simulator) browse(ctx context.Context, c *customer) {
	s.mu.Lock()
	n := 1 + s.rnd.IntN(2)
	picks := s.rnd.Perm(len(s.products))[:n]
	s.mu.Unlock()
	for i, k := range picks {
		p := s.products[k]
		s.later(ctx, time.Duration(i)*3*time.Minute, func() {
			s.views.Add(1)
			ev := map[string]any{"specversion": "1.0", "id": fmt.Sprintf("view-%d", s.id()), "source": "https://demo-tea.example", "type": "storefront.product.viewed",
				"time": time.Now().UTC().Format(time.RFC3339Nano),
				"data": map[string]any{"shop": s.opts.Shop, "customer": map[string]any{"id": fmt.Sprint(c.ID), "email": c.Email, "firstName": c.First},
					"productId": fmt.Sprint(p.ID), "title": p.Title, "url": "https://demo-tea.example/products/" + strings.ToLower(p.SKU)}}
			if err := s.event(ctx, ev); err != nil && ctx.Err() == nil {
				s.refused.Add(1)
				s.log.Warn("demo view refused", "err", err)
			}
		})
	}
}

func (s *Simulator) event(ctx context.Context, ev map[string]any) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.opts.Target, "/")+"/v1/events", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	resp, err := s.opts.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

func (s *Simulator) signup(ctx context.Context, c *customer) {
	s.signups.Add(1)
	now := stamp(time.Now())
	s.send(ctx, "customers/create", map[string]any{"id": c.ID, "email": c.Email, "first_name": c.First, "last_name": c.Last, "created_at": now, "updated_at": now})
	if c.Subscribed {
		s.consent(ctx, c, time.Now())
	}
}

func (s *Simulator) consent(ctx context.Context, c *customer, at time.Time) {
	s.send(ctx, "customers/email_marketing_consent_update", map[string]any{"customer_id": c.ID, "email_address": c.Email,
		"email_marketing_consent": map[string]any{"state": "subscribed", "opt_in_level": "single_opt_in", "consent_updated_at": stamp(at)}})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// basket picks one to three products.
func (s *Simulator) basket() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 1 + s.rnd.IntN(3)
	var lines []map[string]any
	for _, i := range s.rnd.Perm(len(s.products))[:n] {
		p := s.products[i]
		lines = append(lines, map[string]any{"id": p.VariantID*10 + int64(len(lines)), "product_id": p.ID, "variant_id": p.VariantID, "sku": p.SKU,
			"title": p.Title, "quantity": 1 + s.rnd.IntN(2), "price": p.Price})
	}
	return lines
}

func total(lines []map[string]any) string {
	cents := 0
	for _, l := range lines {
		var whole, frac int
		fmt.Sscanf(l["price"].(string), "%d.%d", &whole, &frac)
		cents += (whole*100 + frac) * l["quantity"].(int)
	}
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// checkout starts one: most are abandoned, some buy at once, some come
// back after a reminder.
func (s *Simulator) checkout(ctx context.Context, c *customer) {
	s.checkouts.Add(1)
	token := fmt.Sprintf("demo%x", s.id()*7919)
	lines := s.basket()
	now := stamp(time.Now())
	body := map[string]any{"id": s.id(), "token": token, "cart_token": "cart-" + token, "email": c.Email, "created_at": now, "updated_at": now,
		"currency": "EUR", "subtotal_price": total(lines), "total_price": total(lines), "line_items": lines,
		"abandoned_checkout_url": "https://demo-tea.example/checkouts/" + token + "/recover",
		"customer":               map[string]any{"id": c.ID, "email": c.Email, "first_name": c.First, "last_name": c.Last}}
	s.send(ctx, "checkouts/create", body)
	switch r := s.between(0, 99); {
	case r < 30: // buys before any reminder
		s.later(ctx, s.between(5*time.Minute, 40*time.Minute), func() { s.order(ctx, c, token, lines) })
	case r < 55: // comes back after a reminder
		s.later(ctx, s.between(2*time.Hour, 30*time.Hour), func() { s.order(ctx, c, token, lines) })
	}
}

func (s *Simulator) order(ctx context.Context, c *customer, token string, lines []map[string]any) {
	s.orders.Add(1)
	s.mu.Lock()
	c.ordered = true
	s.mu.Unlock()
	id := s.id()
	now := stamp(time.Now())
	order := map[string]any{"id": id, "order_number": id % 100000, "name": fmt.Sprintf("#%d", id%100000), "email": c.Email, "created_at": now, "updated_at": now,
		"currency": "EUR", "total_price": total(lines), "subtotal_price": total(lines), "financial_status": "paid", "checkout_token": token, "line_items": lines,
		"customer": map[string]any{"id": c.ID, "email": c.Email, "first_name": c.First, "last_name": c.Last}}
	s.send(ctx, "orders/create", order)
	s.sell(ctx, lines)
	if s.chance(0.05) {
		s.later(ctx, s.between(time.Hour, 6*time.Hour), func() {
			cancelled := map[string]any{}
			for k, v := range order {
				cancelled[k] = v
			}
			cancelled["cancelled_at"], cancelled["updated_at"], cancelled["cancel_reason"] = stamp(time.Now()), stamp(time.Now()), "customer"
			s.send(ctx, "orders/cancelled", cancelled)
		})
		return
	}
	s.later(ctx, s.between(12*time.Hour, 30*time.Hour), func() { s.ship(ctx, c, id) })
}

func (s *Simulator) ship(ctx context.Context, c *customer, orderID int64) {
	fid := s.id()
	created := stamp(time.Now())
	tracking := fmt.Sprintf("1ZDEMO%08d", fid%100000000)
	shipment := map[string]any{"id": fid, "order_id": orderID, "status": "success", "created_at": created, "updated_at": created, "email": c.Email,
		"tracking_company": "UPS", "tracking_numbers": []string{tracking}, "tracking_urls": []string{"https://www.ups.com/track?tracknum=" + tracking}}
	s.send(ctx, "fulfillments/create", shipment)
	s.later(ctx, s.between(24*time.Hour, 72*time.Hour), func() {
		s.deliveries.Add(1)
		delivered := map[string]any{}
		for k, v := range shipment {
			delivered[k] = v
		}
		delivered["shipment_status"], delivered["updated_at"] = "delivered", stamp(time.Now())
		s.send(ctx, "fulfillments/update", delivered)
		if s.chance(0.1) {
			s.later(ctx, s.between(24*time.Hour, 72*time.Hour), func() {
				s.returns.Add(1)
				s.send(ctx, "returns/request", map[string]any{"id": s.id(), "status": "requested", "order": map[string]any{"id": orderID}, "total_return_line_items": 1})
			})
		}
	})
}

// sell takes an order's lines off the stock and reports the new levels;
// the warehouse restocks what runs low a few days later.
func (s *Simulator) sell(ctx context.Context, lines []map[string]any) {
	for _, l := range lines {
		s.mu.Lock()
		var p *product
		for _, q := range s.products {
			if q.VariantID == l["variant_id"] {
				p = q
			}
		}
		p.Stock -= l["quantity"].(int)
		level, restock := p.Stock, p.Stock < 3 && !p.restocking
		if restock {
			p.restocking = true
		}
		s.mu.Unlock()
		s.level(ctx, p, level)
		if restock {
			s.later(ctx, s.between(48*time.Hour, 96*time.Hour), func() {
				s.restocks.Add(1)
				s.mu.Lock()
				p.Stock += 25
				p.restocking = false
				level := p.Stock
				s.mu.Unlock()
				s.level(ctx, p, level)
			})
		}
	}
}

func (s *Simulator) level(ctx context.Context, p *product, available int) {
	s.send(ctx, "inventory_levels/update", map[string]any{"inventory_item_id": p.InventoryItemID, "location_id": 61_000_001, "available": available, "updated_at": stamp(time.Now())})
}

// History gives the shop customers who bought long ago, with email
// consent: their last orders turn lapsedAfter old over the next minutes
// of real time, one every gap, and as many turn lastChanceAfter old.
func (s *Simulator) History(ctx context.Context, n int, lapsedAfter, lastChanceAfter, gap time.Duration) {
	now := time.Now()
	for i := 0; i < n; i++ {
		for _, age := range []time.Duration{lapsedAfter, lastChanceAfter} {
			c := s.newCustomer()
			c.Subscribed, c.ordered = true, true
			at := now.Add(-age + time.Duration(i+1)*gap)
			since := stamp(at.Add(-30 * 24 * time.Hour))
			s.send(ctx, "customers/create", map[string]any{"id": c.ID, "email": c.Email, "first_name": c.First, "last_name": c.Last, "created_at": since, "updated_at": since})
			s.consent(ctx, c, at.Add(-30*24*time.Hour))
			lines := s.basket()
			id := s.id()
			s.send(ctx, "orders/create", map[string]any{"id": id, "order_number": id % 100000, "name": fmt.Sprintf("#%d", id%100000), "email": c.Email,
				"created_at": stamp(at), "updated_at": stamp(at), "currency": "EUR", "total_price": total(lines), "financial_status": "paid", "line_items": lines,
				"customer": map[string]any{"id": c.ID, "email": c.Email, "first_name": c.First, "last_name": c.Last}})
		}
	}
}

// send posts a webhook as Shopify does, signed; one in twenty is
// delivered twice, as Shopify's retries do.
func (s *Simulator) send(ctx context.Context, topic string, body map[string]any) {
	raw, err := json.Marshal(body)
	if err != nil {
		s.log.Error("demo webhook", "topic", topic, "err", err)
		return
	}
	id := fmt.Sprintf("demo-%d", s.id())
	times := 1
	if s.chance(0.05) {
		times = 2
	}
	for i := 0; i < times; i++ {
		if i > 0 {
			s.repeated.Add(1)
		}
		if err := s.post(ctx, topic, id, raw); err != nil {
			if ctx.Err() == nil {
				s.refused.Add(1)
				s.log.Warn("demo webhook refused", "topic", topic, "err", err)
			}
			return
		}
		s.webhooks.Add(1)
	}
}

func (s *Simulator) post(ctx context.Context, topic, id string, raw []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.opts.Target, "/")+"/webhooks/shopify", bytes.NewReader(raw))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(s.opts.Secret))
	mac.Write(raw)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("X-Shopify-Topic", topic)
	h.Set("X-Shopify-Shop-Domain", s.opts.Domain)
	h.Set("X-Shopify-Webhook-Id", id)
	h.Set("X-Shopify-Event-Id", id)
	h.Set("X-Shopify-Triggered-At", time.Now().UTC().Format(time.RFC3339Nano))
	h.Set("X-Shopify-API-Version", "2026-04")
	h.Set("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := s.opts.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}
