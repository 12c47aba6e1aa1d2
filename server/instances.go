package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

type startRequest struct {
	Workflow engine.WorkflowRef `json:"workflow"`
	Input    any                `json:"input"`
}

func (s *Server) postInstance(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.Workflow.Namespace == "" || req.Workflow.Name == "" {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Request", `send {"workflow": {"namespace": "...", "name": "...", "version": "..." (optional)}, "input": {...}}`)
		return
	}
	wf, err := s.cfg.Store.GetWorkflow(r.Context(), req.Workflow.Namespace, req.Workflow.Name, req.Workflow.Version)
	if err != nil {
		storeError(w, r, err)
		return
	}
	if !wf.Enabled {
		writeProblem(w, r, http.StatusConflict, "Workflow Disabled", fmt.Sprintf("%s/%s is disabled; enable it first", wf.Namespace, wf.Name))
		return
	}
	req.Workflow.Version = wf.Version
	id, err := s.cfg.Runtime.Start(r.Context(), req.Workflow, req.Input)
	if err != nil {
		storeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/instances/"+id)
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "workflow": req.Workflow})
}

type instanceView struct {
	ID        string             `json:"id"`
	Workflow  engine.WorkflowRef `json:"workflow"`
	Status    string             `json:"status"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
	Input     any                `json:"input,omitempty"`
	Output    any                `json:"output,omitempty"`
	Error     any                `json:"error,omitempty"`
	Context   any                `json:"context,omitempty"`
	History   []historyView      `json:"history,omitempty"`
}

type historyView struct {
	Seq  int64           `json:"seq"`
	Time time.Time       `json:"time"`
	Type string          `json:"type"`
	Task string          `json:"task,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	// SincePrevious is the time since the previous entry, for timings.
	SincePrevious string `json:"sincePrevious,omitempty"`
}

func view(rec store.Instance) instanceView {
	return instanceView{ID: rec.ID, Workflow: engine.WorkflowRef{Namespace: rec.Namespace, Name: rec.Name, Version: rec.Version},
		Status: rec.Status, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt}
}

func (s *Server) listInstances(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := store.InstanceQuery{Namespace: q.Get("namespace"), Name: q.Get("name"), Status: q.Get("status"), After: q.Get("after")}
	for name, dst := range map[string]*time.Time{"since": &query.Since, "until": &query.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeProblem(w, r, http.StatusBadRequest, "Invalid Query", fmt.Sprintf("%s=%q is not an RFC 3339 time such as 2026-11-23T10:00:00Z", name, v))
				return
			}
			*dst = t
		}
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(w, r, http.StatusBadRequest, "Invalid Query", "limit must be a whole number from 1 to 1000")
			return
		}
		limit = n
	}
	// One more than the page tells whether another page follows, so that
	// a last page that happens to be full has no next.
	query.Limit = limit + 1
	list, err := s.cfg.Store.ListInstances(r.Context(), query)
	if err != nil {
		storeError(w, r, err)
		return
	}
	more := len(list) > limit
	list = list[:min(len(list), limit)]
	out := make([]instanceView, len(list))
	for i, rec := range list {
		out[i] = view(rec)
	}
	resp := map[string]any{"instances": out}
	if more {
		resp["next"] = list[len(list)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Store.GetInstance(r.Context(), r.PathValue("id"))
	if err != nil {
		storeError(w, r, err)
		return
	}
	v := view(rec)
	if in, err := engine.Unmarshal(rec.State); err == nil {
		v.Input, v.Output, v.Context = in.Input, in.Output, in.Context
		if in.Error != nil {
			v.Error = in.Error
		}
	}
	hist, err := s.cfg.Store.History(r.Context(), rec.ID)
	if err != nil {
		storeError(w, r, err)
		return
	}
	for i, h := range hist {
		hv := historyView{Seq: h.Seq, Time: h.Time, Type: h.Type, Task: h.Task, Data: h.Data}
		if i > 0 {
			hv.SincePrevious = h.Time.Sub(hist[i-1].Time).String()
		}
		v.History = append(v.History, hv)
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) lifecycle(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := s.cfg.Store.GetInstance(r.Context(), id); err != nil {
			storeError(w, r, err)
			return
		}
		var err error
		switch action {
		case "cancel":
			err = s.cfg.Runtime.Cancel(r.Context(), id, r.URL.Query().Get("reason"))
		case "suspend":
			err = s.cfg.Runtime.Suspend(r.Context(), id)
		case "resume":
			err = s.cfg.Runtime.Resume(r.Context(), id)
		}
		if err != nil {
			writeProblem(w, r, http.StatusConflict, "Cannot "+action, err.Error())
			return
		}
		rec, err := s.cfg.Store.GetInstance(r.Context(), id)
		if err != nil {
			storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, view(rec))
	}
}
