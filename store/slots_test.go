package store_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

func TestSlotOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		slot int
	}{
		{"x-00", 0}, {"x-3f", 63}, {"x-40", 0}, {"x-41", 1}, {"x-ff", 63}, {"X-FF", 63},
		{"i-1", 1}, {"", 0}, {"z", 0}, {"ab-zz", 0},
	} {
		require.Equal(t, tc.slot, store.SlotOf(tc.id), tc.id)
	}
}

func TestIDInSlot(t *testing.T) {
	t.Parallel()
	for slot := range store.Slots {
		id := uuid.Must(uuid.NewV7()).String()
		got, err := store.IDInSlot(id, slot)
		require.NoError(t, err)
		require.Equal(t, slot, store.SlotOf(got))
		require.Equal(t, id[:len(id)-2], got[:len(got)-2], "only the last byte changes")
		_, err = uuid.Parse(got)
		require.NoError(t, err)
	}
	_, err := store.IDInSlot("order-zz", 3)
	require.Error(t, err)
	_, err = store.IDInSlot("0190", store.Slots)
	require.Error(t, err)
}

func TestFairShareAndRebalance(t *testing.T) {
	t.Parallel()
	require.Equal(t, store.Slots, store.FairShare(0))
	require.Equal(t, store.Slots, store.FairShare(1))
	require.Equal(t, 22, store.FairShare(3))
	held := []store.Lease{{Slot: 9}, {Slot: 1}, {Slot: 5}}
	keep, release := store.Rebalance(held, 2)
	require.Equal(t, []store.Lease{{Slot: 1}, {Slot: 5}}, keep)
	require.Equal(t, []store.Lease{{Slot: 9}}, release)
	keep, release = store.Rebalance(held, 5)
	require.Len(t, keep, 3)
	require.Empty(t, release)
}

func TestSlotMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, int64(-1), store.SlotMask(nil))
	require.Equal(t, int64(0), store.SlotMask([]int{}))
	require.Equal(t, int64(0b101), store.SlotMask([]int{0, 2, 99}))
	require.Less(t, store.SlotMask([]int{63}), int64(0))
}

func TestSplitHeld(t *testing.T) {
	t.Parallel()
	owned := []store.Lease{{Slot: 1, Fence: 3}, {Slot: 2, Fence: 5}, {Slot: 4, Fence: 1}}
	current, stale := store.SplitHeld(owned, map[int]int64{1: 3, 2: 4})
	require.Equal(t, []store.Lease{{Slot: 1, Fence: 3}}, current)
	require.Equal(t, []int{2, 4}, stale, "another fence, or not known: stale")
	_, stale = store.SplitHeld(nil, nil)
	require.NotNil(t, stale)
}
