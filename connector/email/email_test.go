package email_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/connector/shopconfig"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/problem/problemtest"
	"github.com/storeflow/storeflow/shop"
)

var sentAt = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func request(key string, args map[string]any) connector.Request {
	return connector.Request{Kind: connector.KindFunction, Function: "email.send", Args: args,
		IdempotencyKey: key, Instance: "inst-1", Task: "/do/0/send", Attempt: 1, At: sentAt}
}

func newConnector(t *testing.T, s *email.Sender) *email.Connector {
	t.Helper()
	links, err := email.NewUnsubscribeLinks("https://flows.acme.example/u", []byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	return &email.Connector{Senders: map[string]*email.Sender{"": s}, Templates: &email.TemplateSet{},
		Unsubscribe: links, Clock: clock.NewVirtual(sentAt.Add(time.Second))}
}

var messageIDPattern = regexp.MustCompile(`^<[0-9a-f]{32}@acme\.example>$`)

func TestSendOverSecureConnectionsWithAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		security email.Security
		auth     string
		offered  []string
		wantTLS  bool
	}{
		{"starttls, plain", email.StartTLS, email.AuthPlain, nil, true},
		{"starttls, login", email.StartTLS, email.AuthLogin, nil, true},
		{"starttls, login when the server offers only that", email.StartTLS, "", []string{"LOGIN"}, true},
		{"implicit tls, best offered", email.TLS, "", nil, true},
		{"plain text to loopback", email.None, "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := serverOptions{Security: tc.security, DSN: true}
			if tc.security != email.None {
				opts.Users, opts.Mechanisms = map[string]string{"shop": "s3cret"}, tc.offered
			}
			ms := startMailServer(t, opts)
			s := senderFor(t, ms, tc.security, func(c *email.Config) {
				if tc.security != email.None {
					c.Username, c.Password, c.Auth = "shop", "s3cret", tc.auth
				}
				c.ReplyTo = &mail.Address{Address: "care@acme.example"}
			})
			out, err := newConnector(t, s).Call(context.Background(), request("inst-1/do/0/send", map[string]any{
				"to":       "Zoë Ågren <zoe@example.org>",
				"bcc":      []any{"audit@acme.example"},
				"subject":  "Ihre Bestellung {{.order}} ist unterwegs – danke schön!",
				"text":     "Hallo {{.customer.firstName}}, Bestellung {{.order}}.\nBis bald.",
				"html":     "<p>Hallo {{.customer.firstName}}</p>",
				"data":     map[string]any{"order": 1000001},
				"customer": map[string]any{"firstName": "Zoë"},
				"category": "transactional",
				"tags":     []any{"shipping"},
			}))
			require.NoError(t, err)

			got := ms.Received()
			require.Len(t, got, 1)
			r := got[0]
			require.Equal(t, tc.wantTLS, r.TLS)
			if tc.security != email.None {
				require.Equal(t, "shop", r.User)
			}
			require.Equal(t, "storeflow.test", r.Helo)
			require.Equal(t, "hello@acme.example", r.From)
			require.Equal(t, []string{"zoe@example.org", "audit@acme.example"}, r.To)

			m := parseMail(t, r.Data)
			require.Equal(t, "Ihre Bestellung 1000001 ist unterwegs – danke schön!", m.decoded(t, "Subject"))
			require.True(t, strings.HasPrefix(m.Header.Get("Subject"), "=?utf-8?q?"), "non-ASCII subjects are RFC 2047 encoded")
			from, err := m.Header.AddressList("From")
			require.NoError(t, err)
			require.Equal(t, []*mail.Address{{Name: "Acme Shop", Address: "hello@acme.example"}}, from)
			to, err := m.Header.AddressList("To")
			require.NoError(t, err)
			require.Equal(t, []*mail.Address{{Name: "Zoë Ågren", Address: "zoe@example.org"}}, to)
			require.Equal(t, "<care@acme.example>", m.Header.Get("Reply-To"))
			require.Empty(t, m.Header.Get("Bcc"), "bcc recipients are in the envelope only")
			date, err := m.Header.Date()
			require.NoError(t, err)
			require.True(t, sentAt.Equal(date), "Date is the request's time, not %v", date)
			require.Regexp(t, messageIDPattern, m.Header.Get("Message-ID"))
			require.Empty(t, m.Header.Get("List-Unsubscribe"), "transactional mail has no unsubscribe link")
			require.Equal(t, map[string]string{
				"text/plain": "Hallo Zoë, Bestellung 1000001.\r\nBis bald.",
				"text/html":  "<p>Hallo Zoë</p>",
			}, m.Parts)
			require.Equal(t, strings.Trim(m.Header.Get("Message-ID"), "<>")[:32], r.Opts.EnvelopeID, "DSNs carry the message's ID back")

			require.Equal(t, m.Header.Get("Message-ID"), out.(map[string]any)["messageId"])
			require.Equal(t, []any{"zoe@example.org"}, out.(map[string]any)["to"])
			require.Equal(t, []any{"audit@acme.example"}, out.(map[string]any)["bcc"])
			require.Equal(t, "transactional", out.(map[string]any)["category"])
			require.Equal(t, []any{"shipping"}, out.(map[string]any)["tags"])
			require.Equal(t, "2025-03-14T09:26:54Z", out.(map[string]any)["acceptedAt"])
		})
	}
}

