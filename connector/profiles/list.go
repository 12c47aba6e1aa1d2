package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/problem"
)

// ListName is the name of the listing built-in.
const ListName = "customer.list"

// ListBuiltin declares `customer.list` in the default catalog: the
// audience of a scheduled flow (win-back, VIP offers), a page at a time.
var ListBuiltin = connector.Builtin{
	Name:        ListName,
	Version:     "1.0.0",
	Description: "lists a shop's customer profiles by segment, consent and the time of their last order, a page at a time",
	Schema: []byte(`{
		"type": "object",
		"required": ["shop"],
		"additionalProperties": false,
		"properties": {
			"shop": {"type": "string", "minLength": 1, "description": "the shop whose customers to list"},
			"segment": {"enum": ["new", "repeat", "vip", "lapsed", "cart_abandoner"], "description": "only customers in this segment, with the shop's thresholds"},
			"subscribed": {"enum": ["email", "sms", "whatsapp"], "description": "only customers whose marketing consent on this channel is subscribed"},
			"lastOrder": {
				"type": "object",
				"additionalProperties": false,
				"required": ["ago", "within"],
				"description": "only customers whose last order was placed in the window [asOf - ago - within, asOf - ago): a flow that runs every WITHIN and lists with the same window sees each customer once, on the run after their last order turned AGO old",
				"properties": {
					"ago": {"type": "string", "minLength": 2, "description": "ISO 8601 duration: how old the last order is at least (P90D)"},
					"within": {"type": "string", "minLength": 2, "description": "ISO 8601 duration: the width of the window (P1D, the flow's schedule)"},
					"asOf": {"type": "string", "format": "date-time", "description": "the end the window is counted from (RFC 3339); the call's time by default; give the run's start, $workflow.startedAt.iso8601, so that runs tile"}
				}
			},
			"limit": {"type": "integer", "minimum": 1, "maximum": 500, "description": "how many per page (100 by default)"},
			"after": {"type": "string", "description": "the next of the previous page: where this page starts"}
		}
	}`),
}

// ListArgs are the arguments of `customer.list`.
type ListArgs struct {
	Shop       string     `json:"shop"`
	Segment    string     `json:"segment,omitempty"`
	Subscribed string     `json:"subscribed,omitempty"`
	LastOrder  *LastOrder `json:"lastOrder,omitempty"`
	Limit      int        `json:"limit,omitempty"`
	After      string     `json:"after,omitempty"`
}

// LastOrder is the window the last order must fall in.
type LastOrder struct {
	Ago    string `json:"ago"`
	Within string `json:"within"`
	AsOf   string `json:"asOf,omitempty"`
}

// Lister lists profiles: customer.Directory. CatchUp waits until they
// hold every event logged before it, so that a flow's audience counts the
// order placed a moment ago.
type Lister interface {
	List(ctx context.Context, q customer.Query) ([]*customer.Profile, error)
	CatchUp(ctx context.Context) error
}

func (c *Connector) list(ctx context.Context, req connector.Request) (any, error) {
	var a ListArgs
	if err := connector.DecodeArgs(req, &a); err != nil {
		return nil, err
	}
	lister, ok := c.Profiles.(Lister)
	if c.Profiles == nil || !ok {
		return nil, problem.Newf(problem.TypeConfiguration, 501, "Customer Profiles Not Available",
			"%s: this storeflow keeps no customer profiles (they are kept by storeflow serve)", ListName)
	}
	invalid := func(format string, args ...any) error {
		return problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", ListName+": "+format, args...)
	}
	q := customer.Query{Shop: a.Shop, Segment: a.Segment, Limit: a.Limit, After: a.After}
	if q.Limit == 0 {
		q.Limit = 100
	}
	if w := a.LastOrder; w != nil {
		ago, err := dsl.ParseISODuration(w.Ago)
		if err != nil || ago < 0 {
			return nil, invalid("lastOrder.ago: %q is not an ISO 8601 duration such as P90D", w.Ago)
		}
		within, err := dsl.ParseISODuration(w.Within)
		if err != nil || within <= 0 {
			return nil, invalid("lastOrder.within: %q is not an ISO 8601 duration above zero, such as P1D", w.Within)
		}
		asOf := req.At
		if w.AsOf != "" {
			if asOf, err = time.Parse(time.RFC3339Nano, w.AsOf); err != nil {
				return nil, invalid("lastOrder.asOf: %q is not an RFC 3339 time", w.AsOf)
			}
		}
		if asOf.IsZero() {
			asOf = time.Now()
		}
		q.LastOrderBefore = asOf.Add(-ago)
		q.LastOrderFrom = q.LastOrderBefore.Add(-within)
	}
	if err := lister.CatchUp(ctx); err != nil {
		return nil, problem.Newf(problem.TypeRuntime, 503, "Customer Profiles Unavailable", "%s: shop %q: %v", ListName, a.Shop, err)
	}
	page, err := lister.List(ctx, q)
	switch {
	case errors.Is(err, customer.ErrInvalid):
		return nil, invalid("%v", err)
	case err != nil:
		return nil, problem.Newf(problem.TypeRuntime, 503, "Customer Profiles Unavailable", "%s: shop %q: %v", ListName, a.Shop, err)
	}
	out := map[string]any{"customers": []any{}, "next": ""}
	list := []any{}
	for _, p := range page {
		if a.Subscribed != "" {
			if c := p.Consent[a.Subscribed]; c == nil || c.State != customer.StateSubscribed {
				continue
			}
		}
		m, err := plain(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ListName, err)
		}
		list = append(list, m)
	}
	out["customers"] = list
	if len(page) == q.Limit {
		// A full page: there may be more after its last.
		out["next"] = page[len(page)-1].ID
	}
	return out, nil
}

// plain is a profile as the JSON values a workflow sees.
func plain(p *customer.Profile) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	// The bookkeeping of the projection is nothing a flow acts on.
	for _, k := range []string{"versions", "closedCheckouts", "totals"} {
		delete(m, k)
	}
	return m, nil
}
