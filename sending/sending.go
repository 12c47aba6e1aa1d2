// Package sending holds the sending rules every message of every workflow
// obeys: a layer in front of the email.send and sms.send connectors (a
// connector.Interceptor), so that the durable runtime, the local runner and
// the recording twins of tests and pretests all see the same rules.
//
// For each call it decides, in this order:
//
//  1. consent: a marketing message needs the recipient's consent on the
//     channel (suppressed as "no-consent", or "unsubscribed" when they
//     withdrew it);
//  2. the conversion guard: a marketing message of an instance a checkout
//     started is suppressed ("converted") when the customer ordered since
//     the checkout occurred, as the event log knows at send time;
//  3. quiet hours: a marketing SMS in the shop's quiet hours (21:00–08:00
//     in its time zone by default) is held until they end (deferred);
//  4. smart sending: a marketing message to an address that got one on the
//     same channel within the window (email 16h, SMS 24h) is suppressed
//     ("smart-sending"), and not rescheduled;
//  5. the send rate: a message over the shop's messages a minute is held
//     until a slot frees (deferred).
//
// Transactional messages go through the rate only. A suppression is a
// normal output, not an error: the task completes with {suppressed: true,
// reason, channel, to, category} (a workflow branches on .suppressed) and
// the instance's history gets a message.suppressed entry with the reason.
// A deferral is neither: the call is made again when the hold ends, and
// every rule is checked again then. Every decision goes to the message log
// (store.MessageLog).
package sending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/connector/sms"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/store"
)

// Channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Functions are the built-ins the rules stand in front of, with their
// channels.
var Functions = map[string]string{"email.send": ChannelEmail, "sms.send": ChannelSMS}

// Reasons of suppressions and deferrals.
const (
	ReasonNoConsent    = "no-consent"
	ReasonUnsubscribed = "unsubscribed"
	ReasonConverted    = "converted"
	ReasonSmartSending = "smart-sending"
	ReasonQuietHours   = "quiet-hours"
	ReasonRate         = "rate"
)

// NoteSuppressed is the type of the history entry of a suppression.
const NoteSuppressed = "message.suppressed"

// Consent states that matter here (commerce.consent.changed's states).
const (
	Subscribed   = "subscribed"
	Unsubscribed = "unsubscribed"
)

// Consents tells a recipient's consent on a channel: the state of
// commerce.consent.changed ("subscribed", "unsubscribed", "not_subscribed"
// …), "" when nothing is known. Only "subscribed" lets marketing through.
// Facts answers from the event log; customer profiles can take its place.
type Consents interface {
	Consent(ctx context.Context, shop, channel, address string) (string, error)
}

// ConsentFunc adapts a function to Consents.
type ConsentFunc func(ctx context.Context, shop, channel, address string) (string, error)

// Consent calls f.
func (f ConsentFunc) Consent(ctx context.Context, shop, channel, address string) (string, error) {
	return f(ctx, shop, channel, address)
}

// Conversions tells whether the customer of a checkout ordered since it
// occurred (nil: not yet).
type Conversions interface {
	Converted(ctx context.Context, shop string, c Checkout) (*Conversion, error)
}

// Rules applies the sending rules; it is a connector.Interceptor for the
// built-ins in Functions.
type Rules struct {
	Log         store.MessageLog
	Shops       shopconfig.Func // the shops' settings; nil: every call gets the defaults
	Consents    Consents
	Conversions Conversions
	Origins     Origins
	// Clock tells the time of calls that carry none; the wall clock when nil.
	Clock  clock.Clock
	Logger *slog.Logger
}

// rateWindow is the span the send rate counts messages in.
const rateWindow = time.Minute

// message is what the rules read of a call's arguments.
type message struct {
	channel, function string
	store.Message
}

