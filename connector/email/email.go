// Package email is the `email.send` built-in: it renders a message from a
// shop's named template or from inline text and HTML, and submits it to the
// shop's mail server over SMTP (STARTTLS, implicit TLS, AUTH PLAIN or
// LOGIN).
//
// SMTP has no idempotency keys, so a send is made recognisable when
// repeated rather than exactly-once: its Message-ID comes from the call's
// idempotency key and the sender's domain, so every attempt of one call
// carries the same ID (and the same bytes, but for the Date of a later
// attempt), by which a mail server or mailbox can drop the duplicate.
// Marketing mail carries a signed one-click unsubscribe link
// (List-Unsubscribe and List-Unsubscribe-Post, RFC 8058).
//
// Failures are problems a workflow can catch. Their status says whether
// trying again can help:
//
//	503  transient: the server deferred the message (4xx), could not be
//	     reached, hung up, or did not answer in time (type timeout).
//	     Retry with the same idempotency key.
//	422  the server refused the message or a recipient (5xx). Final.
//	401  the server refused the shop's credentials. Final.
//	502  TLS failed, or the server lacks STARTTLS or a usable AUTH. Final.
//	400  the arguments are wrong (type validation): a bad address, a
//	     missing or failing template. Final.
//	500  storeflow has no mail server for the shop, or no unsubscribe
//	     links for marketing mail (type configuration). Final.
//
// Consent, smart sending, quiet hours and the conversion guard are not
// checked here: the sending rules in front of the connector (package
// sending) do that, reading `category`, `to` and `shop` from the same
// arguments.
package email

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/shop"
)

// Name and Version of the built-in.
const (
	Name    = "email.send"
	Version = "1.0.0"
)

// Categories of mail.
const (
	Transactional = "transactional"
	Marketing     = "marketing"
)

//go:embed schema.json
var schema []byte

// Builtin declares email.send in the default catalog; schema.json is its
// argument schema.
var Builtin = connector.Builtin{
	Name:        Name,
	Version:     Version,
	Description: "sends an email from the shop's mail server, rendered from a named template or inline text and HTML",
	Schema:      schema,
}

