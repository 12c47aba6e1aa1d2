package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
)

// taskAuth lets a user's login token through to the task API, besides an
// API token. The handler gets the user (nil for an API token, or for no
// token where none is configured: such callers see every task but cannot
// act on one, since an action records who did it).
func (s *Server) taskAuth(next func(w http.ResponseWriter, r *http.Request, u *user.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if token, ok := bearer(r); ok && user.IsToken(token) && s.cfg.Users != nil {
			u, err := s.cfg.Users.Authenticate(r.Context(), token)
			if errors.Is(err, user.ErrLogin) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="storeflow"`)
				writeProblem(w, r, http.StatusUnauthorized, "Unauthorized", "the login token is unknown or expired: log in again with POST /v1/login")
				return
			}
			if err != nil {
				storeError(w, r, err)
				return
			}
			next(w, r, &u)
			return
		}
		s.auth(func(w http.ResponseWriter, r *http.Request) { next(w, r, nil) })(w, r)
	}
}

// listTasks: GET /v1/tasks?mine=1&role=&overdue=1&shop=&status=&limit=&after=,
// the tasks the caller may see, newest first.
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request, u *user.User) {
	q := r.URL.Query()
	flag := func(name string) (bool, bool) {
		switch v := q.Get(name); v {
		case "", "0", "false":
			return false, true
		case "1", "true":
			return true, true
		}
		writeProblem(w, r, http.StatusBadRequest, "Invalid Query", fmt.Sprintf("%s is 1 or 0", name))
		return false, false
	}
	mine, ok := flag("mine")
	if !ok {
		return
	}
	overdue, ok := flag("overdue")
	if !ok {
		return
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeProblem(w, r, http.StatusBadRequest, "Invalid Query", "limit is a number from 1 to 500")
			return
		}
		limit = n
	}
	list, err := s.cfg.Tasks.List(r.Context(), u, task.Query{Shop: q.Get("shop"), Mine: mine, Role: q.Get("role"), Overdue: overdue,
		Status: q.Get("status"), After: q.Get("after"), Limit: limit + 1})
	if err != nil {
		taskError(w, r, err)
		return
	}
	out := map[string]any{}
	if len(list) > limit {
		list = list[:limit]
		out["next"] = list[limit-1].ID
	}
	out["tasks"] = list
	writeJSON(w, http.StatusOK, out)
}

// getTask: GET /v1/tasks/{id}, with its history.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request, u *user.User) {
	t, err := s.cfg.Tasks.Get(r.Context(), r.PathValue("id"), u)
	if err != nil {
		taskError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// taskAction serves POST /v1/tasks/{id}/claim, /complete ({"answer"}),
// /reject ({"reason"}) and /reassign ({"user"} or {"role"}, "note").
func (s *Server) taskAction(action string) func(w http.ResponseWriter, r *http.Request, u *user.User) {
	return func(w http.ResponseWriter, r *http.Request, u *user.User) {
		ctx, id := r.Context(), r.PathValue("id")
		var t *task.Task
		var err error
		switch action {
		case "claim":
			t, err = s.cfg.Tasks.Claim(ctx, id, u)
		case "complete":
			var body struct {
				Answer map[string]any `json:"answer"`
			}
			if !s.readBody(w, r, `an answer ({"answer": {…}})`, &body) {
				return
			}
			t, err = s.cfg.Tasks.Complete(ctx, id, u, body.Answer)
		case "reject":
			var body struct {
				Reason string `json:"reason"`
			}
			if !s.decodeBody(w, r, `a rejection ({"reason": …})`, &body, true) {
				return
			}
			t, err = s.cfg.Tasks.Reject(ctx, id, u, body.Reason)
		case "reassign":
			var to task.Assignee
			if !s.readBody(w, r, `a reassignment ({"user": …} or {"role": …}, "note")`, &to) {
				return
			}
			t, err = s.cfg.Tasks.Reassign(ctx, id, u, to)
		}
		if err != nil {
			taskError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, t)
	}
}

func taskError(w http.ResponseWriter, r *http.Request, err error) {
	var te *task.Error
	var inv *task.InvalidAnswer
	switch {
	case errors.As(err, &inv):
		writeProblemWith(w, r, http.StatusUnprocessableEntity, "Invalid Answer",
			fmt.Sprintf("the answer does not fit the task's form: %d problem(s), each at its field", len(inv.Problems)), inv.Problems)
	case errors.As(err, &te):
		if te.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="storeflow"`)
		}
		writeProblem(w, r, te.Status, te.Title, te.Detail)
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "Not Found", err.Error()+" (or it is not yours to see)")
	default:
		storeError(w, r, err)
	}
}
