package woocommerce

import (
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
)

// Topic says what a WooCommerce topic maps to.
type Topic struct {
	Topic string
	Types []string
	Note  string
}

var topics = []struct {
	Topic
	fn func(*mapper) ([]commerce.Event, error)
}{
	{Topic{"order.created", []string{"commerce.order.placed", "commerce.order.paid", "commerce.order.fulfilled", "commerce.order.cancelled", "commerce.refund.created"},
		"commerce.order.placed, then whatever else the new order already shows, as for order.updated."}, (*mapper).orderCreated},
	{Topic{"order.updated", []string{"commerce.order.paid", "commerce.order.fulfilled", "commerce.order.cancelled", "commerce.refund.created", "woocommerce.order.updated"},
		"The facts the order shows: paid (date_paid_gmt set, status processing or completed), fulfilled (status completed), cancelled (status cancelled), one commerce.refund.created per refund listed. Each fact has one id however often the order is updated; an update that shows none is kept as woocommerce.order.updated."}, (*mapper).orderUpdated},
	{Topic{"customer.created", []string{"commerce.customer.created"}, "The billing address is the customer's address, its phone the customer's phone."}, (*mapper).customerCreated},
	{Topic{"customer.updated", []string{"commerce.customer.updated"}, ""}, (*mapper).customerUpdated},
	{Topic{"product.created", []string{"commerce.product.updated", "commerce.inventory.changed"}, "Also commerce.inventory.changed when the product manages its stock."}, (*mapper).product},
	{Topic{"product.updated", []string{"commerce.product.updated", "commerce.inventory.changed"}, "As product.created."}, (*mapper).product},
	{Topic{"coupon.created", []string{"woocommerce.coupon.created"}, "No canonical type describes coupons; they are kept with the payload as data."}, (*mapper).platform},
	{Topic{"coupon.updated", []string{"woocommerce.coupon.updated"}, ""}, (*mapper).platform},
	{Topic{"coupon.deleted", []string{"woocommerce.coupon.deleted"}, ""}, (*mapper).platform},
}

// Topics lists the topics the adapter maps. Every other topic (order,
// customer and product deletions and restores, action.* topics) is kept as
// a "woocommerce.<topic>" event whose data is the payload.
func Topics() []Topic {
	out := make([]Topic, len(topics))
	for i, t := range topics {
		out[i] = t.Topic
	}
	return out
}

func (m *mapper) run() ([]commerce.Event, error) {
	for _, t := range topics {
		if t.Topic.Topic == m.Topic {
			return t.fn(m)
		}
	}
	return m.platform()
}

type address struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Company   string `json:"company"`
	Address1  string `json:"address_1"`
	Address2  string `json:"address_2"`
	City      string `json:"city"`
	State     string `json:"state"`
	Postcode  string `json:"postcode"`
	Country   string `json:"country"`
	Email     string `json:"email"`
	Phone     string `json:"phone"`
}

type order struct {
	ID               commerce.WireID     `json:"id"`
	Number           string              `json:"number"`
	Status           string              `json:"status"`
	Currency         string              `json:"currency"`
	DateCreatedGMT   string              `json:"date_created_gmt"`
	DateModifiedGMT  string              `json:"date_modified_gmt"`
	DatePaidGMT      string              `json:"date_paid_gmt"`
	DateCompletedGMT string              `json:"date_completed_gmt"`
	DiscountTotal    commerce.WireAmount `json:"discount_total"`
	ShippingTotal    commerce.WireAmount `json:"shipping_total"`
	Total            commerce.WireAmount `json:"total"`
	TotalTax         commerce.WireAmount `json:"total_tax"`
	CustomerID       commerce.WireID     `json:"customer_id"`
	Billing          *address            `json:"billing"`
	Shipping         *address            `json:"shipping"`
	LineItems        []struct {
		ID          commerce.WireID     `json:"id"`
		Name        string              `json:"name"`
		ProductID   commerce.WireID     `json:"product_id"`
		VariationID commerce.WireID     `json:"variation_id"`
		Quantity    int64               `json:"quantity"`
		Subtotal    commerce.WireAmount `json:"subtotal"`
		SKU         string              `json:"sku"`
		Price       commerce.WireAmount `json:"price"`
	} `json:"line_items"`
	Refunds []struct {
		ID     commerce.WireID     `json:"id"`
		Reason string              `json:"reason"`
		Refund string              `json:"refund"` // the reason, as older versions name it
		Total  commerce.WireAmount `json:"total"`
	} `json:"refunds"`
}

