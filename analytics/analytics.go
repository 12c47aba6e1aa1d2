// Package analytics computes aggregates of the event log: how many events
// of each type each shop had per day. It is an event-log follower (package
// follower): its counts commit with its cursor, so each event counts
// exactly once, and it can be rebuilt from the log.
package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// Name is the follower's name.
const Name = "analytics"

// ZoneFunc returns the time zone of a shop, whose days its counts follow.
type ZoneFunc func(ctx context.Context, shop string) (*time.Location, error)

// Projection counts events per shop, type and day.
type Projection struct {
	// Zone gives a shop's time zone; nil, an unknown shop (an error
	// wrapping store.ErrNotFound) or a shop without one count in UTC. Days
	// follow the zone at the time an event is applied: a rebuild after a
	// shop's zone changed counts its past days in the new zone.
	Zone ZoneFunc
}

// Name implements follower.Projection.
func (p *Projection) Name() string { return Name }

// Types implements follower.Projection: every event counts.
func (p *Projection) Types() []string { return nil }

// Apply counts a batch of events.
func (p *Projection) Apply(ctx context.Context, tx store.ProjectionTx, events []store.Event) error {
	type key struct{ shop, typ, day string }
	counts := map[key]int64{}
	var order []key
	zones := map[string]*time.Location{}
	for _, ev := range events {
		shop := ShopOf(ev)
		loc, ok := zones[shop]
		if !ok {
			var err error
			if loc, err = p.zone(ctx, shop); err != nil {
				return err
			}
			zones[shop] = loc
		}
		at := ev.Time
		if at.IsZero() {
			at = ev.ReceivedAt
		}
		k := key{shop, ev.Type, at.In(loc).Format(time.DateOnly)}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	out := make([]store.EventCount, len(order))
	for i, k := range order {
		out[i] = store.EventCount{Shop: k.shop, Type: k.typ, Day: k.day, Count: counts[k]}
	}
	return tx.Analytics().AddEventCounts(ctx, out)
}

func (p *Projection) zone(ctx context.Context, shop string) (*time.Location, error) {
	if p.Zone == nil || shop == "" {
		return time.UTC, nil
	}
	loc, err := p.Zone(ctx, shop)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && loc == nil:
		return time.UTC, nil
	case err != nil:
		return nil, fmt.Errorf("time zone of shop %s: %w", shop, err)
	}
	return loc, nil
}

// Reset clears the counts.
func (p *Projection) Reset(ctx context.Context, tx store.ProjectionTx) error {
	return tx.Analytics().ClearEventCounts(ctx)
}

// ShopOf is the shop an event belongs to: its `shop` extension attribute,
// else the `shop` of its data; "" for events of no shop.
func ShopOf(ev store.Event) string {
	var env struct {
		Shop string `json:"shop"`
		Data struct {
			Shop string `json:"shop"`
		} `json:"data"`
	}
	// Data that is no object (a string, say) fails to decode but leaves
	// the attribute read.
	_ = json.Unmarshal(ev.Envelope, &env)
	if env.Shop != "" {
		return env.Shop
	}
	return env.Data.Shop
}

// Query asks for event counts: Shop and Type ("" for all), From and To days
// (YYYY-MM-DD, both included, "" for open ends).
type Query = store.EventCountQuery

// ParseQuery checks a query's days.
func ParseQuery(shop, typ, from, to string) (Query, error) {
	for _, d := range []struct{ name, v string }{{"from", from}, {"to", to}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, d.v); err != nil {
			return Query{}, fmt.Errorf("%s=%q: give a day as YYYY-MM-DD", d.name, d.v)
		}
	}
	if from != "" && to != "" && from > to {
		return Query{}, fmt.Errorf("from=%s is after to=%s", from, to)
	}
	return Query{Shop: shop, Type: typ, From: from, To: to}, nil
}
