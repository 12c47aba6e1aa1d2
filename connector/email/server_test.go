package email_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
)

// mailServer is a real SMTP server (emersion/go-smtp) listening on the
// loopback interface: tests assert on what it received.
type mailServer struct {
	Host  string
	Port  int
	Roots *x509.CertPool // trusts the server's self-signed certificate

	mu   sync.Mutex
	msgs []received
}

// received is one message as the server took it.
type received struct {
	Helo string
	TLS  bool
	User string
	From string
	Opts smtp.MailOptions
	To   []string
	Data []byte
}

type serverOptions struct {
	// Security is how the server listens: StartTLS offers STARTTLS on a
	// plain listener, TLS listens with TLS, None offers no TLS at all.
	Security email.Security
	// Users, when set, makes AUTH required, with these passwords.
	Users map[string]string
	// Mechanisms defaults to PLAIN and LOGIN.
	Mechanisms []string
	// RcptErr and DataErr, when set, answer RCPT and DATA.
	RcptErr func(to string) error
	DataErr func() error
	DSN     bool
}

func startMailServer(t *testing.T, o serverOptions) *mailServer {
	t.Helper()
	cert, roots := selfSigned(t)
	ms := &mailServer{Roots: roots}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{srv: ms, opts: o, msg: received{Helo: c.Hostname(), TLS: isTLS}}, nil
	})
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.EnableDSN = o.DSN
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	switch o.Security {
	case email.StartTLS:
		s.TLSConfig = tlsConfig
	case email.TLS:
		l = tls.NewListener(l, tlsConfig)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	addr := l.Addr().(*net.TCPAddr)
	ms.Host, ms.Port = addr.IP.String(), addr.Port
	return ms
}

// Received returns the messages taken so far. A message is recorded
// before the server answers its final dot, so it is here once Send
// returned.
func (ms *mailServer) Received() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.msgs...)
}

type session struct {
	srv  *mailServer
	opts serverOptions
	msg  received
}

func (s *session) AuthMechanisms() []string {
	if s.opts.Users == nil {
		return nil
	}
	if s.opts.Mechanisms != nil {
		return s.opts.Mechanisms
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.opts.Users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.msg.User = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.opts.Users != nil && s.msg.User == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	if opts != nil {
		s.msg.Opts = *opts
	}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.opts.RcptErr != nil {
		if err := s.opts.RcptErr(to); err != nil {
			return err
		}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.opts.DataErr != nil {
		if err := s.opts.DataErr(); err != nil {
			return err
		}
	}
	m := s.msg
	m.Data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, m)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset() {
	s.msg = received{Helo: s.msg.Helo, TLS: s.msg.TLS, User: s.msg.User}
}

func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl no longer
// ships: it asks for the username, then the password.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // an initial response carries the username
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "storeflow test mail server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// parsed is a received message taken apart: its header (subject and
// addresses decoded) and its body parts by media type.
type parsed struct {
	Header mail.Header
	Parts  map[string]string
}

func parseMail(t *testing.T, data []byte) parsed {
	t.Helper()
	require.True(t, bytes.HasSuffix(data, []byte("\r\n")), "a message ends with CRLF")
	for i, line := range strings.Split(string(data), "\r\n") {
		require.LessOrEqual(t, len(line), 998, "line %d is longer than RFC 5322 allows", i)
		require.NotContains(t, line, "\n", "line %d has a bare LF", i)
	}
	m, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	p := parsed{Header: m.Header, Parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	if !strings.HasPrefix(mt, "multipart/") {
		// The CRLF that ends the message is not the body's.
		p.Parts[mt] = strings.TrimSuffix(decodePart(t, m.Header, m.Body), "\r\n")
		return p
	}
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pmt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		p.Parts[pmt] = decodePart(t, part.Header, part)
	}
	return p
}

func decodePart(t *testing.T, h map[string][]string, body io.Reader) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(first(h["Content-Type"]))
	require.NoError(t, err)
	require.Equal(t, "utf-8", params["charset"])
	require.Equal(t, "quoted-printable", first(h["Content-Transfer-Encoding"]))
	b, err := io.ReadAll(quotedprintable.NewReader(body))
	require.NoError(t, err)
	return string(b)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// decoded returns a header field with its RFC 2047 words decoded.
func (p parsed) decoded(t *testing.T, name string) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get(name))
	require.NoError(t, err)
	return s
}

// senderFor configures a sender for the server.
func senderFor(t *testing.T, ms *mailServer, sec email.Security, mod func(*email.Config)) *email.Sender {
	t.Helper()
	cfg := email.Config{
		Host:      ms.Host,
		Port:      ms.Port,
		Security:  sec,
		From:      mail.Address{Name: "Acme Shop", Address: "hello@acme.example"},
		TLSConfig: &tls.Config{RootCAs: ms.Roots},
		HelloName: "storeflow.test",
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := email.NewSender(cfg)
	require.NoError(t, err)
	return s
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
