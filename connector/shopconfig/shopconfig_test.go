package shopconfig_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	acme := &shop.Shop{ID: "acme", Country: "DE"}
	get := shopconfig.Fixed(map[string]*shop.Shop{"acme": acme})

	s, err := shopconfig.Lookup(ctx, get, "email.send", "acme")
	require.NoError(t, err)
	require.Same(t, acme, s)

	s, err = shopconfig.Lookup(ctx, get, "email.send", "")
	require.NoError(t, err)
	require.Nil(t, s, "a call that names no shop has none")
	s, err = shopconfig.Lookup(ctx, nil, "email.send", "acme")
	require.NoError(t, err)
	require.Nil(t, s, "without a directory there are no shops to read")

	_, err = shopconfig.Lookup(ctx, get, "email.send", "other")
	problemtest.Require(t, err, problem.TypeConfiguration, 500, "email.send", `shop "other"`, "storeflow shop add")

	down := func(context.Context, string) (*shop.Shop, error) { return nil, errors.New("database is locked") }
	_, err = shopconfig.Lookup(ctx, down, "sms.send", "acme")
	problemtest.Require(t, err, problem.TypeRuntime, 503, "database is locked")
}
