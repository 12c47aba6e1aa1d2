package shopadmin_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector/shopadmin"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

const thanksFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: thanks
  version: '1.0.0'
do:
  - discount:
      call: shop.discount.create:1.0.0@default
      with:
        shop: ${ .shop }
        percent: 10
        expiresIn: P14D
        prefix: THANKS-
        customer: ${ .customer }
      export:
        as: '${ {code: .code} }'
  - tag:
      call: shop.customer.tag
      with:
        shop: ${ $workflow.input.shop }
        customer: ${ $workflow.input.customer }
        tags: [thanked]
  - note:
      call: shop.order.note
      with:
        shop: ${ $workflow.input.shop }
        orderId: ${ $workflow.input.orderId }
        note: ${ "Thanked with the code " + $context.code }
`

// A workflow's calls go through the durable runtime to the shop's Admin
// API, each with its call's idempotency key.
func TestWorkflowCallsTheShop(t *testing.T) {
	t.Parallel()
	f := startShopify(t)
	f.addCustomer("207119551", "ada@example.com")
	f.addOrder("450789469", "")
	shops := shopconfig.Fixed(map[string]*shop.Shop{"acme": {ID: "acme", Platform: shop.Shopify, Admin: &shop.Admin{URL: f.URL, AccessToken: shopifyToken}}})
	reg := catalog.Default(catalog.Options{Shops: shops})
	live := &shopadmin.Connector{Shops: shops, HTTP: f.Client()}
	for _, name := range []string{shopadmin.DiscountCreate, shopadmin.CustomerTag, shopadmin.OrderNote} {
		require.NoError(t, reg.Replace(name, live))
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	rt := runtime.New(runtime.Options{Store: st, Connectors: reg, Shards: 2})
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; _ = st.Close() })

	_, _, err = st.PutWorkflow(ctx, store.Workflow{Namespace: "shop", Name: "thanks", Version: "1.0.0", Source: []byte(thanksFlow)})
	require.NoError(t, err)
	require.NoError(t, rt.Reload(ctx))
	id, err := rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "thanks", Version: "1.0.0"},
		map[string]any{"shop": "acme", "orderId": "450789469", "customer": map[string]any{"id": "207119551", "email": "ada@example.com", "firstName": "Ada"}})
	require.NoError(t, err)
	var in *engine.Instance
	require.Eventually(t, func() bool {
		rec, err := st.GetInstance(ctx, id)
		require.NoError(t, err)
		in, err = engine.Unmarshal(rec.State)
		require.NoError(t, err)
		return in.Status.Ended()
	}, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, engine.StatusCompleted, in.Status, "%+v", in.Error)

	require.Equal(t, []string{"discountCodeBasicCreate", "customer", "tagsAdd", "order", "orderUpdate"}, f.roots())
	req := f.got()
	discount := req[0].Variables["discount"].(map[string]any)
	require.Equal(t, shopadmin.DeriveCode("acme", req[0].Idempotency, "THANKS-"), discount["code"], "the code derives from the call's key")
	require.Contains(t, req[0].Idempotency, id, "the runtime's key names the instance")
	require.NotEqual(t, req[0].Idempotency, req[2].Idempotency, "each call has its own key")
	require.Equal(t, req[1].Idempotency, req[2].Idempotency, "a call's requests share its key")
	require.Equal(t, []string{"thanked"}, f.customers["gid://shopify/Customer/207119551"].Tags)
	require.Equal(t, "Thanked with the code "+discount["code"].(string), *f.orders["gid://shopify/Order/450789469"], "the code reaches later tasks")
	require.Equal(t, map[string]any{"customers": map[string]any{"add": []any{"gid://shopify/Customer/207119551"}}}, discount["context"])
}
