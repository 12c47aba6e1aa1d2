package profiles_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/profiles"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// profilesOf returns a directory over a store whose log has a customer
// with two orders, projected.
func profilesOf(t *testing.T) *customer.Directory {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	at := time.Now().Add(-48 * time.Hour)
	for i, data := range []map[string]any{
		{"orderId": "1", "currency": "EUR", "totalPrice": "30.00", "customer": map[string]any{"id": "77", "email": "ada@example.com", "firstName": "Ada"}},
		{"orderId": "2", "currency": "EUR", "totalPrice": "12.00", "customer": map[string]any{"id": "77", "phone": "+4915100000003"}},
	} {
		data["shop"], data["occurredAt"] = "acme", commerce.Timestamp(at.Add(time.Duration(i)*time.Hour))
		e, err := commerce.NewEvent("commerce.order.placed", "o"+data["orderId"].(string), "", data)
		require.NoError(t, err)
		e.Source = "test://acme"
		env, err := e.Envelope()
		require.NoError(t, err)
		_, err = st.AppendEvents(ctx, []store.Event{{ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time, Envelope: env}})
		require.NoError(t, err)
	}
	r, err := follower.New(follower.Options{Store: st, Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, &customer.Projection{})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	head, err := st.LastEventSeq(ctx)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		f, err := st.GetFollower(ctx, customer.Name)
		return err == nil && f.Cursor == head
	}, 30*time.Second, 5*time.Millisecond)
	return &customer.Directory{Store: st}
}

const flow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: greet
  version: '1.0.0'
do:
  - who:
      call: customer.get
      with:
        shop: acme
        email: ${ .email }
  - greet:
      switch:
        - known:
            when: ${ .found }
            then: known
        - guest:
            then: guest
  - known:
      set:
        name: ${ .firstName }
        orders: ${ .metrics.orders }
        spent: ${ .metrics.totalSpent.EUR }
        segments: ${ .segments }
      then: end
  - guest:
      set:
        name: guest
