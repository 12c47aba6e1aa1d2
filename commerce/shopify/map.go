package shopify

import (
	"strings"
	"time"

	"github.com/storeflow/storeflow/commerce"
)

// Topic says what a Shopify topic maps to.
type Topic struct {
	Topic   string   // as X-Shopify-Topic names it
	Aliases []string // other spellings accepted
	Types   []string // the event types it can map to
	Note    string
}

type topicMap struct {
	Topic
	fn func(*mapper) ([]commerce.Event, error)
}

var topics = []topicMap{
	{Topic{"orders/create", nil, []string{"commerce.order.placed"}, ""}, (*mapper).orderCreate},
	{Topic{"orders/paid", nil, []string{"commerce.order.paid"}, ""}, (*mapper).orderPaid},
	{Topic{"orders/fulfilled", nil, []string{"commerce.order.fulfilled"}, "One event per successful fulfillment in the payload (id `fulfillment/<id>/fulfilled`, the same as fulfillments/create gives), or one for the order when it lists none."}, (*mapper).orderFulfilled},
	{Topic{"orders/cancelled", nil, []string{"commerce.order.cancelled"}, ""}, (*mapper).orderCancelled},
	{Topic{"orders/updated", nil, []string{"commerce.order.paid", "commerce.order.fulfilled", "commerce.order.cancelled", "shopify.orders/updated"},
		"The facts the order's state shows — financial_status paid, fulfillment_status fulfilled, cancelled_at set — with the same ids the dedicated topics give, so each is logged once; an update that shows none of them is kept as shopify.orders/updated."}, (*mapper).orderUpdated},
	{Topic{"checkouts/create", nil, []string{"commerce.checkout.started", "commerce.checkout.updated"},
		"A checkout that already has completed_at is not a start (its reminder must not begin): it maps to commerce.checkout.updated with completedAt, which also tells waiting flows the checkout is done."}, (*mapper).checkoutCreate},
	{Topic{"checkouts/update", nil, []string{"commerce.checkout.updated"}, ""}, (*mapper).checkoutUpdate},
	{Topic{"customers/create", nil, []string{"commerce.customer.created"}, ""}, (*mapper).customerCreate},
	{Topic{"customers/update", nil, []string{"commerce.customer.updated"}, ""}, (*mapper).customerUpdate},
	{Topic{"customers_email_marketing_consent/update", []string{"customers/email_marketing_consent_update"}, []string{"commerce.consent.changed"}, "Channel email."}, (*mapper).emailConsent},
	{Topic{"customers_marketing_consent/update", []string{"customers/marketing_consent_update"}, []string{"commerce.consent.changed"}, "Channel sms. A null state (no consent recorded) maps to state unknown."}, (*mapper).smsConsent},
	{Topic{"customers_whats_app_marketing_consent/update", nil, []string{"commerce.consent.changed"}, "Channel whatsapp."}, (*mapper).whatsAppConsent},
	{Topic{"refunds/create", nil, []string{"commerce.refund.created"}, "amount is the sum of the successful refund transactions, else of the refunded lines with their tax."}, (*mapper).refundCreate},
	{Topic{"returns/request", nil, []string{"commerce.return.requested"}, ""}, (*mapper).returnRequest},
	{Topic{"fulfillments/create", nil, []string{"commerce.order.fulfilled", "commerce.order.delivered", "shopify.fulfillments/create"}, "status success: commerce.order.fulfilled; shipment_status delivered: commerce.order.delivered; a pending, open, cancelled or failed fulfillment has shipped nothing and is kept as shopify.fulfillments/create."}, (*mapper).fulfillment},
	{Topic{"fulfillments/update", nil, []string{"commerce.order.fulfilled", "commerce.order.delivered", "shopify.fulfillments/update"}, "As fulfillments/create."}, (*mapper).fulfillment},
	{Topic{"inventory_levels/update", nil, []string{"commerce.inventory.changed", "shopify.inventory_levels/update"}, "An untracked level (available null) is kept as shopify.inventory_levels/update."}, (*mapper).inventoryLevel},
	{Topic{"products/create", nil, []string{"commerce.product.updated"}, ""}, (*mapper).product},
	{Topic{"products/update", nil, []string{"commerce.product.updated"}, ""}, (*mapper).product},
}

