// Package demo is the simulated shop of `storeflow demo`: fictitious
// customers who sign up, start checkouts, buy, get deliveries and return
// things, sent as signed Shopify webhooks to a storeflow's real webhook
// ingress (Simulator), and the stand-ins of the services the shop's
// workflows call: its Admin API (discount codes, tags, order notes), its
// Slack and its purchasing system (StandIn). Nothing reaches the network.
package demo

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Call is a request a stand-in answered.
type Call struct {
	Seq     int       `json:"seq"`
	At      time.Time `json:"at"`
	Service string    `json:"service"` // shopify-admin, slack, purchasing
	// Operation names what was asked: a GraphQL operation, "post".
	Operation string `json:"operation"`
	Request   any    `json:"request,omitempty"`
	Response  any    `json:"response,omitempty"`
}

// StandIn answers, on a loopback port, as the shop's Shopify Admin API
// (/admin/api/VERSION/graphql.json, the operations storeflow's shop
// built-ins make), a Slack incoming webhook (/slack), a purchasing system
// (/purchase-orders) and back-office systems (/systems/erp/…,
// /systems/crm/…), keeping what it was asked. It is safe for
// concurrent use.
type StandIn struct {
	// Token is the Admin API access token it accepts.
	Token string

	srv *http.Server
	ln  net.Listener

	mu        sync.Mutex
	calls     []Call
	seq       int
	discounts map[string]map[string]any // by code
	tags      map[string][]string       // by customer gid
	notes     map[string]string         // by order gid
	records   map[string]string         // ids of back-office records, by path
	orders    int
}

// StartStandIn listens on a free loopback port.
func StartStandIn(token string) (*StandIn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo stand-in: %w", err)
	}
	s := &StandIn{Token: token, ln: ln, discounts: map[string]map[string]any{}, tags: map[string][]string{}, notes: map[string]string{}, records: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/api/{version}/graphql.json", s.graphql)
	mux.HandleFunc("POST /slack", s.slack)
	mux.HandleFunc("POST /purchase-orders", s.purchaseOrder)
	mux.HandleFunc("PUT /systems/{system}/", s.system)
	mux.HandleFunc("POST /systems/{system}/", s.system)
	mux.Handle("GET /", s)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the stand-in's root, http://127.0.0.1:PORT.
func (s *StandIn) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops it.
func (s *StandIn) Close() error { return s.srv.Close() }

// Calls returns what it answered, oldest first.
func (s *StandIn) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls a service answered.
func (s *StandIn) Count(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Service == service {
			n++
		}
	}
	return n
}

func (s *StandIn) record(service, op string, req, resp any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.calls = append(s.calls, Call{Seq: s.seq, At: time.Now().UTC(), Service: service, Operation: op, Request: req, Response: resp})
	if len(s.calls) > 5000 {
		s.calls = append([]Call(nil), s.calls[len(s.calls)-5000:]...)
	}
}

