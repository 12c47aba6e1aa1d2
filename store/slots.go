package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Slots is how many parts the work is divided into among nodes. Every
// instance belongs to one slot (SlotOf its ID) and only the node holding
// that slot's lease advances it, fires its timers and performs its calls.
// With one node, that node holds every slot.
const Slots = 64

// ErrFenced refuses a change whose slot lease has been taken over: the
// node that computed it lost the slot (it paused or was cut off longer
// than the lease), and the new holder may have advanced the instance.
var ErrFenced = errors.New("slot lease lost to another node")

// Lease is a node's hold on one slot.
type Lease struct {
	Slot int
	// Fence grows each time the slot changes hands; commits name it, so a
	// node that lost the slot cannot overwrite newer state.
	Fence int64
	// Cursor is the event log position matched for this slot's instances.
	Cursor int64
}

// SlotState is one slot as the store sees it.
type SlotState struct {
	Lease
	Owner     string // "" when free
	ExpiresAt time.Time
}

// Claim asks for a node's share of the slots.
type Claim struct {
	Node string
	// Held is what the node believes it holds (slot → fence). Those leases
	// are renewed when their fence is still current; slots the node owns
	// under another fence (a previous process of the same node) are taken
	// afresh with a new fence.
	Held map[int]int64
	// TTL is how long a lease lasts without renewal; the node's heartbeat
	// lasts as long.
	TTL time.Duration
}

// Grant is what a claim left a node with.
type Grant struct {
	Leases []Lease
	// Share is the node's fair share of the slots among the live nodes.
	Share int
	// Free is how many slots were left free (or expired) after the claim.
	// A node below its share while some are free should claim again soon:
	// PostgreSQL skips slots that commits in flight have locked.
	Free int
}

// FairShare is how many slots each of live nodes should hold.
func FairShare(live int) int {
	if live < 1 {
		live = 1
	}
	return (Slots + live - 1) / live
}

// SlotOf is the slot an instance belongs to: the value of the last two hex
// digits of its ID (random in the UUIDs the runtime makes), modulo Slots;
// other characters count as 0. Both stores compute the same in SQL for rows
// written before slots existed, so the rule must stay this simple.
func SlotOf(id string) int {
	for len(id) < 2 {
		id = "0" + id
	}
	hi, _ := hexValue(id[len(id)-2])
	lo, _ := hexValue(id[len(id)-1])
	return (hi*16 + lo) % Slots
}

// IDInSlot rewrites the last two hex digits of an ID (a UUID) so that it
// falls in slot; the upper bits of that byte keep their randomness.
func IDInSlot(id string, slot int) (string, error) {
	if len(id) < 2 {
		return "", fmt.Errorf("instance ID %q: too short to place in a slot", id)
	}
	hi, ok1 := hexValue(id[len(id)-2])
	lo, ok2 := hexValue(id[len(id)-1])
	if !ok1 || !ok2 || slot < 0 || slot >= Slots {
		return "", fmt.Errorf("instance ID %q, slot %d: the ID must end in two hex digits and the slot be below %d", id, slot, Slots)
	}
	v := hi*16 + lo
	v = v - v%Slots + slot
	const digits = "0123456789abcdef"
	return id[:len(id)-2] + string([]byte{digits[v/16], digits[v%16]}), nil
}

func hexValue(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// SlotMask encodes a set of slots as the bits of an int64, which both
// stores test in SQL with ((mask >> slot) & 1) = 1; nil means every slot.
func SlotMask(slots []int) int64 {
	if slots == nil {
		return -1
	}
	var m uint64
	for _, s := range slots {
		if s >= 0 && s < Slots {
			m |= 1 << uint(s)
		}
	}
	return int64(m)
}

// Rebalance splits the slots a node holds into those it keeps and those it
// gives back to come down to want; it gives back the highest-numbered.
func Rebalance(held []Lease, want int) (keep, release []Lease) {
	sorted := append([]Lease{}, held...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Slot < sorted[j].Slot })
	if want < 0 {
		want = 0
	}
	if len(sorted) <= want {
		return sorted, nil
	}
	return sorted[:want], sorted[want:]
}

// SplitHeld splits the slots a node owns in the store into the leases it
// still holds (the fence it knows is current) and the stale ones, owned
// under another fence by an earlier process of the same node: those are
// taken afresh, so that process (if it still runs) is fenced out. stale is
// never nil.
func SplitHeld(owned []Lease, known map[int]int64) (current []Lease, stale []int) {
	stale = []int{}
	for _, l := range owned {
		if f, ok := known[l.Slot]; ok && f == l.Fence {
			current = append(current, l)
		} else {
			stale = append(stale, l.Slot)
		}
	}
	return current, stale
}

// SlotLeases divides the work among the nodes sharing a store: each node
// leases slots, and only a slot's holder acts on the instances in it.
type SlotLeases interface {
	// ClaimSlots records the node's heartbeat, renews the leases it still
	// holds, and takes free or expired slots up to its fair share of the
	// live nodes. It returns the leases the node holds afterwards and that
	// share; a node above it should finish its work on the excess and give
	// it back (ReleaseSlots), so that joining nodes get theirs.
	ClaimSlots(ctx context.Context, c Claim) (Grant, error)
	// ReleaseSlots gives leases back at once, so that other nodes need not
	// wait for them to expire; with nil slots the node leaves altogether
	// (its heartbeat goes too).
	ReleaseSlots(ctx context.Context, node string, slots []int) error
	// SlotStates returns every slot: who holds it, until when, and how far
	// its events were matched.
	SlotStates(ctx context.Context) ([]SlotState, error)
	// SaveSlotCursor records that the node matched the event log up to seq
	// for the slots it still holds among slots.
	SaveSlotCursor(ctx context.Context, node string, slots []int, seq int64) error
}
