// Package server is storeflow's HTTP API: event ingress (CloudEvents),
// workflow and instance management, health and metrics.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
	"github.com/storeflow/storeflow/webhook"
)

// Config configures the API.
type Config struct {
	Runtime *runtime.Runtime
	Store   store.Store
	Logger  *slog.Logger
	// Tokens are the accepted bearer tokens; when empty, requests need none
	// (allowed only on loopback, see CheckExposure).
	Tokens []string
	// MaxBody bounds request bodies (events, workflows), in bytes.
	MaxBody int64
	// Ready reports whether the runtime is up, for /readyz.
	Ready func() bool
	// Shops keeps the shops' configurations (/v1/shops).
	Shops *shop.Directory
	// Webhooks receives the shops' webhooks (/webhooks/…) and replays dead
	// letters (/v1/deadletters).
	Webhooks *webhook.Receiver
	// Unsubscribe verifies the one-click unsubscribe links of marketing
	// mail (/unsubscribe/{token}).
	Unsubscribe *email.UnsubscribeLinks
	// Followers runs the event-log followers (/v1/followers) whose
	// projections the API reads (/v1/analytics/…).
	Followers *follower.Runner
	// Customers reads the customer profiles (/v1/customers).
	Customers *customer.Directory
	// CustomerMessages, when set, lists a customer's messages sent and
	// suppressed in GET /v1/customers/{id} (the sending rules' message
	// log).
	CustomerMessages customer.Messages
	// Users keeps the people who answer tasks (/v1/users) and logs them in
	// (/v1/login).
	Users *user.Directory
	// Tasks keeps the approval tasks (/v1/tasks).
	Tasks *task.Service
}

// Server serves the API.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.routes()
	return s
}

