package shopadmin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/problem"
)

// Meta data keys storeflow writes on WooCommerce resources. Keys that
// begin with "_" are hidden from the REST API, so these do not.
const (
	// MetaIdempotencyKey on a coupon is the idempotency key of the call
	// that made it.
	MetaIdempotencyKey = "storeflow_idempotency_key"
	// MetaTags on a customer are the tags shop.customer.tag added, comma
	// separated (WooCommerce has no customer tags of its own).
	MetaTags = "storeflow_tags"
)

// woo is a shop's WooCommerce REST API v3.
type woo struct {
	http           *http.Client
	shop           string
	idempotencyKey string
	base           string // …/wp-json/wc/v3
	key, secret    string
}

func (w *woo) platform() string { return "woocommerce" }

func (w *woo) service() string { return fmt.Sprintf("WooCommerce REST API of shop %q", w.shop) }

// wooError is WooCommerce's error body.
type wooError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Status int `json:"status"`
	} `json:"data"`
}

func readWooError(body []byte) (wooError, bool) {
	var e wooError
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return e, false
	}
	return e, true
}

// do sends one request and decodes a 2xx answer into out. WooCommerce's
// 400s (a parameter it refused) are 422, what the shop refused; other
// statuses follow apicall's rule.
func (w *woo) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := w.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode the request: %w", w.service(), err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return problem.Newf(problem.TypeConfiguration, 500, "Admin API Not Configured", "%s: %v", w.service(), err)
	}
	// Over HTTPS WooCommerce takes the consumer key and secret as basic
	// authentication; apicall.CheckURL let through no other plain http
	// than a loopback test server's.
	req.SetBasicAuth(w.key, w.secret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "storeflow")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if w.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", w.idempotencyKey)
	}
	client := w.http
	if client == nil {
		client = apicall.Client
	}
	resp, err := apicall.Do(ctx, client, req, w.service())
	if err != nil {
		return err
	}
	if resp.Status < 200 || resp.Status > 299 {
		e, ok := readWooError(resp.Body)
		detail := apicall.Snippet(resp.Body)
		if ok {
			detail = e.Code + ": " + e.Message
		}
		if resp.Status == http.StatusBadRequest {
			return &wooRefusal{code: e.Code, err: refused(w.service(), detail)}
		}
		return apicall.Failure(w.service(), resp.Status, detail)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return problem.Newf(problem.TypeCommunication, 502, "Invalid Response", "%s answered with something other than the resource: %s", w.service(), apicall.Snippet(resp.Body))
	}
	return nil
}

// wooRefusal is a 400 answer, with WooCommerce's error code kept so that a
// code taken meanwhile can be told from other refusals.
type wooRefusal struct {
	code string
	err  error
}

func (r *wooRefusal) Error() string { return r.err.Error() }
func (r *wooRefusal) Unwrap() error { return r.err }

