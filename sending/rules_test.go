package sending_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// Friday 4 December 2026, 10:00 UTC: 11:00 in the shop's Berlin.
var friday = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// promoFlow sends one marketing email to its input's address.
const promoFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: promo
  version: '1.0.0'
do:
  - mail:
      call: email.send
      with:
        shop: acme
        to: ${ .email }
        category: marketing
        subject: Winter sale
        text: Everything half price, {{ .customer.firstName }}.
        customer: { firstName: Ada, id: "c-1" }
`

// smsFlow sends one SMS to its input's number, of the input's category.
const smsFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: texts
  version: '1.0.0'
do:
  - text:
      call: sms.send
      with:
        shop: acme
        to: ${ .phone }
        category: ${ .category }
        text: Winter sale at Acme
`

// noticeFlow sends a transactional email.
const noticeFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: notice
  version: '1.0.0'
do:
  - mail:
      call: email.send
      with:
        shop: acme
        to: ${ .email }
        category: transactional
        subject: ${ "Order " + .order + " shipped" }
        text: It is on its way.
`

// cartFlow is an abandoned-checkout reminder: an hour after the checkout
// started, a marketing email.
const cartFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: cart
  version: '1.0.0'
schedule:
  on:
    one:
      with:
        type: commerce.checkout.started
do:
  - pause:
      wait:
        hours: 1
  - remind:
      call: email.send
      with:
        shop: acme
        to: ${ $workflow.input[0].data.customer.email }
        category: marketing
        subject: You left something behind
        text: Your cart is waiting.
`

func TestMarketingWithoutConsentIsSuppressedAndRecorded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, nil)
	w.publish(promoFlow)
	w.consent(sending.ChannelEmail, "bob@example.com", "not_subscribed", friday.Add(-time.Hour))

	for _, tc := range []struct{ to, consent string }{{"ada@example.com", ""}, {"Bob <BOB@example.com>", "not_subscribed"}} {
		id := w.start("promo", map[string]any{"email": tc.to})
		out := w.ended(id).Output.(map[string]any)
		addr := strings.ToLower(strings.TrimSuffix(tc.to[strings.LastIndex(tc.to, "<")+1:], ">"))
		require.Equal(t, map[string]any{"suppressed": true, "reason": "no-consent", "channel": "email", "to": addr,
			"category": "marketing", "shop": "acme"}, out, "a suppression is the task's output")
		notes := w.suppressions(id)
		require.Len(t, notes, 1)
		require.Equal(t, "no-consent", notes[0]["reason"])
		require.Equal(t, tc.consent, notes[0]["consent"])
		require.Equal(t, "/do/0/mail", notes[0]["task"])
		require.Equal(t, []string{"suppressed no-consent"}, w.statuses(id))
		m := w.messages(store.MessageQuery{Instance: id})[0]
		require.Equal(t, store.Message{ID: m.ID, Key: m.Key, Shop: "acme", Channel: "email", Address: addr, CustomerID: "c-1",
			Workflow: "shop/promo:1.0.0", Instance: id, Task: "/do/0/mail", Subject: "Winter sale", Category: "marketing",
			Status: store.MessageSuppressed, Reason: "no-consent", At: friday}, m)
	}
	require.Empty(t, w.mail.received(), "nothing reached the mail server")
}

func TestConsentedMarketingIsSentThenSpacedBySmartSending(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, nil)
	w.publish(promoFlow)
	w.consent(sending.ChannelEmail, "ada@example.com", "subscribed", friday.Add(-24*time.Hour))

	first := w.start("promo", map[string]any{"email": "ada@example.com"})
	out := w.ended(first).Output.(map[string]any)
	require.NotContains(t, out, "suppressed")
	require.NotEmpty(t, out["messageId"])
	require.Len(t, w.mail.received(), 1)
	require.Equal(t, []string{"sent"}, w.statuses(first))

	w.advance(15 * time.Hour)
	second := w.start("promo", map[string]any{"email": "ADA@example.com"})
	out = w.ended(second).Output.(map[string]any)
	require.Equal(t, "smart-sending", out["reason"], "within 16 hours of the last one")
	note := w.suppressions(second)[0]
	require.Equal(t, friday.Format(time.RFC3339Nano), note["lastSentAt"])
	require.Equal(t, "16h0m0s", note["window"])
	require.Equal(t, []string{"suppressed smart-sending"}, w.statuses(second))
	require.Len(t, w.mail.received(), 1)

	// A skipped message is not rescheduled: the instance ended, and
	// nothing more goes out when time passes.
	w.advance(2 * time.Hour)
	require.Len(t, w.mail.received(), 1)

	third := w.start("promo", map[string]any{"email": "ada@example.com"})
	require.NotContains(t, w.ended(third).Output.(map[string]any), "suppressed", "17 hours later")
	require.Len(t, w.mail.received(), 2)

	// Transactional mail is neither held to consent nor to smart sending.
	w.publish(noticeFlow)
	notice := w.start("notice", map[string]any{"email": "ada@example.com", "order": "#1001"})
	require.NotContains(t, w.ended(notice).Output.(map[string]any), "suppressed")
	require.Len(t, w.mail.received(), 3)

	list := w.messages(store.MessageQuery{Shop: "acme", Address: "ada@example.com"})
	require.Len(t, list, 4, "the customer's message log")
	require.Equal(t, "transactional", list[0].Category)
	require.Equal(t, "Order #1001 shipped", list[0].Subject)
}

