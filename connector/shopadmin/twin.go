package shopadmin

import (
	"context"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/recording"
)

// Rehearse answers a call of a shop Admin built-in as the live connector
// would, computed from the call alone and without reaching a shop: the
// recording twin's answer (tests, pretests). A discount's code is the one
// the live connector derives from the shop and the idempotency key, its
// expiry counted from the call's time; tags and notes are reported added.
// Outputs carry "recorded": true. A pretest's email that quotes the code
// thus quotes the code a live run would have made.
func Rehearse(req connector.Request) (any, error) {
	name, _, _ := connector.ParseRef(req.Function)
	switch name {
	case DiscountCreate:
		var a DiscountArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		d, err := a.discount(req, a.Shop, "")
		if err != nil {
			return nil, err
		}
		out := map[string]any{"shop": a.Shop, "code": d.Code, "title": d.Title, "kind": d.Kind,
			"startsAt": d.StartsAt.Format(time.RFC3339), "endsAt": d.EndsAt.Format(time.RFC3339), "created": true, "recorded": true}
		for k, v := range d.value() {
			out[k] = v
		}
		return out, nil
	case CustomerTag:
		var a TagArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		if err := a.check(); err != nil {
			return nil, err
		}
		all, added := mergeTags(nil, a.Tags)
		out := map[string]any{"shop": a.Shop, "tags": all, "added": added, "recorded": true}
		if a.Customer.ID != "" {
			out["customerId"] = a.Customer.ID
		}
		return out, nil
	case OrderNote:
		var a NoteArgs
		if err := connector.DecodeArgs(req, &a); err != nil {
			return nil, err
		}
		if a.OrderID == "" || a.Note == "" {
			return nil, invalid(OrderNote, "orderId and note are required")
		}
		return map[string]any{"shop": a.Shop, "orderId": a.OrderID.String(), "note": a.Note, "added": true, "recorded": true}, nil
	}
	return nil, connector.NotFound(req)
}

// Record makes rec, the recording twin, answer the shop Admin built-ins as
// Rehearse does.
func Record(rec *recording.Recorder) {
	for _, name := range []string{DiscountCreate, CustomerTag, OrderNote} {
		rec.Handle(name, func(_ context.Context, req connector.Request) (any, error) { return Rehearse(req) })
	}
}
