package runtime

import (
	"context"
	"hash/fnv"
	"math/rand/v2"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// startID waits until the runtime has claimed its slots, and returns a
// new instance ID in one of them.
func (r *Runtime) startID(ctx context.Context) (string, error) {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return r.newID(-1)
}

// newID returns a new instance ID in one of this node's slots (slot >= 0:
// that one).
func (r *Runtime) newID(slot int) (string, error) {
	if slot < 0 {
		held := r.leases.list()
		if len(held) == 0 {
			return "", ErrNoSlots
		}
		slot = held[rand.IntN(len(held))]
	}
	return store.IDInSlot(engine.NewID(), slot)
}

// keySlot is the slot that owns a trigger (an event starting a workflow, a
// schedule's ticks): only that slot's holder acts on it.
func keySlot(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % store.Slots)
}

// triggerSlot is the slot that owns a trigger of a workflow.
func triggerSlot(wf *dsl.Workflow, trigger string) int {
	return keySlot(wf.Document.Namespace + "/" + wf.Document.Name + "\x00" + trigger)
}