func TestRetriedSendKeepsItsMessageID(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.StartTLS})
	c := newConnector(t, senderFor(t, ms, email.StartTLS, nil))
	args := map[string]any{"to": "ann@example.org", "subject": "Your receipt", "text": "Thanks!", "html": "<b>Thanks!</b>", "category": "transactional"}
	for range 2 {
		_, err := c.Call(context.Background(), request("inst-7/do/2/receipt", args))
		require.NoError(t, err)
	}
	_, err := c.Call(context.Background(), request("inst-8/do/2/receipt", args))
	require.NoError(t, err)

	got := ms.Received()
	require.Len(t, got, 3)
	require.Equal(t, got[0].Data, got[1].Data, "a retry sends the very same message")
	id := parseMail(t, got[0].Data).Header.Get("Message-ID")
	require.Equal(t, id, parseMail(t, got[1].Data).Header.Get("Message-ID"))
	require.NotEqual(t, id, parseMail(t, got[2].Data).Header.Get("Message-ID"), "another call gets another ID")
}

func TestMarketingMailCarriesOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.StartTLS})
	s := senderFor(t, ms, email.StartTLS, func(c *email.Config) { c.UnsubscribeMailto = "unsubscribe@acme.example" })
	c := newConnector(t, s)
	require.NoError(t, c.Templates.(*email.TemplateSet).Add("acme", "winback", email.Template{
		Subject: "We miss you, {{.customer.firstName}}",
		Text:    "Come back for 10% off: {{.code}}\nUnsubscribe: {{.unsubscribeUrl}}",
		HTML:    `<p>Come back for 10% off: {{.code}}</p><a href="{{.unsubscribeUrl}}">Unsubscribe</a>`,
	}))
	out, err := c.Call(context.Background(), request("inst-3/do/4/winback", map[string]any{
		"to": "ben@example.org", "template": "winback", "shop": "acme", "category": "marketing",
		"data": map[string]any{"code": "BACK10"}, "customer": map[string]any{"firstName": "Ben"},
	}))
	require.NoError(t, err)
	got := ms.Received()
	require.Len(t, got, 1)
	m := parseMail(t, got[0].Data)
	require.Equal(t, "We miss you, Ben", m.decoded(t, "Subject"))
	require.Equal(t, "List-Unsubscribe=One-Click", m.Header.Get("List-Unsubscribe-Post"))

	// List-Unsubscribe: <https://…/TOKEN>, <mailto:…?subject=unsubscribe%20TOKEN>
	list := m.Header.Get("List-Unsubscribe")
	match := regexp.MustCompile(`^<(https://flows\.acme\.example/u/([^>]+))>, <mailto:unsubscribe@acme\.example\?subject=unsubscribe%20([^>]+)>$`).FindStringSubmatch(list)
	require.NotNil(t, match, list)
	url, token := match[1], match[2]
	require.Equal(t, token, match[3])
	require.Equal(t, url, out.(map[string]any)["unsubscribeUrl"])
	require.Contains(t, m.Parts["text/plain"], "Unsubscribe: "+url)
	require.Contains(t, m.Parts["text/html"], `<a href="`+url+`">`)

	u, err := c.Unsubscribe.Verify(token)
	require.NoError(t, err)
	require.Equal(t, email.Unsubscription{Shop: "acme", Recipient: "ben@example.org", Channel: "email",
		MessageID: m.Header.Get("Message-ID"), IssuedAt: sentAt.Unix()}, u)
}

