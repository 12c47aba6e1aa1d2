package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/storeflow/storeflow/store"
)

const shopColumns = `id, platform, domain, config, sealed, created_at, updated_at`

// PutShop creates or replaces a shop.
func (s *Store) PutShop(ctx context.Context, r store.ShopRecord, create bool) error {
	var res sql.Result
	var err error
	if create {
		res, err = s.w.exec(ctx, `INSERT INTO shops (`+shopColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Platform, r.Domain, r.Config, r.Sealed, nanos(r.CreatedAt), nanos(r.UpdatedAt))
	} else {
		res, err = s.w.exec(ctx, `UPDATE shops SET platform = ?, domain = ?, config = ?, sealed = ?, updated_at = ? WHERE id = ?`,
			r.Platform, r.Domain, r.Config, r.Sealed, nanos(r.UpdatedAt), r.ID)
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("shop %s (%s %s): %w", r.ID, r.Platform, r.Domain, store.ErrShopExists)
	}
	if err != nil {
		return fmt.Errorf("store shop %s: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("shop %s: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

func scanShop(row interface{ Scan(...any) error }) (store.ShopRecord, error) {
	var r store.ShopRecord
	var created, updated int64
	if err := row.Scan(&r.ID, &r.Platform, &r.Domain, &r.Config, &r.Sealed, &created, &updated); err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return r, nil
}

// GetShop returns a shop by id.
func (s *Store) GetShop(ctx context.Context, id string) (store.ShopRecord, error) {
	r, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("shop %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

// ShopByDomain returns the shop a platform's webhook names.
func (s *Store) ShopByDomain(ctx context.Context, platform, domain string) (store.ShopRecord, error) {
	r, err := scanShop(s.read.QueryRowContext(ctx, `SELECT `+shopColumns+` FROM shops WHERE platform = ? AND domain = ? AND domain <> ''`, platform, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%s shop %s: %w", platform, domain, store.ErrNotFound)
	}
	return r, err
}

// ListShops returns every shop by id.
func (s *Store) ListShops(ctx context.Context) ([]store.ShopRecord, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+shopColumns+` FROM shops ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ShopRecord
	for rows.Next() {
		r, err := scanShop(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteShop removes a shop.
func (s *Store) DeleteShop(ctx context.Context, id string) error {
	res, err := s.w.exec(ctx, `DELETE FROM shops WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("shop %s: %w", id, store.ErrNotFound)
	}
	return nil
}
