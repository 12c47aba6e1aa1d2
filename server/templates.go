package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/templates"
)

type templateView struct {
	*templates.Template
	// Installed is the latest version of the workflow this storeflow
	// holds, "" when it holds none.
	Installed string `json:"installed"`
	Source    string `json:"source,omitempty"`
	Test      string `json:"test,omitempty"`
}

func (s *Server) viewTemplate(r *http.Request, t *templates.Template, full bool) (templateView, error) {
	v := templateView{Template: t}
	wf, err := s.cfg.Store.GetWorkflow(r.Context(), t.Namespace, t.Name, "")
	switch {
	case err == nil:
		v.Installed = wf.Version
	case !errors.Is(err, store.ErrNotFound):
		return v, err
	}
	if full {
		v.Source, v.Test = string(t.Source), string(t.Test)
	}
	return v, nil
}

// listTemplates lists the template library with the parameters of each.
func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	all, err := templates.All()
	if err != nil {
		writeProblem(w, r, http.StatusInternalServerError, "Template Library Unreadable", err.Error())
		return
	}
	out := make([]templateView, 0, len(all))
	for _, t := range all {
		v, err := s.viewTemplate(r, t, false)
		if err != nil {
			storeError(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}

func (s *Server) template(w http.ResponseWriter, r *http.Request) *templates.Template {
	t, err := templates.Get(r.PathValue("name"))
	if errors.Is(err, templates.ErrUnknown) {
		writeProblem(w, r, http.StatusNotFound, "Unknown Template", err.Error())
		return nil
	}
	if err != nil {
		writeProblem(w, r, http.StatusInternalServerError, "Template Library Unreadable", err.Error())
		return nil
	}
	return t
}

// getTemplate shows a template with its source and pretests.
func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	t := s.template(w, r)
	if t == nil {
		return
	}
	v, err := s.viewTemplate(r, t, true)
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// installRequest is the body of POST /v1/templates/{name}/install.
type installRequest struct {
	// Set gives parameters values: strings, numbers or booleans.
	Set map[string]any `json:"set"`
	// Version replaces the template's version.
	Version string `json:"version"`
}

// installTemplate publishes a template, with the parameters given, as a
// workflow (as POST /v1/workflows would).
func (s *Server) installTemplate(w http.ResponseWriter, r *http.Request) {
	t := s.template(w, r)
	if t == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request Too Large", fmt.Sprintf("a request may have at most %d bytes", s.cfg.MaxBody))
		return
	}
	var req installRequest
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			writeProblem(w, r, http.StatusBadRequest, "Invalid Request", fmt.Sprintf(`the body is {"set": {"NAME": value}, "version": "1.0.1"}: %v`, err))
			return
		}
	}
	set := map[string]string{}
	for k, v := range req.Set {
		switch x := v.(type) {
		case string:
			set[k] = x
		case json.Number:
			set[k] = x.String()
		case bool:
			set[k] = fmt.Sprint(x)
		default:
			writeProblem(w, r, http.StatusBadRequest, "Invalid Parameter", fmt.Sprintf("set.%s: give a string, number or boolean", k))
			return
		}
	}
	src, err := t.Install(set, req.Version)
	if err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Parameter", err.Error())
		return
	}
	stored, created, err := s.cfg.Runtime.Publish(r.Context(), t.Name+".yaml", src)
	if err != nil {
		var errs dsl.Errors
		if errors.As(err, &errs) {
			writeProblemWith(w, r, http.StatusBadRequest, "Invalid Workflow", fmt.Sprintf("with these settings the template has %d error(s)", len(errs)), errs)
			return
		}
		if errors.Is(err, store.ErrVersionExists) {
			version := req.Version
			if version == "" {
				version = t.Version
			}
			writeProblem(w, r, http.StatusConflict, "Version Exists",
				fmt.Sprintf("%s %s is installed with other settings; give a new version (\"version\": \"1.0.1\", or --version) to install these", t.Name, version))
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
