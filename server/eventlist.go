package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// instancesPerEvent bounds the instances listed with one event: an event
// may resume thousands of listens; the first ones (by id, so by start)
// are shown, and moreInstances says there are others.
const instancesPerEvent = 100

type eventView struct {
	Seq        int64     `json:"seq"`
	ReceivedAt time.Time `json:"receivedAt"`
	Shop       string    `json:"shop,omitempty"`
	// Event is the CloudEvent as logged.
	Event   json.RawMessage     `json:"event"`
	Started []eventInstanceView `json:"started"`
	Resumed []eventInstanceView `json:"resumed"`
	// MoreInstances says that the event started or resumed more instances
	// than are listed.
	MoreInstances bool `json:"moreInstances,omitempty"`
}

type eventInstanceView struct {
	ID       string             `json:"id"`
	Workflow engine.WorkflowRef `json:"workflow"`
	Status   string             `json:"status"`
}

// eventListParams are the query parameters of GET /v1/events.
var eventListParams = []string{"type", "shop", "subject", "limit", "after"}

// listEvents: GET /v1/events?type=&shop=&subject=&limit=&after=, newest
// first, each event with the instances it started and resumed.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(detail string) {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Query", detail)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		known := false
		for _, p := range eventListParams {
			known = known || p == name
		}
		if !known {
			bad(fmt.Sprintf("unknown parameter %q: filter with type, shop and subject, page with limit and after", name))
			return
		}
		if len(q[name]) > 1 {
			bad(fmt.Sprintf("%s is given %d times; give it once", name, len(q[name])))
			return
		}
	}
	query := store.EventQuery{Type: strings.TrimSpace(q.Get("type")), Shop: strings.TrimSpace(q.Get("shop")), Subject: q.Get("subject")}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			bad(fmt.Sprintf("limit=%q: give a whole number from 1 to 1000", v))
			return
		}
		limit = n
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad(fmt.Sprintf("after=%q is no position in the event log: pass the next value of the previous page", v))
			return
		}
		query.Before = n
	}
	// One more than the page tells whether another page follows.
	query.Limit = limit + 1
	list, err := s.cfg.Store.ListEvents(r.Context(), query)
	if err != nil {
		storeError(w, r, err)
		return
	}
	more := len(list) > limit
	list = list[:min(len(list), limit)]
	seqs := make([]int64, len(list))
	for i, e := range list {
		seqs[i] = e.Seq
	}
	links, err := s.cfg.Store.EventInstances(r.Context(), seqs, instancesPerEvent+1)
	if err != nil {
		storeError(w, r, err)
		return
	}
	bySeq := map[int64][]store.EventInstance{}
	for _, l := range links {
		bySeq[l.Seq] = append(bySeq[l.Seq], l)
	}
	out := make([]eventView, len(list))
	for i, e := range list {
		v := eventView{Seq: e.Seq, ReceivedAt: e.ReceivedAt, Shop: e.Shop, Event: e.Envelope, Started: []eventInstanceView{}, Resumed: []eventInstanceView{}}
		if !json.Valid(v.Event) {
			v.Event, _ = json.Marshal(string(e.Envelope))
		}
		ls := bySeq[e.Seq]
		if len(ls) > instancesPerEvent {
			ls, v.MoreInstances = ls[:instancesPerEvent], true
		}
		for _, l := range ls {
			iv := eventInstanceView{ID: l.InstanceID, Workflow: engine.WorkflowRef{Namespace: l.Namespace, Name: l.Name, Version: l.Version}, Status: l.Status}
			if l.Started {
				v.Started = append(v.Started, iv)
			} else {
				v.Resumed = append(v.Resumed, iv)
			}
		}
		out[i] = v
	}
	resp := map[string]any{"events": out}
	if more {
		resp["next"] = strconv.FormatInt(list[len(list)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, resp)
}
