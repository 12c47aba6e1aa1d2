package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/problem"
)

var epoch = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func doc(body string) string {
	return "document:\n  dsl: '1.0.3'\n  namespace: shop\n  name: t\n  version: '1.0.0'\n" + body
}

func load(t *testing.T, body string) *dsl.Workflow {
	t.Helper()
	wf, err := dsl.Load("t.yaml", []byte(doc(body)))
	require.NoError(t, err)
	return wf
}

// sink is a local HTTP service that records what it receives.
type sink struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	srv      *httptest.Server
	failures map[string]int // path → remaining 503 answers
}

func newSink(t *testing.T) *sink {
	s := &sink{failures: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, r)
		s.bodies = append(s.bodies, string(body))
		fail := s.failures[r.URL.Path]
		if fail > 0 {
			s.failures[r.URL.Path] = fail - 1
		}
		s.mu.Unlock()
		switch {
		case fail > 0:
			http.Error(w, "try later", http.StatusServiceUnavailable)
		case strings.HasPrefix(r.URL.Path, "/missing"):
			http.Error(w, "no such thing", http.StatusNotFound)
		case strings.HasPrefix(r.URL.Path, "/slow"):
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery, "method": r.Method, "body": string(body), "key": r.Header.Get("Idempotency-Key")})
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func runLocal(t *testing.T, wf *dsl.Workflow, input any, opts ...func(*engine.Local)) *engine.Result {
	t.Helper()
	vc := clock.NewVirtual(epoch)
	l := &engine.Local{Engine: engine.New(vc), Connectors: catalog.Default(catalog.Options{}), Virtual: vc}
	for _, o := range opts {
		o(l)
	}
	res, err := l.Run(context.Background(), wf, input)
	require.NoError(t, err)
	return res
}

