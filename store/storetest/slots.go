package storetest

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func heldMap(ls []store.Lease) map[int]int64 {
	m := map[int]int64{}
	for _, l := range ls {
		m[l.Slot] = l.Fence
	}
	return m
}

func slotsOf(ls []store.Lease) []int {
	out := make([]int, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Slot)
	}
	sort.Ints(out)
	return out
}

// instanceIn returns an instance ID in slot.
func instanceIn(t *testing.T, slot int) string {
	id, err := store.IDInSlot("0190a0b0-0000-7000-8000-000000000000", slot)
	require.NoError(t, err)
	return id
}

// claim claims slots and returns the leases and the fair share.
func claim(t *testing.T, s store.Store, node string, held []store.Lease, ttl time.Duration) ([]store.Lease, int) {
	t.Helper()
	g, err := s.ClaimSlots(context.Background(), store.Claim{Node: node, Held: heldMap(held), TTL: ttl})
	require.NoError(t, err)
	return g.Leases, g.Share
}

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	ttl := time.Minute
	a, share := claim(t, s, "a", nil, ttl)
	require.Len(t, a, store.Slots, "a lone node holds every slot")
	require.Equal(t, store.Slots, share)

	// A second node gets nothing until the first gives back its excess.
	b, share := claim(t, s, "b", nil, ttl)
	require.Empty(t, b)
	require.Equal(t, store.Slots/2, share)
	a, share = claim(t, s, "a", a, ttl)
	require.Len(t, a, store.Slots, "a keeps its slots until it gives them back")
	keep, excess := store.Rebalance(a, share)
	require.NoError(t, s.ReleaseSlots(ctx, "a", slotsOf(excess)))
	a = keep
	// A claim tells how many slots are left free for others to take.
	g, err := s.ClaimSlots(ctx, store.Claim{Node: "a", Held: heldMap(a), TTL: ttl})
	require.NoError(t, err)
	require.Equal(t, heldMap(a), heldMap(g.Leases), "a at its share takes no more")
	require.Equal(t, store.Slots/2, g.Free)
	g, err = s.ClaimSlots(ctx, store.Claim{Node: "b", Held: heldMap(b), TTL: ttl})
	require.NoError(t, err)
	b = g.Leases
	require.Len(t, b, store.Slots/2)
	require.Zero(t, g.Free, "b took every free slot")
	require.Empty(t, intersect(slotsOf(a), slotsOf(b)), "no slot has two holders")

	// Renewal keeps fences; a change names the fence of its slot's lease.
	again, _ := claim(t, s, "b", b, ttl)
	require.Equal(t, heldMap(b), heldMap(again))
	bSlot := b[0]
	id := instanceIn(t, bSlot.Slot)
	res, err := s.Commit(ctx, []store.Change{
		{Instance: newInstance(id), Fence: bSlot.Fence - 1},
		{Instance: newInstance(instanceIn(t, a[0].Slot)), Fence: a[0].Fence},
	})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrFenced, "a stale fence cannot commit")
	require.NoError(t, res[1])
	_, err = s.GetInstance(ctx, id)
	require.ErrorIs(t, err, store.ErrNotFound, "the fenced change left nothing")
	res, err = s.Commit(ctx, []store.Change{{Instance: newInstance(id), Fence: bSlot.Fence}})
	require.NoError(t, err)
	require.NoError(t, res[0])

	// A node restarted under the same name takes its slots back under new
	// fences, so its previous process is fenced out.
	b2, _ := claim(t, s, "b", nil, ttl)
	require.Equal(t, slotsOf(b), slotsOf(b2))
	require.Greater(t, heldMap(b2)[bSlot.Slot], bSlot.Fence)
	next := newInstance(id)
	next.Rev = 1
	res, err = s.Commit(ctx, []store.Change{{Instance: next, Fence: bSlot.Fence}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0], store.ErrFenced)

	// Released slots are free at once.
	require.NoError(t, s.ReleaseSlots(ctx, "b", nil))
	c, _ := claim(t, s, "c", nil, ttl)
	require.Equal(t, slotsOf(b), slotsOf(c), "b left: c takes all b released, a keeps its own")
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	a, _ := claim(t, s, "a", nil, 300*time.Millisecond)
	require.Len(t, a, store.Slots)
	time.Sleep(400 * time.Millisecond)
	b, _ := claim(t, s, "b", nil, time.Minute)
	require.Len(t, b, store.Slots, "a's leases and heartbeat expired: b takes everything")
	for _, l := range b {
		require.Greater(t, l.Fence, heldMap(a)[l.Slot], "a takeover raises the fence")
	}
	// a comes back: its leases are gone and it gets none until b shares.
	a2, share := claim(t, s, "a", a, time.Minute)
	require.Empty(t, a2)
	require.Equal(t, store.Slots/2, share)
}

