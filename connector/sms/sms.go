// Package sms is the `sms.send` built-in: it sends a text message through
// Twilio's Messages API, or a provider that speaks it (POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From
// and Body, HTTP basic authentication with the account SID and auth
// token).
//
// Recipients are normalised to E.164 (+4915123456789) with libphonenumber's
// metadata; a number written in national form needs the shop's region,
// and a number that is not a valid one is refused before anything is sent.
//
// The call's idempotency key goes with the request as
// I-Twilio-Idempotency-Token. Twilio documents that header on the webhooks
// it sends; whether its Messages API deduplicates on it is not documented,
// so a call the runtime repeats after a crash may send twice unless the
// provider honours the header.
//
// Failures are problems with the status rule of every storeflow connector
// (package apicall): 503 when the provider throttled (429, Twilio error
// 20429), failed (5xx), could not be reached or did not answer in time,
// worth retrying; 401 for rejected credentials (20003); the provider's
// other 4xx otherwise (400 for an invalid or unsubscribed number: 21211,
// 21610, …), final. The detail carries Twilio's error code and message.
//
// Consent, quiet hours and smart sending are not checked here: the sending
// rules in front of the connector (package sending) read `category`, `to`
// and `shop` from the same arguments.
package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/shop"
)

// Name and Version of the built-in.
const (
	Name    = "sms.send"
	Version = "1.0.0"
)

// Categories of messages.
const (
	Transactional = "transactional"
	Marketing     = "marketing"
)

// MaxText is the longest body Twilio takes, in characters.
const MaxText = 1600

// Builtin declares sms.send in the default catalog.
var Builtin = connector.Builtin{
	Name:        Name,
	Version:     Version,
	Description: "sends a text message from the shop's Twilio (or Twilio-compatible) account",
	Schema: []byte(`{
		"type": "object",
		"additionalProperties": false,
		"required": ["to", "text", "category"],
		"properties": {
			"to": {"type": "string", "minLength": 3, "description": "the recipient's phone number, international (+49 151 23456789) or national in the shop's region"},
			"text": {"type": "string", "minLength": 1, "maxLength": 1600, "description": "the message"},
			"category": {"enum": ["transactional", "marketing"], "description": "transactional (an order or delivery notice) or marketing, which needs the recipient's SMS consent"},
			"shop": {"type": "string", "description": "the shop whose account to send from; the default one when absent"}
		}
	}`),
}

// Args are the arguments of sms.send.
type Args struct {
	To       string `json:"to"`
	Text     string `json:"text"`
	Category string `json:"category"`
	Shop     string `json:"shop,omitempty"`
}

// Account is a shop's messaging account.
type Account struct {
	// BaseURL is the API's root: https://api.twilio.com when empty; a
	// Twilio-compatible provider or a test server sets its own.
	BaseURL    string
	AccountSID string
	AuthToken  string
	// From is the sender: a phone number (normalised like recipients) or
	// an alphanumeric sender ID of up to 11 characters. MessagingServiceSID
	// instead lets a Twilio Messaging Service pick the sender.
	From                string
	MessagingServiceSID string
	// Region is the ISO 3166 country (DE, GB, US) whose national numbers
	// recipients may be written in; without it a number must be
	// international.
	Region string
}

// Connector performs sms.send.
type Connector struct {
	// Accounts are fixed accounts by shop. A call's shop is served by its
	// entry here, else by the SMS settings of its configuration (Shops),
	// else by the account of "".
	Accounts map[string]*Account
	// Shops finds a shop's configuration (shop.Directory's Get); nil when
	// only Accounts serve.
	Shops shopconfig.Func
	// HTTP sends the requests; apicall.Client when nil.
	HTTP *http.Client
}

const service = "SMS provider"

// Call implements connector.Connector.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	var args Args
	if err := connector.DecodeArgs(req, &args); err != nil {
		return nil, err
	}
	invalid := func(format string, a ...any) error {
		return problem.Newf(problem.TypeValidation, 400, "Invalid SMS", Name+": "+format, a...)
	}
	switch args.Category {
	case Transactional, Marketing:
	case "":
		return nil, invalid("category: missing; say whether this is transactional (an order or delivery notice) or marketing, which needs consent")
	default:
		return nil, invalid("category: %q is not transactional or marketing", args.Category)
	}
	if strings.TrimSpace(args.Text) == "" {
		return nil, invalid("text: empty; give the message to send")
	}
	if n := utf8.RuneCountInString(args.Text); n > MaxText {
		return nil, invalid("text: %d characters; an SMS carries at most %d (sent as up to 10 segments)", n, MaxText)
	}
	acct, err := c.account(ctx, args.Shop)
	if err != nil {
		return nil, err
	}
	to, err := E164(args.To, acct.Region)
	if err != nil {
		return nil, invalid("to: %v", err)
	}
	endpoint, form, err := acct.request(to, args.Text)
	if err != nil {
		return nil, problem.Newf(problem.TypeConfiguration, 500, "SMS Not Configured", "%s: shop %q: %v", Name, args.Shop, err)
	}
	hreq, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, problem.Newf(problem.TypeConfiguration, 500, "SMS Not Configured", "%s: shop %q: %v", Name, args.Shop, err)
	}
	hreq.SetBasicAuth(acct.AccountSID, acct.AuthToken)
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Accept", "application/json")
	if req.IdempotencyKey != "" {
		hreq.Header.Set("I-Twilio-Idempotency-Token", req.IdempotencyKey)
	}
	resp, err := apicall.Send(ctx, c.HTTP, hreq, service, providerError)
	if err != nil {
		return nil, err
	}
	var msg struct {
		SID      string `json:"sid"`
		Status   string `json:"status"`
		To       string `json:"to"`
		From     string `json:"from"`
		Segments string `json:"num_segments"`
	}
	if err := json.Unmarshal(resp.Body, &msg); err != nil || msg.SID == "" {
		return nil, problem.Newf(problem.TypeCommunication, 502, "Invalid Response",
			"%s accepted the message but its answer is not a Twilio message resource: %s", service, apicall.Snippet(resp.Body))
	}
	out := map[string]any{"sid": msg.SID, "status": msg.Status, "to": to, "category": args.Category}
	if msg.From != "" {
		out["from"] = msg.From
	}
	if n, err := strconv.Atoi(msg.Segments); err == nil {
		out["segments"] = n
	}
	if args.Shop != "" {
		out["shop"] = args.Shop
	}
	return out, nil
}