type customer struct {
	ID              commerce.WireID `json:"id"`
	Email           string          `json:"email"`
	FirstName       string          `json:"first_name"`
	LastName        string          `json:"last_name"`
	DateCreatedGMT  string          `json:"date_created_gmt"`
	DateModifiedGMT string          `json:"date_modified_gmt"`
	Billing         *address        `json:"billing"`
}

type product struct {
	ID              commerce.WireID     `json:"id"`
	Name            string              `json:"name"`
	Slug            string              `json:"slug"`
	Status          string              `json:"status"`
	SKU             string              `json:"sku"`
	Price           commerce.WireAmount `json:"price"`
	DateModifiedGMT string              `json:"date_modified_gmt"`
	ManageStock     bool                `json:"manage_stock"`
	StockQuantity   *int64              `json:"stock_quantity"`
	Tags            []struct {
		Name string `json:"name"`
	} `json:"tags"`
}

// at reads a *_gmt time; the first value set wins.
func (m *mapper) at(field string, values ...string) (time.Time, error) {
	t, ok, err := m.Time(field, values...)
	if err == nil && !ok {
		err = m.Fail("the payload has no %s", field)
	}
	return t, err
}

func (m *mapper) event(typ, id, subject string, d commerce.Data, occurred time.Time, key string, version time.Time) (commerce.Event, error) {
	return m.Canonical(typ, id, subject, d, occurred, commerce.Ordering{Key: key, At: version})
}

// platform keeps a topic without a canonical mapping as a
// "woocommerce.<topic>" event carrying the payload. Its id is the resource
// and its version where the payload has them, else the body's hash: a
// delivery id would not do, WooCommerce reuses them.
func (m *mapper) platform() ([]commerce.Event, error) {
	var head struct {
		ID              commerce.WireID `json:"id"`
		DateModifiedGMT string          `json:"date_modified_gmt"`
	}
	e, err := m.Payload(&head)
	if err != nil {
		return nil, err
	}
	e.Subject = head.ID.String()
	modified, _ := commerce.ParseTime(head.DateModifiedGMT) // an unreadable time is no version
	resource, _, _ := strings.Cut(m.Topic, ".")
	switch {
	case head.ID != "" && !modified.IsZero():
		e.ID = m.Topic + "/" + head.ID.String() + "/" + commerce.Timestamp(modified)
		e.Time = modified
		e.Ordering = commerce.Ordering{Key: resource + "/" + head.ID.String(), At: modified}
	case head.ID != "":
		// A deletion carries the id alone; deleting twice is one fact.
		e.ID = m.Topic + "/" + head.ID.String()
	default:
		e.ID = m.Topic + "/" + m.BodyHash()
	}
	return []commerce.Event{e}, nil
}

// --- orders

func (m *mapper) order() (*order, error) {
	var o order
	if err := m.Decode(&o, "an order"); err != nil {
		return nil, err
	}
	if o.ID == "" {
		return nil, m.Fail("the order has no id")
	}
	return &o, nil
}

func (m *mapper) orderData(o *order) (commerce.Data, error) {
	d := commerce.Data{
		OrderID:         o.ID.String(),
		OrderNumber:     o.Number,
		Status:          o.Status,
		Currency:        strings.ToUpper(o.Currency),
		TotalPrice:      o.Total.String(),
		TotalTax:        o.TotalTax.String(),
		TotalDiscounts:  o.DiscountTotal.String(),
		TotalShipping:   o.ShippingTotal.String(),
		BillingAddress:  m.address(o.Billing),
		ShippingAddress: m.address(o.Shipping),
	}
	var subtotals []string
	for _, l := range o.LineItems {
		li := commerce.LineItem{
			ID: l.ID.String(), ProductID: nonZero(l.ProductID), VariantID: nonZero(l.VariationID),
			SKU: l.SKU, Title: l.Name, Quantity: l.Quantity, Price: l.Price.String(),
		}
		d.LineItems = append(d.LineItems, li)
		if l.Subtotal != "" {
			subtotals = append(subtotals, l.Subtotal.String())
		}
	}
	if len(subtotals) > 0 {
		s, err := commerce.AddDecimals(subtotals...)
		if err != nil {
			return d, m.Fail("subtotal: %v", err)
		}
		d.SubtotalPrice = s
	}
	if o.Billing != nil || o.CustomerID != "" {
		c := &commerce.Customer{ID: nonZero(o.CustomerID)}
		if b := o.Billing; b != nil {
			c.Email = commerce.NormalizeEmail(b.Email)
			c.Phone = commerce.NormalizePhone(b.Phone, m.country(b))
			c.FirstName, c.LastName = strings.TrimSpace(b.FirstName), strings.TrimSpace(b.LastName)
		}
		if !c.Empty() {
			d.Customer = c
		}
	}
	return d, nil
}

