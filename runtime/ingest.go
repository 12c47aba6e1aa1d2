package runtime

import (
	"context"

	"github.com/storeflow/storeflow/eventkey"

	"github.com/storeflow/storeflow/store"
)

// ingestReq is one caller's events waiting for the next group append.
type ingestReq struct {
	events []store.Event
	done   chan ingestResult
}

type ingestResult struct {
	events []store.Event
	err    error
}

// Ingest logs events durably (deduplicated on source and id) and wakes the
// matcher. When it returns without error the events are safe. Concurrent
// callers share one transaction (group commit), so that many webhooks a
// second cost few disk flushes.
func (r *Runtime) Ingest(ctx context.Context, events []store.Event) ([]store.Event, error) {
	// The keys are found here, by each caller, not by the one goroutine
	// that appends for all of them.
	withKeys := make([]store.Event, len(events))
	for i, ev := range events {
		if ev.Keys == nil || ev.Shop == "" {
			keys, shop := eventkey.OfEnvelopeWithShop(ev.Envelope)
			if ev.Keys == nil {
				ev.Keys = keys
			}
			if ev.Shop == "" {
				ev.Shop = shop
			}
		}
		withKeys[i] = ev
	}
	req := &ingestReq{events: withKeys, done: make(chan ingestResult, 1)}
	r.act.begin()
	defer r.act.end()
	select {
	case r.ingest <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-r.stopped:
		return nil, errStopped
	}
	var res ingestResult
	select {
	case res = <-req.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, res.err
	}
	out := res.events
	for _, e := range out {
		if !e.Duplicate {
			metricEventsIn.Inc()
		}
	}
	signal(r.wakeMatcher)
	return out, nil
}

// ingestLoop appends the events of all waiting callers in one transaction.
func (r *Runtime) ingestLoop() {
	for {
		var first *ingestReq
		select {
		case first = <-r.ingest:
		case <-r.stopped:
			return
		}
		batch := []*ingestReq{first}
		n := len(first.events)
	fill:
		for n < 4096 {
			select {
			case req := <-r.ingest:
				batch = append(batch, req)
				n += len(req.events)
			default:
				break fill
			}
		}
		all := make([]store.Event, 0, n)
		for _, req := range batch {
			all = append(all, req.events...)
		}
		out, err := r.st.AppendEvents(context.Background(), all)
		for _, req := range batch {
			if err != nil {
				req.done <- ingestResult{err: err}
				continue
			}
			req.done <- ingestResult{events: out[:len(req.events)]}
			out = out[len(req.events):]
		}
	}
}
