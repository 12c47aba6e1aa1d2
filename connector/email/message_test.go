package email_test

import (
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
)

func TestMessageIDComesFromTheKeyAndDomain(t *testing.T) {
	t.Parallel()
	a := email.MessageID("inst-1/do/0/send", "acme.example")
	require.Equal(t, a, email.MessageID("inst-1/do/0/send", "acme.example"))
	require.NotEqual(t, a, email.MessageID("inst-1/do/1/send", "acme.example"))
	require.Regexp(t, messageIDPattern, a)
	require.NotEqual(t, email.MessageID("", "acme.example"), email.MessageID("", "acme.example"), "without a key the ID is random")
}

func TestMessageBytesRefusesIncompleteMessages(t *testing.T) {
	t.Parallel()
	full := func() email.Message {
		return email.Message{From: &mail.Address{Address: "a@acme.example"}, To: []*mail.Address{{Address: "b@example.org"}},
			Subject: "s", Text: "t", Date: sentAt, MessageID: "<x@acme.example>"}
	}
	for name, tc := range map[string]struct {
		mod  func(*email.Message)
		want string
	}{
		"no from":       {func(m *email.Message) { m.From = nil }, "From"},
		"no recipient":  {func(m *email.Message) { m.To = nil }, "recipient"},
		"no body":       {func(m *email.Message) { m.Text = "" }, "body"},
		"no date":       {func(m *email.Message) { m.Date = time.Time{} }, "Date"},
		"bad id":        {func(m *email.Message) { m.MessageID = "x@acme.example" }, "Message-ID"},
		"field newline": {func(m *email.Message) { m.Header = []email.Field{{Name: "X-A", Value: "a\r\nBcc: x@y"}} }, "X-A"},
		"field name":    {func(m *email.Message) { m.Header = []email.Field{{Name: "X A", Value: "a"}} }, "X A"},
		"long word":     {func(m *email.Message) { m.Subject = strings.Repeat("x", 1000) }, "too long"},
		"long name":     {func(m *email.Message) { m.To[0].Name = strings.Repeat("x", 1000) }, "too long"},
	} {
		m := full()
		tc.mod(&m)
		_, err := m.Bytes()
		require.ErrorContains(t, err, tc.want, name)
	}
	m := full()
	_, err := m.Bytes()
	require.NoError(t, err)
}

// FuzzMessageBytes composes messages from arbitrary subjects, names and
// bodies and reads them back as a mail client would: the header never
// breaks (no injected fields, lines within limits) and the text survives.
func FuzzMessageBytes(f *testing.F) {
	f.Add("Your order", "Acme", "Hello\nthere", "<p>Hi</p>")
	f.Add("Ihre Bestellung über 20 € – danke schön, wir freuen uns sehr auf Ihren nächsten Besuch im Laden", "Zoë Ågren", "Grüße =\r\n.", "")
	f.Add("Bcc: evil@example.org\r\nX: y", "a\r\nb", "", "<b>x</b>")
	f.Fuzz(func(t *testing.T, subject, name, text, html string) {
		if !utf8.ValidString(subject+name+text+html) || strings.Contains(subject, "=?") || text == "" && html == "" {
			return
		}
		m := email.Message{
			From:      &mail.Address{Name: name, Address: "hello@acme.example"},
			To:        []*mail.Address{{Name: name, Address: "zoe@example.org"}, {Address: "ann@example.org"}},
			Subject:   subject,
			Text:      text,
			HTML:      html,
			Date:      sentAt,
			MessageID: "<k@acme.example>",
		}
		raw, err := m.Bytes()
		if err != nil {
			require.ErrorContains(t, err, "too long")
			return
		}
		p := parseMail(t, raw)
		require.Empty(t, p.Header.Get("Bcc"), "nothing in the input adds a header field")
		require.Equal(t, strings.Join(strings.Fields(subject), " "), strings.Join(strings.Fields(p.decoded(t, "Subject")), " "))
		to, err := p.Header.AddressList("To")
		require.NoError(t, err)
		require.Len(t, to, 2)
		require.Equal(t, "zoe@example.org", to[0].Address)
		lines := func(s string) string { return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s) }
		if text != "" {
			require.Equal(t, lines(text), lines(p.Parts["text/plain"]))
		}
		if html != "" {
			require.Equal(t, lines(html), lines(p.Parts["text/html"]))
		}
	})
}
