package pretest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/pretest"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

var liveStart = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// liveEvent is an event the live storeflow received, at an offset.
type liveEvent struct {
	at   time.Duration
	typ  string
	id   string
	data map[string]any
}

// recordLive runs the published example workflow as storeflow serve
// would (sending rules, recording connectors, a virtual clock) over
// events, and leaves its store behind: the live store a replay reads.
func recordLive(t *testing.T, events []liveEvent, end time.Duration) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "live.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	key, _, err := secret.GenerateKey()
	require.NoError(t, err)
	shops := shop.NewDirectory(st, key)
	_, err = shops.Add(ctx, shop.Shop{ID: "acme", Platform: shop.Shopify, Domain: "acme.myshopify.com", Currency: "EUR", Webhooks: shop.Webhooks{Secret: "s3cret"}})
	require.NoError(t, err)
	vc := clock.NewVirtual(liveStart.Add(-60 * 24 * time.Hour))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	facts := &sending.Facts{Store: st, Logger: logger}
	rules := &sending.Rules{Log: st, Shops: shops.Get, Consents: facts, Conversions: facts, Origins: sending.StoreOrigins{Instances: st}, Clock: vc, Logger: logger}
	twin := recording.New().Twin(catalog.Default(catalog.Options{Logger: logger, Shops: shops.Get, Sending: rules}))
	rt := runtime.New(runtime.Options{Store: st, Clock: vc, Connectors: twin, Logger: logger, Shards: 4})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rt.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()
	src, err := os.ReadFile("../examples/abandoned-checkout.yaml")
	require.NoError(t, err)
	_, _, err = rt.Publish(ctx, "abandoned-checkout.yaml", src)
	require.NoError(t, err)

	settle := func() {
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		require.NoError(t, rt.Settle(sctx))
	}
	jump := func(to time.Time) {
		for {
			settle()
			next, ok, err := rt.NextDue(ctx)
			require.NoError(t, err)
			if !ok || next.After(to) {
				vc.Set(to)
				settle()
				return
			}
			vc.Set(next)
		}
	}
	for _, e := range events {
		jump(liveStart.Add(e.at))
		e.data["shop"] = "acme"
		e.data["occurredAt"] = vc.Now().Format(time.RFC3339)
		env, err := json.Marshal(map[string]any{"specversion": "1.0", "id": e.id, "source": "shopify://acme.myshopify.com", "type": e.typ, "data": e.data})
		require.NoError(t, err)
		_, err = rt.Ingest(ctx, []store.Event{{ID: e.id, Source: "shopify://acme.myshopify.com", Type: e.typ, Envelope: env, Time: vc.Now(), ReceivedAt: vc.Now()}})
		require.NoError(t, err)
	}
	jump(liveStart.Add(end))
	return st
}