func TestNamedTemplates(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.StartTLS})
	c := newConnector(t, senderFor(t, ms, email.StartTLS, nil))
	set := c.Templates.(*email.TemplateSet)
	require.NoError(t, set.Add("", "order-confirmation", email.Template{
		Subject: "Order {{.event.data.number}} confirmed",
		Text:    "Hi {{or (index .customer \"firstName\") \"there\"}}, total {{.event.data.total}} {{.event.data.currency}}.",
		HTML:    "<p>Hi {{.customer.name}}</p><p>{{.note}}</p>",
	}))
	require.NoError(t, set.Add("acme", "order-confirmation", email.Template{Subject: "Acme order {{.event.data.number}}", Text: "Acme says thanks."}))
	require.Error(t, set.Add("acme", "broken", email.Template{Text: "{{.x"}), "a template that does not parse is refused")
	require.Error(t, set.Add("acme", "empty", email.Template{Subject: "only a subject"}))

	event := map[string]any{"type": "commerce.order.placed", "data": map[string]any{"number": 1000042, "total": "59.90", "currency": "EUR"}}
	_, err := c.Call(context.Background(), request("k1", map[string]any{
		"to": "cara@example.org", "template": "order-confirmation", "category": "transactional",
		"customer": map[string]any{"name": "Tom & <Jerry>"}, "event": event,
		"data": map[string]any{"note": "<script>alert(1)</script>"},
	}))
	require.NoError(t, err)
	_, err = c.Call(context.Background(), request("k2", map[string]any{
		"to": "cara@example.org", "template": "order-confirmation", "shop": "acme", "category": "transactional", "event": event,
	}))
	require.NoError(t, err)
	_, err = c.Call(context.Background(), request("k3", map[string]any{
		"to": "cara@example.org", "template": "order-confirmation", "shop": "acme", "category": "transactional", "event": event,
		"subject": "Thanks for order {{.event.data.number}}",
	}))
	require.NoError(t, err)

	got := ms.Received()
	require.Len(t, got, 3)
	shared := parseMail(t, got[0].Data)
	require.Equal(t, "Order 1000042 confirmed", shared.decoded(t, "Subject"))
	require.Equal(t, "Hi there, total 59.90 EUR.", shared.Parts["text/plain"])
	require.Equal(t, "<p>Hi Tom &amp; &lt;Jerry&gt;</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", shared.Parts["text/html"], "html/template escapes values")
	own := parseMail(t, got[1].Data)
	require.Equal(t, "Acme order 1000042", own.decoded(t, "Subject"), "a shop's own template comes before the shared one")
	require.Equal(t, map[string]string{"text/plain": "Acme says thanks."}, own.Parts)
	require.Equal(t, "Thanks for order 1000042", parseMail(t, got[2].Data).decoded(t, "Subject"), "the subject argument replaces the template's")
}

