package conformance

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
)

// Services serves, on loopback, the external HTTP services the conformance
// features call (the Swagger petstore and httpbin), so that their real URLs
// work without the internet.
type Services struct {
	srv *httptest.Server
}

// NewServices starts the services; they stop when the test ends.
func NewServices(t testing.TB) *Services {
	s := &Services{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/swagger.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, swaggerDoc)
	})
	mux.HandleFunc("GET /v2/pet/findByStatus", func(w http.ResponseWriter, r *http.Request) {
		status := r.URL.Query().Get("status")
		var found []any
		for _, p := range pets {
			if p["status"] == status {
				found = append(found, p)
			}
		}
		if found == nil {
			found = []any{}
		}
		writeJSON(w, http.StatusOK, found)
	})
	mux.HandleFunc("GET /v2/pet/getPetByName/{name}", func(w http.ResponseWriter, r *http.Request) {
		// The real petstore has no such operation: it answers 404, which the
		// try/catch features rely on.
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "type": "unknown", "message": "Pet not found"})
	})
	mux.HandleFunc("GET /v2/pet/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "type": "unknown", "message": "java.lang.NumberFormatException"})
			return
		}
		for _, p := range pets {
			if p["id"] == id {
				writeJSON(w, http.StatusOK, p)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"code": 1, "type": "error", "message": "Pet not found"})
	})
	mux.HandleFunc("GET /basic-auth/{user}/{passwd}", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != r.PathValue("user") || p != r.PathValue("passwd") {
			w.Header().Set("WWW-Authenticate", `Basic realm="Fake Realm"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"authenticated": true, "user": u})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the services' loopback address.
func (s *Services) URL() string { return s.srv.URL }

// Client returns an HTTP client that sends every request to the services,
// whatever host it names, keeping path, query and headers.
func (s *Services) Client() *http.Client {
	target, _ := url.Parse(s.srv.URL)
	return &http.Client{Transport: rewrite{target: target, next: s.srv.Client().Transport}}
}

type rewrite struct {
	target *url.URL
	next   http.RoundTripper
}

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.URL.Scheme = rw.target.Scheme
	out.URL.Host = rw.target.Host
	out.Host = r.URL.Host
	return rw.next.RoundTrip(out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var pets = []map[string]any{
	{"id": 1, "name": "Milou", "status": "available", "category": map[string]any{"id": 1, "name": "dog"}, "photoUrls": []any{}, "tags": []any{}},
	{"id": 2, "name": "Garfield", "status": "available", "category": map[string]any{"id": 2, "name": "cat"}, "photoUrls": []any{}, "tags": []any{}},
	{"id": 3, "name": "Nemo", "status": "sold", "category": map[string]any{"id": 3, "name": "fish"}, "photoUrls": []any{}, "tags": []any{}},
}

// swaggerDoc is a minimal Swagger 2.0 description of the petstore
// operations the features use.
var swaggerDoc = map[string]any{
	"swagger":  "2.0",
	"info":     map[string]any{"title": "Petstore (conformance stand-in)", "version": "1.0.0"},
	"host":     "petstore.swagger.io",
	"basePath": "/v2",
	"schemes":  []any{"https"},
	"paths": map[string]any{
		"/pet/findByStatus": map[string]any{"get": map[string]any{
			"operationId": "findPetsByStatus",
			"produces":    []any{"application/json"},
			"parameters": []any{map[string]any{"name": "status", "in": "query", "required": true, "type": "array",
				"items": map[string]any{"type": "string", "enum": []any{"available", "pending", "sold"}}, "collectionFormat": "multi"}},
			"responses": map[string]any{"200": map[string]any{"description": "pets"}},
		}},
		"/pet/{petId}": map[string]any{"get": map[string]any{
			"operationId": "getPetById",
			"produces":    []any{"application/json"},
			"parameters":  []any{map[string]any{"name": "petId", "in": "path", "required": true, "type": "integer", "format": "int64"}},
			"responses":   map[string]any{"200": map[string]any{"description": "a pet"}, "404": map[string]any{"description": "not found"}},
		}},
	},
}
