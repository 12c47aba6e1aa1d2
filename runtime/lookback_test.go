package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// recoveryFlow reminds about a checkout an hour after it started unless
// the order came; it waits for the order correlated by CORRELATION.
const recoveryFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: NAME
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with:
        type: commerce.checkout.started
do:
  - waitAnHour:
      wait: PT1H
  - awaitOrder:
      try:
        - ordered:
            timeout:
              after: P1D
            listen:
              to:
                one:
                  with:
                    type: LISTENED
                  correlate:
                    shop:
                      from: .data.shop
                      expect: ${ .shop }
CORRELATION
            output:
              as: '{outcome: "recovered", order: .[0].orderId}'
      catch:
        errors:
          with:
            type: https://open-workflow-specification.org/spec/1.0.0/errors/timeout
        do:
          - reminded:
              set:
                outcome: reminded
`

const (
	byCheckout = `                    checkout:
                      from: .data.checkoutToken
                      expect: ${ .checkoutToken }`
	byEmail = `                    email:
                      from: .data.customer.email
                      expect: ${ .customer.email }`
)

func recovery(name, listened, correlation string) string {
	return strings.NewReplacer("NAME", name, "LISTENED", listened, "CORRELATION", correlation).Replace(recoveryFlow)
}

// commerceEvent is a canonical commerce event of shop acme that occurred at.
func commerceEvent(typ, id string, at time.Time, data map[string]any) store.Event {
	data["shop"] = "acme"
	data["occurredAt"] = at.Format(time.RFC3339)
	env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "shopify://acme", "type": typ,
		"time": at.Format(time.RFC3339), "shop": "acme", "data": data})
	return store.Event{ID: id, Source: "shopify://acme", Type: typ, Time: at, Envelope: env}
}

// noise ingests n orders of other checkouts and customers, of the type the
// listens wait for, in batches.
func (h *harness) noise(n int, at time.Time) {
	for b := 0; b < n; b += 500 {
		batch := make([]store.Event, 0, 500)
		for i := b; i < b+500 && i < n; i++ {
			batch = append(batch, commerceEvent("commerce.order.placed", fmt.Sprintf("noise/%d", i), at, map[string]any{
				"orderId": fmt.Sprint(9000 + i), "checkoutToken": fmt.Sprintf("other-%d", i),
				"customer": map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}}))
		}
		_, err := h.rt.Ingest(context.Background(), batch)
		require.NoError(h.t, err)
	}
}

func (h *harness) ingestEvents(evs ...store.Event) {
	_, err := h.rt.Ingest(context.Background(), evs)
	require.NoError(h.t, err)
}

// outcome runs the clock on until the one instance of a workflow ends and
// returns its output.
func (h *harness) outcome(name string) map[string]any {
	h.t.Helper()
	var id string
	// Generous deadlines: thousands of events are matched first, on a
	// loaded machine.
	deadline := time.Now().Add(90 * time.Second)
	for id == "" {
		require.True(h.t, time.Now().Before(deadline), "no instance of %s started", name)
		list, err := h.st.ListInstances(context.Background(), store.InstanceQuery{Name: name, Limit: 10})
		require.NoError(h.t, err)
		require.LessOrEqual(h.t, len(list), 1, "one checkout starts one instance")
		if len(list) == 1 {
			id = list[0].ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	for !h.state(id).Status.Ended() {
		require.True(h.t, time.Now().Before(deadline), "the instance of %s does not end", name)
		h.vc.Advance(10 * time.Minute)
		time.Sleep(2 * time.Millisecond)
	}
	in := h.state(id)
	require.Equal(h.t, engine.StatusCompleted, in.Status, "%+v", in.Error)
	out, _ := in.Output.(map[string]any)
	return out
}

var checkoutAt = epoch.Add(-2 * time.Hour)

func checkoutStarted(token, email string) store.Event {
	return commerceEvent("commerce.checkout.started", "checkout/"+token+"/started", checkoutAt,
		map[string]any{"checkoutToken": token, "customer": map[string]any{"email": email}})
}

func orderPlaced(id, token, email string, at time.Time) store.Event {
	return commerceEvent("commerce.order.placed", "order/"+id+"/placed", at,
		map[string]any{"orderId": id, "checkoutToken": token, "customer": map[string]any{"email": email}})
}

// The order of a checkout comes while the flow waits, but 5,000 other
// orders were logged before it: a look-back over the last 1,000 events of
// the type would not reach it; the key index does.
func TestListenFindsItsOrderByKeyPastThousandsOfOthers(t *testing.T) {
	eachStoreInTurn(t, func(t *testing.T, b backend) {
		// Not parallel: thousands of events would slow every test beside it.
		h := newHarness(t, b)
		h.put(recovery("by-checkout", "commerce.order.placed", byCheckout))
		h.ingestEvents(checkoutStarted("c0ffee", "ada@example.com"))
		for deadline := time.Now().Add(60 * time.Second); len(h.instances("waiting")) == 0; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "the flow does not wait")
		}
		h.noise(5000, checkoutAt.Add(time.Minute))
		h.ingestEvents(orderPlaced("450789469", "c0ffee", "ada@example.com", checkoutAt.Add(30*time.Minute)))
		require.Equal(t, map[string]any{"outcome": "recovered", "order": "450789469"}, h.outcome("by-checkout"))
	})
}

// The order's webhook came before its checkout's, with 5,000 other events
// between: the flow the checkout starts finds the order when its listen
// opens, since the order occurred after the checkout did.
func TestListenFindsAnOrderLoggedBeforeItsCheckout(t *testing.T) {
	eachStoreInTurn(t, func(t *testing.T, b backend) {
		// Not parallel: thousands of events would slow every test beside it.
		h := newHarness(t, b)
		h.put(recovery("early-order", "commerce.order.placed", byCheckout))
		h.ingestEvents(orderPlaced("450789469", "c0ffee", "ada@example.com", checkoutAt.Add(30*time.Minute)))
		h.noise(5000, checkoutAt)
		h.ingestEvents(checkoutStarted("c0ffee", "ada@example.com"))
		require.Equal(t, map[string]any{"outcome": "recovered", "order": "450789469"}, h.outcome("early-order"))
	})
}

// Correlated by the customer's email, an order placed before the checkout
// is not its conversion, whenever it was logged; one placed after it is.
func TestAKeyLookBackGoesBackToTheTriggerNotBefore(t *testing.T) {
	eachStoreInTurn(t, func(t *testing.T, b backend) {
		// Not parallel: thousands of events would slow every test beside it.
		h := newHarness(t, b)
		h.put(recovery("by-email", "commerce.order.placed", byEmail))
		h.ingestEvents(orderPlaced("1", "older-checkout", "ada@example.com", checkoutAt.Add(-24*time.Hour)))
		h.ingestEvents(checkoutStarted("c0ffee", "ada@example.com"))
		require.Equal(t, map[string]any{"outcome": "reminded"}, h.outcome("by-email"), "last month's order is not this checkout's")

		h.put(recovery("by-email-later", "commerce.order.placed", byEmail))
		h.ingestEvents(orderPlaced("2", "", "bob@example.com", checkoutAt.Add(time.Hour)))
		h.ingestEvents(checkoutStarted("beef", "bob@example.com"))
		require.Equal(t, map[string]any{"outcome": "recovered", "order": "2"}, h.outcome("by-email-later"))
	})
}

// The event that started an instance is never the one its listen takes.
func TestAKeyLookBackSkipsTheTrigger(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		h.put(recovery("again", "commerce.checkout.started", byCheckout))
		h.ingestEvents(checkoutStarted("c0ffee", "ada@example.com"))
		require.Equal(t, map[string]any{"outcome": "reminded"}, h.outcome("again"))
	})
}
