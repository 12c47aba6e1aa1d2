package runtime

import (
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// Change is the store change the runtime derives from a transition; tests
// commit it themselves.
func (r *Runtime) Change(rev int64, trigger string, origin *engine.Origin, tr *engine.Transition) (store.Change, error) {
	return r.change(rev, trigger, origin, tr)
}
