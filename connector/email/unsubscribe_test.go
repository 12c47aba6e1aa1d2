package email_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/email"
)

var (
	oldKey = bytes.Repeat([]byte{1}, 32)
	newKey = bytes.Repeat([]byte{2}, 32)
)

func TestUnsubscribeLinksSignAndVerify(t *testing.T) {
	t.Parallel()
	links, err := email.NewUnsubscribeLinks("https://flows.acme.example/unsubscribe/", oldKey)
	require.NoError(t, err)
	u := email.Unsubscription{Shop: "acme", Recipient: "ann@example.org", Channel: email.ChannelEmail, MessageID: "<abc@acme.example>", IssuedAt: 1741944413}
	url, err := links.URL(u)
	require.NoError(t, err)
	token, ok := strings.CutPrefix(url, "https://flows.acme.example/unsubscribe/")
	require.True(t, ok, url)
	require.NotContains(t, token, "/")
	got, err := links.Verify(token)
	require.NoError(t, err)
	require.Equal(t, u, got)

	// Another recipient with the first one's signature is a forgery.
	body, sig, _ := strings.Cut(strings.TrimPrefix(token, "u1."), ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	require.NoError(t, err)
	forged := "u1." + base64.RawURLEncoding.EncodeToString(bytes.ReplaceAll(raw, []byte("ann@"), []byte("bob@"))) + "." + sig
	for name, bad := range map[string]string{
		"forged recipient": forged,
		"cut signature":    token[:len(token)-2],
		"no signature":     "u1." + body,
		"empty":            "",
		"other version":    "u2." + body + "." + sig,
		"not base64":       "u1.!!!." + sig,
		"too long":         "u1." + strings.Repeat("A", 4096) + "." + sig,
	} {
		_, err := links.Verify(bad)
		require.ErrorIs(t, err, email.ErrBadToken, name)
	}

	// A token of another storeflow (another key) does not verify here.
	other, err := email.NewUnsubscribeLinks("https://flows.acme.example/unsubscribe", newKey)
	require.NoError(t, err)
	_, err = other.Verify(token)
	require.ErrorIs(t, err, email.ErrBadToken)

	// Rotation: the new key signs, the old one still verifies.
	rotated, err := email.NewUnsubscribeLinks("https://flows.acme.example/unsubscribe", newKey, oldKey)
	require.NoError(t, err)
	got, err = rotated.Verify(token)
	require.NoError(t, err)
	require.Equal(t, u, got)
	fresh, err := rotated.Token(u)
	require.NoError(t, err)
	_, err = links.Verify(fresh)
	require.ErrorIs(t, err, email.ErrBadToken, "a token of the new key does not verify with the old key alone")

	_, err = links.Token(email.Unsubscription{Shop: "acme", Channel: email.ChannelEmail})
	require.Error(t, err, "a recipient is required")
}

func TestNewUnsubscribeLinksRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base string
		keys [][]byte
		want string
	}{
		{"http://flows.acme.example/u", [][]byte{oldKey}, "https"},
		{"https://flows.acme.example/u?x=1", [][]byte{oldKey}, "has a query"},
		{"/u", [][]byte{oldKey}, "absolute"},
		{"https://flows.acme.example/u", nil, "key is required"},
		{"https://flows.acme.example/u", [][]byte{[]byte("short")}, "at least 32"},
	} {
		_, err := email.NewUnsubscribeLinks(tc.base, tc.keys...)
		require.ErrorContains(t, err, tc.want, tc.base)
	}
	_, err := email.NewUnsubscribeLinks("http://127.0.0.1:8080/u", oldKey)
	require.NoError(t, err, "plain http is fine for a local demo")
}

// FuzzVerify feeds arbitrary tokens to Verify, the function storeflow's
// public unsubscribe handler calls: it never panics, and what it accepts
// is exactly what was signed.
func FuzzVerify(f *testing.F) {
	links, err := email.NewUnsubscribeLinks("https://flows.acme.example/u", oldKey)
	if err != nil {
		f.Fatal(err)
	}
	tok, err := links.Token(email.Unsubscription{Shop: "acme", Recipient: "ann@example.org", Channel: "email"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("u1..")
	f.Add("u1.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		u, err := links.Verify(token)
		if err != nil {
			return
		}
		require.NotEmpty(t, u.Recipient)
		again, err := links.Token(u)
		require.NoError(t, err)
		back, err := links.Verify(again)
		require.NoError(t, err)
		require.Equal(t, u, back)
	})
}
