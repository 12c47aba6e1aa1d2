package customer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/commerce"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/postgres/pgtest"
	"github.com/storeflow/storeflow/store/sqlite"
)

var backends = map[string]func(t *testing.T) store.Store{
	"sqlite": func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	},
	"postgres": func(t *testing.T) store.Store {
		_, url := pgtest.Schema(t)
		s, err := postgres.Open(context.Background(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	},
}

// now is when the tests read the profiles.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

var shops = map[string]*shop.Shop{
	"acme": {ID: "acme", Currency: "EUR", Country: "DE", Segments: shop.Segments{VIPSpend: "150", LapsedDays: 90, AbandonedAfter: shop.Duration{Duration: time.Hour}}},
}

func shopOf(_ context.Context, id string) (*shop.Shop, error) {
	if s, ok := shops[id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("shop %s: %w", id, store.ErrNotFound)
}

// fixture logs commerce events and projects them.
type fixture struct {
	t   *testing.T
	st  store.Store
	dir *customer.Directory
	n   atomic.Int64
	r   *follower.Runner
}

func newFixture(t *testing.T, st store.Store) *fixture {
	r, err := follower.New(follower.Options{Store: st, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Retry: 10 * time.Millisecond, Poll: 20 * time.Millisecond},
		&customer.Projection{Shops: shopOf})
	require.NoError(t, err)
	return &fixture{t: t, st: st, r: r, dir: &customer.Directory{Store: st, Shops: shopOf, Now: func() time.Time { return now }}}
}

// log appends a canonical event of shop acme whose data occurred at.
func (f *fixture) log(typ string, at time.Time, data map[string]any) {
	f.t.Helper()
	data["occurredAt"] = commerce.Timestamp(at)
	if data["shop"] == nil {
		data["shop"] = "acme"
	}
	e, err := commerce.NewEvent(typ, fmt.Sprintf("ev-%d", f.n.Add(1)), "", data)
	require.NoError(f.t, err, "%s: %v", typ, data)
	e.Source = commerce.Source("test", e.Shop)
	env, err := e.Envelope()
	require.NoError(f.t, err)
	_, err = f.st.AppendEvents(context.Background(), []store.Event{{ID: e.ID, Source: e.Source, Type: e.Type, Time: e.Time, Envelope: env}})
	require.NoError(f.t, err)
}

// project runs the follower until it has applied the whole log.
func (f *fixture) project() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	head, err := f.st.LastEventSeq(ctx)
	require.NoError(f.t, err)
	require.Eventually(f.t, func() bool {
		fl, err := f.st.GetFollower(ctx, customer.Name)
		return err == nil && fl.Cursor == head
	}, 60*time.Second, 5*time.Millisecond)
}

func (f *fixture) find(l customer.Lookup) *customer.Profile {
	f.t.Helper()
	p, err := f.dir.Find(context.Background(), "acme", l)
	require.NoError(f.t, err, "%+v", l)
	return p
}

func who(kv ...string) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func forEachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Parallel()
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newFixture(t, open(t)))
		})
	}
}