type meta struct {
	ID    int64  `json:"id,omitempty"`
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func metaValue(m []meta, key string) (string, bool) {
	for _, e := range m {
		if e.Key == key {
			s, ok := e.Value.(string)
			return s, ok
		}
	}
	return "", false
}

type coupon struct {
	ID             int64  `json:"id"`
	Code           string `json:"code"`
	Amount         string `json:"amount"`
	DiscountType   string `json:"discount_type"`
	Description    string `json:"description"`
	DateCreatedGMT string `json:"date_created_gmt"`
	DateExpiresGMT string `json:"date_expires_gmt"`
	UsageLimit     *int   `json:"usage_limit"`
	FreeShipping   bool   `json:"free_shipping"`
	MetaData       []meta `json:"meta_data"`
}

// wooTime is WooCommerce's GMT time form, without a zone.
const wooTime = "2006-01-02T15:04:05"

func (w *woo) createDiscount(ctx context.Context, d discount) (map[string]any, error) {
	if found, err := w.couponOf(ctx, d); found != nil || err != nil {
		return w.output(d, found, false), err
	}
	in := map[string]any{
		"code":                 d.Code,
		"description":          d.Title,
		"date_expires_gmt":     d.EndsAt.Format(wooTime),
		"usage_limit":          1,
		"usage_limit_per_user": 1,
		"meta_data":            []meta{{Key: MetaIdempotencyKey, Value: d.Key}},
	}
	switch d.Kind {
	case KindPercent:
		in["discount_type"], in["amount"] = "percent", percentString(d.Percent)
	case KindAmount:
		in["discount_type"], in["amount"] = "fixed_cart", d.Amount
	case KindFreeShipping:
		// A coupon that grants free shipping needs a free shipping method
		// in the shop that a valid free shipping coupon enables.
		in["discount_type"], in["amount"], in["free_shipping"] = "fixed_cart", "0", true
	}
	if d.Minimum != "" {
		in["minimum_amount"] = d.Minimum
	}
	if d.Customer != nil && d.Customer.Email != "" {
		in["email_restrictions"] = []string{d.Customer.Email}
	}
	var made coupon
	err := w.do(ctx, http.MethodPost, "/coupons", nil, in, &made)
	var r *wooRefusal
	if errors.As(err, &r) && r.code == "woocommerce_rest_coupon_code_already_exists" {
		// Made meanwhile, by another attempt of this call or someone else.
		found, err := w.couponOf(ctx, d)
		if found == nil && err == nil {
			err = r
		}
		return w.output(d, found, false), err
	}
	if err != nil {
		return nil, err
	}
	return w.output(d, &made, true), nil
}

// couponOf finds the coupon of the discount's code: nil when there is
// none, a conflict when one was made by something other than this call.
func (w *woo) couponOf(ctx context.Context, d discount) (*coupon, error) {
	var list []coupon
	if err := w.do(ctx, http.MethodGet, "/coupons", url.Values{"code": {d.Code}}, nil, &list); err != nil {
		return nil, err
	}
	for i, c := range list {
		if !strings.EqualFold(c.Code, d.Code) {
			continue // the filter is WooCommerce's: check what it let through
		}
		if key, _ := metaValue(c.MetaData, MetaIdempotencyKey); key != d.Key || key == "" {
			return nil, problem.Newf(problem.TypeCommunication, 409, "Discount Code Taken",
				"%s: the code %q belongs to another coupon; give another code, or leave code out to have one derived", w.service(), d.Code)
		}
		return &list[i], nil
	}
	return nil, nil
}

func (w *woo) output(d discount, c *coupon, created bool) map[string]any {
	if c == nil {
		return nil
	}
	out := map[string]any{"shop": w.shop, "platform": "woocommerce", "id": fmt.Sprint(c.ID), "code": c.Code, "title": d.Title,
		"kind": d.Kind, "startsAt": d.StartsAt.Format("2006-01-02T15:04:05Z07:00"), "created": created}
	if c.DateCreatedGMT != "" {
		out["startsAt"] = c.DateCreatedGMT + "Z"
	}
	if c.DateExpiresGMT != "" {
		out["endsAt"] = c.DateExpiresGMT + "Z"
	}
	for k, v := range d.value() {
		out[k] = v
	}
	return out
}

type wooCustomer struct {
	ID       int64  `json:"id"`
	Email    string `json:"email"`
	MetaData []meta `json:"meta_data"`
}

func (w *woo) customer(ctx context.Context, c Customer) (*wooCustomer, error) {
	if c.ID != "" {
		if !numericID.MatchString(c.ID) {
			return nil, invalid(CustomerTag, "customer.id: %q is not a WooCommerce customer id (a number)", c.ID)
		}
		var got wooCustomer
		if err := w.do(ctx, http.MethodGet, "/customers/"+c.ID, nil, nil, &got); err != nil {
			return nil, err
		}
		return &got, nil
	}
	var list []wooCustomer
	if err := w.do(ctx, http.MethodGet, "/customers", url.Values{"email": {c.Email}, "role": {"all"}}, nil, &list); err != nil {
		return nil, err
	}
	for i := range list {
		if strings.EqualFold(list[i].Email, c.Email) {
			return &list[i], nil
		}
	}
	return nil, notFound(w.service(), "customer with the email address "+c.Email)
}

func (w *woo) tagCustomer(ctx context.Context, a TagArgs) (map[string]any, error) {
	c, err := w.customer(ctx, a.Customer)
	if err != nil {
		return nil, err
	}
	have, _ := metaValue(c.MetaData, MetaTags)
	all, added := mergeTags(splitTags(have), a.Tags)
	if len(added) > 0 {
		// Meta data given without an id replaces the entry of its key.
		in := map[string]any{"meta_data": []meta{{Key: MetaTags, Value: tagsCSV(all)}}}
		var got wooCustomer
		if err := w.do(ctx, http.MethodPut, fmt.Sprintf("/customers/%d", c.ID), nil, in, &got); err != nil {
			return nil, err
		}
		if now, ok := metaValue(got.MetaData, MetaTags); ok {
			all = splitTags(now)
		}
	}
	return map[string]any{"shop": w.shop, "platform": "woocommerce", "customerId": fmt.Sprint(c.ID), "tags": nonNil(all), "added": nonNil(added)}, nil
}

type orderNote struct {
	ID           int64  `json:"id"`
	Note         string `json:"note"`
	CustomerNote bool   `json:"customer_note"`
}

func (w *woo) noteOrder(ctx context.Context, a NoteArgs) (map[string]any, error) {
	id := a.OrderID.String()
	if !numericID.MatchString(id) {
		return nil, invalid(OrderNote, "orderId: %q is not a WooCommerce order id (a number)", id)
	}
	out := map[string]any{"shop": w.shop, "platform": "woocommerce", "orderId": id, "note": strings.TrimSpace(a.Note)}
	var notes []orderNote
	if err := w.do(ctx, http.MethodGet, "/orders/"+id+"/notes", url.Values{"type": {"any"}}, nil, &notes); err != nil {
		return nil, err
	}
	for _, n := range notes {
		if strings.TrimSpace(n.Note) == strings.TrimSpace(a.Note) && n.CustomerNote == a.CustomerNote {
			// An earlier attempt of this call added it.
			out["noteId"], out["added"] = fmt.Sprint(n.ID), false
			return out, nil
		}
	}
	var made orderNote
	if err := w.do(ctx, http.MethodPost, "/orders/"+id+"/notes", nil, map[string]any{"note": strings.TrimSpace(a.Note), "customer_note": a.CustomerNote}, &made); err != nil {
		return nil, err
	}
	out["noteId"], out["added"] = fmt.Sprint(made.ID), true
	return out, nil
}
