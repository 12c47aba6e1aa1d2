package shopadmin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/problem"
)

// shopify is a shop's GraphQL Admin API.
type shopify struct {
	http     *http.Client
	shop     string
	key      string // the call's idempotency key
	endpoint string // …/admin/api/{version}/graphql.json
	version  string
	token    string
}

func (s *shopify) platform() string { return "shopify" }

func (s *shopify) service() string { return fmt.Sprintf("Shopify Admin API of shop %q", s.shop) }

// gqlError is an entry of a GraphQL answer's top-level errors.
type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// userError is an entry of a mutation's userErrors.
type userError struct {
	Field   []string `json:"field"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
}

func (e userError) String() string {
	s := e.Message
	if len(e.Field) > 0 {
		s = strings.Join(e.Field, ".") + ": " + s
	}
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

func userErrorsString(errs []userError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.String()
	}
	return strings.Join(parts, "; ")
}

// query posts a GraphQL document with its variables and decodes the
// answer's data into out. HTTP failures follow apicall's rule; an answer
// with top-level errors is a problem by their code: THROTTLED (Shopify's
// cost-based rate limit, answered with 200) and INTERNAL_SERVER_ERROR are
// transient, ACCESS_DENIED is a missing scope, anything else is final.
func (s *shopify) query(ctx context.Context, doc string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": doc, "variables": vars})
	if err != nil {
		return fmt.Errorf("%s: encode the request: %w", s.service(), err)
	}
	req, err := http.NewRequest(http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return problem.Newf(problem.TypeConfiguration, 500, "Admin API Not Configured", "%s: %v", s.service(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "storeflow")
	req.Header.Set("X-Shopify-Access-Token", s.token)
	if s.key != "" {
		req.Header.Set("Idempotency-Key", s.key)
	}
	client := s.http
	if client == nil {
		client = apicall.Client
	}
	resp, err := apicall.Do(ctx, client, req, s.service())
	if err != nil {
		return err
	}
	said := func(detail string) string {
		if id := resp.Header.Get("X-Request-Id"); id != "" {
			detail += " (request " + id + ")"
		}
		return detail
	}
	if resp.Status < 200 || resp.Status > 299 {
		return apicall.Failure(s.service(), resp.Status, said(shopifyErrorText(resp.Body)))
	}
	var answer struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(resp.Body, &answer); err != nil {
		return problem.Newf(problem.TypeCommunication, 502, "Invalid Response", "%s answered with something that is not GraphQL: %s", s.service(), apicall.Snippet(resp.Body))
	}
	if len(answer.Errors) > 0 {
		msgs := make([]string, len(answer.Errors))
		codes := map[string]bool{}
		for i, e := range answer.Errors {
			msgs[i] = e.Message
			codes[e.Extensions.Code] = true
		}
		detail := said(strings.Join(msgs, "; "))
		switch {
		case codes["THROTTLED"]:
			return apicall.Failure(s.service(), http.StatusTooManyRequests, detail)
		case codes["INTERNAL_SERVER_ERROR"]:
			return apicall.Failure(s.service(), http.StatusInternalServerError, detail)
		case codes["ACCESS_DENIED"]:
			return problem.Newf(problem.TypeAuthorization, 403, "Service Refused", "%s denied the call: %s; grant the app the access scope it names", s.service(), detail)
		}
		return problem.Newf(problem.TypeCommunication, 400, "Bad Request", "%s did not take the query: %s; it is not retried (is API version %s supported?)", s.service(), detail, s.version)
	}
	if err := json.Unmarshal(answer.Data, out); err != nil {
		return problem.Newf(problem.TypeCommunication, 502, "Invalid Response", "%s answered with data of another shape: %v", s.service(), err)
	}
	return nil
}

// shopifyErrorText renders the body of a failed Shopify request: {"errors":
// "…"} or {"errors": [{"message": …}]} or {"errors": {"field": […]}}.
func shopifyErrorText(body []byte) string {
	var v struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Errors) == 0 {
		return apicall.Snippet(body)
	}
	var s string
	if json.Unmarshal(v.Errors, &s) == nil {
		return s
	}
	var list []gqlError
	if json.Unmarshal(v.Errors, &list) == nil && len(list) > 0 {
		msgs := make([]string, len(list))
		for i, e := range list {
			msgs[i] = e.Message
		}
		return strings.Join(msgs, "; ")
	}
	return apicall.Snippet(v.Errors)
}

var numericID = regexp.MustCompile(`^[0-9]+$`)

// gid is the global id of a resource given by its numeric id, as commerce
// events carry it, or already as a gid.
func gid(kind, id string) (string, error) {
	prefix := "gid://shopify/" + kind + "/"
	switch {
	case strings.HasPrefix(id, prefix) && numericID.MatchString(strings.TrimPrefix(id, prefix)):
		return id, nil
	case numericID.MatchString(id):
		return prefix + id, nil
	}
	return "", fmt.Errorf("%q is not a Shopify %s id (a number such as 450789469, or %s450789469)", id, strings.ToLower(kind), prefix)
}

// numeric is the numeric id of a gid.
func numeric(gid string) string { return gid[strings.LastIndex(gid, "/")+1:] }

const discountFields = `id
      codeDiscount {
        __typename
        ... on DiscountCodeBasic { title startsAt endsAt usageLimit }
        ... on DiscountCodeFreeShipping { title startsAt endsAt usageLimit }
      }`

var (
	basicCreate = `mutation StoreflowDiscountCreate($discount: DiscountCodeBasicInput!) {
  result: discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { ` + discountFields + ` }
    userErrors { field code message }
  }
}`
	freeShippingCreate = `mutation StoreflowFreeShippingCreate($discount: DiscountCodeFreeShippingInput!) {
  result: discountCodeFreeShippingCreate(freeShippingCodeDiscount: $discount) {
    codeDiscountNode { ` + discountFields + ` }
    userErrors { field code message }
  }
}`
	discountByCode = `query StoreflowDiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { ` + discountFields + ` }
}`
)

type discountNode struct {
	ID           string `json:"id"`
	CodeDiscount struct {
		Typename   string `json:"__typename"`
		Title      string `json:"title"`
		StartsAt   string `json:"startsAt"`
		EndsAt     string `json:"endsAt"`
		UsageLimit *int   `json:"usageLimit"`
	} `json:"codeDiscount"`
}

func (s *shopify) createDiscount(ctx context.Context, d discount) (map[string]any, error) {
	input := map[string]any{
		"title":                  d.Title,
		"code":                   d.Code,
		"startsAt":               d.StartsAt.Format(time.RFC3339),
		"endsAt":                 d.EndsAt.Format(time.RFC3339),
		"usageLimit":             1,
		"appliesOncePerCustomer": true,
		"context":                map[string]any{"all": "ALL"},
	}
	if d.Customer != nil && d.Customer.ID != "" {
		id, err := gid("Customer", d.Customer.ID)
		if err != nil {
			return nil, invalid(DiscountCreate, "customer.id: %v", err)
		}
		input["context"] = map[string]any{"customers": map[string]any{"add": []string{id}}}
	}
	if d.Minimum != "" {
		input["minimumRequirement"] = map[string]any{"subtotal": map[string]any{"greaterThanOrEqualToSubtotal": d.Minimum}}
	}
	doc := basicCreate
	switch d.Kind {
	case KindPercent:
		input["customerGets"] = map[string]any{"value": map[string]any{"percentage": fraction(d.Percent)}, "items": map[string]any{"all": true}}
	case KindAmount:
		input["customerGets"] = map[string]any{"value": map[string]any{"discountAmount": map[string]any{"amount": d.Amount, "appliesOnEachItem": false}}, "items": map[string]any{"all": true}}
	case KindFreeShipping:
		doc = freeShippingCreate
		input["destination"] = map[string]any{"all": true}
	}
	var out struct {
		Result struct {
			Node       *discountNode `json:"codeDiscountNode"`
			UserErrors []userError   `json:"userErrors"`
		} `json:"result"`
	}
	if err := s.query(ctx, doc, map[string]any{"discount": input}, &out); err != nil {
		return nil, err
	}
	if errs := out.Result.UserErrors; len(errs) > 0 {
		if !taken(errs) {
			return nil, refused(s.service(), userErrorsString(errs))
		}
		// The code exists: made by an earlier attempt of this call (its
		// answer lost), or by someone else.
		var found struct {
			Node *discountNode `json:"codeDiscountNodeByCode"`
		}
		if err := s.query(ctx, discountByCode, map[string]any{"code": d.Code}, &found); err != nil {
			return nil, err
		}
		if found.Node == nil || !d.Derived && found.Node.CodeDiscount.Title != d.Title {
			return nil, problem.Newf(problem.TypeCommunication, 409, "Discount Code Taken",
				"%s: the code %q belongs to another discount; give another code, or leave code out to have one derived", s.service(), d.Code)
		}
		return s.output(d, found.Node, false), nil
	}
	if out.Result.Node == nil {
		return nil, problem.Newf(problem.TypeCommunication, 502, "Invalid Response", "%s answered without the discount it made", s.service())
	}
	return s.output(d, out.Result.Node, true), nil
}

// taken reports whether userErrors say the code is in use.
func taken(errs []userError) bool {
	for _, e := range errs {
		if e.Code == "TAKEN" && len(e.Field) > 0 && e.Field[len(e.Field)-1] == "code" {
			return true
		}
	}
	return false
}

func (s *shopify) output(d discount, n *discountNode, created bool) map[string]any {
	out := map[string]any{"shop": s.shop, "platform": "shopify", "id": n.ID, "code": d.Code, "title": n.CodeDiscount.Title,
		"kind": d.Kind, "startsAt": n.CodeDiscount.StartsAt, "endsAt": n.CodeDiscount.EndsAt, "created": created}
	for k, v := range d.value() {
		out[k] = v
	}
	return out
}

const (
	customerByID = `query StoreflowCustomer($id: ID!) {
  customer(id: $id) { id email tags }
}`
	customerByEmail = `query StoreflowCustomerByEmail($query: String!) {
  customers(first: 1, query: $query) { nodes { id email tags } }
}`
	tagsAdd = `mutation StoreflowTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id ... on Customer { tags } }
    userErrors { field message }
  }
}`
)

type customerNode struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
}

func (s *shopify) tagCustomer(ctx context.Context, a TagArgs) (map[string]any, error) {
	var c *customerNode
	if a.Customer.ID != "" {
		id, err := gid("Customer", a.Customer.ID)
		if err != nil {
			return nil, invalid(CustomerTag, "customer.id: %v", err)
		}
		var out struct {
			Customer *customerNode `json:"customer"`
		}
		if err := s.query(ctx, customerByID, map[string]any{"id": id}, &out); err != nil {
			return nil, err
		}
		if c = out.Customer; c == nil {
			return nil, notFound(s.service(), "customer "+a.Customer.ID)
		}
	} else {
		var out struct {
			Customers struct {
				Nodes []customerNode `json:"nodes"`
			} `json:"customers"`
		}
		// Shopify's search syntax: a quoted value matches it exactly.
		q := fmt.Sprintf("email:%q", a.Customer.Email)
		if err := s.query(ctx, customerByEmail, map[string]any{"query": q}, &out); err != nil {
			return nil, err
		}
		if len(out.Customers.Nodes) == 0 || !strings.EqualFold(out.Customers.Nodes[0].Email, a.Customer.Email) {
			return nil, notFound(s.service(), "customer with the email address "+a.Customer.Email)
		}
		c = &out.Customers.Nodes[0]
	}
	all, added := mergeTags(c.Tags, a.Tags)
	if len(added) > 0 {
		var out struct {
			TagsAdd struct {
				Node *struct {
					Tags []string `json:"tags"`
				} `json:"node"`
				UserErrors []userError `json:"userErrors"`
			} `json:"tagsAdd"`
		}
		if err := s.query(ctx, tagsAdd, map[string]any{"id": c.ID, "tags": added}, &out); err != nil {
			return nil, err
		}
		if errs := out.TagsAdd.UserErrors; len(errs) > 0 {
			return nil, refused(s.service(), userErrorsString(errs))
		}
		if n := out.TagsAdd.Node; n != nil && n.Tags != nil {
			all = n.Tags
		}
	}
	return map[string]any{"shop": s.shop, "platform": "shopify", "customerId": numeric(c.ID), "tags": nonNil(all), "added": nonNil(added)}, nil
}

const (
	orderNoteQuery = `query StoreflowOrderNote($id: ID!) {
  order(id: $id) { id name note }
}`
	orderUpdate = `mutation StoreflowOrderNote($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id note }
    userErrors { field message }
  }
}`
)

func (s *shopify) noteOrder(ctx context.Context, a NoteArgs) (map[string]any, error) {
	id, err := gid("Order", a.OrderID.String())
	if err != nil {
		return nil, invalid(OrderNote, "orderId: %v", err)
	}
	var got struct {
		Order *struct {
			ID   string  `json:"id"`
			Note *string `json:"note"`
		} `json:"order"`
	}
	if err := s.query(ctx, orderNoteQuery, map[string]any{"id": id}, &got); err != nil {
		return nil, err
	}
	if got.Order == nil {
		return nil, notFound(s.service(), "order "+a.OrderID.String())
	}
	note := ""
	if got.Order.Note != nil {
		note = *got.Order.Note
	}
	out := map[string]any{"shop": s.shop, "platform": "shopify", "orderId": numeric(id)}
	if hasNote(note, a.Note) {
		// An earlier attempt of this call added it.
		out["note"], out["added"] = note, false
		return out, nil
	}
	// Shopify's order has one note: the new one goes on a line of its own.
	if strings.TrimSpace(note) != "" {
		note = strings.TrimRight(note, "\n") + "\n" + strings.TrimSpace(a.Note)
	} else {
		note = strings.TrimSpace(a.Note)
	}
	var upd struct {
		OrderUpdate struct {
			Order *struct {
				Note *string `json:"note"`
			} `json:"order"`
			UserErrors []userError `json:"userErrors"`
		} `json:"orderUpdate"`
	}
	if err := s.query(ctx, orderUpdate, map[string]any{"input": map[string]any{"id": id, "note": note}}, &upd); err != nil {
		return nil, err
	}
	if errs := upd.OrderUpdate.UserErrors; len(errs) > 0 {
		return nil, refused(s.service(), userErrorsString(errs))
	}
	if o := upd.OrderUpdate.Order; o != nil && o.Note != nil {
		note = *o.Note
	}
	out["note"], out["added"] = note, true
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