var byTopic = func() map[string]topicMap {
	m := map[string]topicMap{}
	for _, t := range topics {
		m[t.Topic.Topic] = t
		for _, a := range t.Aliases {
			m[a] = t
		}
	}
	return m
}()

// Topics lists the topics mapped to canonical events. Every other topic is
// kept as a "shopify.<topic>" event whose data is the payload.
func Topics() []Topic {
	out := make([]Topic, len(topics))
	for i, t := range topics {
		out[i] = t.Topic
	}
	return out
}

func (m *mapper) run() ([]commerce.Event, error) {
	if t, ok := byTopic[m.Topic]; ok {
		return t.fn(m)
	}
	return m.platform()
}

// at returns the first of the times given, else the delivery's
// triggered-at; a malformed time is an error.
func (m *mapper) at(field string, values ...string) (time.Time, error) {
	t, ok, err := m.Time(field, values...)
	switch {
	case err != nil:
		return time.Time{}, err
	case ok:
		return t, nil
	case m.triggered.IsZero():
		return time.Time{}, m.Fail("the payload has no %s and the X-Shopify-Triggered-At header is missing", field)
	}
	return m.triggered, nil
}

// event makes a canonical event of d, occurring at occurred, with the
// ordering (key, version); a zero version is the delivery's triggered-at.
func (m *mapper) event(typ, id, subject string, d commerce.Data, occurred time.Time, key string, version time.Time) (commerce.Event, error) {
	if version.IsZero() {
		version = m.triggered
	}
	return m.Canonical(typ, id, subject, d, occurred, commerce.Ordering{Key: key, At: version})
}

// platform keeps a topic without a canonical mapping as a
// "shopify.<topic>" event carrying the payload.
func (m *mapper) platform() ([]commerce.Event, error) {
	var head struct {
		ID commerce.WireID `json:"id"`
	}
	e, err := m.Payload(&head)
	if err != nil {
		return nil, err
	}
	e.ID = m.Topic + "/" + m.version
	e.Subject = head.ID.String()
	e.Time = m.triggered
	return []commerce.Event{e}, nil
}

func (m *mapper) requireID(id commerce.WireID, what string) error {
	if id == "" {
		return m.Fail("the %s has no id", what)
	}
	return nil
}

// --- orders

func (m *mapper) order() (*order, error) {
	var o order
	if err := m.Decode(&o, "an order"); err != nil {
		return nil, err
	}
	if err := m.requireID(o.ID, "order"); err != nil {
		return nil, err
	}
	return &o, nil
}

func (m *mapper) orderData(o *order) commerce.Data {
	country := ""
	for _, a := range []*address{o.ShippingAddress, o.BillingAddress} {
		if a != nil && a.CountryCode != "" {
			country = a.CountryCode
			break
		}
	}
	email := o.Email
	if email == "" {
		email = o.ContactEmail
	}
	d := commerce.Data{
		OrderID:           o.ID.String(),
		OrderNumber:       o.Name,
		CheckoutToken:     o.CheckoutToken,
		CartToken:         o.CartToken,
		Customer:          m.customer(o.Customer, email, o.Phone, country),
		Currency:          strings.ToUpper(o.Currency),
		SubtotalPrice:     o.SubtotalPrice.String(),
		TotalPrice:        o.TotalPrice.String(),
		TotalTax:          o.TotalTax.String(),
		TotalDiscounts:    o.TotalDiscounts.String(),
		FinancialStatus:   o.FinancialStatus,
		FulfillmentStatus: o.FulfillmentStatus,
		LineItems:         lineItems(o.LineItems),
		ShippingAddress:   m.address(o.ShippingAddress),
		BillingAddress:    m.address(o.BillingAddress),
		Tags:              tags(o.Tags),
		Test:              o.Test,
	}
	if d.OrderNumber == "" {
		d.OrderNumber = o.OrderNumber.String()
	}
	if o.TotalShippingPriceSet != nil {
		d.TotalShipping = o.TotalShippingPriceSet.ShopMoney.Amount.String()
	}
	return d
}