func TestSmartSendingIsPerChannelAndConfigurable(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, func(s *shop.Shop) {
		s.Sending.SmartSendingEmail = shop.Off()
		s.Sending.SmartSendingSMS = shop.Duration{Duration: time.Hour}
	})
	w.publish(promoFlow)
	w.publish(smsFlow)
	w.consent(sending.ChannelEmail, "ada@example.com", "subscribed", friday.Add(-time.Hour))
	w.consent(sending.ChannelSMS, "+4915198765432", "subscribed", friday.Add(-time.Hour))

	for range 2 {
		require.NotContains(t, w.ended(w.start("promo", map[string]any{"email": "ada@example.com"})).Output, "suppressed")
	}
	require.Len(t, w.mail.received(), 2, "smart sending of email is off")

	sms := func() map[string]any {
		return w.ended(w.start("texts", map[string]any{"phone": "0151 98765432", "category": "marketing"})).Output.(map[string]any)
	}
	require.NotContains(t, sms(), "suppressed")
	w.advance(59 * time.Minute)
	require.Equal(t, "smart-sending", sms()["reason"], "the national number is the same address")
	w.advance(time.Minute)
	require.NotContains(t, sms(), "suppressed", "an hour later")
	require.Len(t, w.sms.received(), 2)
}

func TestTheUnsubscribeLinkStopsMarketing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, nil)
	w.publish(promoFlow)
	// Subscribed long ago: the unsubscription is dated by the wall clock.
	w.consent(sending.ChannelEmail, "ada@example.com", "subscribed", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	w.ended(w.start("promo", map[string]any{"email": "ada@example.com"}))
	mails := w.mail.received()
	require.Len(t, mails, 1)
	link := regexp.MustCompile(`(?m)^List-Unsubscribe: <([^>]+)>`).FindStringSubmatch(mails[0].Data)
	require.NotNil(t, link, mails[0].Data)
	require.Contains(t, mails[0].Data, "List-Unsubscribe-Post: List-Unsubscribe=One-Click")
	u, err := url.Parse(link[1])
	require.NoError(t, err)

	// The one-click POST of RFC 8058, as a mail client sends it.
	resp, err := http.PostForm(w.api.URL+u.Path, url.Values{"List-Unsubscribe": {"One-Click"}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	w.advance(17 * time.Hour) // past smart sending
	id := w.start("promo", map[string]any{"email": "ada@example.com"})
	out := w.ended(id).Output.(map[string]any)
	require.Equal(t, "unsubscribed", out["reason"])
	require.Equal(t, "unsubscribed", w.suppressions(id)[0]["consent"])
	require.Equal(t, []string{"suppressed unsubscribed"}, w.statuses(id))
	require.Len(t, w.mail.received(), 1)

	// Subscribing again (a newer consent) lets marketing through again.
	w.consent(sending.ChannelEmail, "ada@example.com", "subscribed", time.Now().Add(time.Minute))
	require.NotContains(t, w.ended(w.start("promo", map[string]any{"email": "ada@example.com"})).Output, "suppressed")
	require.Len(t, w.mail.received(), 2)
}

func TestSMSInQuietHoursIsHeldUntilTheyEndThenSent(t *testing.T) {
	t.Parallel()
	evening := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC) // 22:30 in Berlin
	w := newWorld(t, evening, nil)
	w.publish(smsFlow)
	w.consent(sending.ChannelSMS, "+4915198765432", "subscribed", evening.Add(-time.Hour))

	held := w.start("texts", map[string]any{"phone": "+49 151 98765432", "category": "marketing"})
	w.eventually("the SMS is held", func() bool {
		s := w.statuses(held)
		return len(s) == 1 && s[0] == "deferred quiet-hours"
	})
	require.Empty(t, w.sms.received())
	require.Equal(t, "waiting", string(w.state(held).Status), "held, not dropped")
	require.Empty(t, w.suppressions(held), "a hold is no suppression")

	// A transactional SMS is not held.
	notice := w.start("texts", map[string]any{"phone": "+4915198765432", "category": "transactional"})
	require.Equal(t, "+4915198765432", w.ended(notice).Output.(map[string]any)["to"])
	require.Len(t, w.sms.received(), 1)

	w.set(time.Date(2026, 12, 5, 6, 59, 0, 0, time.UTC))
	require.Len(t, w.sms.received(), 1, "not before 08:00 in Berlin")
	w.set(time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC))
	out := w.ended(held).Output.(map[string]any)
	require.Equal(t, "+4915198765432", out["to"])
	require.Len(t, w.sms.received(), 2)
	m := w.messages(store.MessageQuery{Instance: held})
	require.Equal(t, store.MessageSent, m[0].Status)
	require.Equal(t, time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC), m[0].At, "sent when the quiet hours ended")
}

func TestTheSendRateHoldsMessagesOverIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, func(s *shop.Shop) { s.Sending.RatePerMinute = 2 })
	w.publish(noticeFlow)
	ids := []string{
		w.start("notice", map[string]any{"email": "a@example.com", "order": "1"}),
		w.start("notice", map[string]any{"email": "b@example.com", "order": "2"}),
		w.start("notice", map[string]any{"email": "c@example.com", "order": "3"}),
	}
	w.eventually("two sent, one held", func() bool {
		var sent, held int
		for _, m := range w.messages(store.MessageQuery{Shop: "acme"}) {
			switch {
			case m.Status == store.MessageSent:
				sent++
			case m.Status == store.MessageDeferred && m.Reason == "rate":
				held++
			}
		}
		return sent == 2 && held == 1
	})
	require.Len(t, w.mail.received(), 2)
	w.advance(59 * time.Second)
	require.Len(t, w.mail.received(), 2, "not before a minute passed")
	w.advance(time.Second)
	for _, id := range ids {
		w.ended(id)
	}
	require.Len(t, w.mail.received(), 3, "held, not dropped")
}

func TestTheConversionGuardSeesALateOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t, friday, nil)
	w.publish(cartFlow)
	checkoutAt := friday.Add(-3 * time.Hour) // its webhook comes three hours late
	customers := []struct{ email, token string }{
		{"ada@example.com", "tok-ada"}, // orders after the checkout, reported late
		{"bob@example.com", "tok-bob"}, // ordered only before the checkout
		{"cy@example.com", "tok-cy"},   // an order of the checkout itself, dated before it
	}
	for _, c := range customers {
		w.consent(sending.ChannelEmail, c.email, "subscribed", checkoutAt.Add(-48*time.Hour))
	}
	w.event("commerce.order.placed", "o-0", map[string]any{"occurredAt": commerce.Timestamp(checkoutAt.Add(-time.Hour)), "orderId": "o-0",
		"customer": map[string]any{"email": "bob@example.com"}})
	for _, c := range customers {
		w.event("commerce.checkout.started", c.token, map[string]any{"occurredAt": commerce.Timestamp(checkoutAt), "checkoutToken": c.token,
			"customer": map[string]any{"email": c.email}})
	}
	w.eventually("three reminders wait", func() bool { return len(w.instances("cart")) == 3 })
	ids := w.instances("cart")

	// Ten minutes later, the orders' webhooks arrive; both happened before
	// the instances started.
	w.advance(10 * time.Minute)
	w.event("commerce.order.placed", "o-1", map[string]any{"occurredAt": commerce.Timestamp(checkoutAt.Add(time.Hour)), "orderId": "o-1",
		"customer": map[string]any{"id": "c-ada", "email": "ada@example.com"}})
	w.event("commerce.order.placed", "o-2", map[string]any{"occurredAt": commerce.Timestamp(checkoutAt.Add(-time.Minute)), "orderId": "o-2",
		"checkoutToken": "tok-cy"})

	w.advance(50 * time.Minute)
	byEmail := map[string]map[string]any{}
	for _, id := range ids {
		out := w.ended(id).Output.(map[string]any)
		to := out["to"]
		if list, ok := to.([]any); ok {
			to = list[0]
		}
		out["id"] = id
		byEmail[to.(string)] = out
	}
	require.Equal(t, "converted", byEmail["ada@example.com"]["reason"])
	note := w.suppressions(byEmail["ada@example.com"]["id"].(string))[0]
	require.Equal(t, "tok-ada", note["checkoutToken"])
	require.Equal(t, "email", note["linkedBy"])
	require.Equal(t, commerce.Timestamp(checkoutAt.Add(time.Hour)), note["orderedAt"])
	require.Equal(t, "converted", byEmail["cy@example.com"]["reason"], "an order of the checkout counts whenever it is dated")
	require.Equal(t, "checkout", w.suppressions(byEmail["cy@example.com"]["id"].(string))[0]["linkedBy"])
	require.NotContains(t, byEmail["bob@example.com"], "suppressed", "an order before the checkout is no conversion")
	mails := w.mail.received()
	require.Len(t, mails, 1)
	require.Equal(t, []string{"bob@example.com"}, mails[0].To)
	require.Equal(t, []string{"suppressed converted"}, w.statuses(byEmail["ada@example.com"]["id"].(string)))
	require.Equal(t, "shop/cart:1.0.0", w.messages(store.MessageQuery{Address: "bob@example.com"})[0].Workflow)
}
