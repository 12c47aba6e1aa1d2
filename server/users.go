package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/user"
)

// readBody decodes a JSON body into v, refusing properties v does not
// know, so that a misspelt field is an error rather than ignored.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	return s.decodeBody(w, r, what, v, false)
}

// decodeBody is readBody; an optional body may be empty, leaving v as it
// is.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, what string, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request Too Large", fmt.Sprintf("%s may have at most %d bytes", what, s.cfg.MaxBody))
		return false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Request", fmt.Sprintf("the body is not %s: %v", what, err))
		return false
	}
	return true
}

// postUser adds a user: POST /v1/users.
func (s *Server) postUser(w http.ResponseWriter, r *http.Request) {
	var u user.User
	if !s.readBody(w, r, "a user", &u) {
		return
	}
	added, err := s.cfg.Users.Add(r.Context(), u)
	if err != nil {
		userError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/users/"+added.ID)
	writeJSON(w, http.StatusCreated, added)
}

// putUser replaces a user: PUT /v1/users/{id}; a password left out is
// kept.
func (s *Server) putUser(w http.ResponseWriter, r *http.Request) {
	var u user.User
	if !s.readBody(w, r, "a user", &u) {
		return
	}
	id := r.PathValue("id")
	if u.ID == "" {
		u.ID = id
	}
	if u.ID != id {
		writeProblem(w, r, http.StatusBadRequest, "Invalid User", fmt.Sprintf("the body's id %q is not the id in the path %q; a user's id cannot change", u.ID, id))
		return
	}
	updated, err := s.cfg.Users.Update(r.Context(), u)
	if err != nil {
		userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated)
}

// listUsers: GET /v1/users?shop=.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	list, err := s.cfg.Users.List(r.Context(), r.URL.Query().Get("shop"))
	if err != nil {
		userError(w, r, err)
		return
	}
	if list == nil {
		list = []user.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": list})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.cfg.Users.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		userError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Users.Remove(r.Context(), r.PathValue("id")); err != nil {
		userError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// login: POST /v1/login {"user", "password"} gives a token for the task
// API. It needs no API token: the password is the credential.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if !s.readBody(w, r, `a login ({"user": …, "password": …})`, &req) {
		return
	}
	token, expires, err := s.cfg.Users.Login(r.Context(), req.User, req.Password)
	if errors.Is(err, user.ErrLogin) {
		writeProblem(w, r, http.StatusUnauthorized, "Login Failed", "unknown user or wrong password")
		return
	}
	if err != nil {
		storeError(w, r, err)
		return
	}
	u, err := s.cfg.Users.Get(r.Context(), req.User)
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expiresAt": expires.Format(time.RFC3339), "user": u})
}

// logout: POST /v1/logout ends the login of the token the call carries.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok || !user.IsToken(token) {
		writeProblem(w, r, http.StatusBadRequest, "Not Logged In", "send the token POST /v1/login gave as `Authorization: Bearer <token>`")
		return
	}
	if err := s.cfg.Users.Logout(r.Context(), token); err != nil {
		storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func userError(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *user.ErrInvalid
	switch {
	case errors.As(err, &invalid):
		writeProblemWith(w, r, http.StatusBadRequest, "Invalid User", fmt.Sprintf("the user has %d problem(s); each names the field and what to fix", len(invalid.Problems)), invalid.Problems)
	case errors.Is(err, store.ErrUserExists):
		writeProblem(w, r, http.StatusConflict, "User Exists", err.Error()+"; change it with PUT /v1/users/{id}")
	default:
		storeError(w, r, err)
	}
}
