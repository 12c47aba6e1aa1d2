package store

import (
	"context"
	"errors"
	"time"
)

// ErrShopExists means a shop of that id, or a shop of the same platform
// with the same domain, exists already.
var ErrShopExists = errors.New("shop exists")

// ShopRecord is a shop's configuration as stored: the configuration
// without its secrets, and the secrets sealed (package shop makes both).
type ShopRecord struct {
	ID       string
	Platform string
	// Domain is how webhooks name the shop; unique per platform when set.
	Domain    string
	Config    []byte // JSON, secrets blanked
	Sealed    []byte // the secrets, sealed
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Shops keeps the shops' configurations.
type Shops interface {
	// PutShop stores a shop: a new one when create, else it replaces the
	// stored one (ErrNotFound when there is none). A clash of id (on
	// create) or of platform and domain is ErrShopExists.
	PutShop(ctx context.Context, s ShopRecord, create bool) error
	GetShop(ctx context.Context, id string) (ShopRecord, error)
	// ShopByDomain finds the shop a platform's webhook names.
	ShopByDomain(ctx context.Context, platform, domain string) (ShopRecord, error)
	// ListShops returns every shop by id.
	ListShops(ctx context.Context) ([]ShopRecord, error)
	// DeleteShop removes a shop (ErrNotFound when there is none).
	DeleteShop(ctx context.Context, id string) error
}
