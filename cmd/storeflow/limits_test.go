package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	gort "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunBoundsExpressions(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "run", "testdata/runaway.yaml", "--expr-max-size", "256KiB", "--expr-timeout", "1m")
	require.Equal(t, 1, code, out)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(errOut), &p), errOut)
	require.Equal(t, "Expression Limit Exceeded", p["title"])
	require.Equal(t, "/do/0/compute", p["instance"])
	require.Contains(t, p["detail"], "it builds more than 256KiB of values, the size limit of an evaluation")

	code, _, errOut = run(t, "run", "testdata/runaway.yaml", "--expr-max-size", "lots")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--expr-max-size")
	code, _, errOut = run(t, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--expr-timeout", "-1s")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--expr-timeout")
}

// TestServeStopsIssue9Runaway posts the workflow of issue 9 to a running
// serve with the default limits: the runaway faults at a limit while normal
// instances complete, and the process's heap stays far from gigabytes.
func TestServeStopsIssue9Runaway(t *testing.T) {
	url, _ := serveInProcess(t)
	postJSON := func(path, contentType string, body []byte) map[string]any {
		resp, err := http.Post(url+path, contentType, bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		require.Less(t, resp.StatusCode, 300, "%s: %v", path, m)
		return m
	}
	runaway, err := os.ReadFile("testdata/runaway.yaml")
	require.NoError(t, err)
	postJSON("/v1/workflows", "application/yaml", runaway)
	postJSON("/v1/workflows", "application/yaml", []byte("document:\n  dsl: '1.0.3'\n  namespace: shop\n  name: normal\n  version: '1.0.0'\n"+
		"do:\n  - total:\n      set:\n        total: ${ [.lines[] | .price * .qty] | add }\n"))
	start := func(name string, input any) string {
		body, _ := json.Marshal(map[string]any{"workflow": map[string]any{"namespace": "shop", "name": name}, "input": input})
		return postJSON("/v1/instances", "application/json", body)["id"].(string)
	}
	get := func(id string) map[string]any {
		resp, err := http.Get(url + "/v1/instances/" + id)
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return m
	}
	gort.GC()
	var before gort.MemStats
	gort.ReadMemStats(&before)
	var peak atomic.Uint64
	stopSampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms gort.MemStats
			gort.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	began := time.Now()
	bad := start("runaway", nil)
	var normal []string
	for i := range 10 {
		normal = append(normal, start("normal", map[string]any{"lines": []any{map[string]any{"price": 5, "qty": i}}}))
	}
	var faulted time.Duration
	require.Eventually(t, func() bool {
		if faulted == 0 && get(bad)["status"] == "faulted" {
			faulted = time.Since(began)
		}
		if faulted == 0 {
			return false
		}
		for _, id := range normal {
			if get(id)["status"] != "completed" {
				return false
			}
		}
		return true
	}, 60*time.Second, 20*time.Millisecond)
	for i, id := range normal {
		require.Equal(t, map[string]any{"total": float64(5 * i)}, get(id)["output"])
	}
	p := get(bad)["error"].(map[string]any)
	require.Equal(t, "Expression Limit Exceeded", p["title"])
	require.Equal(t, "/do/0/compute", p["instance"])
	require.Contains(t, p["detail"], `task compute: evaluate "[range(100000000)] | length": it `)
	close(stopSampling)
	<-sampled
	grew := int64(peak.Load()) - int64(before.HeapAlloc)
	t.Logf("the runaway faulted %v after it was started (%s); the heap grew by at most %d MiB", faulted.Round(time.Millisecond), p["detail"], grew>>20)
	require.Less(t, grew, int64(1<<30), fmt.Sprintf("heap grew by %d MiB", grew>>20))
}
