package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storeflow/storeflow/store"
)

const shopColumns = `id, platform, domain, config, sealed, created_at, updated_at`

// PutShop creates or replaces a shop.
func (s *Store) PutShop(ctx context.Context, r store.ShopRecord, create bool) error {
	var tag pgconn.CommandTag
	var err error
	if create {
		tag, err = s.pool.Exec(ctx, `INSERT INTO shops (`+shopColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ID, r.Platform, r.Domain, r.Config, r.Sealed, nanos(r.CreatedAt), nanos(r.UpdatedAt))
	} else {
		tag, err = s.pool.Exec(ctx, `UPDATE shops SET platform = $1, domain = $2, config = $3, sealed = $4, updated_at = $5 WHERE id = $6`,
			r.Platform, r.Domain, r.Config, r.Sealed, nanos(r.UpdatedAt), r.ID)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("shop %s (%s %s): %w", r.ID, r.Platform, r.Domain, store.ErrShopExists)
	}
	if err != nil {
		return fmt.Errorf("store shop %s: %w", r.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("shop %s: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

func scanShop(row pgx.Row) (store.ShopRecord, error) {
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
	r, err := scanShop(s.pool.QueryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("shop %s: %w", id, store.ErrNotFound)
	}
	return r, err
}

// ShopByDomain returns the shop a platform's webhook names.
func (s *Store) ShopByDomain(ctx context.Context, platform, domain string) (store.ShopRecord, error) {
	r, err := scanShop(s.pool.QueryRow(ctx, `SELECT `+shopColumns+` FROM shops WHERE platform = $1 AND domain = $2 AND domain <> ''`, platform, domain))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("%s shop %s: %w", platform, domain, store.ErrNotFound)
	}
	return r, err
}

// ListShops returns every shop by id.
func (s *Store) ListShops(ctx context.Context) ([]store.ShopRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+shopColumns+` FROM shops ORDER BY id`)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM shops WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("shop %s: %w", id, store.ErrNotFound)
	}
	return nil
}