// Args are the arguments of email.send (schema.json documents each).
type Args struct {
	To       Addresses       `json:"to"`
	Cc       Addresses       `json:"cc,omitempty"`
	Bcc      Addresses       `json:"bcc,omitempty"`
	ReplyTo  string          `json:"replyTo,omitempty"`
	Subject  string          `json:"subject,omitempty"`
	Template string          `json:"template,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Customer json.RawMessage `json:"customer,omitempty"`
	Event    json.RawMessage `json:"event,omitempty"`
	Text     string          `json:"text,omitempty"`
	HTML     string          `json:"html,omitempty"`
	Category string          `json:"category"`
	Shop     string          `json:"shop,omitempty"`
	Tags     []string        `json:"tags,omitempty"`
}

// Addresses is an address list given as one string or a list of them.
type Addresses []string

// UnmarshalJSON takes a string or a list of strings.
func (a *Addresses) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Addresses{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("an address list is a string or a list of strings")
	}
	*a = list
	return nil
}

// Connector performs email.send.
type Connector struct {
	// Senders are fixed mail servers by shop. A call's shop is served by
	// its entry here, else by the email settings of its configuration
	// (Shops), else by the sender of "".
	Senders map[string]*Sender
	// Shops finds a shop's configuration (shop.Directory's Get); nil when
	// only Senders serve.
	Shops shopconfig.Func
	// Templates finds named templates; nil allows inline bodies only.
	Templates Templates
	// Unsubscribe builds the one-click links of marketing mail; marketing
	// mail is refused without it.
	Unsubscribe *UnsubscribeLinks
	// Clock dates messages whose request has no time and tells when the
	// server took them; the wall clock when nil.
	Clock clock.Clock
}

// subjectLimit keeps a subject within one header line of RFC 5322.
const subjectLimit = 900

// Call implements connector.Connector.
func (c *Connector) Call(ctx context.Context, req connector.Request) (any, error) {
	var args Args
	if err := connector.DecodeArgs(req, &args); err != nil {
		return nil, err
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.Real()
	}
	m, err := c.compose(ctx, req, args, clk)
	if err != nil {
		return nil, err
	}
	receipt, err := m.sender.Send(ctx, m.Message)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"messageId":  receipt.MessageID,
		"to":         addressList(m.To),
		"category":   args.Category,
		"subject":    m.Subject,
		"acceptedAt": clk.Now().UTC().Format(time.RFC3339Nano),
		"response":   receipt.Response,
	}
	if len(m.Cc) > 0 {
		out["cc"] = addressList(m.Cc)
	}
	if len(m.Bcc) > 0 {
		out["bcc"] = addressList(m.Bcc)
	}
	if args.Shop != "" {
		out["shop"] = args.Shop
	}
	if args.Template != "" {
		out["template"] = args.Template
	}
	if len(args.Tags) > 0 {
		tags := make([]any, len(args.Tags))
		for i, t := range args.Tags {
			tags[i] = t
		}
		out["tags"] = tags
	}
	if m.unsubscribeURL != "" {
		out["unsubscribeUrl"] = m.unsubscribeURL
	}
	return out, nil
}

type composed struct {
	Message
	sender         *Sender
	unsubscribeURL string
}

// compose checks the arguments and renders the message, everything short
// of sending it.
func (c *Connector) compose(ctx context.Context, req connector.Request, args Args, clk clock.Clock) (composed, error) {
	var m composed
	invalid := func(format string, a ...any) error {
		return problem.Newf(problem.TypeValidation, 400, "Invalid Email", Name+": "+format, a...)
	}
	switch args.Category {
	case Transactional, Marketing:
	case "":
		return m, invalid("category: missing; say whether this is transactional (an order or shipping notice) or marketing mail, which needs consent and carries an unsubscribe link")
	default:
		return m, invalid("category: %q is not transactional or marketing", args.Category)
	}
	var err error
	if len(args.To) == 0 {
		return m, invalid("to: missing; give the recipient's address, such as ${ $customer.email }")
	}
	for _, list := range []struct {
		name string
		in   Addresses
		out  *[]*mail.Address
	}{{"to", args.To, &m.To}, {"cc", args.Cc, &m.Cc}, {"bcc", args.Bcc, &m.Bcc}} {
		if *list.out, err = parseAddresses(list.in); err != nil {
			return m, invalid("%s: %v", list.name, err)
		}
	}
	if args.Category == Marketing && (len(m.To) != 1 || len(m.Cc)+len(m.Bcc) > 0) {
		return m, invalid("to: marketing mail goes to one recipient, without cc or bcc, so that its unsubscribe link and consent are that person's; send one message per customer")
	}
	if args.ReplyTo != "" {
		list, err := parseAddresses(Addresses{args.ReplyTo})
		if err != nil {
			return m, invalid("replyTo: %v", err)
		}
		m.ReplyTo = list[0]
	}
	sender, err := c.sender(ctx, args.Shop)
	if err != nil {
		return m, err
	}
	m.sender = sender
	m.Date = req.At
	if m.Date.IsZero() {
		m.Date = clk.Now()
	}
	m.MessageID = MessageID(req.IdempotencyKey, sender.Domain())

	data, err := templateData(args)
	if err != nil {
		return m, invalid("%v", err)
	}
	if args.Category == Marketing {
		if c.Unsubscribe == nil {
			return m, problem.Newf(problem.TypeConfiguration, 500, "Email Not Configured",
				"%s: marketing mail needs one-click unsubscribe links, and this storeflow has no unsubscribe URL and key configured", Name)
		}
		tok, err := c.Unsubscribe.Token(Unsubscription{Shop: args.Shop, Recipient: m.To[0].Address, Channel: ChannelEmail,
			MessageID: m.MessageID, IssuedAt: m.Date.Unix()})
		if err != nil {
			return m, invalid("to: %v", err)
		}
		m.unsubscribeURL = c.Unsubscribe.link(tok)
		data["unsubscribeUrl"] = m.unsubscribeURL
		value := "<" + m.unsubscribeURL + ">"
		if to := sender.cfg.UnsubscribeMailto; to != "" {
			value += ", <mailto:" + to + "?subject=unsubscribe%20" + tok + ">"
		}
		m.Header = append(m.Header,
			Field{Name: "List-Unsubscribe", Value: value},
			Field{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"})
	}

	src, what, err := c.source(ctx, args)
	if err != nil {
		return m, err
	}
	p, err := parse(what, src)
	if err != nil {
		return m, invalid("%v; fix the template's syntax", err)
	}
	out, err := p.execute(data)
	if err != nil {
		return m, invalid("%v; give the value in the call's data, customer or event, or write an optional one as {{or (index .customer \"firstName\") \"\"}}", err)
	}
	m.Subject = strings.Join(strings.Fields(out.Subject), " ")
	m.Text, m.HTML = out.Text, out.HTML
	switch {
	case m.Subject == "":
		return m, invalid("subject: empty; give a subject, or a template that has one")
	case len(m.Subject) > subjectLimit:
		return m, invalid("subject: %d bytes; keep it under %d (mail clients show about 60 characters)", len(m.Subject), subjectLimit)
	case strings.TrimSpace(m.Text) == "" && strings.TrimSpace(m.HTML) == "":
		return m, invalid("%s renders an empty body", what)
	}
	return m, nil
}

// source returns the template to render and how errors name it.
func (c *Connector) source(ctx context.Context, args Args) (Template, string, error) {
	if args.Template == "" {
		return Template{Subject: args.Subject, Text: args.Text, HTML: args.HTML}, "inline", nil
	}
	if args.Text != "" || args.HTML != "" {
		return Template{}, "", problem.Newf(problem.TypeValidation, 400, "Invalid Email",
			"%s: template: give either a template or inline text/html, not both", Name)
	}
	if c.Templates == nil {
		return Template{}, "", problem.Newf(problem.TypeValidation, 400, "Invalid Email",
			"%s: template: this storeflow has no named templates; send inline text or html", Name)
	}
	t, err := c.Templates.Template(ctx, args.Shop, args.Template)
	if errors.Is(err, ErrNoTemplate) {
		return Template{}, "", problem.Newf(problem.TypeValidation, 400, "Invalid Email",
			"%s: template: shop %q has no template %q; add it to the shop's templates or check the name", Name, args.Shop, args.Template)
	}
	if err != nil {
		return Template{}, "", problem.Newf(problem.TypeRuntime, 503, "Templates Unavailable",
			"%s: template %q: %v", Name, args.Template, err)
	}
	if args.Subject != "" {
		t.Subject = args.Subject
	}
	return t, "template " + args.Template, nil
}

// sender finds the sender of a call's shop.
func (c *Connector) sender(ctx context.Context, id string) (*Sender, error) {
	if s, ok := c.Senders[id]; ok {
		return s, nil
	}
	sh, err := shopconfig.Lookup(ctx, c.Shops, Name, id)
	if err != nil {
		return nil, err
	}
	if sh != nil && sh.Email != nil {
		cfg, err := ConfigOf(sh.Email)
		if err == nil {
			var s *Sender
			if s, err = NewSender(cfg); err == nil {
				return s, nil
			}
		}
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Email Not Configured", "%s: shop %q: %v", Name, id, err)
	}
	if s := c.Senders[""]; s != nil {
		return s, nil
	}
	return nil, problem.Newf(problem.TypeConfiguration, 500, "Email Not Configured",
		"%s: no mail server is configured for shop %q; add its email settings (storeflow shop update)", Name, id)
}

// ConfigOf is the sender configuration of a shop's email settings.
func ConfigOf(e *shop.Email) (Config, error) {
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return Config{}, fmt.Errorf("email from: %q is not an email address", e.From)
	}
	if e.FromName != "" {
		from.Name = e.FromName
	}
	cfg := Config{Host: e.Host, Port: e.Port, Security: Security(e.Security), Username: e.Username, Password: e.Password, From: *from}
	if e.ReplyTo != "" {
		if cfg.ReplyTo, err = mail.ParseAddress(e.ReplyTo); err != nil {
			return Config{}, fmt.Errorf("email replyTo: %q is not an email address", e.ReplyTo)
		}
	}
	return cfg, nil
}

// templateData merges data with the customer and event: data's keys at the
// top, the customer and event arguments as .customer and .event (replacing
// data's keys of those names; empty objects when neither gives them).
// Numbers stay as written, so an order number never prints as 1e+06.
func templateData(args Args) (map[string]any, error) {
	data, err := object("data", args.Data)
	if err != nil {
		return nil, err
	}
	for _, part := range []struct {
		name string
		raw  json.RawMessage
	}{{"customer", args.Customer}, {"event", args.Event}} {
		m, err := object(part.name, part.raw)
		if err != nil {
			return nil, err
		}
		if _, inData := data[part.name]; len(m) > 0 || !inData {
			data[part.name] = m
		}
	}
	return data, nil
}

func object(name string, raw json.RawMessage) (map[string]any, error) {
	m := map[string]any{}
	if len(raw) == 0 || string(raw) == "null" {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: must be an object", name)
	}
	return m, nil
}

// parseAddresses parses recipients given as name@example.com or
// "Name <name@example.com>".
func parseAddresses(in Addresses) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(in))
	for _, s := range in {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an email address; write it as name@example.com or \"Name <name@example.com>\"", s)
		}
		if a.Address, err = checkAddress(a.Address); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func addressList(list []*mail.Address) []any {
	out := make([]any, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out
}
