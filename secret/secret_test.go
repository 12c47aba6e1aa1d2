package secret_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/secret"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	k, _, err := secret.GenerateKey()
	require.NoError(t, err)
	sealed, err := k.Seal([]byte("shpss_token"), []byte("shop:acme"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "shpss_token")
	again, err := k.Seal([]byte("shpss_token"), []byte("shop:acme"))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "every seal has its own nonce")

	out, err := k.Open(sealed, []byte("shop:acme"))
	require.NoError(t, err)
	require.Equal(t, "shpss_token", string(out))

	_, err = k.Open(sealed, []byte("shop:other"))
	require.ErrorContains(t, err, "altered or moved")
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-1] ^= 1
	_, err = k.Open(tampered, []byte("shop:acme"))
	require.Error(t, err)

	other, _, err := secret.GenerateKey()
	require.NoError(t, err)
	_, err = other.Open(sealed, []byte("shop:acme"))
	require.ErrorIs(t, err, secret.ErrWrongKey)
	_, err = k.Open([]byte("short"), nil)
	require.ErrorContains(t, err, "malformed")
}

func TestLoadCreatesAPrivateKeyFileOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "secret.key")
	t.Setenv(secret.EnvKey, "")
	k1, created, err := secret.Load(file)
	require.NoError(t, err)
	require.True(t, created)
	info, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	k2, created, err := secret.Load(file)
	require.NoError(t, err)
	require.False(t, created)
	sealed, err := k1.Seal([]byte("x"), nil)
	require.NoError(t, err)
	out, err := k2.Open(sealed, nil)
	require.NoError(t, err, "the file's key is the same key")
	require.Equal(t, "x", string(out))

	require.NoError(t, os.Chmod(file, 0o644))
	_, _, err = secret.Load(file)
	require.ErrorContains(t, err, "chmod 600")
}

func TestLoadPrefersTheEnvironment(t *testing.T) {
	_, text, err := secret.GenerateKey()
	require.NoError(t, err)
	t.Setenv(secret.EnvKey, text)
	file := filepath.Join(t.TempDir(), "secret.key")
	_, created, err := secret.Load(file)
	require.NoError(t, err)
	require.False(t, created)
	require.NoFileExists(t, file)

	t.Setenv(secret.EnvKey, "too-short")
	_, _, err = secret.Load(file)
	require.ErrorContains(t, err, secret.EnvKey)
}

func TestDeriveGivesAKeyPerPurpose(t *testing.T) {
	t.Parallel()
	_, text, err := secret.GenerateKey()
	require.NoError(t, err)
	k1, err := secret.ParseKey(text)
	require.NoError(t, err)
	k2, err := secret.ParseKey(text)
	require.NoError(t, err)
	require.Len(t, k1.Derive("unsubscribe links"), 32)
	require.Equal(t, k1.Derive("unsubscribe links"), k2.Derive("unsubscribe links"), "the same key derives the same")
	require.NotEqual(t, k1.Derive("unsubscribe links"), k1.Derive("other"))
	other, _, err := secret.GenerateKey()
	require.NoError(t, err)
	require.NotEqual(t, k1.Derive("unsubscribe links"), other.Derive("unsubscribe links"))
}
