package sending_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// The recording twin of a pretest and the local runner see the same rules
// as the live connectors in the durable runtime: what is suppressed never
// reaches the twin, and what is held reaches it when the hold ends, with
// time jumping there.
func TestARecordingTwinOnTheLocalRunnerSeesTheSameRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	sh := &shop.Shop{ID: "acme", Platform: shop.Shopify, Domain: "acme.myshopify.com", Currency: "EUR", Country: "DE", TimeZone: "Europe/Berlin",
		Webhooks: shop.Webhooks{Secret: "s"}}
	sh.Normalize()
	shops := shopconfig.Fixed(map[string]*shop.Shop{"acme": sh})
	evening := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC) // 22:30 in Berlin
	vc := clock.NewVirtual(evening)

	// The pretest's fictitious customers: consents in the log.
	for i, c := range []struct{ channel, address string }{{"email", "ada@example.com"}, {"sms", "+4915198765432"}} {
		customer := map[string]any{"email": c.address}
		if c.channel == "sms" {
			customer = map[string]any{"phone": c.address}
		}
		e, err := commerce.NewEvent("commerce.consent.changed", "consent/"+c.address, c.address, map[string]any{"shop": "acme",
			"occurredAt": commerce.Timestamp(evening.Add(-time.Hour)), "customer": customer, "channel": c.channel, "state": "subscribed"})
		require.NoError(t, err)
		e.Source = "pretest"
		env, err := e.Envelope()
		require.NoError(t, err)
		_, err = st.AppendEvents(ctx, []store.Event{{ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time, Envelope: env, ReceivedAt: evening.Add(time.Duration(i))}})
		require.NoError(t, err)
	}

	var input any
	facts := &sending.Facts{Store: st}
	rules := &sending.Rules{Log: st, Shops: shops, Consents: facts, Conversions: facts, Clock: vc,
		Origins: sending.OriginFunc(func(context.Context, string) (sending.Origin, error) {
			return sending.Origin{Workflow: "shop/pretest:1.0.0", Checkout: sending.CheckoutOf(input)}, nil
		})}
	rec := recording.New()
	twin := rec.Twin(catalog.Default(catalog.Options{Shops: shops, Sending: rules}))

	wf, err := dsl.LoadWith("pretest.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: pretest
  version: '1.0.0'
do:
  - mail:
      call: email.send
      with: { shop: acme, to: "${ .email }", category: marketing, subject: Sale, text: Sale }
  - again:
      call: email.send
      with: { shop: acme, to: "${ $workflow.input.email }", category: marketing, subject: Sale, text: Sale }
  - stranger:
      call: email.send
      with: { shop: acme, to: bob@example.com, category: marketing, subject: Sale, text: Sale }
  - text:
      call: sms.send
      with: { shop: acme, to: "+4915198765432", category: marketing, text: Sale }
      export:
        as: '${ $context + {text: .} }'
  - outputs:
      set:
        context: ${ $context }
`), dsl.Options{Builtins: twin})
	require.NoError(t, err)
	eng := engine.New(vc)
	eng.Builtins = twin
	input = map[string]any{"email": "ada@example.com"}
	res, err := (&engine.Local{Engine: eng, Connectors: twin, Virtual: vc}).Run(ctx, wf, input)
	require.NoError(t, err)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%+v", res.Instance.Error)

	var got []string
	for _, c := range rec.Calls() {
		got = append(got, c.Task)
	}
	require.Equal(t, []string{"/do/0/mail", "/do/3/text"}, got, "the twin got what the rules let through")
	calls := rec.Calls("sms.send")
	require.Equal(t, time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC), calls[0].At, "the SMS was held until 08:00 in Berlin")

	var reasons []string
	for _, h := range res.History {
		if h.Type == sending.NoteSuppressed {
			b, _ := json.Marshal(h.Detail)
			var d map[string]any
			require.NoError(t, json.Unmarshal(b, &d))
			reasons = append(reasons, h.Task+" "+d["reason"].(string))
		}
	}
	require.Equal(t, []string{"/do/1/again smart-sending", "/do/2/stranger no-consent"}, reasons)
	log, err := st.ListMessages(ctx, store.MessageQuery{Shop: "acme"})
	require.NoError(t, err)
	require.Len(t, log, 4)
	require.Equal(t, "shop/pretest:1.0.0", log[0].Workflow)
}