func testSlotScopes(t *testing.T, s store.Store) {
	ctx := context.Background()
	var changes []store.Change
	for _, slot := range []int{1, 2, 3} {
		id := instanceIn(t, slot)
		changes = append(changes, store.Change{Instance: newInstance(id),
			AddTimers: []store.Timer{{ID: id + "/t", InstanceID: id, Due: t0}},
			AddOutbox: []store.OutboxItem{{ID: id + "/o", InstanceID: id, Kind: "call", Payload: []byte(`{}`), NextAt: t0}}})
	}
	res, err := s.Commit(ctx, changes)
	require.NoError(t, err)
	require.Equal(t, []error{nil, nil, nil}, res)
	timers, err := s.DueTimers(ctx, []int{1, 3}, time.Time{}, "", t0, 10)
	require.NoError(t, err)
	require.Len(t, timers, 2)
	for _, tm := range timers {
		require.Contains(t, []int{1, 3}, store.SlotOf(tm.InstanceID))
	}
	out, err := s.Outbox(ctx, []int{2}, t0, 10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, 2, store.SlotOf(out[0].InstanceID))
	out, err = s.Outbox(ctx, []int{}, t0, 10)
	require.NoError(t, err)
	require.Empty(t, out, "no slots, no work")
	all, err := s.DueTimers(ctx, nil, time.Time{}, "", t0, 10)
	require.NoError(t, err)
	require.Len(t, all, 3)
	// The highest slot is the int64 sign bit of the mask.
	id := instanceIn(t, store.Slots-1)
	res, err = s.Commit(ctx, []store.Change{{Instance: newInstance(id), AddTimers: []store.Timer{{ID: id + "/t", InstanceID: id, Due: t0}}}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	timers, err = s.DueTimers(ctx, []int{store.Slots - 1}, time.Time{}, "", t0, 10)
	require.NoError(t, err)
	require.Len(t, timers, 1)

	// Slot cursors move forward only, and only for slots the node holds.
	ls, _ := claim(t, s, "n", nil, time.Minute)
	require.NoError(t, s.SaveSlotCursor(ctx, "n", []int{0, 1}, 42))
	require.NoError(t, s.SaveSlotCursor(ctx, "n", []int{1}, 7))
	require.NoError(t, s.SaveSlotCursor(ctx, "other", []int{2}, 99))
	ls, _ = claim(t, s, "n", ls, time.Minute)
	cursors := map[int]int64{}
	for _, l := range ls {
		cursors[l.Slot] = l.Cursor
	}
	require.Equal(t, int64(42), cursors[0])
	require.Equal(t, int64(42), cursors[1])
	require.Equal(t, int64(0), cursors[2])
	states, err := s.SlotStates(ctx)
	require.NoError(t, err)
	require.Len(t, states, store.Slots)
	require.Equal(t, "n", states[1].Owner)
	require.Equal(t, int64(42), states[1].Cursor)
	require.Equal(t, heldMap(ls)[1], states[1].Fence)
	require.True(t, states[1].ExpiresAt.After(time.Now()))
}

func intersect(a, b []int) []int {
	in := map[int]bool{}
	for _, x := range a {
		in[x] = true
	}
	var out []int
	for _, x := range b {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}
