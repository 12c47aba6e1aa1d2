package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDemoShowsTheTemplatesAtWork runs `storeflow demo` until its shop's
// traffic, through the signed webhook ingress, has started instances of
// the templates and mail has reached the demo's inbox, then stops it as
// Ctrl-C does.
func TestDemoShowsTheTemplatesAtWork(t *testing.T) {
	t.Parallel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- dispatch(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--speed", "2880", "--rate", "120", "--seed", "7"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`API\s+(http://\S+)`)
	require.Eventually(t, func() bool { return re.MatchString(out.String()) }, 60*time.Second, 20*time.Millisecond, "the demo starts: %s %s", out.String(), errOut.String())
	base := re.FindStringSubmatch(out.String())[1]
	for _, want := range []string{"/v1/instances", "/v1/customers?shop=demo", "/v1/messages?shop=demo", "/demo/inbox", "/demo/shop"} {
		require.Contains(t, out.String(), base+want)
	}
	get := func(path string, v any) bool {
		resp, err := http.Get(base + path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(v) == nil
	}

	started := map[string]bool{}
	waiting := 0
	var inbox struct {
		Count    int
		Messages []struct{ Subject string }
	}
	var messages struct {
		Messages []struct{ Status, Workflow string }
	}
	require.Eventually(t, func() bool {
		var list struct {
			Instances []struct {
				Workflow struct{ Name string }
				Status   string
			}
		}
		if !get("/v1/instances?limit=1000", &list) {
			return false
		}
		waiting = 0
		for _, in := range list.Instances {
			started[in.Workflow.Name] = true
			if in.Status == "waiting" {
				waiting++
			}
		}
		return len(started) >= 4 && waiting > 0 && get("/demo/inbox", &inbox) && inbox.Count >= 3 &&
			get("/v1/messages?shop=demo", &messages) && len(messages.Messages) >= 3
	}, 120*time.Second, 250*time.Millisecond, "instances of the templates start and mail is sent: %v, %d waiting, %d mails", started, waiting, inbox.Count)
	require.NotEmpty(t, inbox.Messages[0].Subject)
	sent := 0
	for _, m := range messages.Messages {
		if m.Status == "sent" {
			sent++
		}
	}
	require.Positive(t, sent, "the message log has the mail the inbox got")

	stop()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not stop within a minute of its interrupt")
	}
	require.Contains(t, out.String(), "storeflow demo: stopped")
}