func TestBadArgumentsAreValidationProblems(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.StartTLS})
	c := newConnector(t, senderFor(t, ms, email.StartTLS, nil))
	require.NoError(t, c.Templates.(*email.TemplateSet).Add("", "hello", email.Template{Subject: "Hi", Text: "Hi {{.customer.firstName}}"}))
	base := func(mod map[string]any) map[string]any {
		args := map[string]any{"to": "dee@example.org", "subject": "Hi", "text": "Hello", "category": "transactional"}
		for k, v := range mod {
			if v == nil {
				delete(args, k)
			} else {
				args[k] = v
			}
		}
		return args
	}
	for _, tc := range []struct {
		name   string
		args   map[string]any
		status int
		typ    string
		want   []string
	}{
		{"missing to", base(map[string]any{"to": nil}), 400, problem.TypeValidation, []string{"to: missing"}},
		{"bad address", base(map[string]any{"to": "dee@"}), 400, problem.TypeValidation, []string{"to:", `"dee@"`, "name@example.com"}},
		{"bad cc", base(map[string]any{"cc": []any{"ok@example.org", "not an address"}}), 400, problem.TypeValidation, []string{"cc:", "not an address"}},
		{"non-ASCII address", base(map[string]any{"to": "jürgen@example.org"}), 400, problem.TypeValidation, []string{"to:", "non-ASCII"}},
		{"bad reply-to", base(map[string]any{"replyTo": "nobody"}), 400, problem.TypeValidation, []string{"replyTo:"}},
		{"missing category", base(map[string]any{"category": nil}), 400, problem.TypeValidation, []string{"category: missing"}},
		{"unknown category", base(map[string]any{"category": "newsletter"}), 400, problem.TypeValidation, []string{"category:", "newsletter"}},
		{"unknown argument", base(map[string]any{"body": "x"}), 400, problem.TypeValidation, []string{"email.send", "body"}},
		{"missing template", base(map[string]any{"text": nil, "template": "nope"}), 400, problem.TypeValidation, []string{"template:", `"nope"`}},
		{"template and inline", base(map[string]any{"template": "hello"}), 400, problem.TypeValidation, []string{"template:", "not both"}},
		{"template data missing", base(map[string]any{"text": nil, "template": "hello"}), 400, problem.TypeValidation, []string{"template hello (text)", `"firstName"`, "data, customer or event"}},
		{"inline syntax error", base(map[string]any{"text": "Hi {{.name"}), 400, problem.TypeValidation, []string{"inline (text)", "syntax"}},
		{"missing subject", base(map[string]any{"subject": nil}), 400, problem.TypeValidation, []string{"subject: empty"}},
		{"subject too long", base(map[string]any{"subject": strings.Repeat("x", 1000)}), 400, problem.TypeValidation, []string{"subject:", "900"}},
		{"data not an object", base(map[string]any{"data": []any{1}}), 400, problem.TypeValidation, []string{"data: must be an object"}},
		{"no body", base(map[string]any{"text": "  {{/* nothing */}} "}), 400, problem.TypeValidation, []string{"empty body"}},
		{"marketing to several", base(map[string]any{"category": "marketing", "to": []any{"a@example.org", "b@example.org"}}), 400, problem.TypeValidation, []string{"one recipient"}},
		{"marketing with cc", base(map[string]any{"category": "marketing", "cc": "b@example.org"}), 400, problem.TypeValidation, []string{"without cc or bcc"}},
		{"unknown shop without default", nil, 500, problem.TypeConfiguration, []string{`shop "elsewhere"`}},
		{"marketing without unsubscribe links", nil, 500, problem.TypeConfiguration, []string{"unsubscribe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc, args := c, tc.args
			switch tc.name {
			case "unknown shop without default":
				cc = &email.Connector{Senders: map[string]*email.Sender{"acme": c.Senders[""]}}
				args = base(map[string]any{"shop": "elsewhere"})
			case "marketing without unsubscribe links":
				cc = &email.Connector{Senders: c.Senders}
				args = base(map[string]any{"category": "marketing"})
			}
			_, err := cc.Call(context.Background(), request("k", args))
			problemtest.Require(t, err, tc.typ, tc.status, tc.want...)
		})
	}
	t.Cleanup(func() { require.Empty(t, ms.Received(), "nothing reaches the server when the arguments are wrong") })
}

