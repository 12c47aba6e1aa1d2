package sms_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/connector/sms"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
)

// twilio is a local stand-in for Twilio's Messages API that checks each
// request the way Twilio documents it: POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth with the
// account SID and auth token, a form with To in E.164, From or
// MessagingServiceSid, and Body. It answers 201 with a message resource,
// or Twilio's error shape {code, message, more_info, status}.
type twilio struct {
	*httptest.Server
	mu   sync.Mutex
	got  []twilioRequest
	fail func(form map[string]string) (status, code int, message string)
}

type twilioRequest struct {
	Form        map[string]string
	Idempotency string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func startTwilio(t *testing.T) *twilio {
	t.Helper()
	tw := &twilio{}
	tw.Server = httptest.NewServer(http.HandlerFunc(tw.serve))
	t.Cleanup(tw.Close)
	return tw
}

func (tw *twilio) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status, code int, message string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": message,
			"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
	}
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+accountSID+"/Messages.json" {
		fail(http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != accountSID || pass != authToken {
		fail(http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, 20001, "the body must be form-encoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, 20001, err.Error())
		return
	}
	form := map[string]string{}
	for k := range r.PostForm {
		form[k] = r.PostForm.Get(k)
	}
	switch {
	case !e164.MatchString(form["To"]):
		fail(http.StatusBadRequest, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", form["To"]))
		return
	case form["From"] == "" && form["MessagingServiceSid"] == "":
		fail(http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case form["Body"] == "":
		fail(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	tw.mu.Lock()
	tw.got = append(tw.got, twilioRequest{Form: form, Idempotency: r.Header.Get("I-Twilio-Idempotency-Token")})
	failWith := tw.fail
	tw.mu.Unlock()
	if failWith != nil {
		if status, code, message := failWith(form); status != 0 {
			fail(status, code, message)
			return
		}
	}
	sid := make([]byte, 16)
	_, _ = rand.Read(sid)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": "SM" + hex.EncodeToString(sid), "account_sid": accountSID, "api_version": "2010-04-01",
		"to": form["To"], "from": form["From"], "messaging_service_sid": form["MessagingServiceSid"], "body": form["Body"],
		"status": "queued", "num_segments": "1", "direction": "outbound-api", "error_code": nil, "error_message": nil,
	})
}

func (tw *twilio) requests() []twilioRequest {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return append([]twilioRequest(nil), tw.got...)
}

func (tw *twilio) account() *sms.Account {
	return &sms.Account{BaseURL: tw.URL, AccountSID: accountSID, AuthToken: authToken, From: "+44 7911 123456", Region: "DE"}
}

func call(c *sms.Connector, key string, args map[string]any) (any, error) {
	return c.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: sms.Name, Args: args, IdempotencyKey: key})
}

func TestSendsTheWayTwilioDocuments(t *testing.T) {
	t.Parallel()
	tw := startTwilio(t)
	c := &sms.Connector{Accounts: map[string]*sms.Account{"": tw.account()}}
	for i, to := range []string{"+49 151 23456789", "0151 23456789", "0049 (151) 234-567-89", "tel:+49-151-23456789"} {
		out, err := call(c, fmt.Sprintf("inst-%d/do/1/text", i), map[string]any{"to": to, "text": "Your order shipped 📦", "category": "transactional"})
		require.NoError(t, err, to)
		o := out.(map[string]any)
		require.Regexp(t, `^SM[0-9a-f]{32}$`, o["sid"])
		require.Equal(t, "queued", o["status"])
		require.Equal(t, "+4915123456789", o["to"])
		require.Equal(t, "+447911123456", o["from"])
		require.Equal(t, 1, o["segments"])
	}
	got := tw.requests()
	require.Len(t, got, 4)
	for i, r := range got {
		require.Equal(t, map[string]string{"To": "+4915123456789", "From": "+447911123456", "Body": "Your order shipped 📦"}, r.Form)
		require.Equal(t, fmt.Sprintf("inst-%d/do/1/text", i), r.Idempotency)
	}
}

func TestSenders(t *testing.T) {
	t.Parallel()
	tw := startTwilio(t)
	for _, tc := range []struct {
		name string
		mod  func(*sms.Account)
		want map[string]string
	}{
		{"messaging service", func(a *sms.Account) { a.From, a.MessagingServiceSID = "", "MG0123456789abcdef0123456789abcdef" },
			map[string]string{"MessagingServiceSid": "MG0123456789abcdef0123456789abcdef"}},
		{"alphanumeric sender ID", func(a *sms.Account) { a.From = "Acme Shop" }, map[string]string{"From": "Acme Shop"}},
		{"short code", func(a *sms.Account) { a.From = "89757" }, map[string]string{"From": "89757"}},
		{"national sender number", func(a *sms.Account) { a.From = "0151 23456789" }, map[string]string{"From": "+4915123456789"}},
	} {
		acct := tw.account()
		tc.mod(acct)
		_, err := call(&sms.Connector{Accounts: map[string]*sms.Account{"acme": acct}}, "k", map[string]any{"to": "+4915123456789", "text": "hi", "category": "marketing", "shop": "acme"})
		require.NoError(t, err, tc.name)
		got := tw.requests()
		form := got[len(got)-1].Form
		delete(form, "To")
		delete(form, "Body")
		require.Equal(t, tc.want, form, tc.name)
	}
}

func TestFailuresBecomeProblems(t *testing.T) {
	t.Parallel()
	args := map[string]any{"to": "+4915123456789", "text": "hi", "category": "transactional"}
	for _, tc := range []struct {
		name    string
		status  int
		code    int
		message string
		mod     func(*sms.Account)
		want    int
		typ     string
		details []string
	}{
		{name: "unsubscribed recipient", status: 400, code: 21610, message: "Attempt to send to unsubscribed recipient",
			want: 400, typ: problem.TypeCommunication, details: []string{"error 21610", "unsubscribed", "docs/errors/21610", "not retried"}},
		{name: "throttled", status: 429, code: 20429, message: "Too Many Requests",
			want: 503, typ: problem.TypeCommunication, details: []string{"429", "20429", "try again later"}},
		{name: "provider failure", status: 500, code: 20500, message: "Internal Server Error",
			want: 503, typ: problem.TypeCommunication, details: []string{"500"}},
		{name: "wrong token", mod: func(a *sms.Account) { a.AuthToken = "wrong" },
			want: 401, typ: problem.TypeAuthentication, details: []string{"error 20003", "credentials"}},
		{name: "wrong account", mod: func(a *sms.Account) { a.AccountSID = "AC" + strings.Repeat("f", 32) },
			want: 404, typ: problem.TypeCommunication, details: []string{"20404"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tw := startTwilio(t)
			tw.fail = func(map[string]string) (int, int, string) { return tc.status, tc.code, tc.message }
			acct := tw.account()
			if tc.mod != nil {
				tc.mod(acct)
			}
			_, err := call(&sms.Connector{Accounts: map[string]*sms.Account{"": acct}}, "k", args)
			p := problemtest.Require(t, err, tc.typ, tc.want, tc.details...)
			require.NotContains(t, p.Detail, authToken)
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := "http://" + l.Addr().String()
		require.NoError(t, l.Close())
		_, err = call(&sms.Connector{Accounts: map[string]*sms.Account{"": {BaseURL: base, AccountSID: accountSID, AuthToken: authToken, From: "Acme"}}}, "k", args)
		problemtest.Require(t, err, problem.TypeCommunication, 503, "could not be reached")
	})
	t.Run("not a message resource", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(201)
			_, _ = w.Write([]byte("<Response/>"))
		}))
		t.Cleanup(srv.Close)
		_, err := call(&sms.Connector{Accounts: map[string]*sms.Account{"": {BaseURL: srv.URL, AccountSID: accountSID, AuthToken: authToken, From: "Acme"}}}, "k", args)
		problemtest.Require(t, err, problem.TypeCommunication, 502, "not a Twilio message resource")
	})
}

