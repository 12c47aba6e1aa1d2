package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/store"
)

// listCustomers: GET /v1/customers?shop=&email=&segment=&q=&limit=&after=,
// a shop's customer profiles by ID, with their segments.
func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeProblem(w, r, http.StatusBadRequest, "Invalid Query", "limit is a number from 1 to 500")
			return
		}
		limit = n
	}
	list, err := s.cfg.Customers.List(r.Context(), customer.Query{Shop: q.Get("shop"), Email: q.Get("email"), Segment: q.Get("segment"),
		Q: q.Get("q"), After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		customerError(w, r, err)
		return
	}
	out := map[string]any{}
	if len(list) > limit {
		list = list[:limit]
		out["next"] = list[limit-1].ID
	}
	out["customers"] = list
	if st, ok := s.followerStatus(r, customer.Name); ok {
		out["asOf"] = map[string]any{"seq": st.Cursor, "lag": st.Lag}
	}
	writeJSON(w, http.StatusOK, out)
}

// customerEvent is an event of a customer's activity, as the API shows it.
type customerEvent struct {
	store.CustomerEvent
	Summary json.RawMessage `json:"summary,omitempty"`
}

// getCustomer: GET /v1/customers/{id}, a profile with its consent history,
// latest events and (when the message log is wired) messages sent and
// suppressed. The ID of a profile merged into another gives the other.
func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	p, err := s.cfg.Customers.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		customerError(w, r, err)
		return
	}
	evs, err := s.cfg.Customers.Events(r.Context(), p.ID, 50)
	if err != nil {
		customerError(w, r, err)
		return
	}
	recent := make([]customerEvent, len(evs))
	for i, e := range evs {
		recent[i] = customerEvent{CustomerEvent: e, Summary: e.Summary}
	}
	out := map[string]any{"customer": p, "recentEvents": recent}
	if s.cfg.CustomerMessages != nil {
		msgs, err := s.cfg.CustomerMessages(r.Context(), p, 50)
		if err != nil {
			customerError(w, r, err)
			return
		}
		out["messages"] = msgs
	}
	writeJSON(w, http.StatusOK, out)
}

func customerError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, customer.ErrInvalid) {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Query", err.Error())
		return
	}
	storeError(w, r, err)
}