`

func run(t *testing.T, reg *connector.Registry, input map[string]any) *engine.Result {
	t.Helper()
	wf, err := dsl.LoadWith("greet.yaml", []byte(flow), dsl.Options{Builtins: reg})
	require.NoError(t, err)
	vc := clock.NewVirtual(time.Now())
	eng := engine.New(vc)
	eng.Builtins = reg
	res, err := (&engine.Local{Engine: eng, Connectors: reg, Virtual: vc}).Run(context.Background(), wf, input)
	require.NoError(t, err)
	return res
}

func TestCustomerGetInAWorkflow(t *testing.T) {
	t.Parallel()
	reg := catalog.Default(catalog.Options{Customers: profilesOf(t)})
	res := run(t, reg, map[string]any{"email": "ADA@example.com"})
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, map[string]any{"name": "Ada", "orders": float64(2), "spent": "42.00", "segments": []any{"repeat"}}, res.Instance.Output)

	res = run(t, reg, map[string]any{"email": "nobody@example.com"})
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, map[string]any{"name": "guest"}, res.Instance.Output, "an unknown customer is found: false")
}

func TestCustomerGetLooksUpByIDEmailOrPhone(t *testing.T) {
	t.Parallel()
	c := &profiles.Connector{Profiles: profilesOf(t)}
	call := func(args map[string]any) (any, error) {
		return c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: profiles.Name, Args: args})
	}
	var id string
	for _, args := range []map[string]any{
		{"shop": "acme", "id": "77"},
		{"shop": "acme", "email": "ada@example.com"},
		{"shop": "acme", "phone": "+49 151 00000003"},
	} {
		out, err := call(args)
		require.NoError(t, err, args)
		p := out.(map[string]any)
		require.Equal(t, true, p["found"], args)
		if id == "" {
			id = p["id"].(string)
		}
		require.Equal(t, id, p["id"], args)
	}
	out, err := call(map[string]any{"shop": "acme", "id": id})
	require.NoError(t, err)
	require.Equal(t, true, out.(map[string]any)["found"], "the profile's own ID finds it")
	out, err = call(map[string]any{"shop": "other", "id": "77"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"found": false}, out, "within the call's shop only")

	_, err = call(map[string]any{"shop": "acme", "id": "77", "extra": 1})
	require.ErrorContains(t, err, "extra")
	_, err = (&profiles.Connector{}).Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: profiles.Name, Args: map[string]any{"shop": "acme", "id": "1"}})
	require.ErrorContains(t, err, "keeps no customer profiles")
}

func TestCustomerGetArgumentsAreCheckedWhenLoaded(t *testing.T) {
	t.Parallel()
	reg := catalog.Default(catalog.Options{})
	for _, with := range []string{"{shop: acme}", "{email: a@example.com}", "{shop: acme, id: '1', name: Ada}"} {
		src := "document: {dsl: '1.0.3', namespace: shop, name: x, version: '1.0.0'}\ndo:\n  - who:\n      call: customer.get\n      with: " + with + "\n"
		_, err := dsl.LoadWith("x.yaml", []byte(src), dsl.Options{Builtins: reg})
		require.Error(t, err, with)
	}
}

func TestRecordingTwinAnswersCustomerGet(t *testing.T) {
	t.Parallel()
	rec := recording.New()
	rec.Answer(profiles.Name, recording.Answer{Output: map[string]any{"found": true, "firstName": "Fictitious", "metrics": map[string]any{"orders": 9, "totalSpent": map[string]any{"EUR": "1.00"}}, "segments": []any{"vip"}}})
	reg := rec.Twin(catalog.Default(catalog.Options{}))
	res := run(t, reg, map[string]any{"email": "pretest@example.com"})
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, "Fictitious", res.Instance.Output.(map[string]any)["name"])
	calls := rec.Calls(profiles.Name)
	require.Len(t, calls, 1)
	require.Equal(t, map[string]any{"shop": "acme", "email": "pretest@example.com"}, calls[0].Args)
}

func TestCustomerListByTheTimeOfTheLastOrder(t *testing.T) {
	t.Parallel()
	c := &profiles.Connector{Profiles: profilesOf(t)}
	now := time.Now().UTC()
	list := func(args map[string]any) []any {
		t.Helper()
		out, err := c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: profiles.ListName, Args: args, At: now})
		require.NoError(t, err, args)
		return out.(map[string]any)["customers"].([]any)
	}
	// Ada's last order was 47 hours ago.
	for _, tc := range []struct {
		window map[string]any
		found  bool
	}{
		{map[string]any{"ago": "P1D", "within": "P1D"}, true},
		{map[string]any{"ago": "PT47H", "within": "PT1M"}, true},
		{map[string]any{"ago": "PT47H1M", "within": "PT1M"}, false},
		{map[string]any{"ago": "PT46H", "within": "PT1H"}, false},
		{map[string]any{"ago": "P2D", "within": "P1D"}, false},
		{map[string]any{"ago": "P1D", "within": "P1D", "asOf": now.Add(24 * time.Hour).Format(time.RFC3339)}, false},
	} {
		got := list(map[string]any{"shop": "acme", "lastOrder": tc.window})
		require.Equal(t, tc.found, len(got) == 1, "%v", tc.window)
	}
	got := list(map[string]any{"shop": "acme", "segment": "repeat"})
	require.Len(t, got, 1)
	require.Equal(t, "ada@example.com", got[0].(map[string]any)["email"])
	require.NotContains(t, got[0], "totals", "the projection's bookkeeping stays out")
	require.Empty(t, list(map[string]any{"shop": "acme", "subscribed": "email"}), "Ada gave no consent")
	require.Empty(t, list(map[string]any{"shop": "acme", "segment": "lapsed"}))

	_, err := c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: profiles.ListName,
		Args: map[string]any{"shop": "acme", "lastOrder": map[string]any{"ago": "90 days", "within": "P1D"}}})
	require.ErrorContains(t, err, "not an ISO 8601 duration")
}