func TestSMTPFailuresBecomeProblems(t *testing.T) {
	t.Parallel()
	reject := func(code int, enh smtp.EnhancedCode, msg string) error {
		return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
	}
	args := map[string]any{"to": []any{"eve@example.org", "gone@example.org"}, "subject": "Hi", "text": "Hello", "category": "transactional"}
	for _, tc := range []struct {
		name   string
		server serverOptions
		sender func(*mailServer) *email.Sender
		status int
		typ    string
		want   []string
	}{
		{
			name: "recipient refused for good",
			server: serverOptions{Security: email.StartTLS, RcptErr: func(to string) error {
				if to == "gone@example.org" {
					return reject(550, smtp.EnhancedCode{5, 1, 1}, "mailbox unavailable")
				}
				return nil
			}},
			status: 422, typ: problem.TypeCommunication, want: []string{"RCPT TO <gone@example.org>", "550 5.1.1 mailbox unavailable", "not retried"},
		},
		{
			name:   "recipient deferred",
			server: serverOptions{Security: email.StartTLS, RcptErr: func(string) error { return reject(451, smtp.EnhancedCode{4, 7, 1}, "greylisted, try again") }},
			status: 503, typ: problem.TypeCommunication, want: []string{"451 4.7.1 greylisted", "same Message-ID <"},
		},
		{
			name:   "message refused",
			server: serverOptions{Security: email.StartTLS, DataErr: func() error { return reject(554, smtp.EnhancedCode{5, 7, 1}, "looks like spam") }},
			status: 422, typ: problem.TypeCommunication, want: []string{"end of data", "554 5.7.1 looks like spam"},
		},
		{
			name:   "message deferred",
			server: serverOptions{Security: email.StartTLS, DataErr: func() error { return reject(452, smtp.EnhancedCode{4, 3, 1}, "insufficient storage") }},
			status: 503, typ: problem.TypeCommunication, want: []string{"452 4.3.1", "may have taken the message"},
		},
		{
			name:   "wrong password",
			server: serverOptions{Security: email.StartTLS, Users: map[string]string{"shop": "right"}},
			sender: func(ms *mailServer) *email.Sender {
				return senderFor(t, ms, email.StartTLS, func(c *email.Config) { c.Username, c.Password = "shop", "wrong" })
			},
			status: 401, typ: problem.TypeAuthentication, want: []string{"at AUTH", "535", "username and password"},
		},
		{
			name:   "mechanism not offered",
			server: serverOptions{Security: email.StartTLS, Users: map[string]string{"shop": "pw"}, Mechanisms: []string{"PLAIN"}},
			sender: func(ms *mailServer) *email.Sender {
				return senderFor(t, ms, email.StartTLS, func(c *email.Config) { c.Username, c.Password, c.Auth = "shop", "pw", email.AuthLogin })
			},
			status: 502, typ: problem.TypeConfiguration, want: []string{"offers PLAIN", "LOGIN"},
		},
		{
			name:   "no STARTTLS",
			server: serverOptions{Security: email.None},
			status: 502, typ: problem.TypeCommunication, want: []string{"does not offer STARTTLS"},
		},
		{
			name:   "untrusted certificate",
			server: serverOptions{Security: email.TLS},
			sender: func(ms *mailServer) *email.Sender {
				return senderFor(t, ms, email.TLS, func(c *email.Config) { c.TLSConfig = nil })
			},
			status: 502, typ: problem.TypeCommunication, want: []string{"TLS handshake", "certificate"},
		},
		{
			name:   "untrusted certificate after STARTTLS",
			server: serverOptions{Security: email.StartTLS},
			sender: func(ms *mailServer) *email.Sender {
				return senderFor(t, ms, email.StartTLS, func(c *email.Config) { c.TLSConfig = &tls.Config{ServerName: "mail.acme.example", RootCAs: ms.Roots} })
			},
			status: 502, typ: problem.TypeCommunication, want: []string{"at STARTTLS", "certificate"},
		},
		{
			name:   "nothing listening",
			server: serverOptions{Security: email.StartTLS},
			sender: func(ms *mailServer) *email.Sender {
				return senderFor(t, ms, email.StartTLS, func(c *email.Config) { c.Port = closedPort(t) })
			},
			status: 503, typ: problem.TypeCommunication, want: []string{"at connect", "refused"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := startMailServer(t, tc.server)
			s := senderFor(t, ms, email.StartTLS, nil)
			if tc.sender != nil {
				s = tc.sender(ms)
			}
			_, err := newConnector(t, s).Call(context.Background(), request("k", args))
			problemtest.Require(t, err, tc.typ, tc.status, tc.want...)
			require.Empty(t, ms.Received(), "either every recipient takes the message or none does")
		})
	}
}

func TestServerThatDoesNotAnswerTimesOut(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-accepted:
			_ = c.Close()
		default:
		}
	})
	s, err := email.NewSender(email.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, Security: email.StartTLS,
		From: mail.Address{Address: "hello@acme.example"}, CommandTimeout: 50 * time.Millisecond, TLSConfig: &tls.Config{}})
	require.NoError(t, err)
	_, err = newConnector(t, s).Call(context.Background(), request("k", map[string]any{"to": "a@example.org", "subject": "s", "text": "t", "category": "transactional"}))
	problemtest.Require(t, err, problem.TypeTimeout, 503, "no answer in time")
}

func TestCancelledSendIsNotAFailure(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.StartTLS})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newConnector(t, senderFor(t, ms, email.StartTLS, nil)).Call(ctx, request("k", map[string]any{"to": "a@example.org", "subject": "s", "text": "t", "category": "transactional"}))
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, ms.Received())
}

func TestNewSenderRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	ok := email.Config{Host: "smtp.example.com", From: mail.Address{Address: "hello@acme.example"}}
	for _, tc := range []struct {
		name string
		mod  func(*email.Config)
		want string
	}{
		{"no host", func(c *email.Config) { c.Host = "" }, "host is required"},
		{"plain text off loopback", func(c *email.Config) { c.Security = email.None }, "loopback"},
		{"unknown security", func(c *email.Config) { c.Security = "ssl" }, `"ssl"`},
		{"bad from", func(c *email.Config) { c.From.Address = "hello" }, "from:"},
		{"password without user", func(c *email.Config) { c.Password = "x" }, "without a username"},
		{"unknown auth", func(c *email.Config) { c.Auth = "cram-md5" }, "cram-md5"},
		{"bad port", func(c *email.Config) { c.Port = 70000 }, "70000"},
	} {
		cfg := ok
		tc.mod(&cfg)
		_, err := email.NewSender(cfg)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	for sec, port := range map[email.Security]string{email.StartTLS: "587", email.TLS: "465"} {
		cfg := ok
		cfg.Security = sec
		_, err := email.NewSender(cfg)
		require.NoError(t, err, port)
	}
	local := ok
	local.Host, local.Security = "localhost", email.None
	_, err := email.NewSender(local)
	require.NoError(t, err)
}