func (m *mapper) orderEvent(o *order, typ, fact string, d commerce.Data, occurred time.Time) (commerce.Event, error) {
	version, err := m.at("updated_at", o.UpdatedAt)
	if err != nil {
		return commerce.Event{}, err
	}
	id := o.ID.String()
	return m.event(typ, "order/"+id+"/"+fact, id, d, occurred, "order/"+id, version)
}

func (m *mapper) orderCreate() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	at, err := m.at("created_at", o.CreatedAt)
	if err != nil {
		return nil, err
	}
	e, err := m.orderEvent(o, "commerce.order.placed", "placed", m.orderData(o), at)
	return one(e, err)
}

func (m *mapper) orderPaid() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	e, err := m.paid(o)
	return one(e, err)
}

func (m *mapper) paid(o *order) (commerce.Event, error) {
	// The payload has no time of payment; the delivery was triggered by it.
	at := m.triggered
	if at.IsZero() {
		var err error
		if at, err = m.at("updated_at", o.UpdatedAt); err != nil {
			return commerce.Event{}, err
		}
	}
	return m.orderEvent(o, "commerce.order.paid", "paid", m.orderData(o), at)
}

func (m *mapper) orderCancelled() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	e, err := m.cancelled(o)
	return one(e, err)
}

func (m *mapper) cancelled(o *order) (commerce.Event, error) {
	at, err := m.at("cancelled_at", o.CancelledAt)
	if err != nil {
		return commerce.Event{}, err
	}
	d := m.orderData(o)
	if o.CancelledAt != "" {
		d.CancelledAt = commerce.Timestamp(at)
	}
	d.CancelReason = o.CancelReason
	return m.orderEvent(o, "commerce.order.cancelled", "cancelled", d, at)
}

func (m *mapper) orderFulfilled() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	return m.fulfilled(o)
}

func (m *mapper) fulfilled(o *order) ([]commerce.Event, error) {
	var out []commerce.Event
	for i := range o.Fulfillments {
		f := &o.Fulfillments[i]
		if f.Status != "success" || f.ID == "" {
			continue
		}
		d := m.orderData(o)
		d.Fulfillment = fulfillmentData(f)
		at, err := m.at("fulfillments.created_at", f.CreatedAt)
		if err != nil {
			return nil, err
		}
		version, err := m.at("updated_at", o.UpdatedAt)
		if err != nil {
			return nil, err
		}
		e, err := m.event("commerce.order.fulfilled", "fulfillment/"+f.ID.String()+"/fulfilled", o.ID.String(), d, at, "order/"+o.ID.String(), version)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) > 0 {
		return out, nil
	}
	// Without a fulfillment to date it, the fact dates from the delivery
	// it triggered.
	at := m.triggered
	if at.IsZero() {
		var err error
		if at, err = m.at("updated_at", o.UpdatedAt); err != nil {
			return nil, err
		}
	}
	e, err := m.orderEvent(o, "commerce.order.fulfilled", "fulfilled", m.orderData(o), at)
	return one(e, err)
}