func (m *mapper) orderCreated() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	d, err := m.orderData(o)
	if err != nil {
		return nil, err
	}
	at, err := m.at("date_created_gmt", o.DateCreatedGMT)
	if err != nil {
		return nil, err
	}
	placed, err := m.orderEvent(o, "commerce.order.placed", "placed", d, at)
	if err != nil {
		return nil, err
	}
	facts, err := m.orderFacts(o, d)
	if err != nil {
		return nil, err
	}
	return append([]commerce.Event{placed}, facts...), nil
}

func (m *mapper) orderUpdated() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	d, err := m.orderData(o)
	if err != nil {
		return nil, err
	}
	facts, err := m.orderFacts(o, d)
	if err != nil {
		return nil, err
	}
	if len(facts) == 0 {
		return m.platform()
	}
	return facts, nil
}

func (m *mapper) orderEvent(o *order, typ, fact string, d commerce.Data, occurred time.Time) (commerce.Event, error) {
	version, err := m.at("date_modified_gmt", o.DateModifiedGMT)
	if err != nil {
		return commerce.Event{}, err
	}
	id := o.ID.String()
	return m.event(typ, "order/"+id+"/"+fact, id, d, occurred, "order/"+id, version)
}

// orderFacts are the facts an order's state shows, each with an id of its
// own that later updates of the order repeat.
func (m *mapper) orderFacts(o *order, d commerce.Data) ([]commerce.Event, error) {
	var out []commerce.Event
	add := func(typ, fact string, d commerce.Data, field string, times ...string) error {
		at, err := m.at(field, times...)
		if err != nil {
			return err
		}
		e, err := m.orderEvent(o, typ, fact, d, at)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}
	if o.DatePaidGMT != "" && (o.Status == "processing" || o.Status == "completed") {
		if err := add("commerce.order.paid", "paid", d, "date_paid_gmt", o.DatePaidGMT); err != nil {
			return nil, err
		}
	}
	if o.Status == "completed" {
		if err := add("commerce.order.fulfilled", "fulfilled", d, "date_completed_gmt", o.DateCompletedGMT, o.DateModifiedGMT); err != nil {
			return nil, err
		}
	}
	if o.Status == "cancelled" {
		if err := add("commerce.order.cancelled", "cancelled", d, "date_modified_gmt", o.DateModifiedGMT); err != nil {
			return nil, err
		}
	}
	for _, r := range o.Refunds {
		if r.ID == "" {
			return nil, m.Fail("a refund of the order has no id")
		}
		rd := commerce.Data{RefundID: r.ID.String(), OrderID: d.OrderID, Customer: d.Customer, Currency: d.Currency, Reason: r.Reason}
		if rd.Reason == "" {
			rd.Reason = r.Refund
		}
		if r.Total != "" {
			amount, err := commerce.AbsDecimal(r.Total.String())
			if err != nil {
				return nil, m.Fail("refund %s: %v", r.ID, err)
			}
			rd.Amount = amount
		}
		// The order lists refunds without their time: the update that
		// shows a refund first is when it was made.
		at, err := m.at("date_modified_gmt", o.DateModifiedGMT)
		if err != nil {
			return nil, err
		}
		id := r.ID.String()
		e, err := m.event("commerce.refund.created", "refund/"+id, id, rd, at, "refund/"+id, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// --- customers

func (m *mapper) customer() (*customer, commerce.Data, error) {
	var c customer
	if err := m.Decode(&c, "a customer"); err != nil {
		return nil, commerce.Data{}, err
	}
	if c.ID == "" {
		return nil, commerce.Data{}, m.Fail("the customer has no id")
	}
	who := &commerce.Customer{
		ID: c.ID.String(), Email: commerce.NormalizeEmail(c.Email),
		FirstName: strings.TrimSpace(c.FirstName), LastName: strings.TrimSpace(c.LastName),
	}
	if c.Billing != nil {
		who.Phone = commerce.NormalizePhone(c.Billing.Phone, m.country(c.Billing))
		if who.Email == "" {
			who.Email = commerce.NormalizeEmail(c.Billing.Email)
		}
	}
	return &c, commerce.Data{Customer: who, Address: m.address(c.Billing)}, nil
}

func (m *mapper) customerCreated() ([]commerce.Event, error) {
	c, d, err := m.customer()
	if err != nil {
		return nil, err
	}
	at, err := m.at("date_created_gmt", c.DateCreatedGMT)
	if err != nil {
		return nil, err
	}
	version, err := m.at("date_modified_gmt", c.DateModifiedGMT, c.DateCreatedGMT)
	if err != nil {
		return nil, err
	}
	id := c.ID.String()
	e, err := m.event("commerce.customer.created", "customer/"+id+"/created", id, d, at, "customer/"+id, version)
	return one(e, err)
}

func (m *mapper) customerUpdated() ([]commerce.Event, error) {
	c, d, err := m.customer()
	if err != nil {
		return nil, err
	}
	at, err := m.at("date_modified_gmt", c.DateModifiedGMT)
	if err != nil {
		return nil, err
	}
	id := c.ID.String()
	e, err := m.event("commerce.customer.updated", "customer/"+id+"/updated/"+commerce.Timestamp(at), id, d, at, "customer/"+id, at)
	return one(e, err)
}

// --- products

func (m *mapper) product() ([]commerce.Event, error) {
	var p product
	if err := m.Decode(&p, "a product"); err != nil {
		return nil, err
	}
	if p.ID == "" {
		return nil, m.Fail("the product has no id")
	}
	at, err := m.at("date_modified_gmt", p.DateModifiedGMT)
	if err != nil {
		return nil, err
	}
	id, version := p.ID.String(), commerce.Timestamp(at)
	d := commerce.Data{
		ProductID: id, Title: p.Name, Handle: p.Slug, Status: p.Status, SKU: p.SKU,
		Price: p.Price.String(), Currency: strings.ToUpper(m.shop.Currency),
	}
	for _, t := range p.Tags {
		if n := strings.TrimSpace(t.Name); n != "" {
			d.Tags = append(d.Tags, n)
		}
	}
	e, err := m.event("commerce.product.updated", "product/"+id+"/updated/"+version, id, d, at, "product/"+id, at)
	if err != nil {
		return nil, err
	}
	out := []commerce.Event{e}
	if p.ManageStock && p.StockQuantity != nil {
		inv := commerce.Data{ProductID: id, SKU: p.SKU, Available: p.StockQuantity}
		e, err := m.event("commerce.inventory.changed", "inventory/"+id+"/"+version, id, inv, at, "inventory/"+id, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// --- shared pieces

// country is the region for an address's phone: its own country, else the
// shop's.
func (m *mapper) country(a *address) string {
	if a != nil && a.Country != "" {
		return a.Country
	}
	return m.shop.Country
}

func (m *mapper) address(a *address) *commerce.Address {
	if a == nil {
		return nil
	}
	out := &commerce.Address{
		FirstName: a.FirstName, LastName: a.LastName, Company: a.Company,
		Address1: a.Address1, Address2: a.Address2, City: a.City,
		ProvinceCode: a.State, Zip: a.Postcode, CountryCode: strings.ToUpper(strings.TrimSpace(a.Country)),
		Phone: commerce.NormalizePhone(a.Phone, m.country(a)),
	}
	if out.Empty() {
		return nil
	}
	return out
}

// nonZero drops WooCommerce's 0 for "none" (a guest's customer_id, a
// simple product's variation_id).
func nonZero(id commerce.WireID) string {
	if id == "0" {
		return ""
	}
	return id.String()
}

func one(e commerce.Event, err error) ([]commerce.Event, error) {
	if err != nil {
		return nil, err
	}
	return []commerce.Event{e}, nil
}
