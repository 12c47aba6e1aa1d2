package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/store"
)

type workflowView struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	Digest    string `json:"digest"`
	Enabled   bool   `json:"enabled"`
	CreatedAt string `json:"createdAt"`
	Source    string `json:"source,omitempty"`
}

func viewWorkflow(w store.Workflow, withSource bool) workflowView {
	v := workflowView{Namespace: w.Namespace, Name: w.Name, Version: w.Version, Digest: w.Digest, Enabled: w.Enabled, CreatedAt: w.CreatedAt.Format("2006-01-02T15:04:05.000Z")}
	if withSource {
		v.Source = string(w.Source)
	}
	return v
}

// postWorkflow validates a definition and stores it as a new version.
func (s *Server) postWorkflow(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request Too Large", fmt.Sprintf("a definition may have at most %d bytes", s.cfg.MaxBody))
		return
	}
	stored, created, err := s.cfg.Runtime.Publish(r.Context(), "request", body)
	if err != nil {
		var errs dsl.Errors
		if errors.As(err, &errs) {
			writeProblemWith(w, r, http.StatusBadRequest, "Invalid Workflow", fmt.Sprintf("the definition has %d error(s); each says where and what to fix", len(errs)), errs)
			return
		}
		storeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewWorkflow(stored, false))
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) {
	all, err := s.cfg.Store.ListWorkflows(r.Context())
	if err != nil {
		storeError(w, r, err)
		return
	}
	out := make([]workflowView, len(all))
	for i, wf := range all {
		out[i] = viewWorkflow(wf, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflows": out})
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) {
	wf, err := s.cfg.Store.GetWorkflow(r.Context(), r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("version"))
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewWorkflow(wf, true))
}

func (s *Server) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.cfg.Store.SetWorkflowEnabled(r.Context(), r.PathValue("namespace"), r.PathValue("name"), enabled); err != nil {
			storeError(w, r, err)
			return
		}
		if err := s.cfg.Runtime.Reload(r.Context()); err != nil {
			storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"namespace": r.PathValue("namespace"), "name": r.PathValue("name"), "enabled": enabled})
	}
}
