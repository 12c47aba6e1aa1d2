package email_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/email"
)

// printingSession is a tiny SMTP server's session that prints what it
// takes.
type printingSession struct{}

func (s printingSession) Mail(from string, _ *smtp.MailOptions) error {
	fmt.Println("MAIL FROM:", from)
	return nil
}

func (s printingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	fmt.Println("RCPT TO:", to)
	return nil
}

func (s printingSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	m, _ := mail.ReadMessage(bytes.NewReader(b))
	fmt.Println("Subject:", m.Header.Get("Subject"))
	fmt.Println("Date:", m.Header.Get("Date"))
	fmt.Println("Message-ID:", m.Header.Get("Message-ID"))
	return nil
}

func (printingSession) Reset()        {}
func (printingSession) Logout() error { return nil }

func Example() {
	// A mail server in this process, on the loopback interface.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return printingSession{}, nil }))
	srv.Domain = "localhost"
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	// The shop's sender. Plain text is allowed to loopback only; a real
	// mail server takes StartTLS (587) or TLS (465) with a username and
	// password.
	sender, err := email.NewSender(email.Config{
		Host:     "127.0.0.1",
		Port:     l.Addr().(*net.TCPAddr).Port,
		Security: email.None,
		From:     mail.Address{Name: "Acme", Address: "hello@acme.example"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	templates := &email.TemplateSet{}
	_ = templates.Add("", "shipped", email.Template{
		Subject: "Order {{.event.number}} is on its way",
		Text:    "Hi {{.customer.firstName}}, your parcel left today.",
		HTML:    "<p>Hi {{.customer.firstName}}, your parcel left today.</p>",
	})

	reg := connector.NewRegistry()
	if err := reg.Define(email.Builtin, &email.Connector{
		Senders:   map[string]*email.Sender{"": sender},
		Templates: templates,
	}); err != nil {
		fmt.Println(err)
		return
	}

	// What a workflow's `call: email.send` becomes once its arguments are
	// evaluated.
	out, err := reg.Call(context.Background(), connector.Request{
		Kind:     connector.KindFunction,
		Function: "email.send",
		Args: map[string]any{
			"to":       "Ann <ann@example.org>",
			"template": "shipped",
			"category": "transactional",
			"customer": map[string]any{"firstName": "Ann"},
			"event":    map[string]any{"number": 1042},
		},
		IdempotencyKey: "0195b7c2-instance/do/2/notify",
		At:             time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("messageId:", out.(map[string]any)["messageId"])
	// Output:
	// MAIL FROM: hello@acme.example
	// RCPT TO: ann@example.org
	// Subject: Order 1042 is on its way
	// Date: Fri, 14 Mar 2025 09:00:00 +0000
	// Message-ID: <1574761375af565d8ec4dce5df4daa0e@acme.example>
	// messageId: <1574761375af565d8ec4dce5df4daa0e@acme.example>
}
