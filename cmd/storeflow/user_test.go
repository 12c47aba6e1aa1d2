package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUserCommands(t *testing.T) {
	t.Setenv("STOREFLOW_SECRET_KEY", "")
	url, _ := serveInProcess(t)
	code, _, errOut := run(t, "shop", "add", "--server", url, "--id", "acme", "--platform", "shopify", "--domain", "acme.myshopify.com", "--currency", "EUR", "--webhook-secret", "x")
	require.Equal(t, 0, code, errOut)

	pw := filepath.Join(t.TempDir(), "alice.pw")
	require.NoError(t, os.WriteFile(pw, []byte("a long enough password\n"), 0o600))
	tests := []struct {
		name string
		args []string
		code int
		out  string // in stdout, or stderr when code is not 0
	}{
		{"add", []string{"add", "--id", "alice", "--name", "Alice Smith", "--password", "@" + pw, "--role", "acme:sales-manager", "--role", "acme:operator"}, 0, "user alice added; roles: acme:operator, acme:sales-manager"},
		{"add without a password", []string{"add", "--id", "bob", "--role", "acme:warehouse"}, 0, "user bob added; roles: acme:warehouse"},
		{"the same id", []string{"add", "--id", "alice"}, 1, "User Exists (409)"},
		{"a role without its shop", []string{"add", "--id", "carol", "--role", "admin"}, 2, "write SHOP:ROLE"},
		{"a shop that does not exist", []string{"add", "--id", "carol", "--role", "nowhere:admin"}, 1, `no shop "nowhere"`},
		{"no id", []string{"add", "--name", "x"}, 2, "--id is required"},
		{"list", []string{"list"}, 0, "alice  Alice Smith"},
		{"list by shop", []string{"list", "--shop", "acme"}, 0, "bob"},
		{"remove", []string{"remove", "bob"}, 0, "user bob removed"},
		{"remove again", []string{"remove", "bob"}, 1, "Not Found (404)"},
	}
	for _, tc := range tests {
		code, out, errOut := run(t, append(append([]string{"user"}, tc.args...), "--server", url)...)
		require.Equal(t, tc.code, code, "%s: %s%s", tc.name, out, errOut)
		if tc.code == 0 {
			require.Contains(t, out, tc.out, tc.name)
		} else {
			require.Contains(t, errOut, tc.out, tc.name)
		}
	}
	_, out, _ := run(t, "user", "list", "--server", url)
	require.Regexp(t, `alice\s+Alice Smith\s+acme:operator, acme:sales-manager\s+password`, out)
	require.NotContains(t, out, "bob")
}
