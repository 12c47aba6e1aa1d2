package mailbox_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/mail"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/mailbox"
)

func TestKeepsWhatTheEmailConnectorSends(t *testing.T) {
	t.Parallel()
	box, err := mailbox.Start(mailbox.Options{Keep: 2})
	require.NoError(t, err)
	defer box.Close()
	sender, err := email.NewSender(email.Config{Host: box.Host(), Port: box.Port(), Security: email.None, From: mail.Address{Name: "Acme", Address: "shop@acme.example"}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, subject := range []string{"Grüße", "second", "third"} {
		_, err := sender.Send(ctx, email.Message{To: []*mail.Address{{Address: "ada@example.com"}}, Subject: subject,
			Text: "Hallo Ada, schön = gut", HTML: "<p>Hallo</p>", Date: time.Now(), MessageID: "<m" + string(rune('a'+i)) + "@acme.example>"})
		require.NoError(t, err)
	}
	require.NoError(t, box.Wait(ctx, 3))
	msgs := box.Messages()
	require.Len(t, msgs, 2, "only the newest Keep are kept")
	require.Equal(t, 3, box.Count())
	require.Equal(t, "second", msgs[0].Subject)
	require.Equal(t, []string{"ada@example.com"}, msgs[1].To)
	require.Equal(t, "Hallo Ada, schön = gut", msgs[1].Text)
	require.Equal(t, "<p>Hallo</p>", msgs[1].HTML)

	rec := httptest.NewRecorder()
	box.ServeHTTP(rec, httptest.NewRequest("GET", "/?to=ADA@example.com&limit=1", nil))
	var listed struct {
		Count    int
		Messages []mailbox.Message
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &listed))
	require.Equal(t, 3, listed.Count)
	require.Len(t, listed.Messages, 1)
	require.Equal(t, "third", listed.Messages[0].Subject, "newest first")
}

func TestRefusesAddressesOffLoopback(t *testing.T) {
	t.Parallel()
	_, err := mailbox.Start(mailbox.Options{Addr: "0.0.0.0:0"})
	require.ErrorContains(t, err, "not a loopback address")
}
