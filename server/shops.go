package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
)

// postShop adds a shop: POST /v1/shops with the shop's configuration.
func (s *Server) postShop(w http.ResponseWriter, r *http.Request) {
	sh, ok := s.readShop(w, r)
	if !ok {
		return
	}
	added, err := s.cfg.Shops.Add(r.Context(), sh)
	if err != nil {
		shopError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/shops/"+added.ID)
	writeJSON(w, http.StatusCreated, added.Redacted())
}

// putShop replaces a shop's configuration: PUT /v1/shops/{id}. Secrets
// left out keep their stored values.
func (s *Server) putShop(w http.ResponseWriter, r *http.Request) {
	sh, ok := s.readShop(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if sh.ID == "" {
		sh.ID = id
	}
	if sh.ID != id {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Shop", fmt.Sprintf("the body's id %q is not the id in the path %q; a shop's id cannot change", sh.ID, id))
		return
	}
	updated, err := s.cfg.Shops.Update(r.Context(), sh)
	if err != nil {
		shopError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, updated.Redacted())
}

func (s *Server) listShops(w http.ResponseWriter, r *http.Request) {
	all, err := s.cfg.Shops.List(r.Context())
	if err != nil {
		shopError(w, r, err)
		return
	}
	out := make([]shop.View, len(all))
	for i, sh := range all {
		out[i] = sh.Redacted()
	}
	writeJSON(w, http.StatusOK, map[string]any{"shops": out})
}

func (s *Server) getShop(w http.ResponseWriter, r *http.Request) {
	sh, err := s.cfg.Shops.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		shopError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sh.Redacted())
}

func (s *Server) deleteShop(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Shops.Remove(r.Context(), r.PathValue("id")); err != nil {
		shopError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readShop decodes a shop, refusing properties it does not know, so that a
// misspelt setting is an error rather than silently ignored.
func (s *Server) readShop(w http.ResponseWriter, r *http.Request) (shop.Shop, bool) {
	var sh shop.Shop
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, "Request Too Large", fmt.Sprintf("a shop's configuration may have at most %d bytes", s.cfg.MaxBody))
		return sh, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sh); err != nil {
		writeProblem(w, r, http.StatusBadRequest, "Invalid Shop", fmt.Sprintf("the body is not a shop's configuration: %v", err))
		return sh, false
	}
	return sh, true
}

func shopError(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *shop.ErrInvalid
	switch {
	case errors.As(err, &invalid):
		writeProblemWith(w, r, http.StatusBadRequest, "Invalid Shop", fmt.Sprintf("the configuration has %d problem(s); each names the field and what to fix", len(invalid.Problems)), invalid.Problems)
	case errors.Is(err, store.ErrShopExists):
		writeProblem(w, r, http.StatusConflict, "Shop Exists", err.Error()+"; change it with PUT /v1/shops/{id}")
	default:
		storeError(w, r, err)
	}
}