// ServeHTTP lists the calls as JSON, newest first (?service= keeps one
// service's): the demo mounts it beside the API.
func (s *StandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	all := s.Calls()
	out := []Call{}
	for i := len(all) - 1; i >= 0 && len(out) < 200; i-- {
		if service == "" || all[i].Service == service {
			out = append(out, all[i])
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": out})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *StandIn) slack(w http.ResponseWriter, r *http.Request) {
	var msg map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.record("slack", "post", msg, "ok")
	_, _ = io.WriteString(w, "ok")
}

func (s *StandIn) purchaseOrder(w http.ResponseWriter, r *http.Request) {
	var po map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&po); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	s.mu.Lock()
	s.orders++
	id := fmt.Sprintf("PO-%04d", s.orders)
	s.mu.Unlock()
	resp := map[string]any{"id": id, "status": "draft"}
	s.record("purchasing", "create draft", po, resp)
	writeJSON(w, http.StatusCreated, resp)
}

// system answers as a back-office system (an ERP, invoicing, a CRM)
// that keeps records by path: PUT or POST /systems/NAME/… gives the
// record an id of that system, the same one again for the same path.
func (s *StandIn) system(w http.ResponseWriter, r *http.Request) {
	var rec any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rec); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	name := r.PathValue("system")
	s.mu.Lock()
	id, ok := s.records[r.URL.Path]
	if !ok || r.Method == http.MethodPost {
		s.orders++
		id = fmt.Sprintf("%s-%d", strings.ToUpper(name), s.orders)
		s.records[r.URL.Path] = id
	}
	s.mu.Unlock()
	resp := map[string]any{"id": id}
	s.record(name, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/systems/"+name), rec, resp)
	writeJSON(w, http.StatusOK, resp)
}

var operation = regexp.MustCompile(`^\s*(query|mutation)\s+(\w+)`)

// graphql answers the operations of connector/shopadmin as Shopify's
// Admin API would, from its memory of the codes, tags and notes it made.
func (s *StandIn) graphql(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Shopify-Access-Token") != s.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	var req struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": err.Error()})
		return
	}
	m := operation.FindStringSubmatch(req.Query)
	if m == nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{"message": "no operation", "extensions": map[string]any{"code": "BAD_REQUEST"}}}})
		return
	}
	op := m[1] + " " + m[2]
	data := s.answer(op, req.Variables)
	if data == nil {
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{"message": "the stand-in does not know " + op, "extensions": map[string]any{"code": "BAD_REQUEST"}}}})
		return
	}
	s.record("shopify-admin", m[2], req.Variables, data)
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *StandIn) answer(op string, vars map[string]any) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	str := func(v any) string { x, _ := v.(string); return x }
	switch op {
	case "mutation StoreflowDiscountCreate", "mutation StoreflowFreeShippingCreate":
		in, _ := vars["discount"].(map[string]any)
		code := str(in["code"])
		if _, taken := s.discounts[code]; taken {
			return map[string]any{"result": map[string]any{"codeDiscountNode": nil,
				"userErrors": []any{map[string]any{"field": []any{"basicCodeDiscount", "code"}, "code": "TAKEN", "message": "Code must be unique."}}}}
		}
		typename := "DiscountCodeBasic"
		if op == "mutation StoreflowFreeShippingCreate" {
			typename = "DiscountCodeFreeShipping"
		}
		node := map[string]any{"id": "gid://shopify/DiscountCodeNode/" + strconv.Itoa(len(s.discounts)+1),
			"codeDiscount": map[string]any{"__typename": typename, "title": in["title"], "startsAt": in["startsAt"], "endsAt": in["endsAt"], "usageLimit": 1}}
		s.discounts[code] = node
		return map[string]any{"result": map[string]any{"codeDiscountNode": node, "userErrors": []any{}}}
	case "query StoreflowDiscountByCode":
		node, ok := s.discounts[str(vars["code"])]
		if !ok {
			return map[string]any{"codeDiscountNodeByCode": nil}
		}
		return map[string]any{"codeDiscountNodeByCode": node}
	case "query StoreflowCustomer":
		id := str(vars["id"])
		return map[string]any{"customer": map[string]any{"id": id, "email": nil, "tags": nonNil(s.tags[id])}}
	case "query StoreflowCustomerByEmail":
		// query is email:"…"; the demo's customers have ids of their
		// address's hash, so every address is a customer.
		email := strings.Trim(strings.TrimPrefix(str(vars["query"]), "email:"), `"`)
		h := fnv.New32a()
		_, _ = h.Write([]byte(email))
		id := "gid://shopify/Customer/" + strconv.FormatUint(uint64(h.Sum32()), 10)
		return map[string]any{"customers": map[string]any{"nodes": []any{map[string]any{"id": id, "email": email, "tags": nonNil(s.tags[id])}}}}
	case "mutation StoreflowTagsAdd":
		id := str(vars["id"])
		tags, _ := vars["tags"].([]any)
		for _, t := range tags {
			s.tags[id] = append(s.tags[id], str(t))
		}
		return map[string]any{"tagsAdd": map[string]any{"node": map[string]any{"id": id, "tags": nonNil(s.tags[id])}, "userErrors": []any{}}}
	case "query StoreflowOrderNote":
		id := str(vars["id"])
		var note any
		if n, ok := s.notes[id]; ok {
			note = n
		}
		return map[string]any{"order": map[string]any{"id": id, "name": "#" + id[strings.LastIndex(id, "/")+1:], "note": note}}
	case "mutation StoreflowOrderNote":
		in, _ := vars["input"].(map[string]any)
		id := str(in["id"])
		s.notes[id] = str(in["note"])
		return map[string]any{"orderUpdate": map[string]any{"order": map[string]any{"id": id, "note": s.notes[id]}, "userErrors": []any{}}}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
