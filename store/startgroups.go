package store

import (
	"context"
	"time"
)

// StartGroup is a partial match of a `schedule.on.all` strategy: the events
// that have matched some of a workflow version's filters and share one set
// of correlation values. It lives in the store, not in memory, so that a
// restart keeps the matched events and pending groups do not fill memory.
type StartGroup struct {
	ID        string
	Namespace string
	Name      string
	Version   string
	// CorrKey is the canonical form of the correlation values the group's
	// events share ("" when the filters correlate nothing).
	CorrKey string
	// Events are the group's events, by slot (the index of the filter each
	// matched).
	Events []StartEvent
	// Closed means every filter has its event: the group starts an instance
	// and takes no more events.
	Closed    bool
	CreatedAt time.Time
}

// StartEvent is a logged event that filled one filter of a StartGroup.
type StartEvent struct {
	Slot     int
	Seq      int64
	Source   string
	ID       string
	Envelope []byte
}

// StartJoin asks JoinStartGroup to add an event to the open group of a
// workflow version and correlation key.
type StartJoin struct {
	Namespace, Name, Version string
	CorrKey                  string
	// Slots are the filters the event matches, in order of preference; it
	// fills the first one the group has not filled yet.
	Slots []int
	// Need is the number of filters; the group closes when all are filled.
	Need int
	// GroupID names the group when the event opens a new one.
	GroupID string
	Event   StartEvent
	At      time.Time
}

// FreeSlot returns the first of slots the group has not filled, or -1.
func (g StartGroup) FreeSlot(slots []int) int {
	for _, s := range slots {
		taken := false
		for _, e := range g.Events {
			if e.Slot == s {
				taken = true
				break
			}
		}
		if !taken {
			return s
		}
	}
	return -1
}

// NewStartGroup is the group an event opens, before it joins.
func NewStartGroup(j StartJoin) StartGroup {
	at := j.At
	if at.IsZero() {
		at = time.Now()
	}
	return StartGroup{ID: j.GroupID, Namespace: j.Namespace, Name: j.Name, Version: j.Version, CorrKey: j.CorrKey, CreatedAt: at.UTC()}
}

// FoldStartGroups reads rows of (group id, namespace, name, version, corr
// key, closed, created nanos, event slot, seq, source, id, envelope),
// ordered by group, into groups. The caller closes rows.
func FoldStartGroups(rows Rows) ([]StartGroup, error) {
	var out []StartGroup
	for rows.Next() {
		var g StartGroup
		var e StartEvent
		var created int64
		if err := rows.Scan(&g.ID, &g.Namespace, &g.Name, &g.Version, &g.CorrKey, &g.Closed, &created, &e.Slot, &e.Seq, &e.Source, &e.ID, &e.Envelope); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != g.ID {
			g.CreatedAt = time.Unix(0, created).UTC()
			out = append(out, g)
		}
		last := &out[len(out)-1]
		last.Events = append(last.Events, e)
	}
	return out, rows.Err()
}

// StartGroups keeps the partial matches of schedule.on.all strategies.
type StartGroups interface {
	// JoinStartGroup adds an event to the open start group of a workflow
	// version and correlation key, opening one when there is none, and
	// returns the group the event is in. joined is false when the group has
	// already filled every slot the event could take. An event already in a
	// group of the workflow (the matcher repeating the log after a crash)
	// joins nothing again: that group is returned as it is.
	JoinStartGroup(ctx context.Context, j StartJoin) (g StartGroup, joined bool, err error)
	// StartGroups returns the open (still incomplete) start groups of a
	// workflow, oldest first, at most limit.
	StartGroups(ctx context.Context, namespace, name string, limit int) ([]StartGroup, error)
	// PruneStartGroups deletes closed groups whose events are all at or
	// before seq and before every slot's matcher position: the matchers
	// have passed them for good, so no repeat can ask for them again.
	PruneStartGroups(ctx context.Context, seq int64) error
}
