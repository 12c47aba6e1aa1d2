package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// commandType is the event type that carries a cancel, suspend or resume
// to the node holding the instance's slot. Such events are not offered to
// workflows.
const commandType = "io.storeflow.instance.command.v1"

type commandData struct {
	Op       string `json:"op"`
	Instance string `json:"instance"`
	Reason   string `json:"reason,omitempty"`
}

var commandOps = map[itemKind]string{itemCancel: "cancel", itemSuspend: "suspend", itemResume: "resume"}

// command changes an instance's lifecycle: at once when this node holds
// its slot, otherwise by logging a command event that the holder's matcher
// acts on, then waiting until the instance shows the change.
func (r *Runtime) command(ctx context.Context, it *item) error {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.leases.owns(it.id) {
		return r.do(ctx, it)
	}
	rec, err := r.st.GetInstance(ctx, it.id)
	if err != nil {
		return err
	}
	if err := commandApplies(it.kind, engine.Status(rec.Status), it.id); err != nil {
		return err
	}
	data := commandData{Op: commandOps[it.kind], Instance: it.id, Reason: it.reason}
	env := map[string]any{"specversion": "1.0", "id": engine.NewID(), "source": "storeflow/" + r.opts.Node,
		"type": commandType, "subject": it.id, "time": r.clk.Now().UTC().Format(time.RFC3339Nano), "data": data}
	if _, err := r.Ingest(ctx, []store.Event{eventFromMap(env, r.clk.Now())}); err != nil {
		return fmt.Errorf("hand %s of %s to the node holding it: %w", data.Op, it.id, err)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		rec, err := r.st.GetInstance(wait, it.id)
		if err != nil {
			return err
		}
		if commandDone(it.kind, engine.Status(rec.Status)) {
			return nil
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("%s of %s was handed to the node holding it but has not shown yet; check the instance again: %w", data.Op, it.id, wait.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// commandApplies refuses a command the instance's status makes pointless,
// with the same errors as when this node applies it.
func commandApplies(kind itemKind, st engine.Status, id string) error {
	switch kind {
	case itemCancel, itemSuspend:
		if st.Ended() {
			return fmt.Errorf("instance %s has already ended (%s)", id, st)
		}
	case itemResume:
		if st != engine.StatusSuspended {
			return fmt.Errorf("instance %s is not suspended (%s)", id, st)
		}
	}
	return nil
}

func commandDone(kind itemKind, st engine.Status) bool {
	switch kind {
	case itemCancel:
		return st.Ended()
	case itemSuspend:
		return st == engine.StatusSuspended || st.Ended()
	case itemResume:
		return st != engine.StatusSuspended
	}
	return true
}

// commandItem turns a command event into work, when this node holds the
// instance.
func (r *Runtime) commandItem(env map[string]any) (*item, bool) {
	raw, err := json.Marshal(env["data"])
	if err != nil {
		return nil, false
	}
	var d commandData
	if err := json.Unmarshal(raw, &d); err != nil || d.Instance == "" || !r.leases.owns(d.Instance) {
		return nil, false
	}
	for kind, op := range commandOps {
		if op == d.Op {
			return &item{kind: kind, id: d.Instance, reason: d.Reason}, true
		}
	}
	r.log.Warn("ignoring command event with unknown op", "op", d.Op, "instance", d.Instance)
	return nil, false
}

// isMoved tells errors that mean another node does the work now.
func isMoved(err error) bool {
	return errors.Is(err, errNotOwner) || errors.Is(err, store.ErrFenced)
}
