package dsl_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/logline"
	"github.com/storeflow/storeflow/dsl"
)

func builtinFlow(call, with string) []byte {
	return []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: notes
  version: '1.0.0'
do:
  - note:
      call: ` + call + `
      with: ` + with + `
`)
}

func TestBuiltinCallsValidateAgainstTheCatalog(t *testing.T) {
	t.Parallel()
	reg := connector.NewRegistry()
	require.NoError(t, reg.Define(logline.Builtin, &logline.Connector{}))
	opts := dsl.Options{Builtins: reg}
	for _, tc := range []struct {
		name, call, with string
		want             string // "" when valid
	}{
		{"bare name", "log", "{message: hi}", ""},
		{"catalog reference", "log:1.0.0@default", "{message: hi}", ""},
		{"computed argument", "log", `{message: "${ .m }", level: "${ .l }"}`, ""},
		{"misspelt", "lgo", "{message: hi}", `did you mean "log"?`},
		{"misspelt reference", "lgo:1.0.0@default", "{message: hi}", `did you mean "log"?`},
		{"unknown version", "log:9.0.0@default", "{message: hi}", "not in that version"},
		{"missing argument", "log", "{level: info}", "missing property 'message'"},
		{"wrong type next to a computed one", "log", `{message: "${ .m }", level: 7}`, "with/level"},
		{"unknown argument", "log", "{message: hi, colour: red}", "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := dsl.LoadWith("notes.yaml", builtinFlow(tc.call, tc.with), opts)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "notes.yaml:"), err.Error())
		})
	}
}

func TestWithoutACatalogBareBuiltinsAreUnknown(t *testing.T) {
	t.Parallel()
	_, err := dsl.Load("notes.yaml", builtinFlow("log", "{message: hi}"))
	require.ErrorContains(t, err, `call: "log" is not a function defined in use.functions`)
	_, err = dsl.Load("notes.yaml", builtinFlow("log:1.0.0@default", "{message: hi}"))
	require.NoError(t, err, "a default-catalog reference is left to the runtime")
}
