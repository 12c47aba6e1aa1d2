package runtime

import (
	"context"
	"slices"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/eventkey"
	"github.com/storeflow/storeflow/store"
)

// scanLimit bounds, per event type, the scan of the events logged since an
// instance started that a listen without a key correlation looks back at.
const scanLimit = 1000

// keyLimit bounds the correlated events one key lookup returns, newest
// first: a checkout or an order has a handful, a customer may have many.
const keyLimit = 1000

// lookBackEvents returns, in log order, the candidates a new listen looks
// back at (Match decides which it takes):
//
//   - for a filter correlated by an event key (package eventkey: its
//     correlate has a plain `from: .data.checkoutToken`, `.data.orderId`,
//     `.data.customer.email` or `.data.customer.id` with an `expect`), the
//     events carrying that key, found in the key index however many other
//     events came between: those logged since the instance started (for
//     an instance that events started: since its last triggering event),
//     and, for an instance that events started, those logged before that
//     occurred (their `time`) at or after its earliest triggering event, so
//     that an order whose webhook came before its checkout's still stops
//     the checkout's reminder, while an order placed before the checkout
//     is not taken for its conversion;
//   - for any other filter, the events of its type logged since the
//     instance started, up to scanLimit of each type.
//
// The events that started the instance are never among them: the matcher
// may hand an instance its start before it has moved past the triggering
// event, which would otherwise count as logged since.
func (r *Runtime) lookBackEvents(ctx context.Context, wf *dsl.Workflow, in *engine.Instance, sub *engine.Subscription) ([]store.Event, error) {
	var scan []string
	found := map[int64]store.Event{}
	filters := append(append([]engine.EventMatch{}, sub.Until...), sub.Filters...)
	if len(sub.Filters) == 0 {
		scan = append(scan, anyType)
	}
	for _, m := range filters {
		key, ok := listenKey(wf, m)
		if !ok {
			scan = append(scan, matchType(m))
			continue
		}
		var types []string
		if t := matchType(m); t != anyType {
			types = []string{t}
		}
		evs, err := r.st.EventsByKey(ctx, key, types, keyLimit)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if lookedBackTo(in, ev) {
				found[ev.Seq] = ev
			}
		}
	}
	if len(scan) > 0 {
		slices.Sort(scan)
		scan = slices.Compact(scan)
		limit := scanLimit * len(scan)
		if slices.Contains(scan, anyType) {
			scan = nil // any event may do
		}
		evs, err := r.st.ReadEventsOfTypes(ctx, in.LogSeq, scan, limit)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if !in.Origin.Triggered(ev.Seq) {
				found[ev.Seq] = ev
			}
		}
	}
	out := make([]store.Event, 0, len(found))
	for _, ev := range found {
		out = append(out, ev)
	}
	slices.SortFunc(out, func(a, b store.Event) int { return int(a.Seq - b.Seq) })
	return out, nil
}

// lookedBackTo reports whether a correlated event is within a key
// look-back of an instance.
func lookedBackTo(in *engine.Instance, ev store.Event) bool {
	o := in.Origin
	if o == nil {
		return ev.Seq > in.LogSeq
	}
	if o.Triggered(ev.Seq) {
		return false
	}
	// The matcher may start an instance before its position has passed the
	// events logged just before the trigger: those, like all logged before
	// it, count by when they occurred.
	since := in.LogSeq
	for _, seq := range o.Events {
		since = max(since, seq)
	}
	return ev.Seq > since || !ev.Time.Before(o.Time)
}

// listenKey returns the event key a listen's filter correlates by: the
// first of its correlations, in the order of eventkey.Extractors (the most
// selective first), whose `from` is a key's plain field and whose expected
// value is known; in the shop a `.data.shop` correlation or a `shop`
// attribute expects, else in every shop.
func listenKey(wf *dsl.Workflow, m engine.EventMatch) (store.EventKey, bool) {
	flt := engine.FilterAt(wf, m.Path)
	if flt == nil || len(m.Correlate) == 0 {
		return store.EventKey{}, false
	}
	values := map[string]any{}
	shop, _ := m.Attributes["shop"].(string)
	for name, c := range flt.Correlate {
		want := m.Correlate[name]
		if c == nil || c.From == nil || want == nil {
			continue
		}
		key, ok := eventkey.ForExpression(c.From.Src)
		switch {
		case !ok:
		case key == eventkey.ShopField:
			if s, ok := want.(string); ok {
				shop = s
			}
		default:
			values[key] = want
		}
	}
	for _, x := range eventkey.Extractors {
		if v, ok := values[x.Name]; ok {
			if k, ok := eventkey.Key(x.Name, shop, v); ok {
				return k, true
			}
		}
	}
	return store.EventKey{}, false
}
