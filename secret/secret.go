// Package secret keeps secrets at rest: shop webhook secrets, Admin API
// tokens, SMTP and SMS passwords are sealed with AES-256-GCM under a key
// that never enters the database, so that a copy of the database alone
// reveals none of them.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

// EnvKey names the environment variable that holds the key (base64 of 32
// bytes); every node sharing a store needs the same one.
const EnvKey = "STOREFLOW_SECRET_KEY"

// ErrWrongKey means sealed data was sealed under another key.
var ErrWrongKey = errors.New("sealed with another key")

// Key seals and opens secrets.
type Key struct {
	aead cipher.AEAD
	id   [4]byte // identifies the key in what it seals, to tell a wrong key from tampering
	// derive is the root of the keys Derive makes, apart from the
	// encryption key itself.
	derive [32]byte
}

// NewKey returns a key from 32 bytes of key material.
func NewKey(material []byte) (*Key, error) {
	if len(material) != KeySize {
		return nil, fmt.Errorf("a secret key is %d bytes (base64: 44 characters); this one is %d", KeySize, len(material))
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Key{aead: aead}
	sum := sha256.Sum256(append([]byte("storeflow secret key id\x00"), material...))
	copy(k.id[:], sum[:])
	mac := hmac.New(sha256.New, material)
	mac.Write([]byte("storeflow derive"))
	copy(k.derive[:], mac.Sum(nil))
	return k, nil
}

// Derive returns a key of 32 bytes for one purpose ("unsubscribe links"),
// so that one secret key serves several uses without any of them
// revealing another.
func (k *Key) Derive(purpose string) []byte {
	mac := hmac.New(sha256.New, k.derive[:])
	mac.Write([]byte(purpose))
	return mac.Sum(nil)
}

// ParseKey reads a key written as base64 (standard or URL alphabet, with
// or without padding).
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return NewKey(b)
		}
	}
	return nil, errors.New("a secret key is 32 random bytes in base64; make one with: head -c 32 /dev/urandom | base64")
}

// GenerateKey returns a new random key and its base64 form.
func GenerateKey() (*Key, string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, "", err
	}
	k, err := NewKey(b)
	return k, base64.StdEncoding.EncodeToString(b), err
}

// Load returns the key in STOREFLOW_SECRET_KEY when set, else the key in
// file, creating file (mode 0600, its directory 0700) with a new key on
// first use. created reports that a key was made.
func Load(file string) (k *Key, created bool, err error) {
	if v := os.Getenv(EnvKey); v != "" {
		k, err := ParseKey(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, false, nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		if info, statErr := os.Stat(file); statErr == nil && info.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("secret key file %s is readable by others (mode %v); chmod 600 it", file, info.Mode().Perm())
		}
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("secret key file %s: %w", file, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("read secret key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, false, fmt.Errorf("create secret key file: %w", err)
	}
	k, text, err := GenerateKey()
	if err != nil {
		return nil, false, err
	}
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return Load(file)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create secret key file: %w", err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("write secret key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	return k, true, f.Close()
}

// Seal encrypts plaintext; aad binds it to its place (a shop's ID, say),
// so that a sealed value copied to another place does not open there.
func (k *Key) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{1}, k.id[:]...) // format version, key id
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts what Seal sealed with the same aad.
func (k *Key) Open(sealed, aad []byte) ([]byte, error) {
	head := 1 + len(k.id) + k.aead.NonceSize()
	if len(sealed) < head+k.aead.Overhead() || sealed[0] != 1 {
		return nil, errors.New("sealed secret is malformed")
	}
	if string(sealed[1:1+len(k.id)]) != string(k.id[:]) {
		return nil, fmt.Errorf("%w: set %s (or the key file) to the key it was sealed with", ErrWrongKey, EnvKey)
	}
	nonce := sealed[1+len(k.id) : head]
	out, err := k.aead.Open(nil, nonce, sealed[head:], aad)
	if err != nil {
		return nil, errors.New("sealed secret does not open: it was altered or moved")
	}
	return out, nil
}
