package commerce_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
)

func TestNewEventAndEnvelope(t *testing.T) {
	t.Parallel()
	e, err := commerce.NewEvent("commerce.order.paid", "order/1/paid", "1", commerce.Data{
		Shop: "acme.myshopify.com", OccurredAt: "2026-04-01T12:30:00Z", OrderID: "1", Currency: "EUR", TotalPrice: "9.90",
	})
	require.NoError(t, err)
	require.Equal(t, "acme.myshopify.com", e.Shop)
	require.Equal(t, time.Date(2026, 4, 1, 12, 30, 0, 0, time.UTC), e.Time)
	e.Source = commerce.Source("shopify", e.Shop)
	e.Extensions = map[string]string{"shopifywebhookid": "w-1"}
	e.Ordering = commerce.Ordering{Key: "order/1", At: time.Date(2026, 4, 1, 12, 30, 1, 0, time.UTC)}
	env, err := e.Envelope()
	require.NoError(t, err)
	require.JSONEq(t, `{
		"specversion": "1.0", "id": "order/1/paid", "source": "shopify://acme.myshopify.com", "type": "commerce.order.paid",
		"subject": "1", "time": "2026-04-01T12:30:00Z", "datacontenttype": "application/json",
		"shop": "acme.myshopify.com", "orderingkey": "order/1", "orderingtime": "2026-04-01T12:30:01Z", "shopifywebhookid": "w-1",
		"data": {"shop": "acme.myshopify.com", "occurredAt": "2026-04-01T12:30:00Z", "orderId": "1", "currency": "EUR", "totalPrice": "9.90"}
	}`, string(env))

	_, err = commerce.NewEvent("commerce.order.paid", "x", "1", commerce.Data{Shop: "s", OccurredAt: "2026-04-01T12:30:00Z"})
	var se *commerce.SchemaError
	require.ErrorAs(t, err, &se, "data is validated on the way in")
}

func TestEnvelopeRefusesWhatIsNotACloudEvent(t *testing.T) {
	t.Parallel()
	ok := commerce.Event{ID: "1", Source: "s://x", Type: "shopify.orders/delete", Data: json.RawMessage(`{"id":1}`)}
	_, err := ok.Envelope()
	require.NoError(t, err)
	for name, e := range map[string]commerce.Event{
		"no id":             {Source: "s://x", Type: "t"},
		"bad extension":     {ID: "1", Source: "s://x", Type: "t", Extensions: map[string]string{"X-Shopify-Topic": "a"}},
		"reserved":          {ID: "1", Source: "s://x", Type: "t", Extensions: map[string]string{"subject": "a"}},
		"data that is text": {ID: "1", Source: "s://x", Type: "t", Data: json.RawMessage(`webhook_id=1`)},
	} {
		_, err := e.Envelope()
		require.Error(t, err, name)
	}
}

func TestOrderingSupersedes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	older := commerce.Ordering{Key: "order/1", At: t0}
	newer := commerce.Ordering{Key: "order/1", At: t0.Add(time.Second)}
	require.True(t, newer.Supersedes(older))
	require.False(t, older.Supersedes(newer))
	require.False(t, older.Supersedes(older), "a repeat replaces nothing")
	require.False(t, commerce.Ordering{Key: "order/2", At: t0.Add(time.Hour)}.Supersedes(older), "other resources never")
	require.False(t, commerce.Ordering{At: t0.Add(time.Hour)}.Supersedes(commerce.Ordering{At: t0}), "no key, no order")
}

func TestUnmappableError(t *testing.T) {
	t.Parallel()
	err := commerce.Unmappable("shopify", "orders/create", "the order has no %s", "id")
	require.ErrorIs(t, err, commerce.ErrUnmappable)
	require.EqualError(t, err, "shopify webhook orders/create cannot be mapped: the order has no id")
}