// account finds the account of a call's shop.
func (c *Connector) account(ctx context.Context, id string) (*Account, error) {
	if a, ok := c.Accounts[id]; ok {
		return a, nil
	}
	sh, err := shopconfig.Lookup(ctx, c.Shops, Name, id)
	if err != nil {
		return nil, err
	}
	if sh != nil && sh.SMS != nil {
		return AccountOf(sh), nil
	}
	if a := c.Accounts[""]; a != nil {
		return a, nil
	}
	return nil, problem.Newf(problem.TypeConfiguration, 500, "SMS Not Configured",
		"%s: no SMS account is configured for shop %q; add its account SID, auth token and sender (storeflow shop update)", Name, id)
}

// AccountOf is the account of a shop's SMS settings; national numbers are
// read in the shop's country.
func AccountOf(s *shop.Shop) *Account {
	return &Account{BaseURL: s.SMS.BaseURL, AccountSID: s.SMS.AccountSID, AuthToken: s.SMS.AuthToken, From: s.SMS.From, Region: s.Country}
}

// request builds the Messages endpoint and form of a message.
func (a *Account) request(to, text string) (string, url.Values, error) {
	if a.AccountSID == "" || a.AuthToken == "" {
		return "", nil, fmt.Errorf("the account SID and auth token are required")
	}
	base := a.BaseURL
	if base == "" {
		base = "https://api.twilio.com"
	}
	u, err := apicall.CheckURL(base)
	if err != nil {
		return "", nil, fmt.Errorf("base URL: %w", err)
	}
	form := url.Values{"To": {to}, "Body": {text}}
	switch {
	case a.MessagingServiceSID != "":
		form.Set("MessagingServiceSid", a.MessagingServiceSID)
	case a.From == "":
		return "", nil, fmt.Errorf("a sender is required: a From number or sender ID, or a messaging service SID")
	case alphanumericSender(a.From) || shortCode(a.From):
		form.Set("From", a.From)
	default:
		from, err := E164(a.From, a.Region)
		if err != nil {
			return "", nil, fmt.Errorf("from: %w", err)
		}
		form.Set("From", from)
	}
	return strings.TrimSuffix(u.String(), "/") + "/2010-04-01/Accounts/" + url.PathEscape(a.AccountSID) + "/Messages.json", form, nil
}

// E164 normalises a phone number to E.164: +, country code, number, no
// spaces. A number without a country code is read as one of region (ISO
// 3166, "DE"); without a region it must be international.
func E164(number, region string) (string, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	n, err := phonenumbers.Parse(number, region)
	if err != nil {
		hint := "write it in international form, such as +49 151 23456789"
		if region == "" {
			hint += ", or set the shop's region so that national numbers can be read"
		}
		return "", fmt.Errorf("%q is not a phone number (%v); %s", number, err, hint)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", fmt.Errorf("%q is not a valid phone number of %s; check its digits and country code", number, regionOf(n))
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

func regionOf(n *phonenumbers.PhoneNumber) string {
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" && r != "ZZ" {
		return r
	}
	return "+" + strconv.Itoa(int(n.GetCountryCode()))
}

// alphanumericSender reports whether from is a sender ID (up to 11
// letters, digits and spaces, with a letter) rather than a number.
func alphanumericSender(from string) bool {
	if len(from) == 0 || len(from) > 11 {
		return false
	}
	letter := false
	for _, r := range from {
		switch {
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9' || r == ' ':
		default:
			return false
		}
	}
	return letter
}

// shortCode reports whether from is a short code: 3 to 8 digits.
func shortCode(from string) bool {
	if len(from) < 3 || len(from) > 8 {
		return false
	}
	for _, r := range from {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// providerError renders a Twilio error body ({code, message, more_info})
// for a problem's detail, or the body itself when it is something else.
func providerError(body []byte) string {
	var e struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
		return apicall.Snippet(body)
	}
	s := e.Message
	if e.Code != 0 {
		s = fmt.Sprintf("error %d: %s", e.Code, e.Message)
	}
	if e.MoreInfo != "" {
		s += " (" + e.MoreInfo + ")"
	}
	return s
}
