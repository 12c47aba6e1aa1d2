// Package shopconfig finds the configuration of the shop a connector's
// call is for (the shop's channels: email, SMS, Slack) and turns a failed
// lookup into the problem the workflow sees.
package shopconfig

import (
	"context"
	"errors"
	"fmt"

	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Func returns a shop's configuration with its secrets: what
// shop.Directory's Get does.
type Func func(ctx context.Context, id string) (*shop.Shop, error)

// Lookup returns the shop a call of function names, or nil when it names
// none or there is no Func. An unknown shop is a configuration problem,
// a store that cannot answer a transient one (503).
func Lookup(ctx context.Context, get Func, function, id string) (*shop.Shop, error) {
	if get == nil || id == "" {
		return nil, nil
	}
	s, err := get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Unknown Shop",
			"%s: shop %q is not configured in this storeflow; add it (storeflow shop add) or check the call's shop", function, id)
	case err != nil:
		return nil, problem.Newf(problem.TypeRuntime, 503, "Shops Unavailable", "%s: shop %q: %v", function, id, err)
	}
	return s, nil
}

// Fixed is a Func over a fixed set of shops by id (shops given in a
// configuration file, tests).
func Fixed(shops map[string]*shop.Shop) Func {
	return func(_ context.Context, id string) (*shop.Shop, error) {
		if s, ok := shops[id]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("shop %q: %w", id, store.ErrNotFound)
	}
}