func TestBadArgumentsAndConfiguration(t *testing.T) {
	t.Parallel()
	tw := startTwilio(t)
	international := tw.account()
	international.Region = ""
	c := &sms.Connector{Accounts: map[string]*sms.Account{"": tw.account(), "intl": international,
		"nosender": {BaseURL: tw.URL, AccountSID: accountSID, AuthToken: authToken},
		"insecure": {BaseURL: "http://api.example.com", AccountSID: accountSID, AuthToken: authToken, From: "Acme"}}}
	for _, tc := range []struct {
		name   string
		args   map[string]any
		status int
		want   []string
	}{
		{"national number without region", map[string]any{"to": "0151 23456789", "shop": "intl"}, 400, []string{"to:", "international form", "region"}},
		{"too few digits", map[string]any{"to": "+49 151"}, 400, []string{"to:", "not a valid phone number of DE"}},
		{"letters", map[string]any{"to": "call me"}, 400, []string{"to:", `"call me"`}},
		{"empty text", map[string]any{"text": "  "}, 400, []string{"text: empty"}},
		{"text too long", map[string]any{"text": strings.Repeat("ä", 1601)}, 400, []string{"1601 characters"}},
		{"no category", map[string]any{"category": nil}, 400, []string{"category: missing"}},
		{"bad category", map[string]any{"category": "promo"}, 400, []string{`"promo"`}},
		{"unknown argument", map[string]any{"body": "x"}, 400, []string{"body"}},
		{"no sender", map[string]any{"shop": "nosender"}, 500, []string{"sender is required"}},
		{"plain http", map[string]any{"shop": "insecure"}, 500, []string{"https"}},
	} {
		args := map[string]any{"to": "+4915123456789", "text": "hi", "category": "transactional"}
		for k, v := range tc.args {
			if v == nil {
				delete(args, k)
			} else {
				args[k] = v
			}
		}
		_, err := call(c, "k", args)
		typ := problem.TypeValidation
		if tc.status == 500 {
			typ = problem.TypeConfiguration
		}
		problemtest.Require(t, err, typ, tc.status, tc.want...)
	}
	_, err := call(&sms.Connector{Accounts: map[string]*sms.Account{"acme": tw.account()}}, "k", map[string]any{"to": "+4915123456789", "text": "hi", "category": "transactional", "shop": "other"})
	problemtest.Require(t, err, problem.TypeConfiguration, 500, `shop "other"`)
	require.Empty(t, tw.requests(), "nothing is sent when the arguments or the account are wrong")
}

