package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/storeflow/storeflow/connector/apicall"
	"github.com/storeflow/storeflow/problem"
)

// Security is how a connection to the mail server is protected.
type Security string

const (
	// StartTLS connects in plain text and upgrades with STARTTLS before
	// anything else is said; a server that does not offer it is refused.
	// The submission port, 587, is its default.
	StartTLS Security = "starttls"
	// TLS speaks TLS from the first byte (implicit TLS, RFC 8314); port 465.
	TLS Security = "tls"
	// None sends in plain text. It is allowed only to a loopback address
	// (a local relay, a test server); port 25.
	None Security = "none"
)

// Authentication mechanisms a Sender speaks.
const (
	AuthPlain = "plain"
	AuthLogin = "login"
)

// Config is a shop's mail server and sender identity.
type Config struct {
	Host string
	// Port defaults to 587 for StartTLS, 465 for TLS and 25 for None.
	Port int
	// Security defaults to StartTLS.
	Security Security
	// Username and Password, when set, authenticate with AUTH PLAIN or
	// LOGIN. Auth picks one; empty takes PLAIN when the server offers it,
	// else LOGIN.
	Username string
	Password string
	Auth     string
	// From is the sender: its address is also the envelope sender, and its
	// domain the right-hand side of every Message-ID.
	From mail.Address
	// ReplyTo, when set, is where replies go unless a call names another.
	ReplyTo *mail.Address
	// UnsubscribeMailto, when set, is an address whose mailbox records
	// unsubscribes: marketing mail then lists a mailto: link beside the
	// one-click URL.
	UnsubscribeMailto string
	// TLSConfig is cloned for every connection; its ServerName defaults to
	// Host. Tests and private relays set RootCAs here.
	TLSConfig *tls.Config
	// HelloName is the name sent with EHLO; "localhost" when empty.
	HelloName string
	// DialTimeout bounds connecting and the TLS handshake (default 30s),
	// CommandTimeout each command's reply (default 1m), SubmissionTimeout
	// the reply to the message's final dot (default 10m, as RFC 5321
	// recommends: giving up sooner risks a duplicate when the server did
	// accept the message).
	DialTimeout       time.Duration
	CommandTimeout    time.Duration
	SubmissionTimeout time.Duration
}

// Sender sends messages over SMTP with one shop's Config. It opens a
// connection per message and is safe for concurrent use.
type Sender struct {
	cfg    Config
	addr   string
	domain string
}

// NewSender checks a configuration, fills its defaults and returns its
// Sender.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.Host == "" {
		return nil, errors.New("email sender: host is required (the mail server to submit to, smtp.example.com)")
	}
	if cfg.Security == "" {
		cfg.Security = StartTLS
	}
	switch cfg.Security {
	case StartTLS, TLS:
	case None:
		if !apicall.Loopback(cfg.Host) {
			return nil, fmt.Errorf("email sender: security none sends mail and passwords in plain text and is allowed only to a loopback address, not %q; use starttls or tls", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("email sender: security %q is not one of starttls, tls, none", cfg.Security)
	}
	if cfg.Port == 0 {
		cfg.Port = map[Security]int{StartTLS: 587, TLS: 465, None: 25}[cfg.Security]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("email sender: port %d is not a TCP port", cfg.Port)
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("email sender: a password is set without a username")
	}
	switch strings.ToLower(cfg.Auth) {
	case "", AuthPlain, AuthLogin:
		cfg.Auth = strings.ToLower(cfg.Auth)
	default:
		return nil, fmt.Errorf("email sender: auth %q is not one of plain, login", cfg.Auth)
	}
	from, err := checkAddress(cfg.From.Address)
	if err != nil {
		return nil, fmt.Errorf("email sender: from: %w", err)
	}
	cfg.From.Address = from
	if cfg.ReplyTo != nil {
		if cfg.ReplyTo.Address, err = checkAddress(cfg.ReplyTo.Address); err != nil {
			return nil, fmt.Errorf("email sender: reply-to: %w", err)
		}
	}
	if cfg.UnsubscribeMailto != "" {
		if cfg.UnsubscribeMailto, err = checkAddress(cfg.UnsubscribeMailto); err != nil {
			return nil, fmt.Errorf("email sender: unsubscribe mailto: %w", err)
		}
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	if strings.ContainsAny(cfg.HelloName, " \r\n") {
		return nil, fmt.Errorf("email sender: hello name %q is not a host name", cfg.HelloName)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = time.Minute
	}
	if cfg.SubmissionTimeout <= 0 {
		cfg.SubmissionTimeout = 10 * time.Minute
	}
	_, domain, _ := strings.Cut(from, "@")
	return &Sender{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), domain: domain}, nil
}

// Domain is the sender's domain: the right-hand side of its Message-IDs.
func (s *Sender) Domain() string { return s.domain }

// From is the sender's address and name.
func (s *Sender) From() mail.Address { return s.cfg.From }

// Receipt is what the mail server said when it took a message.
type Receipt struct {
	MessageID string
	// Recipients are the envelope recipients, To, Cc and Bcc.
	Recipients []string
	// Response is the server's reply to the message's final dot, often
	// with its queue ID ("2.0.0 Ok: queued as 4BC…").
	Response string
}

// Send submits a message: From and Reply-To default to the sender's.
// Either every recipient takes it or none does. A failure is a
// *problem.Problem whose status tells what to do about it: 503 is
// transient (the server deferred it, could not be reached or did not
// answer in time; try again with the same Message-ID), anything else is
// final (422 refused, 401 authentication, 502 TLS or protocol).
func (s *Sender) Send(ctx context.Context, m Message) (Receipt, error) {
	if m.From == nil {
		from := s.cfg.From
		m.From = &from
	}
	if m.ReplyTo == nil {
		m.ReplyTo = s.cfg.ReplyTo
	}
	raw, err := m.Bytes()
	if err != nil {
		return Receipt{}, problem.Newf(problem.TypeValidation, 400, "Invalid Message", "%v", err)
	}
	var rcpts []string
	for _, list := range [][]*mail.Address{m.To, m.Cc, m.Bcc} {
		for _, a := range list {
			rcpts = append(rcpts, a.Address)
		}
	}
	envelopeID := strings.TrimPrefix(strings.SplitN(m.MessageID, "@", 2)[0], "<")

	t := &transaction{s: s, step: "connect"}
	resp, err := t.run(ctx, m.From.Address, rcpts, envelopeID, raw)
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		// Cancelled, not failed: the caller stops and tries again later.
		return Receipt{}, fmt.Errorf("send email %s: %w", m.MessageID, ctx.Err())
	}
	if err != nil {
		return Receipt{}, t.problem(ctx, m.MessageID, err)
	}
	return Receipt{MessageID: m.MessageID, Recipients: rcpts, Response: resp}, nil
}

