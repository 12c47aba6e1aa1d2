package sending

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// Origin is what the rules need to know of the instance that sends: its
// workflow, and the checkout that started it, if one did.
type Origin struct {
	Workflow string // namespace/name:version
	// Shop is the shop of the event that started the instance: a message
	// that names no shop belongs to it.
	Shop     string
	Checkout *Checkout
}

// Checkout is the checkout an instance was started by.
type Checkout struct {
	Shop       string
	Token      string
	CustomerID string
	Email      string
	Phone      string
	// OccurredAt is when the checkout happened in the shop (its data's
	// occurredAt): orders since then count, also those whose webhooks came
	// before the instance started.
	OccurredAt time.Time
}

// Conversion is an order that makes a checkout's recovery message moot.
type Conversion struct {
	// By says how the order was linked to the checkout: checkout (its
	// token), customer, email or phone.
	By        string
	OrderedAt time.Time
}

// Origins finds the origin of an instance.
type Origins interface {
	Origin(ctx context.Context, instance string) (Origin, error)
}

// OriginFunc adapts a function to Origins (the local runner, which keeps
// its instance in memory).
type OriginFunc func(ctx context.Context, instance string) (Origin, error)

// Origin calls f.
func (f OriginFunc) Origin(ctx context.Context, instance string) (Origin, error) {
	return f(ctx, instance)
}

// StoreOrigins reads origins from the stored instances. A child instance
// (run: workflow) has the checkout of the instance that started it.
type StoreOrigins struct {
	Instances store.Instances
}

// maxDepth bounds the walk up from a child to the instance a checkout
// started.
const maxDepth = 8

// Origin reads the instance's state.
func (o StoreOrigins) Origin(ctx context.Context, id string) (Origin, error) {
	var out Origin
	for depth := 0; id != "" && depth < maxDepth; depth++ {
		row, err := o.Instances.GetInstance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return out, nil // a call made outside any stored instance
		}
		if err != nil {
			return out, fmt.Errorf("instance %s: %w", id, err)
		}
		in, err := engine.Unmarshal(row.State)
		if err != nil {
			return out, fmt.Errorf("instance %s: %w", id, err)
		}
		if depth == 0 {
			out.Workflow = in.Workflow.String()
		}
		if out.Shop == "" {
			out.Shop = ShopOf(in.Input)
		}
		if out.Checkout = CheckoutOf(in.Input); out.Checkout != nil || in.Parent == nil {
			return out, nil
		}
		id = in.Parent.Instance
	}
	return out, nil
}

// CheckoutOf finds the checkout an instance's input starts from: the input
// of an event-started instance is the list of its events, each a whole
// CloudEvent (schedule.read: envelope, the default) or its data (read:
// data). A commerce.checkout.* event, or data with a checkoutToken and no
// orderId, is a checkout. Nil when there is none.
func CheckoutOf(input any) *Checkout {
	items, ok := input.([]any)
	if !ok {
		items = []any{input}
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		data, when := m, ""
		if typ, ok := m["type"].(string); ok {
			d, isMap := m["data"].(map[string]any)
			if !strings.HasPrefix(typ, "commerce.checkout.") || !isMap {
				continue
			}
			data = d
			when, _ = m["time"].(string)
		} else if _, order := m["orderId"]; order {
			continue
		}
		token, _ := data["checkoutToken"].(string)
		if token == "" {
			continue
		}
		c := &Checkout{Token: token}
		c.Shop, _ = data["shop"].(string)
		if at, ok := data["occurredAt"].(string); ok {
			when = at
		}
		if t, err := commerce.ParseTime(when); err == nil {
			c.OccurredAt = t
		}
		if cu, ok := data["customer"].(map[string]any); ok {
			c.CustomerID = scalar(cu["id"])
			c.Email, _ = cu["email"].(string)
			c.Phone, _ = cu["phone"].(string)
		}
		return c
	}
	return nil
}

// ShopOf returns the shop of the first event of an instance's input that
// names one (its data's shop, else its shop attribute); "" when none does.
func ShopOf(input any) string {
	items, ok := input.([]any)
	if !ok {
		items = []any{input}
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		data := m
		if d, ok := m["data"].(map[string]any); ok {
			data = d
		}
		if s, ok := data["shop"].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
		if s, ok := m["shop"].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// scalar renders an id given as a string or a number.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprint(v)
	}
}