func (m *mapper) orderUpdated() ([]commerce.Event, error) {
	o, err := m.order()
	if err != nil {
		return nil, err
	}
	var out []commerce.Event
	if o.FinancialStatus == "paid" {
		e, err := m.paid(o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if o.FulfillmentStatus == "fulfilled" {
		es, err := m.fulfilled(o)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	if o.CancelledAt != "" {
		e, err := m.cancelled(o)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return m.platform()
	}
	return out, nil
}

// --- checkouts

func (m *mapper) checkout() (*checkout, commerce.Data, error) {
	var c checkout
	if err := m.Decode(&c, "a checkout"); err != nil {
		return nil, commerce.Data{}, err
	}
	if c.Token == "" {
		return nil, commerce.Data{}, m.Fail("the checkout has no token")
	}
	country := ""
	for _, a := range []*address{c.ShippingAddress, c.BillingAddress} {
		if a != nil && a.CountryCode != "" {
			country = a.CountryCode
			break
		}
	}
	d := commerce.Data{
		CheckoutToken:   c.Token,
		CartToken:       c.CartToken,
		Customer:        m.customer(c.Customer, c.Email, c.Phone, country),
		Currency:        strings.ToUpper(c.Currency),
		SubtotalPrice:   c.SubtotalPrice.String(),
		TotalPrice:      c.TotalPrice.String(),
		TotalTax:        c.TotalTax.String(),
		TotalDiscounts:  c.TotalDiscounts.String(),
		LineItems:       lineItems(c.LineItems),
		ShippingAddress: m.address(c.ShippingAddress),
		BillingAddress:  m.address(c.BillingAddress),
		RecoveryURL:     c.AbandonedCheckoutURL,
	}
	return &c, d, nil
}

func (m *mapper) checkoutCreate() ([]commerce.Event, error) {
	c, d, err := m.checkout()
	if err != nil {
		return nil, err
	}
	if c.CompletedAt != "" {
		return m.checkoutUpdated(c, d)
	}
	at, err := m.at("created_at", c.CreatedAt)
	if err != nil {
		return nil, err
	}
	version, err := m.at("updated_at", c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	e, err := m.event("commerce.checkout.started", "checkout/"+c.Token+"/started", c.Token, d, at, "checkout/"+c.Token, version)
	return one(e, err)
}

func (m *mapper) checkoutUpdate() ([]commerce.Event, error) {
	c, d, err := m.checkout()
	if err != nil {
		return nil, err
	}
	return m.checkoutUpdated(c, d)
}

func (m *mapper) checkoutUpdated(c *checkout, d commerce.Data) ([]commerce.Event, error) {
	at, err := m.at("updated_at", c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if c.CompletedAt != "" {
		done, err := m.at("completed_at", c.CompletedAt)
		if err != nil {
			return nil, err
		}
		d.CompletedAt = commerce.Timestamp(done)
	}
	e, err := m.event("commerce.checkout.updated", "checkout/"+c.Token+"/updated/"+m.version, c.Token, d, at, "checkout/"+c.Token, at)
	return one(e, err)
}

// --- customers

func (m *mapper) customerPayload() (*customer, commerce.Data, error) {
	var c customer
	if err := m.Decode(&c, "a customer"); err != nil {
		return nil, commerce.Data{}, err
	}
	if err := m.requireID(c.ID, "customer"); err != nil {
		return nil, commerce.Data{}, err
	}
	country := ""
	if c.DefaultAddress != nil {
		country = c.DefaultAddress.CountryCode
	}
	d := commerce.Data{
		Customer: m.customer(&c, "", "", country),
		Address:  m.address(c.DefaultAddress),
		Tags:     tags(c.Tags),
	}
	return &c, d, nil
}

func (m *mapper) customerCreate() ([]commerce.Event, error) {
	c, d, err := m.customerPayload()
	if err != nil {
		return nil, err
	}
	at, err := m.at("created_at", c.CreatedAt)
	if err != nil {
		return nil, err
	}
	version, err := m.at("updated_at", c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	id := c.ID.String()
	e, err := m.event("commerce.customer.created", "customer/"+id+"/created", id, d, at, "customer/"+id, version)
	return one(e, err)
}

func (m *mapper) customerUpdate() ([]commerce.Event, error) {
	c, d, err := m.customerPayload()
	if err != nil {
		return nil, err
	}
	at, err := m.at("updated_at", c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	id := c.ID.String()
	e, err := m.event("commerce.customer.updated", "customer/"+id+"/updated/"+m.version, id, d, at, "customer/"+id, at)
	return one(e, err)
}

// --- consent

func (m *mapper) emailConsent() ([]commerce.Event, error) {
	var p consentUpdate
	if err := m.Decode(&p, "an email consent update"); err != nil {
		return nil, err
	}
	return m.consent("email", p.CustomerID, &commerce.Customer{Email: commerce.NormalizeEmail(p.EmailAddress)}, p.Email, "email_marketing_consent")
}

func (m *mapper) smsConsent() ([]commerce.Event, error) {
	var p consentUpdate
	if err := m.Decode(&p, "an SMS consent update"); err != nil {
		return nil, err
	}
	return m.consent("sms", p.ID, &commerce.Customer{Phone: commerce.NormalizePhone(p.Phone, m.shop.Country)}, p.SMS, "sms_marketing_consent")
}

func (m *mapper) whatsAppConsent() ([]commerce.Event, error) {
	var p consentUpdate
	if err := m.Decode(&p, "a WhatsApp consent update"); err != nil {
		return nil, err
	}
	return m.consent("whatsapp", p.CustomerID, &commerce.Customer{Phone: commerce.NormalizePhone(p.PhoneNumber, m.shop.Country)}, p.WhatsApp, "whats_app_marketing_consent")
}

func (m *mapper) consent(channel string, customerID commerce.WireID, who *commerce.Customer, c *consent, field string) ([]commerce.Event, error) {
	if err := m.requireID(customerID, "customer of the consent update"); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, m.Fail("the payload has no %s", field)
	}
	who.ID = customerID.String()
	state := "unknown"
	if c.State != nil && *c.State != "" {
		state = strings.ToLower(*c.State)
	}
	changed := c.ConsentUpdatedAt
	if changed == "" {
		changed = c.UpdatedAt
	}
	at, err := m.at(field+".consent_updated_at", changed)
	if err != nil {
		return nil, err
	}
	collected := c.ConsentCollectedFrom
	if collected == "" {
		collected = c.CollectedFrom
	}
	d := commerce.Data{
		Customer:      who,
		Channel:       channel,
		State:         state,
		OptInLevel:    strings.ToLower(c.OptInLevel),
		CollectedFrom: strings.ToLower(collected),
	}
	if changed != "" {
		d.ConsentUpdatedAt = commerce.Timestamp(at)
	}
	id := who.ID
	key := "customer/" + id + "/consent/" + channel
	e, err := m.event("commerce.consent.changed", key+"/"+m.version, id, d, at, key, at)
	return one(e, err)
}

// --- refunds, returns, fulfillments

func (m *mapper) refundCreate() ([]commerce.Event, error) {
	var r refund
	if err := m.Decode(&r, "a refund"); err != nil {
		return nil, err
	}
	if err := m.requireID(r.ID, "refund"); err != nil {
		return nil, err
	}
	if r.OrderID == "" {
		return nil, m.Fail("the refund has no order_id")
	}
	d := commerce.Data{RefundID: r.ID.String(), OrderID: r.OrderID.String(), Reason: r.Note}
	var paid, lines []string
	for _, t := range r.Transactions {
		if t.Kind == "refund" && t.Status == "success" && t.Amount != "" {
			paid = append(paid, t.Amount.String())
		}
	}
	for _, rl := range r.RefundLineItems {
		li := toLineItem(rl.LineItem)
		li.Quantity = rl.Quantity
		d.LineItems = append(d.LineItems, li)
		for _, s := range []*moneySet{rl.SubtotalSet, rl.TotalTaxSet} {
			if s != nil && s.ShopMoney.Amount != "" {
				lines = append(lines, s.ShopMoney.Amount.String())
				if d.Currency == "" {
					d.Currency = s.ShopMoney.CurrencyCode
				}
			}
		}
	}
	terms := paid
	if len(terms) == 0 {
		terms = lines
	}
	if len(terms) > 0 {
		amount, err := commerce.AddDecimals(terms...)
		if err != nil {
			return nil, m.Fail("refund amount: %v", err)
		}
		d.Amount = amount
	}
	if d.Currency == "" && r.TotalDutiesSet != nil {
		d.Currency = r.TotalDutiesSet.ShopMoney.CurrencyCode
	}
	if d.Currency == "" {
		d.Currency = m.shop.Currency
	}
	d.Currency = strings.ToUpper(d.Currency)
	at, err := m.at("created_at", r.CreatedAt, r.ProcessedAt)
	if err != nil {
		return nil, err
	}
	id := r.ID.String()
	e, err := m.event("commerce.refund.created", "refund/"+id, id, d, at, "refund/"+id, at)
	return one(e, err)
}

func (m *mapper) returnRequest() ([]commerce.Event, error) {
	var r returnRequest
	if err := m.Decode(&r, "a return"); err != nil {
		return nil, err
	}
	if err := m.requireID(r.ID, "return"); err != nil {
		return nil, err
	}
	d := commerce.Data{ReturnID: r.ID.String(), OrderID: r.OrderID.String(), Status: r.Status, ItemCount: r.TotalReturnLineItems}
	if r.Order != nil && r.Order.ID != "" {
		d.OrderID = r.Order.ID.String()
	}
	// The payload carries no time; the request triggered the delivery.
	at, err := m.at("time", "")
	if err != nil {
		return nil, err
	}
	id := r.ID.String()
	e, err := m.event("commerce.return.requested", "return/"+id+"/requested", id, d, at, "return/"+id, at)
	return one(e, err)
}

func (m *mapper) fulfillment() ([]commerce.Event, error) {
	var f fulfillment
	if err := m.Decode(&f, "a fulfillment"); err != nil {
		return nil, err
	}
	if err := m.requireID(f.ID, "fulfillment"); err != nil {
		return nil, err
	}
	if f.OrderID == "" {
		return nil, m.Fail("the fulfillment has no order_id")
	}
	var typ, fact, when string
	switch {
	case f.ShipmentStatus == "delivered":
		typ, fact, when = "commerce.order.delivered", "delivered", f.UpdatedAt
	case f.Status == "success":
		typ, fact, when = "commerce.order.fulfilled", "fulfilled", f.CreatedAt
	default:
		return m.platform()
	}
	country := ""
	if f.Destination != nil {
		country = f.Destination.CountryCode
	}
	d := commerce.Data{
		OrderID:         f.OrderID.String(),
		Customer:        m.customer(nil, f.Email, "", country),
		Fulfillment:     fulfillmentData(&f),
		ShippingAddress: m.address(f.Destination),
	}
	at, err := m.at("updated_at", when)
	if err != nil {
		return nil, err
	}
	version, err := m.at("updated_at", f.UpdatedAt)
	if err != nil {
		return nil, err
	}
	e, err := m.event(typ, "fulfillment/"+f.ID.String()+"/"+fact, d.OrderID, d, at, "fulfillment/"+f.ID.String(), version)
	return one(e, err)
}

func fulfillmentData(f *fulfillment) *commerce.Fulfillment {
	out := &commerce.Fulfillment{
		ID:              f.ID.String(),
		Status:          f.Status,
		ShipmentStatus:  f.ShipmentStatus,
		TrackingCompany: f.TrackingCompany,
		TrackingNumbers: f.TrackingNumbers,
		TrackingURLs:    f.TrackingURLs,
		LineItems:       lineItems(f.LineItems),
	}
	if len(out.TrackingNumbers) == 0 && f.TrackingNumber != "" {
		out.TrackingNumbers = []string{f.TrackingNumber}
	}
	if len(out.TrackingURLs) == 0 && f.TrackingURL != "" {
		out.TrackingURLs = []string{f.TrackingURL}
	}
	return out
}

// --- catalog

func (m *mapper) inventoryLevel() ([]commerce.Event, error) {
	var l inventoryLevel
	if err := m.Decode(&l, "an inventory level"); err != nil {
		return nil, err
	}
	if l.InventoryItemID == "" {
		return nil, m.Fail("the inventory level has no inventory_item_id")
	}
	if l.Available == nil {
		return m.platform()
	}
	at, err := m.at("updated_at", l.UpdatedAt)
	if err != nil {
		return nil, err
	}
	item, loc := l.InventoryItemID.String(), l.LocationID.String()
	d := commerce.Data{InventoryItemID: item, LocationID: loc, Available: l.Available}
	key := "inventory/" + item + "/" + loc
	e, err := m.event("commerce.inventory.changed", key+"/"+m.version, item, d, at, key, at)
	return one(e, err)
}

func (m *mapper) product() ([]commerce.Event, error) {
	var p product
	if err := m.Decode(&p, "a product"); err != nil {
		return nil, err
	}
	if err := m.requireID(p.ID, "product"); err != nil {
		return nil, err
	}
	d := commerce.Data{
		ProductID:   p.ID.String(),
		Title:       p.Title,
		Handle:      p.Handle,
		Status:      p.Status,
		Vendor:      p.Vendor,
		ProductType: p.ProductType,
		Tags:        tags(p.Tags),
		Currency:    strings.ToUpper(m.shop.Currency),
	}
	for _, v := range p.Variants {
		if v.ID == "" {
			continue
		}
		d.Variants = append(d.Variants, commerce.Variant{
			ID: v.ID.String(), SKU: v.SKU, Title: v.Title, Price: v.Price.String(),
			CompareAtPrice: v.CompareAtPrice.String(), InventoryQuantity: v.InventoryQuantity,
		})
	}
	at, err := m.at("updated_at", p.UpdatedAt)
	if err != nil {
		return nil, err
	}
	id := p.ID.String()
	e, err := m.event("commerce.product.updated", "product/"+id+"/updated/"+m.version, id, d, at, "product/"+id, at)
	return one(e, err)
}

// --- shared pieces

// customer merges the customer object with the contact fields beside it;
// nil when nobody is named.
func (m *mapper) customer(c *customer, email, phone, country string) *commerce.Customer {
	out := &commerce.Customer{}
	if c != nil {
		out.ID = c.ID.String()
		out.Email = c.Email
		out.Phone = c.Phone
		out.FirstName = strings.TrimSpace(c.FirstName)
		out.LastName = strings.TrimSpace(c.LastName)
		if c.DefaultAddress != nil && c.DefaultAddress.CountryCode != "" {
			country = c.DefaultAddress.CountryCode
		}
	}
	if out.Email == "" {
		out.Email = email
	}
	if out.Phone == "" {
		out.Phone = phone
	}
	if country == "" {
		country = m.shop.Country
	}
	out.Email = commerce.NormalizeEmail(out.Email)
	out.Phone = commerce.NormalizePhone(out.Phone, country)
	if out.Empty() {
		return nil
	}
	return out
}

func (m *mapper) address(a *address) *commerce.Address {
	if a == nil {
		return nil
	}
	country := strings.ToUpper(strings.TrimSpace(a.CountryCode))
	region := country
	if region == "" {
		region = m.shop.Country
	}
	out := &commerce.Address{
		FirstName: a.FirstName, LastName: a.LastName, Company: a.Company,
		Address1: a.Address1, Address2: a.Address2, City: a.City,
		Province: a.Province, ProvinceCode: a.ProvinceCode, Zip: a.Zip,
		Country: a.Country, CountryCode: country,
		Phone: commerce.NormalizePhone(a.Phone, region),
	}
	if out.Empty() {
		return nil
	}
	return out
}

func lineItems(in []lineItem) []commerce.LineItem {
	var out []commerce.LineItem
	for _, l := range in {
		out = append(out, toLineItem(l))
	}
	return out
}

func toLineItem(l lineItem) commerce.LineItem {
	return commerce.LineItem{
		ID: l.ID.String(), ProductID: l.ProductID.String(), VariantID: l.VariantID.String(),
		SKU: l.SKU, Title: l.Title, VariantTitle: l.VariantTitle, Quantity: l.Quantity,
		Price: l.Price.String(), TotalDiscount: l.TotalDiscount.String(),
	}
}

func one(e commerce.Event, err error) ([]commerce.Event, error) {
	if err != nil {
		return nil, err
	}
	return []commerce.Event{e}, nil
}
