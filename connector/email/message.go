package email

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one email to compose and send. Bcc recipients get the message
// through the envelope only; they never appear in its header.
type Message struct {
	From    *mail.Address
	ReplyTo *mail.Address
	To      []*mail.Address
	Cc      []*mail.Address
	Bcc     []*mail.Address
	Subject string
	// Text and HTML are the bodies; with both the message is
	// multipart/alternative, with one it is that single part.
	Text string
	HTML string
	Date time.Time
	// MessageID is the Message-ID with its angle brackets: <id@domain>.
	MessageID string
	// Header holds further header fields, written in order after the
	// standard ones (List-Unsubscribe, List-Unsubscribe-Post…).
	Header []Field
}

// Field is one header field. Its value must already be encoded (ASCII).
type Field struct {
	Name  string
	Value string
}

// maxLine is where header lines are folded (RFC 5322 recommends 78);
// hardLine is the longest line RFC 5322 allows.
const (
	maxLine  = 78
	hardLine = 998
)

// MessageID derives the Message-ID of a send from its idempotency key and
// the sender's domain: every attempt of the same call carries the same ID,
// so a mail server or a mailbox can recognise a repeated delivery. Without
// a key the ID is random.
func MessageID(idempotencyKey, domain string) string {
	var local string
	if idempotencyKey == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		local = hex.EncodeToString(b)
	} else {
		sum := sha256.Sum256([]byte("storeflow email.send\x00" + idempotencyKey))
		local = hex.EncodeToString(sum[:16])
	}
	return "<" + local + "@" + domain + ">"
}

// Bytes composes the message as RFC 5322 text with CRLF line ends:
// UTF-8 bodies in quoted-printable, non-ASCII header text in RFC 2047
// encoded words. The same message always composes to the same bytes (the
// multipart boundary comes from the Message-ID), so a retried send repeats
// the first attempt.
func (m *Message) Bytes() ([]byte, error) {
	if m.From == nil {
		return nil, errors.New("compose: the message has no From address")
	}
	if len(m.To)+len(m.Cc)+len(m.Bcc) == 0 {
		return nil, errors.New("compose: the message has no recipient")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("compose: the message has neither a text nor an HTML body")
	}
	if !validMessageID(m.MessageID) {
		return nil, fmt.Errorf("compose: Message-ID %q is not of the form <id@domain>", m.MessageID)
	}
	if m.Date.IsZero() {
		return nil, errors.New("compose: the message has no Date")
	}
	shown := append([]*mail.Address{m.From}, append(m.To, m.Cc...)...)
	if m.ReplyTo != nil {
		shown = append(shown, m.ReplyTo)
	}
	// Folding happens between words: a word must fit a line on its own.
	for _, w := range append(subjectWords(m.Subject), addressWords(shown)...) {
		if len(w) > hardLine-len("Reply-To: ") {
			return nil, fmt.Errorf("compose: %q… is too long for a line of a mail header; shorten it", w[:40])
		}
	}
	var b bytes.Buffer
	writeField(&b, "Date", []string{m.Date.UTC().Format(time.RFC1123Z)})
	writeField(&b, "From", addressWords([]*mail.Address{m.From}))
	if m.ReplyTo != nil {
		writeField(&b, "Reply-To", addressWords([]*mail.Address{m.ReplyTo}))
	}
	if len(m.To) > 0 {
		writeField(&b, "To", addressWords(m.To))
	}
	if len(m.Cc) > 0 {
		writeField(&b, "Cc", addressWords(m.Cc))
	}
	writeField(&b, "Subject", subjectWords(m.Subject))
	writeField(&b, "Message-ID", []string{m.MessageID})
	writeField(&b, "MIME-Version", []string{"1.0"})
	for _, f := range m.Header {
		if !validFieldName(f.Name) || strings.ContainsAny(f.Value, "\r\n") || !isASCII(f.Value) {
			return nil, fmt.Errorf("compose: header field %q: a name is printable ASCII without a colon and a value one line of ASCII", f.Name)
		}
		writeField(&b, f.Name, strings.Split(f.Value, " "))
	}
	switch {
	case m.Text != "" && m.HTML != "":
		// The boundary comes from the Message-ID, so that the same message
		// composes to the same bytes; "=_" never occurs in quoted-printable
		// text, so it cannot collide with a body.
		sum := sha256.Sum256([]byte(m.MessageID))
		boundary := "=_sf" + hex.EncodeToString(sum[:12])
		writeField(&b, "Content-Type", []string{mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": boundary})})
		b.WriteString("\r\n")
		b.WriteString("--" + boundary + "\r\n")
		writePart(&b, "text/plain", m.Text)
		b.WriteString("\r\n--" + boundary + "\r\n")
		writePart(&b, "text/html", m.HTML)
		b.WriteString("\r\n--" + boundary + "--\r\n")
	case m.HTML != "":
		writePart(&b, "text/html", m.HTML)
		b.WriteString("\r\n")
	default:
		writePart(&b, "text/plain", m.Text)
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// writePart writes the Content-Type and Content-Transfer-Encoding fields,
// a blank line and the quoted-printable body.
func writePart(b *bytes.Buffer, mediaType, body string) {
	writeField(b, "Content-Type", []string{mediaType + "; charset=utf-8"})
	writeField(b, "Content-Transfer-Encoding", []string{"quoted-printable"})
	b.WriteString("\r\n")
	w := quotedprintable.NewWriter(b)
	_, _ = w.Write([]byte(body))
	_ = w.Close()
}

// writeField writes "Name: words" folded before a word that would take
// the line past maxLine. Words are joined by single spaces.
func writeField(b *bytes.Buffer, name string, words []string) {
	line := len(name) + 1
	b.WriteString(name)
	b.WriteByte(':')
	for _, w := range words {
		if w == "" {
			continue
		}
		if line+1+len(w) > maxLine && line > len(name)+1 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteByte(' ')
		b.WriteString(w)
		line += 1 + len(w)
	}
	b.WriteString("\r\n")
}

// addressWords renders an address list as words that may be folded
// between: each address but the last carries its comma.
func addressWords(list []*mail.Address) []string {
	var words []string
	for i, a := range list {
		parts := strings.Split(a.String(), " ")
		if i < len(list)-1 {
			parts[len(parts)-1] += ","
		}
		words = append(words, parts...)
	}
	return words
}

// subjectWords encodes the subject in RFC 2047 Q words when it is not
// plain ASCII; the encoded words, or the plain words, may be folded
// between.
func subjectWords(s string) []string {
	return strings.Split(mime.QEncoding.Encode("utf-8", s), " ")
}

func validMessageID(id string) bool {
	inner, ok := strings.CutPrefix(id, "<")
	if !ok {
		return false
	}
	inner, ok = strings.CutSuffix(inner, ">")
	if !ok {
		return false
	}
	left, right, ok := strings.Cut(inner, "@")
	return ok && left != "" && right != "" && isASCII(inner) && !strings.ContainsAny(inner, " <>\r\n\t")
}

func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
