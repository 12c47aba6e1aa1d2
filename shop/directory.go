package shop

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/store"
)

// ErrInvalid wraps the problems Validate found.
type ErrInvalid struct{ Problems []string }

func (e *ErrInvalid) Error() string {
	return "invalid shop: " + strings.Join(e.Problems, "; ")
}

// cacheFor is how long a node trusts its copy of a shop: another node's
// change shows within it.
const cacheFor = 5 * time.Second

// Directory keeps the shops: it validates them, seals their secrets into
// the store and opens them again, and caches shops briefly for the
// webhook path.
type Directory struct {
	st  store.Shops
	key *secret.Key
	now func() time.Time

	mu    sync.Mutex
	cache map[string]cached // by id, and by "platform\x00domain"
	// exposed is what WorkflowSecrets last returned, and when.
	exposed   map[string]any
	exposedAt time.Time
}

type cached struct {
	shop *Shop
	at   time.Time
}

// NewDirectory returns a directory over a store, sealing with key.
func NewDirectory(st store.Shops, key *secret.Key) *Directory {
	return &Directory{st: st, key: key, now: time.Now, cache: map[string]cached{}}
}

// Add creates a shop. It fails with *ErrInvalid, or store.ErrShopExists
// when the id or the platform's domain is taken.
func (d *Directory) Add(ctx context.Context, s Shop) (*Shop, error) {
	s.Normalize()
	if errs := s.Validate(); len(errs) > 0 {
		return nil, &ErrInvalid{Problems: errs}
	}
	now := d.now().UTC()
	s.CreatedAt, s.UpdatedAt = now, now
	rec, err := d.seal(s)
	if err != nil {
		return nil, err
	}
	if err := d.st.PutShop(ctx, rec, true); err != nil {
		return nil, err
	}
	d.forget()
	return &s, nil
}

// Update replaces a shop's configuration. Secrets left empty keep their
// stored values, so that a change of time zone need not repeat them; a new
// webhook secret keeps the old one acceptable for RotationGrace.
func (d *Directory) Update(ctx context.Context, s Shop) (*Shop, error) {
	old, err := d.get(ctx, s.ID)
	if err != nil {
		return nil, err
	}
	s.Normalize()
	keepSecrets(&s, old)
	if s.Webhooks.Secret != old.Webhooks.Secret && s.Webhooks.PreviousSecret == "" {
		s.Webhooks.PreviousSecret = old.Webhooks.Secret
		s.Webhooks.PreviousUntil = d.now().UTC().Add(RotationGrace)
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, &ErrInvalid{Problems: errs}
	}
	s.CreatedAt, s.UpdatedAt = old.CreatedAt, d.now().UTC()
	rec, err := d.seal(s)
	if err != nil {
		return nil, err
	}
	if err := d.st.PutShop(ctx, rec, false); err != nil {
		return nil, err
	}
	d.forget()
	return &s, nil
}

// keepSecrets fills the secrets s leaves empty from old.
func keepSecrets(s *Shop, old *Shop) {
	prev := old.clone()
	mine, theirs := s.secretFields(), prev.secretFields()
	for name, p := range mine {
		if *p == "" && name != "webhooks.previousSecret" {
			if q, ok := theirs[name]; ok {
				*p = *q
			}
		}
	}
	if s.Webhooks.PreviousSecret == "" && s.Webhooks.Secret == prev.Webhooks.Secret {
		s.Webhooks.PreviousSecret, s.Webhooks.PreviousUntil = prev.Webhooks.PreviousSecret, prev.Webhooks.PreviousUntil
	}
	if s.Secrets == nil {
		s.Secrets = prev.Secrets
	}
}

// Remove deletes a shop.
func (d *Directory) Remove(ctx context.Context, id string) error {
	if err := d.st.DeleteShop(ctx, id); err != nil {
		return err
	}
	d.forget()
	return nil
}

// Get returns a shop with its secrets.
func (d *Directory) Get(ctx context.Context, id string) (*Shop, error) {
	if s := d.cached(id); s != nil {
		return s, nil
	}
	s, err := d.get(ctx, id)
	if err != nil {
		return nil, err
	}
	d.remember(id, s)
	return s, nil
}