// Identities are merged by platform id, email and phone: every event that
// names one of them reaches the same profile, and two profiles that turn
// out to be one person become one.
func TestIdentityMerges(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		t0 := now.Add(-days(10))
		f.log("commerce.customer.created", t0, map[string]any{"customer": who("id", "7001", "email", "bob@example.com", "firstName", "Bob", "lastName", "Biller")})
		f.log("commerce.form.submitted", t0.Add(time.Hour), map[string]any{"formId": "newsletter", "customer": who("email", "bob@example.com", "phone", "0151 23456789")})
		f.log("commerce.checkout.started", t0.Add(2*time.Hour), map[string]any{"checkoutToken": "tok1", "customer": who("phone", "+4915123456789")})
		f.log("commerce.order.placed", t0.Add(3*time.Hour), map[string]any{"orderId": "o1", "currency": "EUR", "totalPrice": "10.00",
			"customer": who("email", "bob.work@example.com", "phone", "+4915123456789")})
		// Carl is known by email, and separately by phone, until one event
		// names both.
		f.log("commerce.consent.changed", t0, map[string]any{"channel": "email", "state": "subscribed", "customer": who("email", "carl@example.com")})
		f.log("commerce.order.placed", t0.Add(time.Hour), map[string]any{"orderId": "o2", "currency": "EUR", "totalPrice": "20.00", "customer": who("phone", "+4915199999999")})
		f.project()

		bob := f.find(customer.Lookup{ID: "7001"})
		require.Equal(t, []string{"bob@example.com", "bob.work@example.com"}, bob.Emails)
		require.Equal(t, []string{"+4915123456789"}, bob.Phones, "a national number is read in the shop's country")
		require.Equal(t, "bob.work@example.com", bob.Email, "the newest address")
		require.Equal(t, "Bob", bob.FirstName)
		require.Equal(t, 1, bob.Metrics.Orders)
		for _, l := range []customer.Lookup{{Email: " BOB@example.com "}, {Email: "bob.work@example.com"}, {Phone: "+49 151 23456789"}, {Phone: "015123456789"}, {ID: bob.ID}} {
			require.Equal(t, bob.ID, f.find(l).ID, "%+v", l)
		}
		carlMail, carlPhone := f.find(customer.Lookup{Email: "carl@example.com"}), f.find(customer.Lookup{Phone: "+4915199999999"})
		require.NotEqual(t, carlMail.ID, carlPhone.ID)

		f.log("commerce.customer.updated", t0.Add(4*time.Hour), map[string]any{"customer": who("id", "7002", "email", "carl@example.com", "phone", "+4915199999999")})
		f.project()
		carl := f.find(customer.Lookup{Phone: "+4915199999999"})
		require.Equal(t, carlMail.ID, carl.ID, "the older profile survives the merge")
		require.Equal(t, []string{carlPhone.ID}, carl.MergedFrom)
		require.Equal(t, 1, carl.Metrics.Orders, "the merged profile's orders came along")
		require.Equal(t, "subscribed", carl.Consent["email"].State, "and the consent stayed")
		merged, err := f.dir.Get(context.Background(), carlPhone.ID)
		require.NoError(t, err)
		require.Equal(t, carl.ID, merged.ID, "the merged ID still finds the person")
		evs, err := f.dir.Events(context.Background(), carl.ID, 10)
		require.NoError(t, err)
		require.Len(t, evs, 3)
		require.Equal(t, "commerce.customer.updated", evs[0].Type)

		_, err = f.dir.Find(context.Background(), "acme", customer.Lookup{Email: "nobody@example.com"})
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = f.dir.Find(context.Background(), "other", customer.Lookup{ID: bob.ID})
		require.ErrorIs(t, err, store.ErrNotFound, "a profile is found in its shop only")
		_, err = f.dir.Find(context.Background(), "acme", customer.Lookup{})
		require.ErrorIs(t, err, customer.ErrInvalid)
	})
}

// Consent per channel with source, time and history; a change reported
// late never replaces a newer one.
func TestConsent(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		t0 := now.Add(-days(30))
		f.log("commerce.consent.changed", t0, map[string]any{"channel": "email", "state": "subscribed", "collectedFrom": "shopify", "optInLevel": "single_opt_in",
			"customer": who("id", "1", "email", "ada@example.com")})
		f.log("commerce.consent.changed", t0.Add(days(2)), map[string]any{"channel": "email", "state": "unsubscribed", "collectedFrom": "storeflow unsubscribe link",
			"customer": who("email", "ada@example.com")})
		// Shopify retries an older report after the unsubscription.
		f.log("commerce.consent.changed", t0.Add(days(3)), map[string]any{"channel": "email", "state": "subscribed", "collectedFrom": "shopify",
			"consentUpdatedAt": commerce.Timestamp(t0.Add(days(1))), "customer": who("id", "1")})
		f.log("commerce.form.submitted", t0.Add(days(4)), map[string]any{"formId": "sms-club", "fields": map[string]any{"smsConsent": true, "emailConsent": false},
			"customer": who("email", "ada@example.com", "phone", "+4915100000001")})
		f.project()

		state, err := f.dir.Consent(ctx, "acme", customer.ChannelEmail, "Ada@Example.com")
		require.NoError(t, err)
		require.Equal(t, "unsubscribed", state, "the late report is older than the unsubscription")
		c, err := f.dir.ConsentOf(ctx, "acme", customer.ChannelEmail, "ada@example.com")
		require.NoError(t, err)
		require.Equal(t, "storeflow unsubscribe link", c.Source)
		require.Equal(t, t0.Add(days(2)), c.At)
		var hist []string
		for _, h := range c.History {
			hist = append(hist, h.State+"@"+h.At.Format(time.DateOnly)+" "+h.Source)
		}
		require.Equal(t, []string{
			"subscribed@" + t0.Format(time.DateOnly) + " shopify",
			"subscribed@" + t0.Add(days(1)).Format(time.DateOnly) + " shopify",
			"unsubscribed@" + t0.Add(days(2)).Format(time.DateOnly) + " storeflow unsubscribe link",
		}, hist, "every change, in the order they happened")

		state, err = f.dir.Consent(ctx, "acme", customer.ChannelSMS, "0151 00000001")
		require.NoError(t, err)
		require.Equal(t, customer.StateSubscribed, state, "a form's consent box")
		c, err = f.dir.ConsentOf(ctx, "acme", customer.ChannelSMS, "+4915100000001")
		require.NoError(t, err)
		require.Equal(t, "form sms-club", c.Source)
		require.Equal(t, "+4915100000001", c.History[0].Address)
		for _, tc := range [][3]string{{"acme", "email", "nobody@example.com"}, {"acme", "whatsapp", "+4915100000001"}, {"other", "email", "ada@example.com"}, {"acme", "email", ""}} {
			state, err := f.dir.Consent(ctx, tc[0], tc[1], tc[2])
			require.NoError(t, err)
			require.Equal(t, customer.StateUnknown, state, "%v: no record is no consent", tc)
		}
	})
}

