package server

import (
	"net/http"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/follower"
)

// analyticsEvents: GET /v1/analytics/events?shop=&type=&from=&to=, the
// analytics follower's event counts per shop, type and day, with how far
// behind the event log they are.
func (s *Server) analyticsEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query, err := analytics.ParseQuery(q.Get("shop"), q.Get("type"), q.Get("from"), q.Get("to"))
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Query", err.Error())
		return
	}
	counts, err := s.cfg.Store.EventCounts(r.Context(), query)
	if err != nil {
		storeError(w, r, err)
		return
	}
	out := map[string]any{"counts": counts}
	if st, ok := s.followerStatus(r, analytics.Name); ok {
		out["asOf"] = map[string]any{"seq": st.Cursor, "lag": st.Lag}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) followerStatus(r *http.Request, name string) (follower.Status, bool) {
	if s.cfg.Followers == nil {
		return follower.Status{}, false
	}
	all, err := s.cfg.Followers.Status(r.Context())
	if err != nil {
		return follower.Status{}, false
	}
	for _, st := range all {
		if st.Name == name {
			return st, true
		}
	}
	return follower.Status{}, false
}

// listFollowers: GET /v1/followers, each follower's position, lag and
// lease.
func (s *Server) listFollowers(w http.ResponseWriter, r *http.Request) {
	all, err := s.cfg.Followers.Status(r.Context())
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"followers": all})
}

// rebuildFollower: POST /v1/followers/{name}/rebuild clears a follower's
// projection and has it project the event log again from the start.
func (s *Server) rebuildFollower(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.cfg.Followers.Rebuild(r.Context(), name); err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"follower": name, "status": "rebuilding"})
}
