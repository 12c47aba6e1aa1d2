// Package httpcall performs the DSL's `call: http` and `call: openapi` with
// real HTTP, turning every failure into problem details a workflow can catch.
package httpcall

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/problem"
)

// MaxResponseBody bounds what a call reads of a response.
const MaxResponseBody = 16 << 20

// Request is a fully resolved HTTP call.
type Request struct {
	Method         string            `json:"method"`
	URI            string            `json:"uri"`
	Headers        map[string]string `json:"headers,omitempty"`
	Query          map[string]string `json:"query,omitempty"`
	Body           any               `json:"body,omitempty"`
	Output         string            `json:"output,omitempty"` // content (default), response, raw
	Redirect       bool              `json:"redirect,omitempty"`
	Auth           *Auth             `json:"auth,omitempty"`
	IdempotencyKey string            `json:"idempotencyKey,omitempty"`
}

// Auth holds the credentials of one authentication scheme.
type Auth struct {
	Basic  *BasicAuth  `json:"basic,omitempty"`
	Bearer *BearerAuth `json:"bearer,omitempty"`
	Digest *BasicAuth  `json:"digest,omitempty"`
	OAuth2 *OAuth2     `json:"oauth2,omitempty"`
	// OIDC marks OAuth2 settings that came from an `oidc` policy: the token
	// endpoint is discovered from the authority.
	OIDC bool `json:"oidc,omitempty"`
}

// BasicAuth is a username and password.
type BasicAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// BearerAuth is a bearer token.
type BearerAuth struct {
	Token string `json:"token"`
}