// Orders count once however often they are reported; refunds come off the
// total spent; cancelled and test orders count for nothing.
func TestMetrics(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		t0 := now.Add(-days(20))
		c := func() map[string]any { return who("id", "9", "email", "eve@example.com") }
		order := func(id, cur, total string) map[string]any {
			return map[string]any{"orderId": id, "currency": cur, "totalPrice": total, "customer": c()}
		}
		f.log("commerce.order.paid", t0.Add(time.Hour), order("o1", "EUR", "100.00")) // before its placed event
		f.log("commerce.order.placed", t0, order("o1", "EUR", "100.00"))
		f.log("commerce.order.placed", t0.Add(days(1)), order("o2", "EUR", "50.5"))
		f.log("commerce.order.fulfilled", t0.Add(days(2)), order("o2", "EUR", "50.50"))
		f.log("commerce.refund.created", t0.Add(days(3)), map[string]any{"refundId": "r1", "orderId": "o1", "currency": "EUR", "amount": "20.00"})
		f.log("commerce.refund.created", t0.Add(days(3)), map[string]any{"refundId": "r1", "orderId": "o1", "currency": "EUR", "amount": "20.00"})
		f.log("commerce.order.placed", t0.Add(days(4)), order("o3", "EUR", "999.00"))
		f.log("commerce.order.cancelled", t0.Add(days(5)), order("o3", "EUR", "999.00"))
		test := order("o4", "EUR", "500.00")
		test["test"] = true
		f.log("commerce.order.placed", t0.Add(days(6)), test)
		f.log("commerce.order.placed", t0.Add(days(7)), order("o5", "USD", "30.00"))
		// A refund of an order not seen yet counts once the order comes.
		f.log("commerce.refund.created", t0.Add(days(8)), map[string]any{"refundId": "r2", "orderId": "o6", "currency": "USD", "amount": "5.00"})
		f.log("commerce.order.placed", t0.Add(days(7)), order("o6", "USD", "15.00"))
		f.project()

		p := f.find(customer.Lookup{Email: "eve@example.com"})
		require.Equal(t, customer.Metrics{
			Orders:            4,
			TotalSpent:        map[string]string{"EUR": "130.50", "USD": "40.00"},
			AverageOrderValue: map[string]string{"EUR": "65.25", "USD": "20.00"},
			FirstOrderAt:      t0,
			LastOrderAt:       t0.Add(days(7)),
		}, p.Metrics)
		require.Equal(t, t0.Add(days(7)), p.LastActivityAt, "the refund that came before its order named no one")
		require.Equal(t, t0, p.FirstSeenAt)
	})
}

// Older data never overwrites newer: a late customer.created does not
// undo a customer.updated.
func TestOlderDataNeverWins(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		t0 := now.Add(-days(5))
		newer := who("id", "5", "email", "new@example.com", "firstName", "Dana", "lastName", "New")
		f.log("commerce.customer.updated", t0.Add(time.Hour), map[string]any{"customer": newer, "tags": []string{"vip"},
			"address": map[string]any{"city": "Berlin"}})
		f.log("commerce.customer.created", t0, map[string]any{"customer": who("id", "5", "email", "old@example.com", "firstName", "Dana", "lastName", "Old"),
			"tags": []string{}, "address": map[string]any{"city": "Bonn"}})
		f.project()
		p := f.find(customer.Lookup{ID: "5"})
		require.Equal(t, "New", p.LastName)
		require.Equal(t, "new@example.com", p.Email)
		require.Equal(t, []string{"new@example.com", "old@example.com"}, p.Emails, "the old address still finds her")
		require.Equal(t, "Berlin", p.Address.City)
		require.Equal(t, []string{"vip"}, p.Tags)
	})
}

