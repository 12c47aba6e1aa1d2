// Package shop holds the configuration of the shops storeflow serves: which
// platform sends their webhooks and with which secrets, their time zone and
// currency, the Admin API credentials, the channels messages go out on and
// the sending rules. Secrets are sealed at rest (package secret) and never
// leave through the API.
package shop

import (
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/storeflow/storeflow/commerce/generic"
)

// Platforms storeflow takes webhooks from.
const (
	Shopify     = "shopify"
	WooCommerce = "woocommerce"
	Generic     = "generic"
)

// Shop is one shop's configuration. The fields marked secret are sealed at
// rest and left out of every view (see Redacted).
type Shop struct {
	ID       string `json:"id"`
	Platform string `json:"platform"`
	// Domain identifies the shop in its webhooks: the myshopify.com domain
	// of a Shopify shop (X-Shopify-Shop-Domain), the host of a WooCommerce
	// site (X-WC-Webhook-Source). Derived from SiteURL when empty.
	Domain  string `json:"domain,omitempty"`
	SiteURL string `json:"siteUrl,omitempty"`
	// TimeZone is an IANA zone ("Europe/Berlin"): quiet hours and "send at
	// 10:00" follow it. UTC when empty.
	TimeZone string `json:"timeZone,omitempty"`
	// Currency is the shop's ISO 4217 currency ("EUR").
	Currency string `json:"currency"`
	// Country is the ISO 3166-1 alpha-2 country phone numbers without a
	// country code are read in ("DE").
	Country  string   `json:"country,omitempty"`
	Webhooks Webhooks `json:"webhooks"`
	Admin    *Admin   `json:"admin,omitempty"`
	Email    *Email   `json:"email,omitempty"`
	SMS      *SMS     `json:"sms,omitempty"`
	Slack    *Slack   `json:"slack,omitempty"`
	Sending  Sending  `json:"sending"`
	Segments Segments `json:"segments"`
	// EmailTemplates are the shop's named email templates (email.send's
	// `template`): Subject and Text are Go text/template, HTML is
	// html/template.
	EmailTemplates map[string]EmailTemplate `json:"emailTemplates,omitempty"`
	// Secrets are more named secrets for this shop's workflows (an ERP's
	// API key, say), which they read as $secrets.shops.<id>.<name>.
	Secrets   map[string]string `json:"secrets,omitempty"`
	CreatedAt time.Time         `json:"createdAt,omitzero"`
	UpdatedAt time.Time         `json:"updatedAt,omitzero"`
}

// Webhooks says how the shop's webhooks are verified.
type Webhooks struct {
	// Secret signs the webhooks (Shopify: the app's client secret;
	// WooCommerce: the webhook's secret). Secret.
	Secret string `json:"secret,omitempty"`
	// PreviousSecret is still accepted until PreviousUntil, so that a
	// rotation loses no webhook signed with the old one. Replacing Secret
	// keeps the old one here for RotationGrace unless given. Secret.
	PreviousSecret string    `json:"previousSecret,omitempty"`
	PreviousUntil  time.Time `json:"previousUntil,omitzero"`
	// Generic configures a generic shop's webhooks: where they carry their
	// HMAC signature and how their bodies map to canonical events (the
	// configuration of commerce/generic: name, signature, headers, events;
	// the shop is the one in the webhook's URL).
	Generic *generic.Config `json:"generic,omitempty"`
}

// RotationGrace is how long a replaced webhook secret is still accepted:
// Shopify takes up to an hour to sign with a new one.
const RotationGrace = 2 * time.Hour

// Admin is how storeflow calls the shop's Admin API.
type Admin struct {
	// URL is the API's base: https://acme.myshopify.com for Shopify (the
	// GraphQL endpoint is derived with APIVersion), the site URL for
	// WooCommerce.
	URL        string `json:"url"`
	APIVersion string `json:"apiVersion,omitempty"`
	// AccessToken is Shopify's Admin API access token. Secret.
	AccessToken string `json:"accessToken,omitempty"`
	// ConsumerKey and ConsumerSecret are WooCommerce's REST API keys. Secret.
	ConsumerKey    string `json:"consumerKey,omitempty"`
	ConsumerSecret string `json:"consumerSecret,omitempty"`
}

// Email is the shop's SMTP server and sender.
type Email struct {
	Host string `json:"host"`
	Port int    `json:"port,omitempty"`
	// Security is starttls (default), tls (implicit, port 465) or none
	// (loopback servers only).
	Security string `json:"security,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"` // secret
	From     string `json:"from"`
	FromName string `json:"fromName,omitempty"`
	ReplyTo  string `json:"replyTo,omitempty"`
}