// OAuth2 configures a token request.
type OAuth2 struct {
	Authority     string   `json:"authority"`
	Grant         string   `json:"grant"`
	ClientID      string   `json:"clientId,omitempty"`
	ClientSecret  string   `json:"clientSecret,omitempty"`
	ClientAuth    string   `json:"clientAuth,omitempty"` // client_secret_post (default), client_secret_basic, none
	Encoding      string   `json:"encoding,omitempty"`   // application/x-www-form-urlencoded (default) or application/json
	TokenEndpoint string   `json:"tokenEndpoint,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	Audiences     []string `json:"audiences,omitempty"`
	Username      string   `json:"username,omitempty"`
	Password      string   `json:"password,omitempty"`
}

// Client performs calls. The zero value is ready to use.
type Client struct {
	HTTP   *http.Client
	Logger *slog.Logger

	mu     sync.Mutex
	tokens map[string]token
	docs   map[string]*apiDoc
}

type token struct {
	value   string
	expires time.Time
}

var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

func (c *Client) httpClient(redirect bool) *http.Client {
	base := c.HTTP
	if base == nil {
		base = defaultHTTP
	}
	if redirect {
		return base
	}
	cp := *base
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func (c *Client) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

// Do performs an HTTP call and returns its output as the workflow sees it.
func (c *Client) Do(ctx context.Context, r Request) (any, error) {
	method := strings.ToUpper(strings.TrimSpace(r.Method))
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(r.URI)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Invalid Endpoint",
			Detail: fmt.Sprintf("endpoint %q is not an absolute http(s) URI", r.URI)}
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for k, v := range r.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	body, contentType, err := encodeBody(r.Body)
	if err != nil {
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Invalid Body", Detail: err.Error()}
	}
	build := func() (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Accept", "application/json, */*;q=0.5")
		req.Header.Set("User-Agent", "storeflow")
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		if r.IdempotencyKey != "" {
			req.Header.Set("Idempotency-Key", r.IdempotencyKey)
		}
		return req, nil
	}
	req, err := build()
	if err != nil {
		return nil, &problem.Problem{Type: problem.TypeConfiguration, Status: 400, Title: "Invalid Request", Detail: err.Error()}
	}
	if err := c.authorize(ctx, req, r.Auth); err != nil {
		return nil, err
	}
	client := c.httpClient(r.Redirect)
	resp, err := client.Do(req)
	if err != nil {
		return nil, transportProblem(method, u, err)
	}
	if resp.StatusCode == http.StatusUnauthorized && r.Auth != nil && r.Auth.Digest != nil {
		challenge := resp.Header.Get("WWW-Authenticate")
		drain(resp)
		req, err = build()
		if err != nil {
			return nil, transportProblem(method, u, err)
		}
		if err := digestAuthorize(req, r.Auth.Digest, challenge); err != nil {
			return nil, &problem.Problem{Type: problem.TypeAuthentication, Status: 401, Title: "Digest Authentication Failed", Detail: err.Error()}
		}
		if resp, err = client.Do(req); err != nil {
			return nil, transportProblem(method, u, err)
		}
	}
	defer drain(resp)
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, transportProblem(method, u, err)
	}
	if len(data) > MaxResponseBody {
		return nil, &problem.Problem{Type: problem.TypeCommunication, Status: 502, Title: "Response Too Large",
			Detail: fmt.Sprintf("%s %s answered with more than %d bytes", method, redact(u), MaxResponseBody)}
	}
	c.logger().Debug("http call", "method", method, "uri", redact(u), "status", resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &problem.Problem{Type: problem.TypeCommunication, Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode),
			Detail: fmt.Sprintf("%s %s answered %d: %s", method, redact(u), resp.StatusCode, snippet(data))}
	}
	switch r.Output {
	case "raw":
		return base64.StdEncoding.EncodeToString(data), nil
	case "response":
		content, err := decodeContent(resp.Header.Get("Content-Type"), data)
		if err != nil {
			return nil, err
		}
		reqHeaders := map[string]any{}
		for k := range req.Header {
			if !sensitiveHeader(k) {
				reqHeaders[k] = req.Header.Get(k)
			}
		}
		headers := map[string]any{}
		for k := range resp.Header {
			headers[k] = resp.Header.Get(k)
		}
		return map[string]any{
			"request":    map[string]any{"method": method, "uri": redact(u), "headers": reqHeaders},
			"statusCode": resp.StatusCode,
			"headers":    headers,
			"content":    content,
		}, nil
	}
	return decodeContent(resp.Header.Get("Content-Type"), data)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

func sensitiveHeader(k string) bool {
	k = strings.ToLower(k)
	return k == "authorization" || k == "cookie" || k == "proxy-authorization"
}

// redact drops credentials from a URI before it appears in output or logs.
func redact(u *url.URL) string {
	if u.User == nil {
		return u.String()
	}
	cp := *u
	cp.User = nil
	return cp.String()
}

func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

func transportProblem(method string, u *url.URL, err error) *problem.Problem {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &problem.Problem{Type: problem.TypeTimeout, Status: 408, Title: "Request Timeout",
			Detail: fmt.Sprintf("%s %s did not answer in time", method, redact(u))}
	}
	return &problem.Problem{Type: problem.TypeCommunication, Status: 500, Title: "Communication Error",
		Detail: fmt.Sprintf("%s %s failed: %v", method, redact(u), err)}
}

func encodeBody(body any) ([]byte, string, error) {
	switch b := body.(type) {
	case nil:
		return nil, "", nil
	case string:
		return []byte(b), "text/plain; charset=utf-8", nil
	case []byte:
		return b, "application/octet-stream", nil
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, "", fmt.Errorf("encode body as JSON: %w", err)
	}
	return data, "application/json", nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func decodeContent(contentType string, data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if !isJSON(contentType) {
		return string(data), nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &problem.Problem{Type: problem.TypeCommunication, Status: 502, Title: "Invalid Response",
			Detail: fmt.Sprintf("the response says it is JSON but is not: %v", err)}
	}
	return numbers(v), nil
}

// numbers turns json.Number into int when integral, float64 otherwise.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && i >= -1<<53 && i <= 1<<53 {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, val := range x {
			x[k] = numbers(val)
		}
	case []any:
		for i, val := range x {
			x[i] = numbers(val)
		}
	}
	return v
}

// Call performs `call: http` and `call: openapi` for the connector
// registry: the request's arguments are a Request or an OpenAPIRequest in
// JSON form, and the request's idempotency key is sent with it.
func (c *Client) Call(ctx context.Context, req connector.Request) (any, error) {
	switch req.Kind {
	case connector.KindHTTP:
		var r Request
		if err := connector.DecodeArgs(req, &r); err != nil {
			return nil, err
		}
		r.IdempotencyKey = req.IdempotencyKey
		return c.Do(ctx, r)
	case connector.KindOpenAPI:
		var r OpenAPIRequest
		if err := connector.DecodeArgs(req, &r); err != nil {
			return nil, err
		}
		r.IdempotencyKey = req.IdempotencyKey
		return c.DoOpenAPI(ctx, r)
	}
	return nil, connector.NotFound(req)
}