func TestE164(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		number, region, want string
	}{
		{"+49 151 23456789", "", "+4915123456789"},
		{"0151/23456789", "de", "+4915123456789"},
		{"(415) 555-2671", "US", "+14155552671"},
		{"+1 415 555 2671", "GB", "+14155552671"},
		{"07911 123456", "GB", "+447911123456"},
		{"+33 6 12 34 56 78", "", "+33612345678"},
		{"0151 23456789", "", ""},
		{"+49 151 2345678901234", "", ""},
		{"", "DE", ""},
		{"+999 1234", "", ""},
	} {
		got, err := sms.E164(tc.number, tc.region)
		if tc.want == "" {
			require.Error(t, err, tc.number)
			continue
		}
		require.NoError(t, err, tc.number)
		require.Equal(t, tc.want, got, tc.number)
	}
}

// FuzzE164 normalises arbitrary input: no panic, and what it returns is
// E.164 that normalises to itself.
func FuzzE164(f *testing.F) {
	for _, s := range []string{"+49 151 23456789", "0151 23456789", "tel:+1-415-555-2671", "00441234", "+", "ext. 12"} {
		f.Add(s, "DE")
	}
	f.Fuzz(func(t *testing.T, number, region string) {
		got, err := sms.E164(number, region)
		if err != nil {
			return
		}
		require.Regexp(t, e164, got)
		again, err := sms.E164(got, "")
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

func TestBuiltinSchema(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	require.NoError(t, reg.Define(sms.Builtin, &sms.Connector{}))
	b, ok := reg.Builtin("sms.send:1.0.0@default")
	require.True(t, ok)
	require.NoError(t, b.CheckArgs(map[string]any{"to": "+4915123456789", "text": "hi", "category": "transactional", "shop": "acme"}))
	require.Error(t, b.CheckArgs(map[string]any{"to": "+4915123456789", "text": "hi"}))
	require.Error(t, b.CheckArgs(map[string]any{"to": "+4915123456789", "text": "", "category": "marketing"}))
	require.Error(t, b.CheckArgs(map[string]any{"to": "+4915123456789", "text": "hi", "category": "marketing", "from": "x"}))
}

func TestAccountsFromTheShopsConfiguration(t *testing.T) {
	t.Parallel()
	tw := startTwilio(t)
	c := &sms.Connector{Shops: shopconfig.Fixed(map[string]*shop.Shop{
		"acme":  {ID: "acme", Country: "GB", SMS: &shop.SMS{BaseURL: tw.URL, AccountSID: accountSID, AuthToken: authToken, From: "+4915112345678"}},
		"quiet": {ID: "quiet"},
	})}
	out, err := call(c, "k", map[string]any{"to": "07911 123456", "text": "hi", "category": "transactional", "shop": "acme"})
	require.NoError(t, err)
	require.Equal(t, "+447911123456", out.(map[string]any)["to"], "national numbers are read in the shop's country")
	require.Equal(t, map[string]string{"To": "+447911123456", "From": "+4915112345678", "Body": "hi"}, tw.requests()[0].Form)

	_, err = call(c, "k", map[string]any{"to": "+447911123456", "text": "hi", "category": "transactional", "shop": "quiet"})
	problemtest.Require(t, err, problem.TypeConfiguration, 500, `shop "quiet"`, "no SMS account")
}
