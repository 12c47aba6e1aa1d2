package webhook

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/eventkey"
	"github.com/storeflow/storeflow/store"
)

// Types of the checkout rule.
const (
	checkoutStarted = "commerce.checkout.started"
	checkoutUpdated = "commerce.checkout.updated"
)

// KeyedEvents finds logged events by key: store.EventLog's EventsByKey.
type KeyedEvents interface {
	EventsByKey(ctx context.Context, key store.EventKey, types []string, limit int) ([]store.Event, error)
}

// orderTypes are the events that tell a checkout's order is known.
func orderTypes() []string {
	var out []string
	for _, t := range commerce.Types() {
		if strings.HasPrefix(t, "commerce.order.") {
			out = append(out, t)
		}
	}
	return out
}

// settleCheckouts keeps a checkout that is over from starting anything,
// whatever the adapter: a commerce.checkout.started of a checkout with
// completedAt, or of one whose order is known (an order event with its
// checkoutToken in the same delivery or already logged, found by key
// however many events came between), becomes a commerce.checkout.updated.
// It keeps its id, so that a repeat of the delivery is still recognised as
// one. Webhooks arrive out of order: an order's often comes before its
// checkout's, and Shopify retries a checkout after its order was placed.
func (r *Receiver) settleCheckouts(ctx context.Context, events []commerce.Event) error {
	keyed := r.keyed()
	var orders []string // checkout keys of the delivery's own orders
	for _, e := range events {
		if strings.HasPrefix(e.Type, "commerce.order.") {
			if k, ok := checkoutKey(e); ok {
				orders = append(orders, k.Shop+"\x00"+k.Value)
			}
		}
	}
	for i, e := range events {
		if e.Type != checkoutStarted {
			continue
		}
		var data struct {
			CompletedAt string `json:"completedAt"`
		}
		_ = json.Unmarshal(e.Data, &data)
		reason := ""
		if data.CompletedAt != "" {
			reason = "the checkout is completed"
		} else if k, ok := checkoutKey(e); ok {
			if containsKey(orders, k) {
				reason = "its order came with it"
			} else if keyed != nil {
				found, err := keyed.EventsByKey(ctx, k, orderTypes(), 1)
				if err != nil {
					return err
				}
				if len(found) > 0 {
					reason = "its order is known (" + found[0].Type + " " + found[0].ID + ")"
				}
			}
		}
		if reason != "" {
			events[i].Type = checkoutUpdated
			r.log().Info("checkout is no start", "shop", e.Shop, "event", e.ID, "reason", reason)
		}
	}
	return nil
}

func containsKey(list []string, k store.EventKey) bool {
	for _, s := range list {
		if s == k.Shop+"\x00"+k.Value {
			return true
		}
	}
	return false
}

// checkoutKey is the checkoutToken key of an event, as the event log
// indexes it.
func checkoutKey(e commerce.Event) (store.EventKey, bool) {
	var data map[string]any
	if json.Unmarshal(e.Data, &data) != nil {
		return store.EventKey{}, false
	}
	env := map[string]any{"shop": e.Shop, "data": data}
	return eventkey.Key(eventkey.Checkout, eventkey.ShopOf(env), data["checkoutToken"])
}

// keyed is the lookup of logged events by key: Events, else the store of
// Deliveries when it has one.
func (r *Receiver) keyed() KeyedEvents {
	if r.Events != nil {
		return r.Events
	}
	k, _ := r.Deliveries.(KeyedEvents)
	return k
}
