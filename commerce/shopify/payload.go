package shopify

import (
	"strings"

	"github.com/storeflow/storeflow/commerce"
)

// The payload shapes below hold only the fields the mapping reads.

type money struct {
	Amount       commerce.WireAmount `json:"amount"`
	CurrencyCode string              `json:"currency_code"`
}

type moneySet struct {
	ShopMoney money `json:"shop_money"`
}

type address struct {
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Company      string `json:"company"`
	Address1     string `json:"address1"`
	Address2     string `json:"address2"`
	City         string `json:"city"`
	Province     string `json:"province"`
	ProvinceCode string `json:"province_code"`
	Zip          string `json:"zip"`
	Country      string `json:"country"`
	CountryCode  string `json:"country_code"`
	Phone        string `json:"phone"`
}

type customer struct {
	ID             commerce.WireID `json:"id"`
	Email          string          `json:"email"`
	Phone          string          `json:"phone"`
	FirstName      string          `json:"first_name"`
	LastName       string          `json:"last_name"`
	Tags           string          `json:"tags"`
	CreatedAt      string          `json:"created_at"`
	UpdatedAt      string          `json:"updated_at"`
	DefaultAddress *address        `json:"default_address"`
}

type lineItem struct {
	ID            commerce.WireID     `json:"id"`
	ProductID     commerce.WireID     `json:"product_id"`
	VariantID     commerce.WireID     `json:"variant_id"`
	SKU           string              `json:"sku"`
	Title         string              `json:"title"`
	VariantTitle  string              `json:"variant_title"`
	Quantity      int64               `json:"quantity"`
	Price         commerce.WireAmount `json:"price"`
	TotalDiscount commerce.WireAmount `json:"total_discount"`
}

type order struct {
	ID                    commerce.WireID     `json:"id"`
	Name                  string              `json:"name"`
	OrderNumber           commerce.WireID     `json:"order_number"`
	Email                 string              `json:"email"`
	ContactEmail          string              `json:"contact_email"`
	Phone                 string              `json:"phone"`
	CheckoutToken         string              `json:"checkout_token"`
	CartToken             string              `json:"cart_token"`
	Currency              string              `json:"currency"`
	SubtotalPrice         commerce.WireAmount `json:"subtotal_price"`
	TotalPrice            commerce.WireAmount `json:"total_price"`
	TotalTax              commerce.WireAmount `json:"total_tax"`
	TotalDiscounts        commerce.WireAmount `json:"total_discounts"`
	TotalShippingPriceSet *moneySet           `json:"total_shipping_price_set"`
	FinancialStatus       string              `json:"financial_status"`
	FulfillmentStatus     string              `json:"fulfillment_status"`
	CancelledAt           string              `json:"cancelled_at"`
	CancelReason          string              `json:"cancel_reason"`
	CreatedAt             string              `json:"created_at"`
	UpdatedAt             string              `json:"updated_at"`
	Tags                  string              `json:"tags"`
	Test                  bool                `json:"test"`
	Customer              *customer           `json:"customer"`
	BillingAddress        *address            `json:"billing_address"`
	ShippingAddress       *address            `json:"shipping_address"`
	LineItems             []lineItem          `json:"line_items"`
	Fulfillments          []fulfillment       `json:"fulfillments"`
}

