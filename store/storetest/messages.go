package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func message(key, id string, at time.Time) store.Message {
	return store.Message{ID: id, Key: key, Shop: "acme", Channel: "email", Address: "ada@example.com", CustomerID: "c1",
		Workflow: "shop/cart:1.0.0", Instance: "i1", Task: "/do/0/remind", Template: "reminder", Subject: "Your cart",
		Category: "marketing", Status: store.MessageSent, At: at}
}

func messageKeys(list []store.Message) []string {
	out := []string{}
	for _, m := range list {
		out = append(out, m.Key)
	}
	return out
}

func testMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	window := 16 * time.Hour

	first := message("i1/1", "m1", t0)
	got, err := s.ClaimMessage(ctx, store.MessageClaim{Message: first, SmartSince: t0.Add(-window)})
	require.NoError(t, err)
	require.True(t, got.Granted)
	m, err := s.GetMessage(ctx, "i1/1")
	require.NoError(t, err)
	want := first
	want.Status = store.MessageSending
	require.Equal(t, want, m, "a granted claim records the message as being sent")

	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: first, SmartSince: t0.Add(-window)})
	require.NoError(t, err)
	require.True(t, got.Granted, "a repeated call is its own message, not a recent one")

	sent := first
	sent.At = t0.Add(time.Second)
	require.NoError(t, s.PutMessage(ctx, sent))

	second := message("i2/1", "m2", t0.Add(time.Hour))
	second.Instance = "i2"
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: second, SmartSince: second.At.Add(-window)})
	require.NoError(t, err)
	require.False(t, got.Granted, "smart sending: one marketing message within the window")
	require.NotNil(t, got.Recent)
	require.Equal(t, "i1/1", got.Recent.Key)
	_, err = s.GetMessage(ctx, "i2/1")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused claim records nothing")

	for _, tc := range []struct {
		name   string
		change func(m *store.Message)
	}{
		{"another channel", func(m *store.Message) { m.Key, m.Channel = "sms/1", "sms" }},
		{"another address", func(m *store.Message) { m.Key, m.Address = "bob/1", "bob@example.com" }},
		{"another shop", func(m *store.Message) { m.Key, m.Shop = "other/1", "other" }},
	} {
		m := second
		tc.change(&m)
		m.ID = "m-" + m.Key
		got, err := s.ClaimMessage(ctx, store.MessageClaim{Message: m, SmartSince: m.At.Add(-window)})
		require.NoError(t, err)
		require.True(t, got.Granted, tc.name)
	}
	later := second
	later.Key, later.ID, later.At = "i3/1", "m3", t0.Add(window+2*time.Second)
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: later, SmartSince: later.At.Add(-window)})
	require.NoError(t, err)
	require.True(t, got.Granted, "after the window")

	// Suppressed, deferred and failed messages neither count for smart
	// sending nor for the rate.
	for i, status := range []string{store.MessageSuppressed, store.MessageDeferred, store.MessageFailed} {
		m := message(fmt.Sprintf("q/%d", i), fmt.Sprintf("mq%d", i), t0.Add(20*time.Hour))
		m.Address, m.Instance, m.Status, m.Reason = "cy@example.com", "iq", status, "why"
		require.NoError(t, s.PutMessage(ctx, m))
	}
	cy := message("cy/1", "mcy", t0.Add(20*time.Hour+time.Minute))
	cy.Address, cy.Instance = "cy@example.com", "icy"
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: cy, SmartSince: cy.At.Add(-window)})
	require.NoError(t, err)
	require.True(t, got.Granted)

	// The send rate counts every message of the shop being sent or sent.
	rateShop := func(key string, at time.Time) store.Message {
		m := message(key, "r-"+key, at)
		m.Shop, m.Category, m.Address = "rated", "transactional", key+"@example.com"
		return m
	}
	base := t0.Add(48 * time.Hour)
	for i := range 3 {
		got, err := s.ClaimMessage(ctx, store.MessageClaim{Message: rateShop(fmt.Sprintf("r%d", i), base.Add(time.Duration(i)*time.Second)),
			RateLimit: 3, RateSince: base.Add(-time.Minute)})
		require.NoError(t, err)
		require.True(t, got.Granted, "message %d within the rate", i)
	}
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: rateShop("r3", base.Add(10*time.Second)), RateLimit: 3, RateSince: base.Add(10*time.Second - time.Minute)})
	require.NoError(t, err)
	require.False(t, got.Granted)
	require.True(t, got.RateFull)
	require.Equal(t, base, got.Oldest, "the oldest message counted")
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: rateShop("r3", base.Add(time.Minute)), RateLimit: 3, RateSince: base})
	require.NoError(t, err)
	require.False(t, got.Granted, "a message at the window's start still counts")
	got, err = s.ClaimMessage(ctx, store.MessageClaim{Message: rateShop("r3", base.Add(time.Minute+time.Nanosecond)), RateLimit: 3, RateSince: base.Add(time.Nanosecond)})
	require.NoError(t, err)
	require.True(t, got.Granted, "once the oldest left the window")

	// Concurrent claims for one address: exactly one is granted.
	var wg sync.WaitGroup
	granted := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := message(fmt.Sprintf("race/%d", i), fmt.Sprintf("mr%d", i), t0.Add(72*time.Hour))
			m.Address = "race@example.com"
			got, err := s.ClaimMessage(ctx, store.MessageClaim{Message: m, SmartSince: m.At.Add(-window)})
			if err == nil && got.Granted {
				granted <- m.Key
			}
		}()
	}
	wg.Wait()
	close(granted)
	require.Len(t, granted, 1, "smart sending holds across concurrent claims")

	// Statuses change by key; the id stays, and the log lists by it.
	upd := first
	upd.ID, upd.Status, upd.Reason, upd.At = "m9", store.MessageSuppressed, "converted", t0.Add(time.Minute)
	require.NoError(t, s.PutMessage(ctx, upd))
	m, err = s.GetMessage(ctx, "i1/1")
	require.NoError(t, err)
	require.Equal(t, "m1", m.ID, "a message keeps the id it was first recorded with")
	require.Equal(t, store.MessageSuppressed, m.Status)
	require.Equal(t, "converted", m.Reason)

	list, err := s.ListMessages(ctx, store.MessageQuery{Shop: "acme", Address: "ada@example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"i3/1", "i1/1", "sms/1"}, messageKeys(list), "by id, newest first, of that shop and address")
	list, err = s.ListMessages(ctx, store.MessageQuery{Instance: "iq"})
	require.NoError(t, err)
	require.Equal(t, []string{"q/2", "q/1", "q/0"}, messageKeys(list))
	list, err = s.ListMessages(ctx, store.MessageQuery{Instance: "iq", After: "mq1", Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"q/0"}, messageKeys(list))
	list, err = s.ListMessages(ctx, store.MessageQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = s.GetMessage(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testContactFacts(t *testing.T, s store.Store) {
	ctx := context.Background()
	consent := func(key, state string, seq int64, at time.Time) store.ContactFact {
		return store.ContactFact{Shop: "acme", Key: key, Kind: store.FactConsent, Seq: seq, OccurredAt: at, Channel: "email", State: state}
	}
	order := func(key string, seq int64, at time.Time) store.ContactFact {
		return store.ContactFact{Shop: "acme", Key: key, Kind: store.FactOrder, Seq: seq, OccurredAt: at}
	}
	_, err := s.LatestConsent(ctx, "acme", "email:ada@example.com", "email")
	require.ErrorIs(t, err, store.ErrNotFound)

	require.NoError(t, s.AddContactFacts(ctx, "facts", 10, []store.ContactFact{
		consent("email:ada@example.com", "subscribed", 3, t0),
		// Delivered late: it happened before the subscription.
		consent("email:ada@example.com", "not_subscribed", 7, t0.Add(-time.Hour)),
		{Shop: "acme", Key: "phone:+4915123456789", Kind: store.FactConsent, Seq: 8, OccurredAt: t0.Add(time.Hour), Channel: "sms", State: "unsubscribed"},
		order("checkout:tok1", 9, t0.Add(2*time.Hour)),
		order("email:ada@example.com", 9, t0.Add(2*time.Hour)),
		order("customer:c1", 10, t0.Add(5*time.Hour)),
	}))
	c, err := s.Cursor(ctx, "facts")
	require.NoError(t, err)
	require.Equal(t, int64(10), c)

	got, err := s.LatestConsent(ctx, "acme", "email:ada@example.com", "email")
	require.NoError(t, err)
	require.Equal(t, consent("email:ada@example.com", "subscribed", 3, t0), got, "the last to occur, not the last to arrive")
	_, err = s.LatestConsent(ctx, "acme", "email:ada@example.com", "sms")
	require.ErrorIs(t, err, store.ErrNotFound, "consent is per channel")
	_, err = s.LatestConsent(ctx, "other", "email:ada@example.com", "email")
	require.ErrorIs(t, err, store.ErrNotFound, "and per shop")

	// Equal times: the later in the log wins. A repeat of a fact and an
	// older cursor change nothing.
	require.NoError(t, s.AddContactFacts(ctx, "facts", 4, []store.ContactFact{
		consent("email:ada@example.com", "unsubscribed", 12, t0),
		consent("email:ada@example.com", "subscribed", 3, t0),
	}))
	got, err = s.LatestConsent(ctx, "acme", "email:ada@example.com", "email")
	require.NoError(t, err)
	require.Equal(t, "unsubscribed", got.State)
	c, err = s.Cursor(ctx, "facts")
	require.NoError(t, err)
	require.Equal(t, int64(10), c, "a cursor never goes back")
	require.NoError(t, s.AddContactFacts(ctx, "facts", 11, nil))
	c, err = s.Cursor(ctx, "facts")
	require.NoError(t, err)
	require.Equal(t, int64(11), c, "a batch without facts moves the cursor")

	f, err := s.OrderAfter(ctx, "acme", []string{"email:ada@example.com", "customer:c1"}, t0)
	require.NoError(t, err)
	require.Equal(t, order("email:ada@example.com", 9, t0.Add(2*time.Hour)), f, "the earliest after the time")
	f, err = s.OrderAfter(ctx, "acme", []string{"email:ada@example.com", "customer:c1"}, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, "customer:c1", f.Key)
	_, err = s.OrderAfter(ctx, "acme", []string{"email:ada@example.com", "customer:c1"}, t0.Add(5*time.Hour))
	require.ErrorIs(t, err, store.ErrNotFound, "strictly after")
	f, err = s.OrderAfter(ctx, "acme", []string{"checkout:tok1"}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, int64(9), f.Seq, "a zero time: any order")
	_, err = s.OrderAfter(ctx, "acme", []string{"checkout:tok2", "email:bob@example.com"}, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.OrderAfter(ctx, "acme", nil, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.OrderAfter(ctx, "acme", []string{"phone:+4915123456789"}, time.Time{})
	require.ErrorIs(t, err, store.ErrNotFound, "a consent is no order")
}
