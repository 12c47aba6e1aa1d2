// Package profiles is the `customer.get` built-in: a workflow reads the
// profile of a customer of its shop (identity, consent, metrics, segments;
// package customer) by the platform's customer id, the profile's ID, an
// email or a phone. Profiles follow the event log closely: an event a
// workflow was started by is in them a moment after it was logged.
package profiles

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/store"
)

// Name is the built-in's name.
const Name = "customer.get"

// Builtin declares `customer.get` in the default catalog.
var Builtin = connector.Builtin{
	Name:        Name,
	Version:     "1.0.0",
	Description: "reads a customer's profile (identity, consent, metrics, segments) in the shop, by id, email or phone",
	Schema: []byte(`{
		"type": "object",
		"required": ["shop"],
		"additionalProperties": false,
		"properties": {
			"shop": {"type": "string", "minLength": 1, "description": "the shop the customer is a customer of: the event's shop"},
			"id": {"type": "string", "minLength": 1, "description": "the platform's customer id, or the profile's own (cus_…)"},
			"email": {"type": "string", "minLength": 3, "description": "an email address of the customer"},
			"phone": {"type": "string", "minLength": 3, "description": "a phone number of the customer (national numbers in the shop's country)"}
		},
		"anyOf": [{"required": ["id"]}, {"required": ["email"]}, {"required": ["phone"]}]
	}`),
}

// Args are the arguments of `customer.get`; of id, email and phone the
// first given is used.
type Args struct {
	Shop  string `json:"shop"`
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Finder finds profiles: customer.Directory.
type Finder interface {
	Find(ctx context.Context, shop string, l customer.Lookup) (*customer.Profile, error)
}

// Connector answers `customer.get` and `customer.list` from the profiles.
type Connector struct {
	// Profiles finds them (and lists them, when it is a Lister too); nil:
	// every call is a configuration problem (the in-memory runner keeps no
	// profiles).
	Profiles Finder
}

// Call returns the profile with "found": true, or {"found": false} for a
// customer the shop has no profile of (a guest seen for the first time), so
// that a workflow can branch on it.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	if name, _, _ := connector.ParseRef(req.Function); name == ListName {
		return c.list(ctx, req)
	}
	var a Args
	if err := connector.DecodeArgs(req, &a); err != nil {
		return nil, err
	}
	if c.Profiles == nil {
		return nil, problem.Newf(problem.TypeConfiguration, 501, "Customer Profiles Not Available",
			"%s: this storeflow keeps no customer profiles (they are kept by storeflow serve)", Name)
	}
	p, err := c.Profiles.Find(ctx, a.Shop, customer.Lookup{ID: a.ID, Email: a.Email, Phone: a.Phone})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return map[string]any{"found": false}, nil
	case errors.Is(err, customer.ErrInvalid):
		return nil, problem.Newf(problem.TypeValidation, 400, "Invalid Arguments", "%s: %v", Name, err)
	case err != nil:
		return nil, problem.Newf(problem.TypeRuntime, 503, "Customer Profiles Unavailable", "%s: shop %q: %v", Name, a.Shop, err)
	}
	// The workflow sees plain JSON values, as it would of an HTTP call.
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	out["found"] = true
	return out, nil
}