// Intercept implements connector.Interceptor.
func (r *Rules) Intercept(ctx context.Context, req connector.Request, next connector.Connector) (any, error) {
	fn, _, _ := connector.ParseRef(req.Function)
	channel, ok := Functions[fn]
	if !ok || req.Kind != connector.KindFunction {
		return next.Call(ctx, req)
	}
	a, ok := decodeArgs(req.Args)
	if !ok {
		return next.Call(ctx, req) // arguments the connector refuses: let it say why
	}
	origin, err := r.origin(ctx, req.Instance)
	if err != nil {
		return nil, unavailable(fn, "the calling instance", err)
	}
	if a.Shop == "" {
		// A message that names no shop belongs, for the rules, to the shop
		// whose event started its instance.
		a.Shop = origin.Shop
	}
	sh, err := shopconfig.Lookup(ctx, r.Shops, fn, a.Shop)
	if err != nil {
		return nil, err
	}
	set, err := settingsOf(sh)
	if err != nil {
		return nil, problem.Newf(problem.TypeConfiguration, 500, "Sending Rules Not Configured", "%s: %v", fn, err)
	}
	m, ok := describe(req, a, fn, channel, set.country)
	if !ok {
		return next.Call(ctx, req)
	}
	now := req.At
	if now.IsZero() {
		now = r.clock().Now()
	}
	m.At = now.UTC()
	m.ID = engine.NewID()

	prior, err := r.Log.GetMessage(ctx, m.Key)
	switch {
	case err == nil && prior.Status == store.MessageSent:
		// Sent before and its completion lost (a crash): the rules decided
		// then. The connector gets it again with the same key.
		return next.Call(ctx, req)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, unavailable(fn, "the message log", err)
	}

	m.Workflow = origin.Workflow
	if m.CustomerID == "" && origin.Checkout != nil && sameAddress(channel, m.Address, origin.Checkout) {
		m.CustomerID = origin.Checkout.CustomerID
	}

	if m.Category == "marketing" {
		if out, err := r.marketing(ctx, m, origin, set, now); out != nil || err != nil {
			return out, err
		}
	}

	claim := store.MessageClaim{Message: m.Message}
	if w := set.smartWindow(channel); m.Category == "marketing" && w > 0 {
		// Within the window: sent less than w ago.
		claim.SmartSince = now.Add(-w + time.Nanosecond)
	}
	if set.ratePerMinute > 0 {
		// A message at t counts for the minute after it: at now, those
		// after now-1m.
		claim.RateLimit, claim.RateSince = set.ratePerMinute, now.Add(-rateWindow+time.Nanosecond)
	}
	got, err := r.Log.ClaimMessage(ctx, claim)
	if err != nil {
		return nil, unavailable(fn, "the message log", err)
	}
	switch {
	case got.Recent != nil:
		return r.suppress(ctx, m, ReasonSmartSending, map[string]any{"lastSentAt": got.Recent.At.Format(time.RFC3339Nano),
			"window": set.smartWindow(channel).String()})
	case got.RateFull:
		return nil, r.hold(ctx, m, ReasonRate, got.Oldest.Add(rateWindow),
			fmt.Sprintf("shop %q sends at most %d messages a minute", m.Shop, set.ratePerMinute))
	}

	out, err := next.Call(ctx, req)
	status, reason := store.MessageSent, ""
	if d, deferred := connector.DeferredUntil(err); deferred {
		status, reason = store.MessageDeferred, d.Reason
	} else if err != nil {
		status, reason = store.MessageFailed, problem.As(err).Title
	}
	if ctx.Err() != nil {
		return out, err // cut short: the runtime makes the call again
	}
	if rerr := r.record(ctx, m, status, reason); rerr != nil {
		// Sent, but not logged: say so, and let the workflow have its
		// output, since a retry would send it again.
		r.logger().Error("sending rules: record a message", "key", m.Key, "status", status, "err", rerr)
	}
	return out, err
}

// marketing checks consent, the conversion guard and quiet hours; a nil
// output and error let the message on.
func (r *Rules) marketing(ctx context.Context, m message, origin Origin, set settings, now time.Time) (any, error) {
	if r.Consents == nil {
		return r.suppress(ctx, m, ReasonNoConsent, map[string]any{"consent": "", "why": "this storeflow has no source of consent"})
	}
	state, err := r.Consents.Consent(ctx, m.Shop, m.channel, m.Address)
	if err != nil {
		return nil, unavailable(m.function, "the recipient's consent", err)
	}
	switch state {
	case Subscribed:
	case Unsubscribed:
		return r.suppress(ctx, m, ReasonUnsubscribed, map[string]any{"consent": state})
	default:
		return r.suppress(ctx, m, ReasonNoConsent, map[string]any{"consent": state})
	}
	if c := origin.Checkout; c != nil && r.Conversions != nil {
		shopID := m.Shop
		if shopID == "" {
			shopID = c.Shop
		}
		conv, err := r.Conversions.Converted(ctx, shopID, *c)
		if err != nil {
			return nil, unavailable(m.function, "the orders since the checkout", err)
		}
		if conv != nil {
			return r.suppress(ctx, m, ReasonConverted, map[string]any{"checkoutToken": c.Token,
				"checkoutAt": c.OccurredAt.Format(time.RFC3339Nano), "orderedAt": conv.OrderedAt.Format(time.RFC3339Nano), "linkedBy": conv.By})
		}
	}
	if m.channel == ChannelSMS {
		if until, quiet := set.quiet.until(now, set.loc); quiet {
			return nil, r.hold(ctx, m, ReasonQuietHours, until, fmt.Sprintf("quiet hours in %s", set.loc))
		}
	}
	return nil, nil
}

