package email

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/storeflow/storeflow/connector/apicall"
)

// Unsubscription is what an unsubscribe link carries: who asked to stop
// getting which shop's messages on which channel, and the message the link
// came in.
type Unsubscription struct {
	Shop      string `json:"s"`
	Recipient string `json:"r"`
	Channel   string `json:"c"` // "email"
	MessageID string `json:"m,omitempty"`
	// IssuedAt is when the message was composed, in Unix seconds.
	IssuedAt int64 `json:"t,omitempty"`
}

// ChannelEmail is the channel of an email unsubscription.
const ChannelEmail = "email"

// ErrBadToken is what Verify returns for a token it did not sign.
var ErrBadToken = errors.New("not an unsubscribe token of this storeflow")

// UnsubscribeLinks builds the one-click unsubscribe links of marketing mail
// (RFC 8058) and verifies them when they come back. A link is the base URL
// followed by a token: the unsubscription in base64url JSON, HMAC-SHA256
// signed, so that nobody can unsubscribe an address by making up a link.
// storeflow's handler for the base URL calls Verify and records what it
// returns.
type UnsubscribeLinks struct {
	base string
	keys [][]byte
}

const (
	tokenPrefix    = "u1."
	minKeyLen      = 32
	maxTokenLength = 2048
)

// NewUnsubscribeLinks returns links under baseURL (https, or http to a
// loopback host for a local demo), signed with the first key. Every key
// verifies, so a key can be rotated: put the new one first and keep the old
// one while its mail is still read. A key has at least 32 bytes.
func NewUnsubscribeLinks(baseURL string, keys ...[]byte) (*UnsubscribeLinks, error) {
	u, err := apicall.CheckURL(baseURL)
	if err != nil {
		return nil, fmt.Errorf("unsubscribe links: base URL: %w (RFC 8058 wants https)", err)
	}
	if u.RawQuery != "" {
		return nil, fmt.Errorf("unsubscribe links: base URL %q has a query; the token is appended to its path", baseURL)
	}
	if len(keys) == 0 {
		return nil, errors.New("unsubscribe links: a signing key is required")
	}
	for i, k := range keys {
		if len(k) < minKeyLen {
			return nil, fmt.Errorf("unsubscribe links: key %d has %d bytes; a key needs at least %d random bytes", i, len(k), minKeyLen)
		}
	}
	return &UnsubscribeLinks{base: strings.TrimSuffix(baseURL, "/"), keys: keys}, nil
}

// Token signs an unsubscription.
func (l *UnsubscribeLinks) Token(u Unsubscription) (string, error) {
	if u.Recipient == "" || u.Channel == "" {
		return "", errors.New("unsubscribe token: recipient and channel are required")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a Message-ID's <> need no escape here, and the link stays shorter
	if err := enc.Encode(u); err != nil {
		return "", fmt.Errorf("unsubscribe token: %w", err)
	}
	body := tokenPrefix + base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	tok := body + "." + base64.RawURLEncoding.EncodeToString(sign(l.keys[0], body))
	if len(tok) > maxTokenLength {
		return "", fmt.Errorf("unsubscribe token: %d characters is more than a link should carry", len(tok))
	}
	return tok, nil
}

// URL is the one-click link of an unsubscription.
func (l *UnsubscribeLinks) URL(u Unsubscription) (string, error) {
	tok, err := l.Token(u)
	if err != nil {
		return "", err
	}
	return l.link(tok), nil
}

func (l *UnsubscribeLinks) link(token string) string { return l.base + "/" + token }

// Verify returns the unsubscription a token carries, or an error wrapping
// ErrBadToken when the token is malformed or not signed by one of the keys.
func (l *UnsubscribeLinks) Verify(token string) (Unsubscription, error) {
	if len(token) > maxTokenLength || !strings.HasPrefix(token, tokenPrefix) {
		return Unsubscription{}, ErrBadToken
	}
	i := strings.LastIndexByte(token, '.')
	body, sig := token[:i], token[i+1:]
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return Unsubscription{}, ErrBadToken
	}
	signed := false
	for _, k := range l.keys {
		if hmac.Equal(mac, sign(k, body)) {
			signed = true
			break
		}
	}
	if !signed {
		return Unsubscription{}, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(body, tokenPrefix))
	if err != nil {
		return Unsubscription{}, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	var u Unsubscription
	if err := json.Unmarshal(b, &u); err != nil || u.Recipient == "" || u.Channel == "" {
		return Unsubscription{}, fmt.Errorf("%w: its content is incomplete", ErrBadToken)
	}
	return u, nil
}

func sign(key []byte, body string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(body))
	return h.Sum(nil)
}
