package dsl_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/storeflow/storeflow/dsl"
)

// FuzzLoad feeds arbitrary documents to the decoder and validator: they must
// return a workflow or errors with positions, never panic or hang.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(header + "do:\n  - a: {set: {x: 1}}\n"))
	f.Add([]byte(header + "do:\n  - a:\n      wait: PT1H\n      then: b\n  - b:\n      switch:\n        - x: {when: .a, then: end}\n"))
	f.Add([]byte(`{"document":{"dsl":"1.0.0"},"do":[{"a":{"for":{"in":".x"},"do":[]}}]}`))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte(header + "do:\n  - t:\n      try:\n        - c: {call: http, with: {method: get, endpoint: 'https://x/{id}'}}\n      catch:\n        retry: {delay: {seconds: 1}, backoff: {exponential: {}}, limit: {attempt: {count: 3}}}\n"))
	if files, _ := filepath.Glob("../../shared/spec/examples/*.yaml"); len(files) > 0 {
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		wf, err := dsl.Load("fuzz.yaml", data)
		if err == nil && wf == nil {
			t.Fatal("no workflow and no error")
		}
		if errs, ok := err.(dsl.Errors); ok {
			for _, e := range errs {
				if e.Line <= 0 || e.Column <= 0 {
					t.Fatalf("error without position: %v", e)
				}
			}
		}
	})
}
