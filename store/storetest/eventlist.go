package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// testEventList checks browsing the log: events newest first, filtered by
// type, shop and subject, paged; and the instances each event started or
// resumed, as commits recorded them, capped per event, gone with their
// events when retention prunes them.
func testEventList(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	ev := func(id, typ, shop, subject string) store.Event {
		return store.Event{ID: id, Source: "test", Type: typ, Shop: shop, Subject: subject, ReceivedAt: now,
			Envelope: []byte(fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ))}
	}
	var batch []store.Event
	for i := range 30 {
		shop := []string{"acme", "bolt", ""}[i%3]
		typ := []string{"commerce.checkout.started", "commerce.order.placed"}[i%2]
		batch = append(batch, ev(fmt.Sprintf("e%02d", i), typ, shop, fmt.Sprintf("r%d", i%5)))
	}
	logged, err := s.AppendEvents(ctx, batch)
	require.NoError(t, err)
	seq := func(i int) int64 { return logged[i].Seq }

	ids := func(evs []store.Event) []string {
		out := []string{}
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	list := func(q store.EventQuery) []string {
		t.Helper()
		evs, err := s.ListEvents(ctx, q)
		require.NoError(t, err)
		return ids(evs)
	}
	all, err := s.ListEvents(ctx, store.EventQuery{Limit: 5})
	require.NoError(t, err)
	require.Equal(t, []string{"e29", "e28", "e27", "e26", "e25"}, ids(all), "newest first")
	require.Equal(t, "bolt", all[1].Shop, "the shop is read back")
	require.Empty(t, all[0].Shop)
	require.Equal(t, "r4", all[0].Subject)
	require.Equal(t, []string{"e24", "e23"}, list(store.EventQuery{Before: all[4].Seq, Limit: 2}), "the next page starts before the last seq")
	require.Len(t, list(store.EventQuery{}), 30, "100 by default")

	require.Equal(t, []string{"e27", "e24", "e21"}, list(store.EventQuery{Shop: "acme", Limit: 3}))
	require.Equal(t, []string{"e28", "e25"}, list(store.EventQuery{Shop: "bolt", Before: seq(29), Limit: 2}))
	require.Equal(t, []string{"e29", "e27"}, list(store.EventQuery{Type: "commerce.order.placed", Limit: 2}))
	require.Equal(t, []string{"e24", "e14", "e04"}, list(store.EventQuery{Subject: "r4", Type: "commerce.checkout.started"}))
	require.Equal(t, []string{"e24", "e09"}, list(store.EventQuery{Subject: "r4", Shop: "acme"}))
	require.Equal(t, []string{"e27", "e21", "e15", "e09", "e03"}, list(store.EventQuery{Shop: "acme", Type: "commerce.order.placed"}))
	require.Empty(t, list(store.EventQuery{Shop: "nobody"}))
	require.Empty(t, list(store.EventQuery{Before: seq(0)}))

	// Emitted events keep their shop too.
	emitter := store.Instance{ID: "i-emit", Namespace: "shop", Name: "emit", Version: "1.0.0", Status: "running", State: []byte(`{}`)}
	res, err := s.Commit(ctx, []store.Change{{Instance: emitter, Emit: []store.Event{ev("emitted", "custom.thing", "acme", "")}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	require.Equal(t, []string{"emitted", "e27"}, list(store.EventQuery{Shop: "acme", Limit: 2}))

	// Instances: a starts on e00 (and a second commit names it again, as
	// a delivery after a crash would); b is resumed by e00 and e01; c's
	// start is refused, so its links are not kept.
	inst := func(id, name string) store.Instance {
		return store.Instance{ID: id, Namespace: "shop", Name: name, Version: "1.0.0", Status: "running", State: []byte(`{}`), CreatedAt: now}
	}
	a, b := inst("i-a", "recovery"), inst("i-b", "winback")
	a.TriggerKey = "event:test/e00"
	res, err = s.Commit(ctx, []store.Change{
		{Instance: a, Events: []store.EventLink{{Seq: seq(0), Started: true}}},
		{Instance: b},
	})
	require.NoError(t, err)
	require.Equal(t, []error{nil, nil}, res)
	a.Rev, b.Rev = 1, 1
	b.Status = "completed"
	dup := inst("i-c", "recovery")
	dup.TriggerKey = a.TriggerKey
	res, err = s.Commit(ctx, []store.Change{
		{Instance: a, Events: []store.EventLink{{Seq: seq(0)}}},
		{Instance: b, Events: []store.EventLink{{Seq: seq(0)}, {Seq: seq(1)}}},
		{Instance: dup, Events: []store.EventLink{{Seq: seq(0), Started: true}, {Seq: seq(2), Started: true}}},
	})
	require.NoError(t, err)
	require.NoError(t, res[0])
	require.NoError(t, res[1])
	require.ErrorIs(t, res[2], store.ErrDuplicateTrigger)

	links, err := s.EventInstances(ctx, []int64{seq(0), seq(1), seq(2), seq(3)}, 10)
	require.NoError(t, err)
	require.Equal(t, []store.EventInstance{
		{Seq: seq(1), InstanceID: "i-b", Namespace: "shop", Name: "winback", Version: "1.0.0", Status: "completed"},
		{Seq: seq(0), Started: true, InstanceID: "i-a", Namespace: "shop", Name: "recovery", Version: "1.0.0", Status: "running"},
		{Seq: seq(0), InstanceID: "i-b", Namespace: "shop", Name: "winback", Version: "1.0.0", Status: "completed"},
	}, links, "newest event first, its instances by id; a start stays a start")
	capped, err := s.EventInstances(ctx, []int64{seq(0), seq(1)}, 1)
	require.NoError(t, err)
	require.Len(t, capped, 2, "one instance per event")
	require.Equal(t, "i-a", capped[1].InstanceID)
	none, err := s.EventInstances(ctx, nil, 10)
	require.NoError(t, err)
	require.Empty(t, none)

	// Retention takes the links with their events.
	p, ok := s.(store.Pruner)
	require.True(t, ok, "%T does not prune", s)
	old := now.Add(-10 * 7 * 24 * time.Hour)
	oldEv := ev("old", "commerce.order.placed", "acme", "r9")
	oldEv.ReceivedAt = old
	olds, err := s.AppendEvents(ctx, []store.Event{oldEv})
	require.NoError(t, err)
	c := inst("i-old", "recovery")
	res, err = s.Commit(ctx, []store.Change{{Instance: c, Events: []store.EventLink{{Seq: olds[0].Seq, Started: true}, {Seq: seq(3)}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	links, err = s.EventInstances(ctx, []int64{olds[0].Seq, seq(3)}, 10)
	require.NoError(t, err)
	require.Len(t, links, 2)
	_, err = p.Prune(ctx, now.Add(-5*7*24*time.Hour))
	require.NoError(t, err)
	links, err = s.EventInstances(ctx, []int64{olds[0].Seq, seq(3)}, 10)
	require.NoError(t, err)
	require.Equal(t, []store.EventInstance{{Seq: seq(3), InstanceID: "i-old", Namespace: "shop", Name: "recovery", Version: "1.0.0", Status: "running"}}, links,
		"the link of the pruned event went with it")
}
