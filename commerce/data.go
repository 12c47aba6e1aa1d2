package commerce

// Data is the data of a canonical event, for adapters to fill. Which fields
// a type has is its schema's business: Validate rejects a field the type
// does not define. Every field but Shop and OccurredAt is left out of the
// JSON when empty. Amounts are decimal strings in Currency; times are UTC
// RFC 3339 (see Timestamp).
type Data struct {
	Shop       string `json:"shop"`
	OccurredAt string `json:"occurredAt"`

	CheckoutToken   string `json:"checkoutToken,omitempty"`
	CartToken       string `json:"cartToken,omitempty"`
	OrderID         string `json:"orderId,omitempty"`
	OrderNumber     string `json:"orderNumber,omitempty"`
	RefundID        string `json:"refundId,omitempty"`
	ReturnID        string `json:"returnId,omitempty"`
	ProductID       string `json:"productId,omitempty"`
	VariantID       string `json:"variantId,omitempty"`
	InventoryItemID string `json:"inventoryItemId,omitempty"`
	LocationID      string `json:"locationId,omitempty"`

	Customer *Customer `json:"customer,omitempty"`

	Currency       string `json:"currency,omitempty"`
	SubtotalPrice  string `json:"subtotalPrice,omitempty"`
	TotalPrice     string `json:"totalPrice,omitempty"`
	TotalTax       string `json:"totalTax,omitempty"`
	TotalDiscounts string `json:"totalDiscounts,omitempty"`
	TotalShipping  string `json:"totalShipping,omitempty"`
	Amount         string `json:"amount,omitempty"`
	Price          string `json:"price,omitempty"`

	FinancialStatus   string `json:"financialStatus,omitempty"`
	FulfillmentStatus string `json:"fulfillmentStatus,omitempty"`
	Status            string `json:"status,omitempty"`

	LineItems       []LineItem   `json:"lineItems,omitempty"`
	ShippingAddress *Address     `json:"shippingAddress,omitempty"`
	BillingAddress  *Address     `json:"billingAddress,omitempty"`
	Address         *Address     `json:"address,omitempty"`
	Fulfillment     *Fulfillment `json:"fulfillment,omitempty"`
	RecoveryURL     string       `json:"recoveryUrl,omitempty"`
	CompletedAt     string       `json:"completedAt,omitempty"`
	CancelledAt     string       `json:"cancelledAt,omitempty"`
	CancelReason    string       `json:"cancelReason,omitempty"`
	Reason          string       `json:"reason,omitempty"`
	ItemCount       *int64       `json:"itemCount,omitempty"`
	Tags            []string     `json:"tags,omitempty"`
	Test            bool         `json:"test,omitempty"`

	Channel          string `json:"channel,omitempty"`
	State            string `json:"state,omitempty"`
	OptInLevel       string `json:"optInLevel,omitempty"`
	CollectedFrom    string `json:"collectedFrom,omitempty"`
	ConsentUpdatedAt string `json:"consentUpdatedAt,omitempty"`

	Title       string    `json:"title,omitempty"`
	Handle      string    `json:"handle,omitempty"`
	Vendor      string    `json:"vendor,omitempty"`
	ProductType string    `json:"productType,omitempty"`
	Variants    []Variant `json:"variants,omitempty"`
	SKU         string    `json:"sku,omitempty"`
	Available   *int64    `json:"available,omitempty"`

	Attributes map[string]any `json:"attributes,omitempty"`
}

// Customer identifies whom an event is about.
type Customer struct {
	ID        string `json:"id,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
	FirstName string `json:"firstName,omitempty"`
	LastName  string `json:"lastName,omitempty"`
}

// Empty reports whether c names nobody (no id, email or phone).
func (c *Customer) Empty() bool { return c == nil || c.ID == "" && c.Email == "" && c.Phone == "" }

// Address is a postal address.
type Address struct {
	FirstName    string `json:"firstName,omitempty"`
	LastName     string `json:"lastName,omitempty"`
	Company      string `json:"company,omitempty"`
	Address1     string `json:"address1,omitempty"`
	Address2     string `json:"address2,omitempty"`
	City         string `json:"city,omitempty"`
	Province     string `json:"province,omitempty"`
	ProvinceCode string `json:"provinceCode,omitempty"`
	Zip          string `json:"zip,omitempty"`
	Country      string `json:"country,omitempty"`
	CountryCode  string `json:"countryCode,omitempty"`
	Phone        string `json:"phone,omitempty"`
}

// Empty reports whether a holds nothing.
func (a *Address) Empty() bool { return a == nil || *a == Address{} }

// LineItem is one line of a checkout, order, refund, return or quote.
type LineItem struct {
	ID            string `json:"id,omitempty"`
	ProductID     string `json:"productId,omitempty"`
	VariantID     string `json:"variantId,omitempty"`
	SKU           string `json:"sku,omitempty"`
	Title         string `json:"title,omitempty"`
	VariantTitle  string `json:"variantTitle,omitempty"`
	Quantity      int64  `json:"quantity"`
	Price         string `json:"price,omitempty"`
	TotalDiscount string `json:"totalDiscount,omitempty"`
}

// Fulfillment is one shipment of an order.
type Fulfillment struct {
	ID              string     `json:"id,omitempty"`
	Status          string     `json:"status,omitempty"`
	ShipmentStatus  string     `json:"shipmentStatus,omitempty"`
	TrackingCompany string     `json:"trackingCompany,omitempty"`
	TrackingNumbers []string   `json:"trackingNumbers,omitempty"`
	TrackingURLs    []string   `json:"trackingUrls,omitempty"`
	LineItems       []LineItem `json:"lineItems,omitempty"`
}

// Variant is a product variant's catalog data.
type Variant struct {
	ID                string `json:"id"`
	SKU               string `json:"sku,omitempty"`
	Title             string `json:"title,omitempty"`
	Price             string `json:"price,omitempty"`
	CompareAtPrice    string `json:"compareAtPrice,omitempty"`
	InventoryQuantity *int64 `json:"inventoryQuantity,omitempty"`
}
