package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplatesCommands(t *testing.T) {
	t.Parallel()
	url, _ := serveInProcess(t)

	code, out, errOut := run(t, "templates", "list")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `abandoned-checkout\s+1\.0\.0\s+Abandoned checkout`, out)
	code, out, _ = run(t, "templates", "list", "-v")
	require.Equal(t, 0, code)
	require.Regexp(t, `firstDelay\s+duration\s+PT1H\s+how long`, out)
	code, out, _ = run(t, "templates", "show", "welcome-series")
	require.Equal(t, 0, code)
	require.Contains(t, out, "name: welcome-series")

	code, _, errOut = run(t, "templates", "install", "--server", url, "--all")
	require.Equal(t, 1, code, "win-back and low-stock need settings")
	require.Contains(t, errOut, "needs --set shop=")
	require.Contains(t, errOut, "needs --set purchaseOrderUrl=")
	require.Contains(t, errOut, "nothing was installed")

	code, out, errOut = run(t, "templates", "install", "--all", "--server", url, "--set", "shop=acme", "--set", "purchaseOrderUrl=",
		"--set", "erpUrl=https://erp.example", "--set", "invoicingUrl=https://invoicing.example", "--set", "crmUrl=https://crm.example",
		"--set", "wmsUrl=https://wms.example", "--set", "labelUrl=https://labels.example", "--set", "returnsUrl=https://returns.example",
		"--set", "abandoned-checkout.firstDelay=PT2H", "--set", "codeValidFor=P3D")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "installed templates/abandoned-checkout 1.0.0")
	require.Contains(t, out, "installed templates/win-back 1.0.0")

	resp, err := http.Get(url + "/v1/templates")
	require.NoError(t, err)
	defer resp.Body.Close()
	var listed struct {
		Templates []struct{ Name, Installed string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&listed))
	for _, tpl := range listed.Templates {
		require.Equal(t, "1.0.0", tpl.Installed, tpl.Name)
	}

	code, _, errOut = run(t, "templates", "install", "abandoned-checkout", "--server", url, "--set", "firstDelay=PT3H")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Version Exists")
	code, out, errOut = run(t, "templates", "install", "abandoned-checkout", "--server", url, "--set", "firstDelay=PT3H", "--version", "1.1.0")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "installed templates/abandoned-checkout 1.1.0")

	for _, bad := range [][]string{
		{"templates", "install", "--server", url},
		{"templates", "install", "nope", "--server", url},
		{"templates", "install", "abandoned-checkout", "--set", "firstDely=PT1H", "--server", url},
		{"templates", "install", "abandoned-checkout", "--set", "welcome-series.firstDelay=PT1H", "--server", url},
		{"templates", "install", "--all", "--set", "nothing=1", "--server", url},
	} {
		code, _, _ := run(t, bad...)
		require.Equal(t, 2, code, "%v", bad)
	}
}