// transaction is one connection's conversation; step names what it was
// doing when it failed.
type transaction struct {
	s    *Sender
	step string
}

func (t *transaction) run(ctx context.Context, from string, rcpts []string, envelopeID string, raw []byte) (string, error) {
	cfg := t.s.cfg
	dialer := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := dialer.DialContext(ctx, "tcp", t.s.addr)
	if err != nil {
		return "", err
	}
	// The client sets a deadline per command; the connection keeps each
	// within the call's own deadline and closes when the call is cancelled.
	conn := &boundedConn{Conn: nc}
	conn.limit, _ = ctx.Deadline()
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stop()
	defer nc.Close()

	tlsConfig := cfg.TLSConfig.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = cfg.Host
	}
	var c *smtp.Client
	switch cfg.Security {
	case TLS:
		t.step = "TLS handshake"
		tc := tls.Client(conn, tlsConfig)
		_ = conn.SetDeadline(time.Now().Add(cfg.DialTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", err
		}
		c = smtp.NewClient(tc)
	case StartTLS:
		t.step = "STARTTLS"
		// NewClientStartTLS greets and upgrades before we can set the
		// client's timeouts: the connection caps those steps.
		conn.cap = cfg.CommandTimeout
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			return "", err
		}
	default:
		c = smtp.NewClient(conn)
	}
	conn.cap = 0
	c.CommandTimeout = cfg.CommandTimeout
	c.SubmissionTimeout = cfg.SubmissionTimeout
	if cfg.Security != StartTLS {
		t.step = "EHLO"
	} // else the TLS handshake happens with this EHLO, and is what fails
	if err := c.Hello(cfg.HelloName); err != nil {
		return "", err
	}
	if cfg.Username != "" {
		t.step = "AUTH"
		auth, err := t.s.auth(c)
		if err != nil {
			return "", err
		}
		if err := c.Auth(auth); err != nil {
			return "", err
		}
	}
	t.step = "MAIL FROM"
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(raw)), EnvelopeID: envelopeID}); err != nil {
		return "", err
	}
	for _, r := range rcpts {
		t.step = "RCPT TO <" + r + ">"
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	t.step = "DATA"
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(raw); err != nil {
		return "", err
	}
	t.step = "end of data"
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	// The message is taken; a failing QUIT changes nothing about that.
	_ = c.Quit()
	return resp.StatusText, nil
}

// errNoAuth marks a server that offers none of the mechanisms we speak.
var errNoAuth = errors.New("no usable AUTH mechanism")