func TestBuiltinSchema(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	require.NoError(t, reg.Define(email.Builtin, &email.Connector{}))
	b, ok := reg.Builtin("email.send:1.0.0@default")
	require.True(t, ok)
	for _, tc := range []struct {
		args map[string]any
		ok   bool
	}{
		{map[string]any{"to": "a@example.org", "subject": "s", "text": "t", "category": "transactional"}, true},
		{map[string]any{"to": []any{"a@example.org"}, "template": "welcome", "data": map[string]any{}, "category": "marketing", "shop": "acme", "tags": []any{"x"}}, true},
		{map[string]any{"to": "a@example.org", "subject": "s", "html": "<p>t</p>", "category": "transactional", "cc": []any{"b@example.org"}, "bcc": "c@example.org", "replyTo": "d@example.org", "customer": map[string]any{}, "event": map[string]any{}}, true},
		{map[string]any{"to": "a@example.org", "subject": "s", "text": "t"}, false},                                           // no category
		{map[string]any{"to": "a@example.org", "subject": "s", "text": "t", "category": "promo"}, false},                      // unknown category
		{map[string]any{"to": "a@example.org", "subject": "s", "category": "transactional"}, false},                           // no body nor template
		{map[string]any{"to": "a@example.org", "template": "w", "text": "t", "category": "transactional"}, false},             // both
		{map[string]any{"to": []any{}, "template": "w", "category": "transactional"}, false},                                  // no recipient
		{map[string]any{"to": "a@example.org", "template": "w", "category": "transactional", "from": "x@example.org"}, false}, // unknown property
		{map[string]any{"to": "a@example.org", "template": "w", "category": "transactional", "data": "not an object"}, false}, // data
	} {
		err := b.CheckArgs(tc.args)
		if tc.ok {
			require.NoError(t, err, "%v", tc.args)
		} else {
			require.Error(t, err, "%v", tc.args)
		}
	}
}

func TestSendersFromTheShopsConfiguration(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, serverOptions{Security: email.None})
	fallback := startMailServer(t, serverOptions{Security: email.None})
	c := &email.Connector{
		Senders: map[string]*email.Sender{"": senderFor(t, fallback, email.None, nil)},
		Shops: shopconfig.Fixed(map[string]*shop.Shop{
			"acme": {ID: "acme", Email: &shop.Email{Host: "127.0.0.1", Port: ms.Port, Security: "none",
				From: "orders@acme.example", FromName: "Acme Orders", ReplyTo: "care@acme.example"}},
			"bare":   {ID: "bare"},
			"broken": {ID: "broken", Email: &shop.Email{Host: "smtp.example.com", Port: 25, Security: "none", From: "x@acme.example"}},
		}),
		Clock: clock.NewVirtual(sentAt),
	}
	args := func(shopID string) map[string]any {
		return map[string]any{"to": "ann@example.org", "subject": "Hi", "text": "Hello", "category": "transactional", "shop": shopID}
	}
	_, err := c.Call(context.Background(), request("k1", args("acme")))
	require.NoError(t, err)
	got := ms.Received()
	require.Len(t, got, 1)
	m := parseMail(t, got[0].Data)
	require.Equal(t, `"Acme Orders" <orders@acme.example>`, m.Header.Get("From"))
	require.Equal(t, "<care@acme.example>", m.Header.Get("Reply-To"))
	require.Regexp(t, `^<[0-9a-f]{32}@acme\.example>$`, m.Header.Get("Message-ID"))

	_, err = c.Call(context.Background(), request("k2", args("bare")))
	require.NoError(t, err)
	require.Len(t, fallback.Received(), 1, "a shop without email settings uses the default sender")

	_, err = c.Call(context.Background(), request("k3", args("gone")))
	problemtest.Require(t, err, problem.TypeConfiguration, 500, `shop "gone"`)
	_, err = c.Call(context.Background(), request("k4", args("broken")))
	problemtest.Require(t, err, problem.TypeConfiguration, 500, `shop "broken"`, "loopback")
}