func TestReplayShowsWhatTheChangeWouldSendBesideWhatLiveSent(t *testing.T) {
	t.Parallel()
	ada := map[string]any{"email": "ada@example.com"}
	bob := map[string]any{"email": "bob@example.com"}
	cy := map[string]any{"email": "cy@example.com"}
	consent := func(c map[string]any) map[string]any {
		return map[string]any{"customer": c, "channel": "email", "state": "subscribed"}
	}
	live := recordLive(t, []liveEvent{
		// Before the window: consent, which the shadow must know of.
		{-30 * 24 * time.Hour, "commerce.consent.changed", "consent-ada", consent(ada)},
		{-30 * 24 * time.Hour, "commerce.consent.changed", "consent-cy", consent(cy)},
		// In the window.
		{0, "commerce.checkout.started", "checkout-1", map[string]any{"checkoutToken": "t1", "customer": ada}},
		{90 * time.Minute, "commerce.order.placed", "order-1", map[string]any{"orderId": "o1", "checkoutToken": "t1", "customer": ada}},
		{time.Hour, "commerce.checkout.started", "checkout-2", map[string]any{"checkoutToken": "t2", "customer": bob}},
		{2 * time.Hour, "commerce.checkout.started", "checkout-3", map[string]any{"checkoutToken": "t3", "customer": cy}},
	}, 3*24*time.Hour)

	rep, err := pretest.Replay(context.Background(), pretest.ReplayOptions{Live: live, Workflow: "testdata/replay/abandoned-checkout.yaml",
		Since: liveStart.Add(-time.Minute), Until: liveStart.Add(3 * 24 * time.Hour), Sample: 1})
	require.NoError(t, err)
	require.Empty(t, rep.Failures)
	require.Equal(t, "shop/abandoned-checkout:1.1.0", rep.Workflow)
	require.Equal(t, 4, rep.Events)
	require.Equal(t, 2, rep.History)
	require.Equal(t, 3, rep.Triggers)
	require.Equal(t, 3, rep.Sampled)
	require.Len(t, rep.Cases, 3)
	byEvent := map[string]pretest.ReplayCase{}
	for _, c := range rep.Cases {
		byEvent[c.Event] = c
	}
	msg := func(call, after, to, template, status, reason string) pretest.ReplayMessage {
		return pretest.ReplayMessage{Call: call, After: after, To: to, Template: template, Status: status, Reason: reason}
	}

	// Ada ordered after 90 minutes: live reminded her at one hour, the
	// change (two hours) would not have.
	c := byEvent["shopify://acme.myshopify.com checkout-1"]
	require.Empty(t, c.Would)
	require.Equal(t, []pretest.ReplayMessage{msg("email.send", "PT1H", "ada@example.com", "cart-reminder-1", "sent", "")}, c.Live)
	require.Equal(t, "completed", c.ShadowStatus)
	require.Equal(t, "1.0.0", c.LiveInstance.Version)

	// Bob gave no consent: both suppress.
	c = byEvent["shopify://acme.myshopify.com checkout-2"]
	require.Equal(t, []pretest.ReplayMessage{
		msg("email.send", "PT2H", "bob@example.com", "", "suppressed", "no-consent"),
		msg("email.send", "P1DT2H", "bob@example.com", "", "suppressed", "no-consent"),
	}, c.Would)
	require.Len(t, c.Live, 2)
	require.Equal(t, "suppressed", c.Live[0].Status)

	// Cy never ordered: the change reminds later, with its own template.
	c = byEvent["shopify://acme.myshopify.com checkout-3"]
	require.Equal(t, []pretest.ReplayMessage{
		msg("email.send", "PT2H", "cy@example.com", "cart-reminder-1b", "sent", ""),
		msg("email.send", "P1DT2H", "cy@example.com", "cart-reminder-2", "sent", ""),
	}, c.Would)
	require.Equal(t, []pretest.ReplayMessage{
		msg("email.send", "PT1H", "cy@example.com", "cart-reminder-1", "sent", ""),
		msg("email.send", "P1DT1H", "cy@example.com", "cart-reminder-2", "sent", ""),
	}, c.Live)

	require.Equal(t, map[string]int{"email.send": 2}, rep.WouldSend)
	require.Equal(t, map[string]int{"email.send": 2}, rep.WouldSuppress)
	require.Equal(t, map[string]int{"email.send": 3}, rep.LiveSent)
	require.Equal(t, map[string]int{"email.send": 2}, rep.LiveSuppressed)

	// A sample takes the same events every time.
	half, err := pretest.Replay(context.Background(), pretest.ReplayOptions{Live: live, Workflow: "testdata/replay/abandoned-checkout.yaml",
		Since: liveStart.Add(-time.Minute), Until: liveStart.Add(3 * 24 * time.Hour), Sample: 0.5})
	require.NoError(t, err)
	again, err := pretest.Replay(context.Background(), pretest.ReplayOptions{Live: live, Workflow: "testdata/replay/abandoned-checkout.yaml",
		Since: liveStart.Add(-time.Minute), Until: liveStart.Add(3 * 24 * time.Hour), Sample: 0.5})
	require.NoError(t, err)
	require.Equal(t, half.Sampled, again.Sampled)
	require.Less(t, half.Sampled, 3)
	require.Equal(t, 3, half.Triggers)
}
