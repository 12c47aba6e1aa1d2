package user

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// KDF is the cost of argon2id (RFC 9106) for new password hashes. Hashes
// carry their own parameters, so raising the cost keeps old passwords
// working.
type KDF struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultKDF is RFC 9106's second recommended option with fewer lanes
// (t=3, 64 MiB), sized for a small box: a fraction of a second a login on one core.
var DefaultKDF = KDF{Time: 3, Memory: 64 * 1024, Threads: 2}

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// Hash returns the password's hash in the PHC string format
// ($argon2id$v=19$m=65536,t=3,p=2$salt$hash), with a random salt.
func (k KDF) Hash(password string) (string, error) {
	if k.Time == 0 || k.Memory == 0 || k.Threads == 0 {
		k = DefaultKDF
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, k.Time, k.Memory, k.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, k.Memory, k.Time, k.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errHash = errors.New("not an argon2id hash in PHC form")

// Verify reports whether password is the one hash was made of, with the
// parameters the hash names. The comparison takes the same time for every
// wrong password.
func Verify(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("%w: version %q", errHash, parts[2])
	}
	var k KDF
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &k.Memory, &k.Time, &k.Threads); err != nil || k.Time == 0 || k.Memory == 0 || k.Threads == 0 {
		return false, fmt.Errorf("%w: parameters %q", errHash, parts[3])
	}
	// Hashes come from our own store; still, a forged one must not make a
	// login take the machine's memory.
	if k.Memory > 1<<21 || k.Time > 64 {
		return false, fmt.Errorf("%w: parameters %q are beyond any storeflow makes", errHash, parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("%w: salt: %v", errHash, err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, fmt.Errorf("%w: key", errHash)
	}
	got := argon2.IDKey([]byte(password), salt, k.Time, k.Memory, k.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
