package pretest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/pretest"
)

// countingListener counts the connections a listener accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// tripwire is an HTTP transport that must never be used.
type tripwire struct{ used atomic.Int64 }

func (t *tripwire) RoundTrip(*http.Request) (*http.Response, error) {
	t.used.Add(1)
	return nil, fmt.Errorf("a pretest reached for the network")
}

// sockets lists this process's TCP sockets by state ("0A" listening, "01"
// established), as Linux's /proc shows them; nil where /proc is not.
func sockets(t *testing.T) map[string][]string {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	out := map[string][]string{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && mine[f[9]] {
				out[f[3]] = append(out[f[3]], f[1]+"->"+f[2]+" inode "+f[9])
			}
		}
	}
	return out
}

func TestNothingReachesTheNetwork(t *testing.T) {
	t.Parallel()
	// Every channel of the shop points at a listener of this test: a
	// connector that sent for real would connect to one of them.
	var hits atomic.Int64
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	webL := &countingListener{Listener: web.Listener}
	web.Listener = webL
	web.Start()
	defer web.Close()
	smtp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	smtpL := &countingListener{Listener: smtp}
	go func() {
		for {
			c, err := smtpL.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	defer smtp.Close()
	host, port, _ := net.SplitHostPort(smtp.Addr().String())

	dir := t.TempDir()
	wf, err := os.ReadFile("testdata/channels.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "channels.yaml"), wf, 0o644))
	src := fmt.Sprintf(`workflows: [channels.yaml]
shop:
  id: acme
  email: {host: %s, port: %s, security: none, from: shop@acme.example}
  sms: {accountSid: AC0123456789abcdef0123456789abcdef, authToken: secret, from: "+4915100000000", baseUrl: %q}
  slack: {webhookUrl: %q}
scenarios:
  - name: every channel
    events:
      - {at: PT0S, type: pretest.channels, data: {erp: %q}}
    expect:
      sent:
        - {call: email.send, to: ada@example.com}
        - {call: sms.send, to: "+4915112345678"}
        - {call: slack.post}
        - {call: http}
      instances:
        - {workflow: channels, status: completed}
`, host, port, web.URL, web.URL+"/slack", web.URL+"/erp")
	path := filepath.Join(dir, "channels.test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	f, err := pretest.LoadFile(path)
	require.NoError(t, err)

	// Watch the process's sockets while the scenario runs: it must open
	// neither a listener nor a connection of its own.
	before := sockets(t)
	known := map[string]bool{}
	for _, list := range before {
		for _, s := range list {
			known[s] = true
		}
	}
	var mu sync.Mutex
	var opened []string
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			for state, list := range sockets(t) {
				for _, s := range list {
					if !known[s] && (state == "0A" || state == "01" || state == "02") {
						mu.Lock()
						opened = append(opened, state+" "+s)
						known[s] = true
						mu.Unlock()
					}
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	trip := &tripwire{}
	results := pretest.RunFile(context.Background(), f, pretest.Options{HTTP: &httpcall.Client{HTTP: &http.Client{Transport: trip}}})
	close(stop)
	<-watched

	require.Len(t, results, 1)
	require.Empty(t, results[0].Failures)
	require.Len(t, results[0].Calls, 4, "the twin answered every call")
	require.Zero(t, webL.n.Load(), "no HTTP connection reached the SMS, Slack or ERP endpoints")
	require.Zero(t, hits.Load())
	require.Zero(t, smtpL.n.Load(), "no SMTP connection reached the mail server")
	require.Zero(t, trip.used.Load(), "the live HTTP client was never used")
	if before != nil {
		require.Empty(t, opened, "the pretest opened sockets of its own")
	}
}