type fulfillment struct {
	ID              commerce.WireID `json:"id"`
	OrderID         commerce.WireID `json:"order_id"`
	Status          string          `json:"status"`
	ShipmentStatus  string          `json:"shipment_status"`
	TrackingCompany string          `json:"tracking_company"`
	TrackingNumber  string          `json:"tracking_number"`
	TrackingNumbers []string        `json:"tracking_numbers"`
	TrackingURL     string          `json:"tracking_url"`
	TrackingURLs    []string        `json:"tracking_urls"`
	Email           string          `json:"email"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	Destination     *address        `json:"destination"`
	LineItems       []lineItem      `json:"line_items"`
}

// checkout has no id in API 2026-04 payloads: its token is its identity,
// and the checkout_token of the order placed from it.
type checkout struct {
	Token                string              `json:"token"`
	CartToken            string              `json:"cart_token"`
	Email                string              `json:"email"`
	Phone                string              `json:"phone"`
	Currency             string              `json:"currency"`
	CreatedAt            string              `json:"created_at"`
	UpdatedAt            string              `json:"updated_at"`
	CompletedAt          string              `json:"completed_at"`
	SubtotalPrice        commerce.WireAmount `json:"subtotal_price"`
	TotalPrice           commerce.WireAmount `json:"total_price"`
	TotalTax             commerce.WireAmount `json:"total_tax"`
	TotalDiscounts       commerce.WireAmount `json:"total_discounts"`
	AbandonedCheckoutURL string              `json:"abandoned_checkout_url"`
	Customer             *customer           `json:"customer"`
	BillingAddress       *address            `json:"billing_address"`
	ShippingAddress      *address            `json:"shipping_address"`
	LineItems            []lineItem          `json:"line_items"`
}

type refund struct {
	ID              commerce.WireID `json:"id"`
	OrderID         commerce.WireID `json:"order_id"`
	Note            string          `json:"note"`
	CreatedAt       string          `json:"created_at"`
	ProcessedAt     string          `json:"processed_at"`
	RefundLineItems []struct {
		Quantity    int64     `json:"quantity"`
		SubtotalSet *moneySet `json:"subtotal_set"`
		TotalTaxSet *moneySet `json:"total_tax_set"`
		LineItem    lineItem  `json:"line_item"`
	} `json:"refund_line_items"`
	Transactions []struct {
		Kind     string              `json:"kind"`
		Status   string              `json:"status"`
		Amount   commerce.WireAmount `json:"amount"`
		Currency string              `json:"currency"`
	} `json:"transactions"`
	TotalDutiesSet *moneySet `json:"total_duties_set"`
}

type returnRequest struct {
	ID    commerce.WireID `json:"id"`
	Order *struct {
		ID commerce.WireID `json:"id"`
	} `json:"order"`
	OrderID              commerce.WireID `json:"order_id"`
	Status               string          `json:"status"`
	TotalReturnLineItems *int64          `json:"total_return_line_items"`
}

// consent is the consent object of the three consent topics; they name
// its fields differently.
type consent struct {
	State                *string `json:"state"`
	OptInLevel           string  `json:"opt_in_level"`
	ConsentUpdatedAt     string  `json:"consent_updated_at"`
	UpdatedAt            string  `json:"updated_at"`
	ConsentCollectedFrom string  `json:"consent_collected_from"`
	CollectedFrom        string  `json:"collected_from"`
}

type consentUpdate struct {
	CustomerID   commerce.WireID `json:"customer_id"`
	ID           commerce.WireID `json:"id"`
	EmailAddress string          `json:"email_address"`
	Phone        string          `json:"phone"`
	PhoneNumber  string          `json:"phone_number"`
	Email        *consent        `json:"email_marketing_consent"`
	SMS          *consent        `json:"sms_marketing_consent"`
	WhatsApp     *consent        `json:"whats_app_marketing_consent"`
}

type inventoryLevel struct {
	InventoryItemID commerce.WireID `json:"inventory_item_id"`
	LocationID      commerce.WireID `json:"location_id"`
	Available       *int64          `json:"available"`
	UpdatedAt       string          `json:"updated_at"`
}

type product struct {
	ID          commerce.WireID `json:"id"`
	Title       string          `json:"title"`
	Handle      string          `json:"handle"`
	Status      string          `json:"status"`
	Vendor      string          `json:"vendor"`
	ProductType string          `json:"product_type"`
	Tags        string          `json:"tags"`
	UpdatedAt   string          `json:"updated_at"`
	Variants    []struct {
		ID                commerce.WireID     `json:"id"`
		SKU               string              `json:"sku"`
		Title             string              `json:"title"`
		Price             commerce.WireAmount `json:"price"`
		CompareAtPrice    commerce.WireAmount `json:"compare_at_price"`
		InventoryQuantity *int64              `json:"inventory_quantity"`
	} `json:"variants"`
}

// tags splits Shopify's comma-separated tags.
func tags(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
