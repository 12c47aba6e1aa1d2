package sending

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func TestCheckoutOfAnInstancesInput(t *testing.T) {
	t.Parallel()
	data := map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z", "checkoutToken": "tok1",
		"customer": map[string]any{"id": float64(7064055069), "email": "ada@example.com", "phone": "+4915123456789"}}
	want := &Checkout{Shop: "acme", Token: "tok1", CustomerID: "7064055069", Email: "ada@example.com", Phone: "+4915123456789",
		OccurredAt: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	envelope := map[string]any{"specversion": "1.0", "id": "c1", "type": "commerce.checkout.started", "time": "2026-12-04T09:00:05Z", "data": data}
	for _, tc := range []struct {
		name  string
		input any
		want  *Checkout
	}{
		{"whole events (the default read)", []any{envelope}, want},
		{"their data (read: data)", []any{data}, want},
		{"one event", envelope, want},
		{"the checkout among the events of an all", []any{map[string]any{"type": "commerce.customer.created", "data": map[string]any{"shop": "acme"}}, envelope}, want},
		{"an order is no checkout", []any{map[string]any{"type": "commerce.order.placed", "data": data}}, nil},
		{"order data is no checkout", []any{map[string]any{"orderId": "1", "checkoutToken": "tok1"}}, nil},
		{"no token", []any{map[string]any{"type": "commerce.checkout.started", "data": map[string]any{"shop": "acme"}}}, nil},
		{"a plain input", map[string]any{"cart": "c-1"}, nil},
		{"nothing", nil, nil},
	} {
		require.Equal(t, tc.want, CheckoutOf(tc.input), tc.name)
	}
	noTime := map[string]any{"type": "commerce.checkout.updated", "time": "2026-12-04T09:00:05Z", "data": map[string]any{"checkoutToken": "t"}}
	require.Equal(t, time.Date(2026, 12, 4, 9, 0, 5, 0, time.UTC), CheckoutOf(noTime).OccurredAt, "the event's time when its data has none")
}

func TestFactsOfEvents(t *testing.T) {
	t.Parallel()
	ev := func(typ string, data map[string]any) store.Event {
		b, err := json.Marshal(map[string]any{"type": typ, "time": "2026-12-04T10:00:00Z", "data": data})
		require.NoError(t, err)
		return store.Event{Seq: 42, Type: typ, Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Envelope: b}
	}
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ev   store.Event
		want []store.ContactFact
	}{
		{"email consent", ev("commerce.consent.changed", map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z",
			"customer": map[string]any{"id": "1", "email": "Ada@Example.com"}, "channel": "email", "state": "unsubscribed"}),
			[]store.ContactFact{{Shop: "acme", Key: "email:ada@example.com", Kind: store.FactConsent, Seq: 42, OccurredAt: at, Channel: "email", State: "unsubscribed"}}},
		{"sms consent", ev("commerce.consent.changed", map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z",
			"customer": map[string]any{"phone": "+4915123456789", "email": "ada@example.com"}, "channel": "sms", "state": "subscribed"}),
			[]store.ContactFact{{Shop: "acme", Key: "phone:+4915123456789", Kind: store.FactConsent, Seq: 42, OccurredAt: at, Channel: "sms", State: "subscribed"}}},
		{"a channel without its address", ev("commerce.consent.changed", map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z",
			"customer": map[string]any{"email": "ada@example.com"}, "channel": "sms", "state": "subscribed"}), nil},
		{"whatsapp", ev("commerce.consent.changed", map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z",
			"customer": map[string]any{"phone": "+4915123456789"}, "channel": "whatsapp", "state": "subscribed"}), nil},
		{"an order under every key", ev("commerce.order.placed", map[string]any{"shop": "acme", "occurredAt": "2026-12-04T09:00:00Z", "orderId": "9",
			"checkoutToken": "tok1", "customer": map[string]any{"id": "1", "email": "ada@example.com", "phone": "+4915123456789"}}),
			[]store.ContactFact{
				{Shop: "acme", Key: "customer:1", Kind: store.FactOrder, Seq: 42, OccurredAt: at},
				{Shop: "acme", Key: "email:ada@example.com", Kind: store.FactOrder, Seq: 42, OccurredAt: at},
				{Shop: "acme", Key: "phone:+4915123456789", Kind: store.FactOrder, Seq: 42, OccurredAt: at},
				{Shop: "acme", Key: "checkout:tok1", Kind: store.FactOrder, Seq: 42, OccurredAt: at},
			}},
		{"an order without occurredAt is dated by the event", ev("commerce.order.paid", map[string]any{"shop": "acme", "orderId": "9",
			"customer": map[string]any{"id": "1"}}),
			[]store.ContactFact{{Shop: "acme", Key: "customer:1", Kind: store.FactOrder, Seq: 42, OccurredAt: at.Add(time.Hour)}}},
	} {
		got, err := FactsOf(tc.ev)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	_, err := FactsOf(ev("commerce.order.placed", map[string]any{"orderId": "9"}))
	require.ErrorContains(t, err, "no shop")
	_, err = FactsOf(store.Event{Envelope: []byte("not json")})
	require.Error(t, err)
}

func TestShopOfAnInstancesInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		input any
		want  string
	}{
		{"the data's shop", []any{map[string]any{"type": "commerce.order.paid", "shop": "attr", "data": map[string]any{"shop": "acme"}}}, "acme"},
		{"the shop attribute", []any{map[string]any{"type": "custom", "shop": " acme ", "data": map[string]any{"x": 1}}}, "acme"},
		{"data alone (read: data)", []any{map[string]any{"shop": "acme", "orderId": "1"}}, "acme"},
		{"the first event that names one", []any{map[string]any{"data": map[string]any{}}, map[string]any{"data": map[string]any{"shop": "b"}}}, "b"},
		{"none", map[string]any{"email": "ada@example.com"}, ""},
		{"nothing", nil, ""},
	} {
		require.Equal(t, tc.want, ShopOf(tc.input), tc.name)
	}
}
