package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidate(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, "validate", "testdata/greet.yaml", "../../examples")
	require.Equal(t, 0, code, out)

	code, out, _ = run(t, "validate", "testdata/bad.yaml")
	require.Equal(t, 1, code)
	require.Contains(t, out, `testdata/bad.yaml:9:7: unknown property "tiemout" in task "getPet"; did you mean "timeout"?`)
	require.Contains(t, out, `testdata/bad.yaml:15:13: then: "nowhere" names no task in this list`)

	code, out, _ = run(t, "validate", "--json", "testdata/bad.yaml")
	require.Equal(t, 1, code)
	var errs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &errs))
	require.Len(t, errs, 2)
	require.Equal(t, float64(9), errs[0]["line"])
	require.Equal(t, float64(7), errs[0]["column"])
	require.Equal(t, "/do/0/getPet/tiemout", errs[0]["path"])

	// Flags may follow the files.
	code, out, _ = run(t, "validate", "testdata/bad.yaml", "--json")
	require.Equal(t, 1, code)
	errs = nil
	require.NoError(t, json.Unmarshal([]byte(out), &errs), out)
	require.Len(t, errs, 2)
	code, out, _ = run(t, "validate", "testdata/greet.yaml", "--json")
	require.Equal(t, 0, code, out)
	require.JSONEq(t, `[]`, out)

	code, _, _ = run(t, "validate", "testdata/missing.yaml")
	require.Equal(t, 1, code)
}

// Every command answers --help with its usage and exit status 0, and
// refuses a flag it does not know with status 2.
func TestEveryCommandHasHelpAndRefusesUnknownFlags(t *testing.T) {
	t.Parallel()
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := run(t, c.name, "--help")
			require.Equal(t, 0, code, out+errOut)
			require.Contains(t, out+errOut, "Usage: storeflow "+c.name)
			code, out, errOut = run(t, c.name, "--no-such-flag")
			require.Equal(t, 2, code, out+errOut)
			require.Contains(t, out+errOut, "no-such-flag")
		})
	}
	code, out, _ := run(t, "version")
	require.Equal(t, 0, code)
	require.Contains(t, out, "storeflow ")
	code, _, errOut := run(t, "version", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "takes no arguments")
}

// What serve --help and the README say of --node's default agree.
func TestServeHelpAndReadmeAgreeOnNodeDefault(t *testing.T) {
	t.Parallel()
	_, _, help := run(t, "serve", "--help")
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	const def = "HOSTNAME/ADDR"
	require.Contains(t, help, "default "+def)
	require.Contains(t, string(readme), "(default `"+def+"`")
}

func TestRun(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "run", "testdata/greet.yaml", "--virtual-clock", "--input", `{"name":"Ada"}`)
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"message":"Hello Ada"}`, out)

	code, out, errOut = run(t, "run", "testdata/fail.yaml")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(errOut), &p))
	require.Equal(t, "https://shop.example/errors/refused", p["type"])
	require.Equal(t, "/do/0/refuse", p["instance"])

	code, _, errOut = run(t, "run", "testdata/greet.yaml", "--input", "{not json")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--input")
}

func TestRunCallsBuiltins(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "run", "testdata/log.yaml", "--input", `{"cart":"c-9"}`)
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"logged":"cart recovered"}`, out)
	require.Regexp(t, `level=INFO msg="cart recovered" instance=[0-9a-f-]{36} task=/do/0/note fields.cart=c-9`, errOut)

	code, _, errOut = run(t, "validate", "testdata/log.yaml")
	require.Equal(t, 0, code, errOut)
}

func TestRunExample(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "run", "../../examples/abandoned-cart.yaml", "--virtual-clock", "--input", "@../../examples/abandoned-cart.input.json")
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"cartId":"c-1042","outcome":"reminded-with-discount"}`, out)

	code, out, errOut = run(t, "run", "../../examples/abandoned-cart.yaml", "--virtual-clock", "--input", "@../../examples/abandoned-cart.input.json",
		"--event", `{"type":"order.placed","source":"shop","id":"1","data":{"cartId":"c-1042","orderId":"o-7"}}`)
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"cartId":"c-1042","outcome":"recovered","order":"o-7"}`, out)
}

func TestHelpAndUnknownCommand(t *testing.T) {
	t.Parallel()
	code, out, _ := run(t, "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "validate")
	require.Contains(t, out, "run")
	code, _, errOut := run(t, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, errOut = run(t, "run", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, errOut, "--virtual-clock")
}

func TestServeRejectsUnknownLifecycleLevel(t *testing.T) {
	code, _, errOut := run(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--lifecycle-events", "some")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `lifecycle events "some": use none, workflow or all`)

	// The environment is read when the flag is not given.
	t.Setenv("STOREFLOW_LIFECYCLE_EVENTS", "tasks")
	code, _, errOut = run(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `lifecycle events "tasks"`)
}