// Segments, with the shop's thresholds, the same whether read from a
// profile or listed by segment.
func TestSegments(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		ord := func(email, id string, at time.Time, total string) {
			f.log("commerce.order.placed", at, map[string]any{"orderId": id, "currency": "EUR", "totalPrice": total, "customer": who("email", email)})
		}
		f.log("commerce.customer.created", now.Add(-days(1)), map[string]any{"customer": who("email", "lead@example.com")})
		ord("first@example.com", "a1", now.Add(-days(2)), "20.00")
		ord("repeat@example.com", "b1", now.Add(-days(20)), "20.00")
		ord("repeat@example.com", "b2", now.Add(-days(10)), "20.00")
		ord("vip@example.com", "c1", now.Add(-days(10)), "100.00")
		ord("vip@example.com", "c2", now.Add(-days(5)), "50.00")
		ord("lapsed@example.com", "d1", now.Add(-days(100)), "500.00")
		// Checkouts: one abandoned, one too recent, one ordered from (its
		// order first, its checkout reported late), one ordered since.
		f.log("commerce.checkout.started", now.Add(-2*time.Hour), map[string]any{"checkoutToken": "t1", "customer": who("email", "cart@example.com")})
		f.log("commerce.checkout.started", now.Add(-10*time.Minute), map[string]any{"checkoutToken": "t2", "customer": who("email", "browsing@example.com")})
		f.log("commerce.order.placed", now.Add(-2*time.Hour), map[string]any{"orderId": "e1", "checkoutToken": "t3", "currency": "EUR", "totalPrice": "5.00",
			"customer": who("email", "bought@example.com")})
		f.log("commerce.checkout.started", now.Add(-3*time.Hour), map[string]any{"checkoutToken": "t3", "customer": who("email", "bought@example.com")})
		f.log("commerce.checkout.started", now.Add(-5*time.Hour), map[string]any{"checkoutToken": "t4", "customer": who("email", "later@example.com")})
		f.log("commerce.order.placed", now.Add(-4*time.Hour), map[string]any{"orderId": "f1", "currency": "EUR", "totalPrice": "5.00", "customer": who("email", "later@example.com")})
		f.log("commerce.checkout.started", now.Add(-3*time.Hour), map[string]any{"checkoutToken": "t5", "customer": who("email", "completed@example.com")})
		f.log("commerce.checkout.updated", now.Add(-2*time.Hour), map[string]any{"checkoutToken": "t5", "completedAt": commerce.Timestamp(now.Add(-2 * time.Hour)),
			"customer": who("email", "completed@example.com")})
		f.project()

		want := map[string][]string{
			"lead@example.com":      {"new"},
			"first@example.com":     {"new"},
			"repeat@example.com":    {"repeat"},
			"vip@example.com":       {"repeat", "vip"},
			"lapsed@example.com":    {"lapsed", "vip"},
			"cart@example.com":      {"cart_abandoner", "new"},
			"browsing@example.com":  {"new"},
			"bought@example.com":    {"new"},
			"later@example.com":     {"new"},
			"completed@example.com": {"new"},
		}
		bySegment := map[string][]string{}
		for email, segs := range want {
			p := f.find(customer.Lookup{Email: email})
			require.Equal(t, segs, p.Segments, email)
			for _, s := range segs {
				bySegment[s] = append(bySegment[s], p.ID)
			}
		}
		require.NotNil(t, f.find(customer.Lookup{Email: "cart@example.com"}).Checkout)
		require.Nil(t, f.find(customer.Lookup{Email: "bought@example.com"}).Checkout, "a checkout reported after its order stays closed")
		for _, seg := range customer.Segments {
			list, err := f.dir.List(ctx, customer.Query{Shop: "acme", Segment: seg})
			require.NoError(t, err)
			var ids []string
			for _, p := range list {
				ids = append(ids, p.ID)
				require.Contains(t, p.Segments, seg)
			}
			sort.Strings(bySegment[seg])
			require.Equal(t, bySegment[seg], ids, "segment %s listed as profiles compute it", seg)
		}
		_, err := f.dir.List(ctx, customer.Query{Shop: "acme", Segment: "whales"})
		require.ErrorIs(t, err, customer.ErrInvalid)

		// Pages, and the other filters.
		var all []string
		after := ""
		for {
			page, err := f.dir.List(ctx, customer.Query{Shop: "acme", Limit: 3, After: after})
			require.NoError(t, err)
			for _, p := range page {
				all = append(all, p.ID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		require.Len(t, all, len(want))
		require.True(t, slices.IsSorted(all))
		list, err := f.dir.List(ctx, customer.Query{Shop: "acme", Email: "VIP@example.com"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		list, err = f.dir.List(ctx, customer.Query{Shop: "acme", Q: "Lapsed"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "lapsed@example.com", list[0].Email)
		_, err = f.dir.List(ctx, customer.Query{})
		require.ErrorIs(t, err, customer.ErrInvalid)
	})
}

// A rebuild gives the same profiles under the same IDs.
func TestRebuildGivesTheSameProfiles(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		t0 := now.Add(-days(3))
		f.log("commerce.customer.created", t0, map[string]any{"customer": who("id", "1", "email", "a@example.com")})
		f.log("commerce.order.placed", t0.Add(time.Hour), map[string]any{"orderId": "o1", "currency": "EUR", "totalPrice": "12.00", "customer": who("phone", "+4915100000002")})
		f.log("commerce.consent.changed", t0.Add(2*time.Hour), map[string]any{"channel": "sms", "state": "subscribed", "customer": who("id", "1", "phone", "+4915100000002")})
		f.project()
		before, err := f.dir.List(ctx, customer.Query{Shop: "acme"})
		require.NoError(t, err)
		require.Len(t, before, 1, "the order's phone joined the profile")

		require.NoError(t, f.r.Rebuild(ctx, customer.Name))
		after, err := f.dir.List(ctx, customer.Query{Shop: "acme"})
		require.NoError(t, err)
		require.Empty(t, after, "cleared")
		f.project()
		after, err = f.dir.List(ctx, customer.Query{Shop: "acme"})
		require.NoError(t, err)
		b, _ := json.Marshal(before)
		a, _ := json.Marshal(after)
		require.JSONEq(t, string(b), string(a))
	})
}

// With Sync, a lookup sees every event logged before it: the sending
// rules see an unsubscription of a moment ago.
func TestSyncSeesWhatWasJustLogged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, backends["sqlite"](t))
	r, err := follower.New(follower.Options{Store: f.st, Poll: time.Hour, Logger: slog.New(slog.DiscardHandler)}, &customer.Projection{Shops: shopOf})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	f.dir.Sync = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return r.CaughtUp(ctx, customer.Name)
	}
	for i, state := range []string{"subscribed", "unsubscribed", "subscribed", "unsubscribed"} {
		f.log("commerce.consent.changed", now.Add(time.Duration(i)*time.Minute), map[string]any{"channel": "email", "state": state, "customer": who("email", "fay@example.com")})
		got, err := f.dir.Consent(ctx, "acme", customer.ChannelEmail, "fay@example.com")
		require.NoError(t, err)
		require.Equal(t, state, got, "change %d", i)
	}
	f.dir.Sync = func(context.Context) error { return context.DeadlineExceeded }
	_, err = f.dir.Consent(ctx, "acme", customer.ChannelEmail, "fay@example.com")
	require.ErrorIs(t, err, context.DeadlineExceeded, "profiles that cannot catch up give no answer, not an old one")
}

func TestMessagesFromTheMessageLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t, backends["sqlite"](t))
	ctx := context.Background()
	f.log("commerce.order.placed", now, map[string]any{"orderId": "1", "customer": who("email", "gus@example.com", "phone", "+4915100000009")})
	f.project()
	p := f.find(customer.Lookup{Email: "gus@example.com"})
	for i, m := range []store.Message{
		{ID: "m1", Key: "k1", Shop: "acme", Channel: "email", Address: "gus@example.com", Status: store.MessageSent, Category: "marketing"},
		{ID: "m2", Key: "k2", Shop: "acme", Channel: "sms", Address: "+4915100000009", Status: store.MessageSuppressed, Reason: "no consent"},
		{ID: "m3", Key: "k3", Shop: "acme", Channel: "email", Address: "other@example.com", Status: store.MessageSent},
	} {
		m.At = now.Add(time.Duration(i) * time.Minute)
		require.NoError(t, f.st.PutMessage(ctx, m))
	}
	out, err := customer.MessagesFrom(f.st)(ctx, p, 10)
	require.NoError(t, err)
	msgs := out.([]customer.Message)
	require.Len(t, msgs, 2, "the customer's own addresses only")
	require.Equal(t, "suppressed", msgs[0].Status, "newest first")
	require.Equal(t, "no consent", msgs[0].Reason)
	require.Equal(t, "sent", msgs[1].Status)
}