func TestTaskTypes(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	cases := []struct {
		name   string
		body   string
		input  any
		output any
		fault  string // expected error type short name when faulted
	}{
		{"set and data flow", `input:
  from: .order
do:
  - total:
      set:
        sum: ${ [.lines[] | .price * .qty] | add }
        currency: ${ $input.currency }
      output:
        as: .sum
      export:
        as: '{ total: . }'
  - report:
      set:
        total: ${ $context.total }
        doubled: ${ . * 2 }
output:
  as: .
`, map[string]any{"order": map[string]any{"currency": "EUR", "lines": []any{map[string]any{"price": 10, "qty": 2}, map[string]any{"price": 5, "qty": 1}}}},
			map[string]any{"total": 25, "doubled": 50}, ""},
		{"switch with default and jump", `do:
  - route:
      switch:
        - vip:
            when: .spent > 1000
            then: vip
        - other:
            then: regular
  - vip:
      set: {segment: vip}
      then: end
  - regular:
      set: {segment: regular}
`, map[string]any{"spent": 50}, map[string]any{"segment": "regular"}, ""},
		{"if skips a task", `do:
  - discount:
      if: .firstOrder
      set: {code: WELCOME10}
  - after:
      set: '${ . + {checked: true} }'
`, map[string]any{"firstOrder": false}, map[string]any{"firstOrder": false, "checked": true}, ""},
		{"for with while and custom names", `do:
  - lines:
      for: {each: line, at: i, in: .lines}
      while: ${ (.count // 0) < 2 }
      do:
        - add:
            set:
              count: ${ (.count // 0) + 1 }
              skus: ${ (.skus // []) + [ $line.sku + ":" + ($i|tostring) ] }
`, map[string]any{"lines": []any{map[string]any{"sku": "a"}, map[string]any{"sku": "b"}, map[string]any{"sku": "c"}}},
			map[string]any{"count": 2, "skus": []any{"a:0", "b:1"}}, ""},
		{"fork without compete collects branch outputs", `do:
  - both:
      fork:
        branches:
          - one: {set: {n: 1}}
          - two: {set: {n: 2}}
`, nil, []any{map[string]any{"n": 1}, map[string]any{"n": 2}}, ""},
		{"do task nests a list and exit leaves it", `do:
  - inner:
      do:
        - a:
            set: {step: a}
            then: exit
        - b:
            set: {step: b}
  - outer:
      set: '${ . + {outer: true} }'
`, nil, map[string]any{"step": "a", "outer": true}, ""},
		{"raise reusable error with expressions", `use:
  errors:
    outOfStock:
      type: https://shop.example/errors/out-of-stock
      status: 409
      title: Out of stock
      detail: ${ "sku " + .sku + " is sold out" }
do:
  - check:
      raise:
        error: outOfStock
`, map[string]any{"sku": "TEE-1"}, nil, "https://shop.example/errors/out-of-stock"},
		{"try catch with as, when and catch.do", `do:
  - guarded:
      try:
        - fail:
            raise:
              error:
                type: https://shop.example/errors/declined
                status: 402
      catch:
        errors:
          with:
            status: 402
        as: err
        when: ${ $err.type | endswith("declined") }
        do:
          - note:
              set:
                declined: ${ $err.status }
                where: ${ $err.instance }
`, nil, map[string]any{"declined": 402, "where": "/do/0/guarded/try/0/fail"}, ""},
		{"exceptWhen lets the error through", `do:
  - guarded:
      try:
        - fail:
            raise:
              error: {type: https://x/e, status: 400}
      catch:
        exceptWhen: ${ $error.status == 400 }
`, nil, nil, "https://x/e"},
		{"emit returns the event", `do:
  - announce:
      emit:
        event:
          with:
            type: com.shop.cart.recovered.v1
            source: https://shop.example
            data: '${ {cart: .cart} }'
      output:
        as: '{type, data, spec: .specversion}'
`, map[string]any{"cart": "c1"}, map[string]any{"type": "com.shop.cart.recovered.v1", "data": map[string]any{"cart": "c1"}, "spec": "1.0"}, ""},
		{"wait passes input through", `do:
  - pause:
      wait: P7D
`, map[string]any{"x": 1}, map[string]any{"x": 1}, ""},
		{"http call with query, headers and body", fmt.Sprintf(`do:
  - post:
      call: http
      with:
        method: post
        endpoint: %s/orders/{id}
        query:
          expand: ${ .expand }
        headers:
          X-Shop: demo
        body:
          note: ${ .note }
      output:
        as: '{path, query, method, body: (.body | fromjson)}'
`, s.srv.URL), map[string]any{"id": 42, "expand": "lines", "note": "gift"},
			map[string]any{"path": "/orders/42", "query": "expand=lines", "method": "POST", "body": map[string]any{"note": "gift"}}, ""},
		{"authorization descriptor", fmt.Sprintf(`do:
  - get:
      call: http
      with:
        method: get
        endpoint:
          uri: %s/me
          authentication:
            bearer:
              token: ${ .token }
      output:
        as: '{scheme: $authorization.scheme, path}'
`, s.srv.URL), map[string]any{"token": "t0k"}, map[string]any{"scheme": "Bearer", "path": "/me"}, ""},
		{"http error is a communication problem", fmt.Sprintf(`do:
  - get:
      call: http
      with:
        method: get
        endpoint: %s/missing
`, s.srv.URL), nil, nil, "communication"},
		{"custom function from use.functions", fmt.Sprintf(`use:
  functions:
    getOrder:
      call: http
      with:
        method: get
        endpoint:
          uri: ${ "%s/orders/" + (.id|tostring) }
do:
  - fetch:
      call: getOrder
      with:
        id: 7
      output:
        as: .path
`, s.srv.URL), nil, "/orders/7", ""},
		{"expression error is an expression problem", `do:
  - bad:
      set:
        x: ${ .a.b.c | tonumber }
`, map[string]any{"a": map[string]any{"b": map[string]any{"c": "nope"}}}, nil, "expression"},
		{"input schema rejects bad input", `input:
  schema:
    document:
      type: object
      required: [email]
do:
  - a: {set: {ok: true}}
`, map[string]any{"name": "x"}, nil, "validation"},
		{"output schema checks task output", `do:
  - a:
      set: {total: "12"}
      output:
        schema:
          document:
            type: object
            properties: {total: {type: number}}
`, nil, nil, "validation"},
		{"unsupported call kind fails clearly", `do:
  - g:
      call: grpc
      with:
        proto: {endpoint: file://x.proto}
        service: {name: S, host: localhost}
        method: M
`, nil, nil, "runtime"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runLocal(t, load(t, tc.body), tc.input)
			in := res.Instance
			if tc.fault != "" {
				require.Equal(t, engine.StatusFaulted, in.Status, "output: %v", in.Output)
				require.Equal(t, tc.fault, problem.ShortType(in.Error.Type), "error: %v", in.Error)
				require.NotEmpty(t, in.Error.Instance)
				return
			}
			require.Equal(t, engine.StatusCompleted, in.Status, "error: %v", in.Error)
			require.Equal(t, jsonValue(t, tc.output), jsonValue(t, in.Output))
		})
	}
}

func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