// CheckExposure refuses to serve on a non-loopback address without tokens:
// anyone on the network could otherwise start workflows that email customers.
func CheckExposure(addr string, tokens []string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if len(tokens) > 0 {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listening on %s needs API tokens: set --token or STOREFLOW_TOKENS (comma-separated), or listen on 127.0.0.1", addr)
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.readyz)
	m.Handle("GET /metrics", promhttp.Handler())
	m.HandleFunc("POST /v1/events", s.auth(s.postEvents))
	m.HandleFunc("GET /v1/events", s.auth(s.listEvents))
	m.HandleFunc("POST /v1/workflows", s.auth(s.postWorkflow))
	m.HandleFunc("GET /v1/workflows", s.auth(s.listWorkflows))
	m.HandleFunc("GET /v1/workflows/{namespace}/{name}", s.auth(s.getWorkflow))
	m.HandleFunc("POST /v1/workflows/{namespace}/{name}/enable", s.auth(s.setEnabled(true)))
	m.HandleFunc("POST /v1/workflows/{namespace}/{name}/disable", s.auth(s.setEnabled(false)))
	m.HandleFunc("GET /v1/templates", s.auth(s.listTemplates))
	m.HandleFunc("GET /v1/templates/{name}", s.auth(s.getTemplate))
	m.HandleFunc("POST /v1/templates/{name}/install", s.auth(s.installTemplate))
	m.HandleFunc("POST /v1/instances", s.auth(s.postInstance))
	m.HandleFunc("GET /v1/instances", s.auth(s.listInstances))
	m.HandleFunc("GET /v1/instances/{id}", s.auth(s.getInstance))
	m.HandleFunc("POST /v1/instances/{id}/cancel", s.auth(s.lifecycle("cancel")))
	m.HandleFunc("POST /v1/instances/{id}/suspend", s.auth(s.lifecycle("suspend")))
	m.HandleFunc("POST /v1/instances/{id}/resume", s.auth(s.lifecycle("resume")))
	m.HandleFunc("GET /v1/messages", s.auth(s.listMessages))
	if s.cfg.Shops != nil {
		m.HandleFunc("POST /v1/shops", s.auth(s.postShop))
		m.HandleFunc("GET /v1/shops", s.auth(s.listShops))
		m.HandleFunc("GET /v1/shops/{id}", s.auth(s.getShop))
		m.HandleFunc("PUT /v1/shops/{id}", s.auth(s.putShop))
		m.HandleFunc("DELETE /v1/shops/{id}", s.auth(s.deleteShop))
	}
	if s.cfg.Webhooks != nil {
		m.HandleFunc("POST /webhooks/shopify", s.receiveWebhook(shop.Shopify))
		m.HandleFunc("POST /webhooks/woocommerce", s.receiveWebhook(shop.WooCommerce))
		m.HandleFunc("POST /webhooks/generic/{shop}", s.receiveWebhook(shop.Generic))
		m.HandleFunc("GET /v1/deadletters", s.auth(s.listDeadLetters))
		m.HandleFunc("GET /v1/deadletters/{id}", s.auth(s.getDelivery))
		m.HandleFunc("POST /v1/deadletters/{id}/replay", s.auth(s.replayDeadLetter))
	}
	m.HandleFunc("GET /v1/analytics/events", s.auth(s.analyticsEvents))
	if s.cfg.Customers != nil {
		m.HandleFunc("GET /v1/customers", s.auth(s.listCustomers))
		m.HandleFunc("GET /v1/customers/{id}", s.auth(s.getCustomer))
	}
	if s.cfg.Users != nil {
		m.HandleFunc("POST /v1/users", s.auth(s.postUser))
		m.HandleFunc("GET /v1/users", s.auth(s.listUsers))
		m.HandleFunc("GET /v1/users/{id}", s.auth(s.getUser))
		m.HandleFunc("PUT /v1/users/{id}", s.auth(s.putUser))
		m.HandleFunc("DELETE /v1/users/{id}", s.auth(s.deleteUser))
		m.HandleFunc("POST /v1/login", s.login)
		m.HandleFunc("POST /v1/logout", s.logout)
	}
	if s.cfg.Tasks != nil {
		m.HandleFunc("GET /v1/tasks", s.taskAuth(s.listTasks))
		m.HandleFunc("GET /v1/tasks/{id}", s.taskAuth(s.getTask))
		for _, a := range []string{"claim", "complete", "reject", "reassign"} {
			m.HandleFunc("POST /v1/tasks/{id}/"+a, s.taskAuth(s.taskAction(a)))
		}
	}
	if s.cfg.Followers != nil {
		m.HandleFunc("GET /v1/followers", s.auth(s.listFollowers))
		m.HandleFunc("POST /v1/followers/{name}/rebuild", s.auth(s.rebuildFollower))
	}
	if s.cfg.Unsubscribe != nil {
		m.HandleFunc("GET /unsubscribe/{token}", s.unsubscribeForm)
		m.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "Not Found", fmt.Sprintf("no API endpoint %s %s; see the README for the API", r.Method, r.URL.Path))
	})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rw, r)
	s.cfg.Logger.Debug("http", "method", r.Method, "path", r.URL.Path, "status", rw.status, "duration", time.Since(start))
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// auth requires a configured bearer token when there are any.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(s.cfg.Tokens) > 0 {
			if !s.apiToken(r) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="storeflow"`)
				writeProblem(w, r, http.StatusUnauthorized, "Unauthorized", "send a configured API token as `Authorization: Bearer <token>`")
				return
			}
		}
		next(w, r)
	}
}

// bearer is the token of an `Authorization: Bearer` header.
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// apiToken reports whether the request carries a configured API token.
func (s *Server) apiToken(r *http.Request) bool {
	got, ok := bearer(r)
	valid := false
	for _, t := range s.cfg.Tokens {
		if ok && subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			valid = true
		}
	}
	return valid
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil && !s.cfg.Ready() {
		writeProblem(w, r, http.StatusServiceUnavailable, "Not Ready", "the runtime is starting or stopping")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiProblem is the body of every API error (RFC 7807).
type apiProblem struct {
	problem.Problem
	Errors any `json:"errors,omitempty"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, title, detail string) {
	writeProblemWith(w, r, status, title, detail, nil)
}

func writeProblemWith(w http.ResponseWriter, r *http.Request, status int, title, detail string, errs any) {
	p := apiProblem{Problem: problem.Problem{Type: "about:blank", Status: status, Title: title, Detail: detail, Instance: r.URL.Path}, Errors: errs}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// storeError maps store errors to API problems.
func storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "Not Found", err.Error())
	case errors.Is(err, store.ErrVersionExists):
		writeProblem(w, r, http.StatusConflict, "Version Exists", err.Error())
	case errors.Is(err, context.Canceled):
		writeProblem(w, r, http.StatusServiceUnavailable, "Shutting Down", "the server is stopping; try again")
	case errors.Is(err, runtime.ErrNoSlots), errors.Is(err, store.ErrFenced):
		w.Header().Set("Retry-After", "2")
		writeProblem(w, r, http.StatusServiceUnavailable, "Node Not Ready", err.Error())
	default:
		writeProblem(w, r, http.StatusInternalServerError, "Internal Error", err.Error())
	}
}
