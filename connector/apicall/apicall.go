// Package apicall sends the one HTTP request of a connector that posts to
// a web API (a Slack webhook, Twilio's Messages API) and turns its failures
// into problems that say whether trying again can help, as every storeflow
// connector does: status 503 is transient (the service was unavailable,
// throttled the call with 429, or did not answer in time) and worth
// retrying with the same idempotency key; any other status is final.
package apicall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/storeflow/storeflow/problem"
)

// MaxBody bounds what is read of an answer.
const MaxBody = 1 << 20

// Client is the HTTP client of connectors that set none: it gives up after
// 30 seconds and follows no redirect (an API that redirects a POST is
// misconfigured, and following would turn it into a GET).
var Client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Response is a service's answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send sends req with client (Client when nil) and returns a 2xx answer.
// Any other answer is the problem Failure makes of it, with describe
// (Snippet when nil) rendering what the service said.
func Send(ctx context.Context, client *http.Client, req *http.Request, service string, describe func([]byte) string) (*Response, error) {
	if client == nil {
		client = Client
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "storeflow")
	}
	resp, err := Do(ctx, client, req, service)
	if err != nil {
		return nil, err
	}
	if resp.Status < 200 || resp.Status > 299 {
		if describe == nil {
			describe = Snippet
		}
		return nil, Failure(service, resp.Status, describe(resp.Body))
	}
	return resp, nil
}

// Do sends req and reads the answer, whatever its status. service names
// the API in problems ("Slack webhook"): the request's URL never appears
// in them, since it may be a credential (a Slack webhook's path is). A
// transport failure is a transient problem; a cancelled context is
// returned as itself.
func Do(ctx context.Context, client *http.Client, req *http.Request, service string) (*Response, error) {
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL
		}
		return nil, transport(ctx, service, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, transport(ctx, service, err)
	}
	if len(body) > MaxBody {
		return nil, problem.Newf(problem.TypeCommunication, 502, "Response Too Large", "%s answered with more than %d bytes", service, MaxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func transport(ctx context.Context, service string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("%s: %w", service, ctx.Err())
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return problem.Newf(problem.TypeTimeout, 503, "Service Timeout", "%s did not answer in time; try again later with the same idempotency key", service)
	}
	return problem.Newf(problem.TypeCommunication, 503, "Service Unreachable", "%s could not be reached: %v; try again later with the same idempotency key", service, err)
}

// Failure is the problem of an answer outside 2xx; detail is what the
// service said. 429 and 5xx are transient (status 503, the service's own
// status in the detail); 401 is an authentication and 403 an authorization
// problem; any other 4xx keeps its status, as a communication problem.
func Failure(service string, status int, detail string) *problem.Problem {
	said := fmt.Sprintf("%s answered %d %s", service, status, http.StatusText(status))
	if detail = strings.TrimSpace(detail); detail != "" {
		said += ": " + detail
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return problem.Newf(problem.TypeCommunication, 503, "Service Unavailable", "%s; try again later with the same idempotency key", said)
	case status == http.StatusUnauthorized:
		return problem.Newf(problem.TypeAuthentication, 401, "Service Authentication Failed", "%s; check the credentials in storeflow's configuration", said)
	case status == http.StatusForbidden:
		return problem.Newf(problem.TypeAuthorization, 403, "Service Refused", "%s", said)
	default:
		return problem.Newf(problem.TypeCommunication, status, http.StatusText(status), "%s; it is not retried", said)
	}
}

// Snippet shortens a service's answer for a problem's detail.
func Snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// CheckURL parses the URL of a service: absolute and https, or plain http
// to a loopback host (a local test server or demo).
func CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && Loopback(u.Hostname())) {
		return nil, fmt.Errorf("%q is not an https URL; plain http is allowed only to a loopback host", raw)
	}
	return u, nil
}

// Loopback reports whether host is localhost or a loopback address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