func (s *Sender) auth(c *smtp.Client) (sasl.Client, error) {
	plain := func() sasl.Client { return sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password) }
	login := func() sasl.Client { return sasl.NewLoginClient(s.cfg.Username, s.cfg.Password) }
	switch s.cfg.Auth {
	case AuthPlain:
		if c.SupportsAuth("PLAIN") {
			return plain(), nil
		}
	case AuthLogin:
		if c.SupportsAuth("LOGIN") {
			return login(), nil
		}
	default:
		if c.SupportsAuth("PLAIN") {
			return plain(), nil
		}
		if c.SupportsAuth("LOGIN") {
			return login(), nil
		}
	}
	_, offered := c.Extension("AUTH")
	if offered == "" {
		offered = "none"
	}
	want := "PLAIN or LOGIN"
	if s.cfg.Auth != "" {
		want = strings.ToUpper(s.cfg.Auth)
	}
	return nil, fmt.Errorf("%w: the server offers %s, storeflow is set to %s", errNoAuth, offered, want)
}

// problem turns what went wrong into the problem a workflow sees.
func (t *transaction) problem(ctx context.Context, messageID string, err error) *problem.Problem {
	where := fmt.Sprintf("mail server %s, at %s", t.s.addr, t.step)
	// A transient failure after the message went out may hide a delivery.
	retry := "try again later; a retry sends the same Message-ID " + messageID
	if t.step == "end of data" {
		retry = "the server may have taken the message; a retry sends the same Message-ID " + messageID + ", by which it can be recognised"
	}
	var se *smtp.SMTPError
	var certErr *tls.CertificateVerificationError
	var ne net.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return problem.Newf(problem.TypeTimeout, 503, "Mail Server Timeout", "%s: no answer in time; %s", where, retry)
	case errors.As(err, &se):
		reply := fmt.Sprintf("%d", se.Code)
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			reply += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		reply += " " + se.Message
		switch {
		case se.Code >= 400 && se.Code < 500:
			return problem.Newf(problem.TypeCommunication, 503, "Mail Deferred", "%s: the server answered %s; %s", where, reply, retry)
		case t.step == "AUTH" || se.Code == 530 || se.Code == 534 || se.Code == 535 || se.Code == 538:
			return problem.Newf(problem.TypeAuthentication, 401, "Mail Server Authentication Failed",
				"%s: the server answered %s; check the shop's SMTP username and password", where, reply)
		default:
			return problem.Newf(problem.TypeCommunication, 422, "Mail Refused", "%s: the server answered %s; it will not take this message as it is, so it is not retried", where, reply)
		}
	case errors.Is(err, errNoAuth):
		return problem.Newf(problem.TypeConfiguration, 502, "Mail Server Authentication Failed", "%s: %v; set the shop's SMTP auth to one the server offers", where, err)
	case errors.As(err, &certErr), isTLSError(err):
		return problem.Newf(problem.TypeCommunication, 502, "Mail Server TLS Failed", "%s: %v; check the host name and the server's certificate", where, err)
	case strings.Contains(err.Error(), "doesn't support STARTTLS"):
		return problem.Newf(problem.TypeCommunication, 502, "Mail Server Without STARTTLS",
			"%s: the server does not offer STARTTLS, and storeflow does not send in plain text; use security tls if it listens with implicit TLS", where)
	default:
		// Refused or reset connections, DNS failures, a server that hung up.
		return problem.Newf(problem.TypeCommunication, 503, "Mail Server Unreachable", "%s: %v; %s", where, err, retry)
	}
}

func isTLSError(err error) bool {
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &unknown) ||
		errors.As(err, &host) || errors.As(err, &invalid)
}

// boundedConn keeps every deadline the SMTP client sets within limit
// (the call's deadline) and, while cap is set, within cap from now.
type boundedConn struct {
	net.Conn
	limit time.Time
	cap   time.Duration
}

func (c *boundedConn) SetDeadline(t time.Time) error {
	if c.cap > 0 {
		if capped := time.Now().Add(c.cap); t.IsZero() || t.After(capped) {
			t = capped
		}
	}
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		t = c.limit
	}
	return c.Conn.SetDeadline(t)
}

// checkAddress checks one bare address (name@example.com) and returns it.
func checkAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != strings.TrimSpace(s) {
		return "", fmt.Errorf("%q is not an email address; write it as name@example.com", s)
	}
	if !isASCII(a.Address) {
		return "", fmt.Errorf("%q has non-ASCII characters, which storeflow does not send to; write an internationalised domain in its xn-- form", s)
	}
	return a.Address, nil
}
