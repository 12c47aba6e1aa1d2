package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serveInProcess runs `storeflow serve` in this process and returns its URL.
func serveInProcess(t *testing.T, flags ...string) (url, dataDir string) {
	t.Helper()
	dataDir = t.TempDir()
	ctx, stop := context.WithCancel(context.Background())
	var out, logs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir}, flags...), &out, &logs)
	}()
	t.Cleanup(func() { stop(); <-done })
	re := regexp.MustCompile(`running: (http://[^ ]+)`)
	require.Eventually(t, func() bool { return re.MatchString(out.String()) }, 20*time.Second, 10*time.Millisecond, "serve starts: %s", logs.String())
	return re.FindStringSubmatch(out.String())[1], dataDir
}

func TestShopCommands(t *testing.T) {
	t.Setenv("STOREFLOW_SECRET_KEY", "")
	url, dataDir := serveInProcess(t)
	info, err := os.Stat(filepath.Join(dataDir, "secret.key"))
	require.NoError(t, err, "serve creates the key that seals shops' secrets")
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	secretFile := filepath.Join(t.TempDir(), "secret.txt")
	require.NoError(t, os.WriteFile(secretFile, []byte("whsec-cli\n"), 0o600))
	code, out, errOut := run(t, "shop", "add", "--server", url, "--id", "acme", "--platform", "shopify", "--domain", "acme.myshopify.com",
		"--currency", "EUR", "--time-zone", "Europe/Berlin", "--webhook-secret", "@"+secretFile)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "shop acme (shopify acme.myshopify.com) saved; secrets set: webhooks.secret")

	code, _, errOut = run(t, "shop", "add", "--server", url, "--id", "bad", "--platform", "shopify", "--domain", "bad.example", "--currency", "EUR", "--webhook-secret", "x")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "domain: a Shopify shop is known by its myshopify.com domain")

	file := filepath.Join(t.TempDir(), "acme.yaml")
	require.NoError(t, os.WriteFile(file, []byte("id: acme\nplatform: shopify\ndomain: acme.myshopify.com\ncurrency: EUR\ntimeZone: America/New_York\nemail:\n  host: smtp.example\n  from: shop@acme.example\n"), 0o600))
	code, _, errOut = run(t, "shop", "update", "--server", url, "--file", file)
	require.Equal(t, 0, code, errOut)

	code, out, errOut = run(t, "shop", "list", "--server", url)
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `acme\s+shopify\s+acme.myshopify.com\s+America/New_York\s+EUR\s+email`, out)
	require.NotContains(t, out, "whsec-cli")

	code, _, errOut = run(t, "shop", "update", "--server", url, "--file", strings.Replace(file, "acme.yaml", "missing.yaml", 1))
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "missing.yaml")

	code, out, errOut = run(t, "shop", "remove", "--server", url, "acme")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "shop acme removed")
	code, _, errOut = run(t, "shop", "remove", "--server", url, "acme")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Not Found (404)")

	code, _, errOut = run(t, "shop", "list", "--server", "http://127.0.0.1:1")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "is storeflow serve running")
}
