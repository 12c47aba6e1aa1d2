package commerce

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// Adapter turns one platform's webhooks into events. Its methods are pure:
// no I/O, no clock, safe for concurrent use.
type Adapter interface {
	// Platform names the platform: "shopify", "woocommerce", or a generic
	// source's name.
	Platform() string
	// Shop reads which shop sent the request, before it is verified, so that
	// the caller can look up the shop's secrets. It returns ErrNoShop when
	// the request names none, ErrPing for an activation ping.
	Shop(h http.Header, body []byte) (string, error)
	// Verify checks the request's signature against the shop's secrets:
	// the current one first, then the previous ones while a rotation is
	// under way. A bad, missing or malformed signature is ErrSignature (an
	// error that never quotes the body); no secrets at all is ErrNoSecret.
	Verify(h http.Header, body []byte, secrets [][]byte) error
	// Decode maps a verified request to its events. A request that cannot
	// be mapped (malformed JSON, a payload without what its topic needs) is
	// an *UnmappableError; an activation ping is ErrPing.
	Decode(h http.Header, body []byte, shop Shop) (*Delivery, error)
}

// Shop is what an adapter needs to know of the shop beyond the payload.
type Shop struct {
	// ID is the shop as Adapter.Shop returned it; Decode reads it from the
	// request when it is empty.
	ID string
	// Country (ISO 3166-1 alpha-2) is the region of phone numbers written
	// without a country code, when the address they belong to names none.
	Country string
	// Currency (ISO 4217) is the currency of prices that payloads give
	// without one (product prices).
	Currency string
}

var (
	// ErrSignature: the request is not signed by the shop (answer 401).
	ErrSignature = errors.New("webhook signature does not verify")
	// ErrNoSecret: the shop has no signing secret configured.
	ErrNoSecret = errors.New("no webhook secret is configured for the shop")
	// ErrNoShop: the request does not say which shop sent it (answer 400).
	ErrNoShop = errors.New("the webhook does not name its shop")
	// ErrPing: the request is the platform's activation ping; answer 200
	// and create nothing.
	ErrPing = errors.New("webhook activation ping")
	// ErrUnmappable matches every *UnmappableError (answer 422 and keep
	// the body on the dead-letter list).
	ErrUnmappable = errors.New("webhook cannot be mapped")
)

// UnmappableError says why a verified webhook cannot be mapped to events.
type UnmappableError struct {
	Platform string
	Topic    string
	Reason   string
}

func (e *UnmappableError) Error() string {
	topic := e.Topic
	if topic == "" {
		topic = "(no topic)"
	}
	return fmt.Sprintf("%s webhook %s cannot be mapped: %s", e.Platform, topic, e.Reason)
}

// Is makes errors.Is(err, ErrUnmappable) true.
func (e *UnmappableError) Is(target error) bool { return target == ErrUnmappable }

// Unmappable builds an *UnmappableError.
func Unmappable(platform, topic, format string, args ...any) error {
	return &UnmappableError{Platform: platform, Topic: topic, Reason: fmt.Sprintf(format, args...)}
}

// CheckHMAC compares a signature, already decoded from its header, with the
// HMAC of body under each secret, in constant time. It is the shared core
// of the adapters' Verify.
func CheckHMAC(newHash func() hash.Hash, signature, body []byte, secrets [][]byte) error {
	usable := 0
	ok := false
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		usable++
		mac := hmac.New(newHash, s)
		mac.Write(body)
		// Every secret is tried, so that the time taken does not tell
		// which one matched.
		if hmac.Equal(mac.Sum(nil), signature) {
			ok = true
		}
	}
	if usable == 0 {
		return ErrNoSecret
	}
	if !ok {
		return fmt.Errorf("%w: it matches none of the shop's %d secret(s)", ErrSignature, usable)
	}
	return nil
}

// Encoding is how a signature is written in its header.
type Encoding struct {
	Name   string
	Decode func(string) ([]byte, error)
}

// The encodings shops use.
var (
	Base64 = Encoding{"base64", base64.StdEncoding.DecodeString}
	Hex    = Encoding{"hex", hex.DecodeString}
)

// VerifyHMAC is the whole of Verify for a platform that signs the body with
// an HMAC: value is what the header named header holds ("" when it is
// missing), written in enc.
func VerifyHMAC(header, value string, enc Encoding, newHash func() hash.Hash, body []byte, secrets [][]byte) error {
	if value == "" {
		return fmt.Errorf("%w: the %s header is missing", ErrSignature, header)
	}
	sig, err := enc.Decode(value)
	if err != nil {
		return fmt.Errorf("%w: %s is not %s", ErrSignature, header, enc.Name)
	}
	return CheckHMAC(newHash, sig, body, secrets)
}

// Header returns the first of the named headers that is set, and the name
// it was found under.
func Header(h http.Header, names ...string) (value, name string) {
	for _, n := range names {
		if v := strings.TrimSpace(h.Get(n)); v != "" {
			return v, http.CanonicalHeaderKey(n)
		}
	}
	return "", ""
}