// ByDomain returns the shop of a platform that a webhook names.
func (d *Directory) ByDomain(ctx context.Context, platform, domain string) (*Shop, error) {
	domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	key := platform + "\x00" + domain
	if s := d.cached(key); s != nil {
		return s, nil
	}
	rec, err := d.st.ShopByDomain(ctx, platform, domain)
	if err != nil {
		return nil, err
	}
	s, err := d.open(rec)
	if err != nil {
		return nil, err
	}
	d.remember(key, s)
	return s, nil
}

// List returns every shop, with secrets.
func (d *Directory) List(ctx context.Context) ([]*Shop, error) {
	recs, err := d.st.ListShops(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Shop, 0, len(recs))
	for _, r := range recs {
		s, err := d.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// WorkflowSecrets is what workflows read of the shops as
// $secrets.shops.<id>: the Admin API credentials and the shop's named
// secrets. Webhook and channel secrets stay with storeflow.
func (d *Directory) WorkflowSecrets(ctx context.Context) (map[string]any, error) {
	d.mu.Lock()
	if d.exposed != nil && d.now().Sub(d.exposedAt) <= cacheFor {
		defer d.mu.Unlock()
		return d.exposed, nil
	}
	d.mu.Unlock()
	shops, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, s := range shops {
		m := map[string]any{}
		if a := s.Admin; a != nil {
			admin := map[string]any{"url": a.URL}
			for k, v := range map[string]string{"accessToken": a.AccessToken, "consumerKey": a.ConsumerKey, "consumerSecret": a.ConsumerSecret} {
				if v != "" {
					admin[k] = v
				}
			}
			m["admin"] = admin
		}
		for k, v := range s.Secrets {
			m[k] = v
		}
		out[s.ID] = m
	}
	d.mu.Lock()
	d.exposed, d.exposedAt = out, d.now()
	d.mu.Unlock()
	return out, nil
}

func (d *Directory) get(ctx context.Context, id string) (*Shop, error) {
	rec, err := d.st.GetShop(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.open(rec)
}

// sealedSecrets is the sealed part of a shop.
type sealedSecrets struct {
	Fields map[string]string `json:"fields,omitempty"`
	Named  map[string]string `json:"named,omitempty"`
}

func (d *Directory) seal(s Shop) (store.ShopRecord, error) {
	c := s.clone()
	var sec sealedSecrets
	for name, p := range c.secretFields() {
		if *p != "" {
			if sec.Fields == nil {
				sec.Fields = map[string]string{}
			}
			sec.Fields[name] = *p
			*p = ""
		}
	}
	sec.Named, c.Secrets = c.Secrets, nil
	config, err := json.Marshal(c)
	if err != nil {
		return store.ShopRecord{}, err
	}
	plain, err := json.Marshal(sec)
	if err != nil {
		return store.ShopRecord{}, err
	}
	sealed, err := d.key.Seal(plain, aad(s.ID))
	if err != nil {
		return store.ShopRecord{}, fmt.Errorf("seal secrets of shop %s: %w", s.ID, err)
	}
	return store.ShopRecord{ID: s.ID, Platform: s.Platform, Domain: s.Domain, Config: config, Sealed: sealed, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}, nil
}

func (d *Directory) open(rec store.ShopRecord) (*Shop, error) {
	var s Shop
	if err := json.Unmarshal(rec.Config, &s); err != nil {
		return nil, fmt.Errorf("read shop %s: %w", rec.ID, err)
	}
	plain, err := d.key.Open(rec.Sealed, aad(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("open the secrets of shop %s: %w", rec.ID, err)
	}
	var sec sealedSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return nil, fmt.Errorf("read the secrets of shop %s: %w", rec.ID, err)
	}
	for name, p := range s.secretFields() {
		if v, ok := sec.Fields[name]; ok {
			*p = v
		}
	}
	s.Secrets = sec.Named
	return &s, nil
}

func aad(id string) []byte { return []byte("storeflow shop " + id) }

func (d *Directory) cached(key string) *Shop {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cache[key]
	if !ok || d.now().Sub(c.at) > cacheFor {
		return nil
	}
	return c.shop
}

func (d *Directory) remember(key string, s *Shop) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cache[key] = cached{shop: s, at: d.now()}
}

func (d *Directory) forget() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.cache)
	d.exposed = nil
}