// SMS is the shop's SMS provider (Twilio's API or a compatible one).
type SMS struct {
	Provider   string `json:"provider,omitempty"` // twilio
	BaseURL    string `json:"baseUrl,omitempty"`  // https://api.twilio.com by default
	AccountSID string `json:"accountSid"`
	AuthToken  string `json:"authToken,omitempty"` // secret
	From       string `json:"from"`
}

// Slack is the incoming webhook messages to the shop's team go to.
type Slack struct {
	WebhookURL string `json:"webhookUrl,omitempty"` // secret
}

// EmailTemplate is a named email of a shop.
type EmailTemplate struct {
	Subject string `json:"subject,omitempty"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// Sending are the rules every message of every workflow of the shop obeys.
type Sending struct {
	// SmartSending skips a marketing message to a customer who got one on
	// the same channel within this time (email 16h, SMS 24h by default; 0s
	// turns it off).
	SmartSendingEmail Duration `json:"smartSendingEmail,omitzero"`
	SmartSendingSMS   Duration `json:"smartSendingSms,omitzero"`
	// QuietHours hold SMS between Start and End, in the shop's time zone,
	// until End (21:00–08:00 by default).
	QuietHours QuietHours `json:"quietHours,omitzero"`
	// RatePerMinute bounds the messages the shop sends a minute (0: no
	// bound); messages over it wait.
	RatePerMinute int `json:"ratePerMinute,omitempty"`
}

// QuietHours is a daily time span, in the shop's time zone, "HH:MM".
type QuietHours struct {
	Start string `json:"start"`
	End   string `json:"end"`
	// Off disables quiet hours.
	Off bool `json:"off,omitempty"`
}

// Segments are the thresholds of the shop's customer segments.
type Segments struct {
	// VIPSpend is the total spent (a decimal in the shop's currency) from
	// which a customer is a VIP (1000 by default).
	VIPSpend string `json:"vipSpend,omitempty"`
	// LapsedDays is how long after their last order a customer counts as
	// lapsed (180 by default).
	LapsedDays int `json:"lapsedDays,omitempty"`
	// AbandonedAfter is how long after a checkout started without an
	// order since its customer counts as a cart abandoner (1h by default).
	AbandonedAfter Duration `json:"abandonedAfter,omitzero"`
}

// Duration is a time.Duration written as "16h" in JSON. A duration written
// as "0s" is kept as a deliberate zero (a rule turned off), not taken for
// an unset one that gets the default.
type Duration struct {
	time.Duration
	zero bool
}

// Off is a duration set to zero on purpose: the rule it bounds is off.
func Off() Duration { return Duration{zero: true} }

// MarshalJSON writes the duration as Go writes it ("16h0m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "16h" or "90m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"16h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("duration %q: write it as \"16h\", \"90m\" or \"0s\"", s)
	}
	d.Duration, d.zero = v, v == 0
	return nil
}

// IsZero reports an unset duration (omitzero); a deliberate "0s" is set.
func (d Duration) IsZero() bool { return d.Duration == 0 && !d.zero }

// Defaults of the sending rules and segments.
const (
	DefaultEmailSmartSending = 16 * time.Hour
	DefaultSMSSmartSending   = 24 * time.Hour
	DefaultQuietStart        = "21:00"
	DefaultQuietEnd          = "08:00"
	DefaultVIPSpend          = "1000"
	DefaultLapsedDays        = 180
	DefaultAbandonedAfter    = time.Hour
)

var (
	idRe       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRe  = regexp.MustCompile(`^[A-Z]{2}$`)
	clockRe    = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
	decimalRe  = regexp.MustCompile(`^\d+(\.\d+)?$`)
	e164Re     = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)
	secretName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
)

// Normalize fills defaults and canonical forms (lower-case domain, the
// domain from the site URL).
func (s *Shop) Normalize() {
	s.ID = strings.TrimSpace(s.ID)
	s.Platform = strings.ToLower(strings.TrimSpace(s.Platform))
	s.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s.Domain), "."))
	s.SiteURL = strings.TrimSpace(s.SiteURL)
	if s.Domain == "" && s.SiteURL != "" {
		if u, err := url.Parse(s.SiteURL); err == nil {
			s.Domain = strings.ToLower(u.Hostname())
		}
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	s.Currency = strings.ToUpper(strings.TrimSpace(s.Currency))
	s.Country = strings.ToUpper(strings.TrimSpace(s.Country))
	if g := s.Webhooks.Generic; g != nil {
		if g.Name == "" {
			g.Name = Generic
		}
		if g.Shop == (generic.ShopFrom{}) {
			// Generic webhooks name their shop in their URL.
			g.Shop.Value = s.ID
		}
	}
	if e := s.Email; e != nil {
		if e.Security == "" {
			e.Security = "starttls"
		}
		if e.Port == 0 {
			e.Port = map[string]int{"tls": 465, "none": 25}[e.Security]
			if e.Port == 0 {
				e.Port = 587
			}
		}
	}
	if m := s.SMS; m != nil {
		if m.Provider == "" {
			m.Provider = "twilio"
		}
		if m.BaseURL == "" {
			m.BaseURL = "https://api.twilio.com"
		}
	}
	if s.Sending.SmartSendingEmail.IsZero() {
		s.Sending.SmartSendingEmail.Duration = DefaultEmailSmartSending
	}
	if s.Sending.SmartSendingSMS.IsZero() {
		s.Sending.SmartSendingSMS.Duration = DefaultSMSSmartSending
	}
	if q := &s.Sending.QuietHours; q.Start == "" && q.End == "" {
		q.Start, q.End = DefaultQuietStart, DefaultQuietEnd
	}
	if s.Segments.VIPSpend == "" {
		s.Segments.VIPSpend = DefaultVIPSpend
	}
	if s.Segments.LapsedDays == 0 {
		s.Segments.LapsedDays = DefaultLapsedDays
	}
	if s.Segments.AbandonedAfter.Duration == 0 {
		s.Segments.AbandonedAfter.Duration = DefaultAbandonedAfter
	}
}

// Validate checks a normalized shop and returns every problem found, each
// naming the field and how to fix it.
func (s *Shop) Validate() []string {
	var errs []string
	bad := func(field, format string, args ...any) {
		errs = append(errs, field+": "+fmt.Sprintf(format, args...))
	}
	if !idRe.MatchString(s.ID) {
		bad("id", "%q is not a shop id: use lower-case letters, digits and dashes (acme-eu)", s.ID)
	}
	switch s.Platform {
	case Shopify:
		if !strings.HasSuffix(s.Domain, ".myshopify.com") {
			bad("domain", "a Shopify shop is known by its myshopify.com domain (acme.myshopify.com), as its webhooks name it in X-Shopify-Shop-Domain")
		}
	case WooCommerce:
		if s.SiteURL == "" {
			bad("siteUrl", "a WooCommerce shop needs its site URL (https://shop.example), as its webhooks name it in X-WC-Webhook-Source")
		}
	case Generic:
		if s.Webhooks.Generic == nil {
			bad("webhooks.generic", "a generic shop needs the configuration of its webhooks: the signature header and the mappings of bodies to canonical events (see docs/events.md)")
		} else if err := s.Webhooks.Generic.Validate(); err != nil {
			bad("webhooks.generic", "%v", err)
		}
	default:
		bad("platform", "%q: use shopify, woocommerce or generic", s.Platform)
	}
	if s.SiteURL != "" {
		if u, err := url.Parse(s.SiteURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("siteUrl", "%q is not an http(s) URL", s.SiteURL)
		}
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		bad("timeZone", "%q is not an IANA time zone (Europe/Berlin, America/New_York)", s.TimeZone)
	}
	if !currencyRe.MatchString(s.Currency) {
		bad("currency", "%q is not an ISO 4217 code (EUR, USD)", s.Currency)
	}
	if s.Country != "" && !countryRe.MatchString(s.Country) {
		bad("country", "%q is not an ISO 3166-1 alpha-2 code (DE, US)", s.Country)
	}
	if s.Webhooks.Secret == "" {
		bad("webhooks.secret", "the secret that signs the shop's webhooks is required (Shopify: the app's client secret; WooCommerce: the webhook's secret)")
	}
	if a := s.Admin; a != nil {
		if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("admin.url", "%q is not an http(s) URL", a.URL)
		}
		switch s.Platform {
		case Shopify:
			if a.AccessToken == "" {
				bad("admin.accessToken", "Shopify's Admin API needs an access token")
			}
		case WooCommerce:
			if a.ConsumerKey == "" || a.ConsumerSecret == "" {
				bad("admin.consumerKey", "WooCommerce's REST API needs a consumer key and secret")
			}
		}
	}
	if e := s.Email; e != nil {
		if e.Host == "" {
			bad("email.host", "the SMTP server's host name is required")
		}
		if e.Port < 1 || e.Port > 65535 {
			bad("email.port", "%d is not a port", e.Port)
		}
		if e.Security != "starttls" && e.Security != "tls" && e.Security != "none" {
			bad("email.security", "%q: use starttls, tls or none", e.Security)
		}
		if _, err := mail.ParseAddress(e.From); err != nil {
			bad("email.from", "%q is not an email address", e.From)
		}
		if e.ReplyTo != "" {
			if _, err := mail.ParseAddress(e.ReplyTo); err != nil {
				bad("email.replyTo", "%q is not an email address", e.ReplyTo)
			}
		}
	}
	if m := s.SMS; m != nil {
		if m.Provider != "twilio" {
			bad("sms.provider", "%q: storeflow speaks Twilio's API (twilio)", m.Provider)
		}
		if m.AccountSID == "" || m.AuthToken == "" {
			bad("sms.accountSid", "the account SID and auth token are required")
		}
		if !e164Re.MatchString(m.From) {
			bad("sms.from", "%q is not a phone number in E.164 form (+4915112345678)", m.From)
		}
		if u, err := url.Parse(m.BaseURL); err != nil || u.Host == "" {
			bad("sms.baseUrl", "%q is not a URL", m.BaseURL)
		}
	}
	if sl := s.Slack; sl != nil {
		if u, err := url.Parse(sl.WebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("slack.webhookUrl", "an incoming webhook URL (https://hooks.slack.com/services/…) is required")
		}
	}
	if q := s.Sending.QuietHours; !q.Off && (!clockRe.MatchString(q.Start) || !clockRe.MatchString(q.End)) {
		bad("sending.quietHours", "start and end are times of day as HH:MM (21:00, 08:00)")
	}
	if s.Sending.RatePerMinute < 0 {
		bad("sending.ratePerMinute", "must be 0 (no bound) or more")
	}
	if !decimalRe.MatchString(s.Segments.VIPSpend) {
		bad("segments.vipSpend", "%q is not a decimal amount (1000, 499.90)", s.Segments.VIPSpend)
	}
	if s.Segments.LapsedDays < 1 {
		bad("segments.lapsedDays", "must be 1 or more")
	}
	for name, t := range s.EmailTemplates {
		if strings.TrimSpace(name) == "" {
			bad("emailTemplates", "a template needs a name")
		}
		if t.Text == "" && t.HTML == "" {
			bad("emailTemplates."+name, "a template needs a text or an HTML body")
		}
		if _, err := texttemplate.New("").Parse(t.Subject + t.Text); err != nil {
			bad("emailTemplates."+name, "%v", err)
		}
		if _, err := htmltemplate.New("").Parse(t.HTML); err != nil {
			bad("emailTemplates."+name, "%v", err)
		}
	}
	for name := range s.Secrets {
		if !secretName.MatchString(name) {
			bad("secrets", "%q is not a secret name: letters, digits and _ (erpToken)", name)
		}
	}
	return errs
}

// Location is the shop's time zone.
func (s *Shop) Location() *time.Location {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// AcceptsSecretAt lists the webhook secrets valid at t: the current one,
// and the previous one during a rotation.
func (s *Shop) AcceptsSecretAt(t time.Time) [][]byte {
	out := [][]byte{[]byte(s.Webhooks.Secret)}
	if s.Webhooks.PreviousSecret != "" && t.Before(s.Webhooks.PreviousUntil) {
		out = append(out, []byte(s.Webhooks.PreviousSecret))
	}
	return out
}

// secretFields lists the secret fields by name, with where they live.
func (s *Shop) secretFields() map[string]*string {
	f := map[string]*string{
		"webhooks.secret":         &s.Webhooks.Secret,
		"webhooks.previousSecret": &s.Webhooks.PreviousSecret,
	}
	if a := s.Admin; a != nil {
		f["admin.accessToken"] = &a.AccessToken
		f["admin.consumerKey"] = &a.ConsumerKey
		f["admin.consumerSecret"] = &a.ConsumerSecret
	}
	if e := s.Email; e != nil {
		f["email.password"] = &e.Password
	}
	if m := s.SMS; m != nil {
		f["sms.authToken"] = &m.AuthToken
	}
	if sl := s.Slack; sl != nil {
		f["slack.webhookUrl"] = &sl.WebhookURL
	}
	return f
}

// View is what the API shows of a shop: its configuration without the
// secrets, and which secrets are set.
type View struct {
	Shop
	SecretsSet []string `json:"secretsSet"`
}

// Redacted returns the shop without its secrets.
func (s Shop) Redacted() View {
	c := s.clone()
	var set []string
	for name, p := range c.secretFields() {
		if *p != "" {
			set = append(set, name)
			*p = ""
		}
	}
	for name := range c.Secrets {
		set = append(set, "secrets."+name)
	}
	c.Secrets = nil
	slices.Sort(set)
	return View{Shop: c, SecretsSet: set}
}

// clone deep-copies the shop, so that redacting or sealing a copy leaves
// the original alone.
func (s Shop) clone() Shop {
	b, _ := json.Marshal(s)
	var c Shop
	_ = json.Unmarshal(b, &c)
	return c
}
