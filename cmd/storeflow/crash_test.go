package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sinkRecorder is an HTTP service that honours idempotency keys, as a real
// payment or email API would: the first request with a key takes effect,
// repeats only answer.
type sinkRecorder struct {
	mu         sync.Mutex
	applied    map[string]string // key → path
	perOrder   map[string][]string
	deliveries int
	// inflight counts requests being served per order; overlaps counts
	// requests that arrived while another for the same order was served,
	// which only two nodes advancing one instance at once would cause
	// (or a repeat after a crash, which the cluster test rules out).
	inflight map[string]int
	overlaps []string
	rng      *seeded
}

func newSink(rng *seeded) *sinkRecorder {
	return &sinkRecorder{applied: map[string]string{}, perOrder: map[string][]string{}, inflight: map[string]int{}, rng: rng}
}

// seedEnv replays a randomized test: set it to the seed a failed run
// logged to make the same random choices (kill times, event order,
// service delays) again.
const seedEnv = "STOREFLOW_TEST_SEED"

// seeded is the randomness of a randomized test, safe for concurrent use:
// seeded from STOREFLOW_TEST_SEED when set, else from the clock, and the
// seed logged, so that a failure can be replayed.
type seeded struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newSeeded(t *testing.T) *seeded {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(seedEnv); v != "" {
		var err error
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "%s must be a seed a run logged", seedEnv)
	}
	t.Logf("random seed %d: replay with %s=%d go test -run '^%s$' ./cmd/storeflow/", seed, seedEnv, seed, t.Name())
	return &seeded{r: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// IntN returns a number in [0, n).
func (s *seeded) IntN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.IntN(n)
}

func (s *sinkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b struct {
		Order string `json:"order"`
	}
	_ = json.Unmarshal(body, &b)
	s.mu.Lock()
	s.inflight[b.Order]++
	if s.inflight[b.Order] > 1 {
		s.overlaps = append(s.overlaps, fmt.Sprintf("%s %s %s at %s", b.Order, r.URL.Path, r.Header.Get("Idempotency-Key"), time.Now().Format("15:04:05.000")))
	}
	s.mu.Unlock()
	// A slow service widens the window between a call and its recorded
	// completion, where a crash makes the runtime repeat the call.
	time.Sleep(time.Duration(50+s.rng.IntN(150)) * time.Millisecond)
	key := r.Header.Get("Idempotency-Key")
	s.mu.Lock()
	s.inflight[b.Order]--
	s.deliveries++
	if _, seen := s.applied[key]; !seen && key != "" {
		s.applied[key] = r.URL.Path
		s.perOrder[b.Order] = append(s.perOrder[b.Order], r.URL.Path)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

const crashFlow = `document:
  dsl: '1.0.3'
  namespace: crash
  name: order
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with:
        type: test.order
do:
  - pause:
      wait: PT1S
  - route:
      switch:
        - big:
            when: .amount > 50
            then: bigCall
        - small:
            then: smallCall
  - smallCall:
      call: http
      with:
        method: post
        endpoint: %[1]s/small
        body: {order: '${ .orderId }'}
      output: {as: '${ $input }'}
      then: awaitPaid
  - bigCall:
      call: http
      with:
        method: post
        endpoint: %[1]s/big
        body: {order: '${ .orderId }'}
      output: {as: '${ $input }'}
  - awaitPaid:
      listen:
        to:
          one:
            with: {type: test.paid}
            correlate:
              order: {from: .data.orderId, expect: '${ .orderId }'}
      output: {as: '${ $input }'}
  - finish:
      call: http
      with:
        method: post
        endpoint: %[1]s/done
        body: {order: '${ .orderId }'}
`

type node struct {
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildBinary builds the storeflow command for tests that run it.
func buildBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "storeflow")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	return bin
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func startNode(t *testing.T, bin, dataDir, addr string) *node {
	return startServe(t, bin, addr, "--data-dir", dataDir)
}

// startServe starts `storeflow serve` on addr with more flags and waits
// until it is ready.
func startServe(t *testing.T, bin, addr string, flags ...string) *node {
	out := &syncBuffer{}
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--log-level", "warn"}, flags...)...)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	n := &node{cmd: cmd, addr: addr, out: out}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("node did not become ready: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *node) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
}

// post sends one CloudEvent and reports whether it was accepted (durable).
func post(addr, typ, id string, data map[string]any) bool {
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "crash-test", "type": typ, "data": data})
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://"+addr+"/v1/events", "application/cloudevents+json", bytes.NewReader(body))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == http.StatusAccepted
}

