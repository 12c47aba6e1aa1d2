// Package mailbox is an SMTP server that keeps the mail it receives in
// memory, on a loopback port: the inbox of `storeflow demo`, and the mail
// server of tests that send real mail through the email connector. Nothing
// it receives goes further.
package mailbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is a message received.
type Message struct {
	// Seq counts messages from 1, in the order they arrived.
	Seq       int       `json:"seq"`
	Received  time.Time `json:"received"`
	From      string    `json:"from"`
	To        []string  `json:"to"` // the envelope's recipients
	Subject   string    `json:"subject"`
	MessageID string    `json:"messageId"`
	Date      string    `json:"date,omitempty"`
	Text      string    `json:"text,omitempty"`
	HTML      string    `json:"html,omitempty"`
	// Unsubscribe is the List-Unsubscribe header of marketing mail.
	Unsubscribe string `json:"unsubscribe,omitempty"`
	Raw         []byte `json:"-"`
}

// Server is an SMTP server keeping messages in memory. It is safe for
// concurrent use.
type Server struct {
	smtp *smtp.Server
	ln   net.Listener
	done chan error

	mu      sync.Mutex
	msgs    []Message
	limit   int
	changed chan struct{}
}

// Options configure a Server.
type Options struct {
	// Addr is the address to listen on; 127.0.0.1:0 (a free port) when
	// empty. It must be a loopback address: the mailbox takes mail from
	// anyone who reaches it.
	Addr string
	// Keep is how many messages are kept, the oldest dropped first
	// (default 10000).
	Keep int
}

// Start listens and serves until Close.
func Start(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("mailbox: address %q is not a loopback address; the mailbox accepts mail from anyone who reaches it", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, done: make(chan error, 1), limit: opts.Keep, changed: make(chan struct{})}
	if s.limit <= 0 {
		s.limit = 10000
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{box: s}, nil }))
	srv.Domain = "mailbox.localhost"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	s.smtp = srv
	go func() { s.done <- srv.Serve(ln) }()
	return s, nil
}

// Host and Port are where the server listens.
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.ln.Addr().String())
	return h
}

// Port is the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error {
	err := s.smtp.Close()
	<-s.done
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Messages returns the messages received, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count is how many messages have arrived since the start, including any
// no longer kept.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return 0
	}
	return s.msgs[len(s.msgs)-1].Seq
}

// Wait blocks until at least n messages have arrived, or ctx is done.
func (s *Server) Wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		count, ch := 0, s.changed
		if len(s.msgs) > 0 {
			count = s.msgs[len(s.msgs)-1].Seq
		}
		s.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mailbox: %d of %d messages arrived: %w", count, n, ctx.Err())
		case <-ch:
		}
	}
}

func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.Seq = 1
	if len(s.msgs) > 0 {
		m.Seq = s.msgs[len(s.msgs)-1].Seq + 1
	}
	s.msgs = append(s.msgs, m)
	if over := len(s.msgs) - s.limit; over > 0 {
		s.msgs = append([]Message(nil), s.msgs[over:]...)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// ServeHTTP lists the messages as JSON, newest first: `to` keeps those to
// an address, `limit` (default 50) bounds how many.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages()
	to := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("to")))
	limit := 50
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
		limit = v
	}
	out := []Message{}
	for i := len(msgs) - 1; i >= 0 && len(out) < limit; i-- {
		m := msgs[i]
		if to != "" && !contains(m.To, to) {
			continue
		}
		out = append(out, m)
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"count": s.Count(), "messages": out})
}

func contains(list []string, addr string) bool {
	for _, a := range list {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

type session struct {
	box  *Server
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{Received: time.Now().UTC(), From: s.from, To: append([]string(nil), s.to...), Raw: raw}
	if err := parse(&m, raw); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "message not readable: " + err.Error()}
	}
	s.box.add(m)
	return nil
}

// parse reads the headers and the text and HTML bodies.
func parse(m *Message, raw []byte) error {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	m.Subject = subject
	m.MessageID = msg.Header.Get("Message-ID")
	m.Date = msg.Header.Get("Date")
	m.Unsubscribe = msg.Header.Get("List-Unsubscribe")
	return body(m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func body(m *Message, contentType, encoding string, r io.Reader) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := body(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/html":
		m.HTML = string(b)
	case "text/plain":
		m.Text = string(b)
	}
	return nil
}