// suppress records a suppression and returns the output the workflow sees.
func (r *Rules) suppress(ctx context.Context, m message, reason string, detail map[string]any) (any, error) {
	if err := r.record(ctx, m, store.MessageSuppressed, reason); err != nil {
		return nil, unavailable(m.function, "the message log", err)
	}
	out := map[string]any{"suppressed": true, "reason": reason, "channel": m.channel, "to": m.Address, "category": m.Category}
	if m.Shop != "" {
		out["shop"] = m.Shop
	}
	note := map[string]any{"function": m.function, "reason": reason, "channel": m.channel, "to": m.Address, "category": m.Category}
	for k, v := range detail {
		note[k] = v
	}
	r.logger().Info("message suppressed", "instance", m.Instance, "task", m.Task, "channel", m.channel, "reason", reason)
	return connector.Noted{Output: out, Note: connector.Note{Type: NoteSuppressed, Detail: note}}, nil
}

// hold records a deferral and returns the error that defers the call.
func (r *Rules) hold(ctx context.Context, m message, reason string, until time.Time, why string) error {
	if err := r.record(ctx, m, store.MessageDeferred, reason); err != nil {
		return unavailable(m.function, "the message log", err)
	}
	r.logger().Info("message held", "instance", m.Instance, "task", m.Task, "channel", m.channel, "reason", reason, "until", until)
	return connector.Defer(until, reason+": "+why)
}

// record writes a message's status to the log.
func (r *Rules) record(ctx context.Context, m message, status, reason string) error {
	m.Status, m.Reason = status, reason
	return r.Log.PutMessage(ctx, m.Message)
}

func (r *Rules) origin(ctx context.Context, instance string) (Origin, error) {
	if r.Origins == nil || instance == "" {
		return Origin{}, nil
	}
	return r.Origins.Origin(ctx, instance)
}

func (r *Rules) clock() clock.Clock {
	if r.Clock == nil {
		return clock.Real()
	}
	return r.Clock
}

func (r *Rules) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// unavailable is the problem of a rule that could not be checked: worth a
// retry, and nothing is sent meanwhile.
func unavailable(fn, what string, err error) error {
	return problem.Newf(problem.TypeRuntime, 503, "Sending Rules Unavailable", "%s: %s could not be read to check the sending rules: %v", fn, what, err)
}

// args are the arguments the rules read; the connector checks the rest.
type args struct {
	To       json.RawMessage `json:"to"`
	Category string          `json:"category"`
	Shop     string          `json:"shop"`
	Subject  string          `json:"subject"`
	Template string          `json:"template"`
	Customer map[string]any  `json:"customer"`
}

func decodeArgs(v any) (args, bool) {
	var a args
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &a) != nil {
		return a, false
	}
	return a, true
}

// describe reads the message a call sends; false when its arguments are
// not ones the connector would send.
func describe(req connector.Request, a args, fn, channel, country string) (message, bool) {
	if a.Category != "marketing" && a.Category != "transactional" {
		return message{}, false
	}
	m := message{channel: channel, function: fn, Message: store.Message{Key: req.IdempotencyKey, Shop: a.Shop, Channel: channel,
		Instance: req.Instance, Task: req.Task, Template: a.Template, Subject: a.Subject, Category: a.Category}}
	if a.Customer != nil {
		m.CustomerID = scalar(a.Customer["id"])
	}
	var to []string
	var one string
	if json.Unmarshal(a.To, &one) == nil {
		to = []string{one}
	} else if json.Unmarshal(a.To, &to) != nil || len(to) == 0 {
		return message{}, false
	}
	switch channel {
	case ChannelEmail:
		addr, err := mail.ParseAddress(to[0])
		if err != nil {
			return message{}, false
		}
		m.Address = commerce.NormalizeEmail(addr.Address)
	case ChannelSMS:
		n, err := sms.E164(to[0], country)
		if err != nil {
			return message{}, false
		}
		m.Address = n
	}
	return m, true
}

func sameAddress(channel, address string, c *Checkout) bool {
	if channel == ChannelSMS {
		return c.Phone != "" && strings.TrimSpace(c.Phone) == address
	}
	return c.Email != "" && commerce.NormalizeEmail(c.Email) == address
}
