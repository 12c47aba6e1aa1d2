package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeBlock returns the shell block of README.md between the named
// markers, so that what the README tells a newcomer to type is tested as
// written.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(b), "<!-- "+name+" -->\n```sh\n")
	require.True(t, ok, "README.md has no block %s", name)
	block, _, ok := strings.Cut(rest, "```\n<!-- /"+name+" -->")
	require.True(t, ok, "README.md's block %s is not closed", name)
	return block
}

func TestReadmeConnectYourShopWorksAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "openssl", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's example needs %s: %v", tool, err)
		}
	}
	url, _ := serveInProcess(t)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", readmeBlock(t, "connect-your-shop"))
	cmd.Env = append(os.Environ(), "STOREFLOW="+url)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), `"order/5001/placed"`)
	// The order sent again (the shop added already): accepted, a duplicate.
	var again []string
	for _, line := range strings.Split(readmeBlock(t, "connect-your-shop"), "\n") {
		if !strings.Contains(line, "/v1/shops") {
			again = append(again, line)
		}
	}
	cmd = exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(again, "\n"))
	cmd.Env = append(os.Environ(), "STOREFLOW="+url)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), `"duplicates": 1`)
}