// TestCrashSafety kills a real `storeflow serve` with SIGKILL at random
// moments while events flow, then checks that nothing was lost or repeated.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real server processes")
	}
	t.Parallel()
	rng := newSeeded(t)
	bin := buildBinary(t)
	rec := newSink(rng)
	sink := httptest.NewServer(rec)
	defer sink.Close()
	dataDir := t.TempDir()
	addr := freeAddr(t)

	const orders = 40
	feed := newOrderFeed(orders, rng)
	n := startNode(t, bin, dataDir, addr)
	sendSome := func(n *node, stop <-chan struct{}) { feed.send(func() string { return n.addr }, stop) }
	resp, err := http.Post("http://"+addr+"/v1/workflows", "application/yaml", strings.NewReader(fmt.Sprintf(crashFlow, sink.URL)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	kills := 0
	for range 5 {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { sendSome(n, stop); close(done) }()
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		n.kill()
		kills++
		close(stop)
		<-done
		n = startNode(t, bin, dataDir, addr)
	}
	// The last run: send whatever was not yet accepted, as a webhook sender
	// retries until it gets its 202.
	sendSome(n, make(chan struct{}))
	defer n.kill()

	checkOrders(t, addr, orders, n.out.String, fmt.Sprintf("kills: %d", kills))
	checkEffects(t, rec, orders)
}

// orderFeed posts each order's two events (the order, then its payment)
// until every one was accepted, as a webhook sender retries until it gets
// its 202.
type orderFeed struct {
	mu                         sync.Mutex
	pendingOrders, pendingPaid map[int]bool
	rng                        *seeded
}

func newOrderFeed(orders int, rng *seeded) *orderFeed {
	f := &orderFeed{pendingOrders: map[int]bool{}, pendingPaid: map[int]bool{}, rng: rng}
	for i := range orders {
		f.pendingOrders[i], f.pendingPaid[i] = true, true
	}
	return f
}

// send posts pending events to the address addr returns, until all are
// accepted or stop is closed.
func (f *orderFeed) send(addr func() string, stop <-chan struct{}) {
	for {
		f.mu.Lock()
		var next []string
		for i := range f.pendingOrders {
			next = append(next, fmt.Sprintf("order:%d", i))
		}
		for i := range f.pendingPaid {
			if !f.pendingOrders[i] {
				next = append(next, fmt.Sprintf("paid:%d", i))
			}
		}
		f.mu.Unlock()
		if len(next) == 0 {
			return
		}
		// Map order is random of its own: sort, so that the seed decides.
		sort.Strings(next)
		pick := next[f.rng.IntN(len(next))]
		kind, num, _ := strings.Cut(pick, ":")
		var i int
		_, _ = fmt.Sscanf(num, "%d", &i)
		var ok bool
		order := fmt.Sprintf("o-%d", i)
		if kind == "order" {
			ok = post(addr(), "test.order", "order-"+num, map[string]any{"orderId": order, "amount": 10 + i*3})
		} else {
			ok = post(addr(), "test.paid", "paid-"+num, map[string]any{"orderId": order})
		}
		if ok {
			f.mu.Lock()
			if kind == "order" {
				delete(f.pendingOrders, i)
			} else {
				delete(f.pendingPaid, i)
			}
			f.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(10+f.rng.IntN(40)) * time.Millisecond):
		}
	}
}

// checkOrders waits until every order's instance completed, asking the
// node at addr, and fails with where unfinished ones stopped.
func checkOrders(t *testing.T, addr string, orders int, logs func() string, context string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var list struct {
		Instances []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"instances"`
	}
	for {
		resp, err := http.Get("http://" + addr + "/v1/instances?limit=1000")
		require.NoError(t, err)
		list.Instances = nil
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
		resp.Body.Close()
		completed := 0
		for _, in := range list.Instances {
			if in.Status == "completed" {
				completed++
			}
		}
		if completed == orders || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Len(t, list.Instances, orders, "one instance per order, no more (%s)\n%s", context, logs())
	for _, in := range list.Instances {
		if in.Status != "completed" {
			// Show where it stopped, for whoever debugs this.
			resp, err := http.Get("http://" + addr + "/v1/instances/" + in.ID)
			if err == nil {
				detail, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("instance %s did not complete:\n%s", in.ID, detail)
			}
		}
		require.Equal(t, "completed", in.Status, "instance %s (%s)\n%s", in.ID, context, logs())
	}
}

// checkEffects checks that the sink applied each order's calls once each,
// in order, on the branch its amount chose.
func checkEffects(t *testing.T, rec *sinkRecorder, orders int) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.perOrder, orders)
	for i := range orders {
		order := fmt.Sprintf("o-%d", i)
		want := "/small"
		if 10+i*3 > 50 {
			want = "/big"
		}
		require.Equal(t, []string{want, "/done"}, rec.perOrder[order], "effects applied for %s", order)
	}
	require.Len(t, rec.applied, orders*2, "each idempotency key applied once")
	t.Logf("%d orders, %d calls delivered for %d effects", orders, rec.deliveries, len(rec.applied))
}
