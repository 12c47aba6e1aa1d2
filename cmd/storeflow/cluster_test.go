package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store/postgres/pgtest"
)

// TestClusterSurvivesNodeAndConnectionLoss runs three `storeflow serve`
// processes on one PostgreSQL schema, posts events through all of them,
// kills one with SIGKILL mid-run, cuts every node's database connections,
// restarts the dead node, and checks that every order went through once.
func TestClusterSurvivesNodeAndConnectionLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real server processes")
	}
	t.Parallel()
	schema, url := pgtest.Schema(t)
	// Connections say whose they are, so that the test cuts only its own.
	app := "storeflow-" + schema
	url += "&application_name=" + app
	rng := newSeeded(t)
	bin := buildBinary(t)
	rec := newSink(rng)
	sink := httptest.NewServer(rec)
	defer sink.Close()

	// Nodes sharing a store share the key of shops' secrets; each keeps
	// its key file in a directory of its own, never in the source tree.
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	flags := func(i int) []string {
		return []string{"--store", url, "--node", fmt.Sprintf("n%d", i), "--lease-ttl", "2s", "--secret-key-file", keyFile}
	}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = startServe(t, bin, addrs[i], flags(i)...)
	}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.kill()
			}
		}
	}()
	logs := func() string {
		var b strings.Builder
		for i, n := range nodes {
			if n != nil {
				fmt.Fprintf(&b, "--- n%d\n%s", i, n.out.String())
			}
		}
		return b.String()
	}
	// Defined on one node; the others learn of it by notification.
	resp, err := http.Post("http://"+addrs[0]+"/v1/workflows", "application/yaml", strings.NewReader(fmt.Sprintf(crashFlow, sink.URL)))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	time.Sleep(300 * time.Millisecond)

	const orders = 60
	feed := newOrderFeed(orders, rng)
	var mu sync.Mutex
	live := []int{0, 1, 2}
	pick := func() string {
		mu.Lock()
		defer mu.Unlock()
		return addrs[live[rng.IntN(len(live))]]
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() { feed.send(pick, stop); close(sent) }()

	// Mid-run, node 1 dies.
	time.Sleep(time.Duration(800+rng.IntN(700)) * time.Millisecond)
	mu.Lock()
	live = []int{0, 2}
	mu.Unlock()
	nodes[1].kill()
	nodes[1] = nil

	// Later, every database connection of the cluster is cut.
	time.Sleep(time.Second)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.ServerURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	var cut int
	require.NoError(t, admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&cut))
	require.Positive(t, cut)
	t.Logf("terminated %d PostgreSQL connections", cut)

	// The dead node comes back under its name.
	time.Sleep(time.Second)
	nodes[1] = startServe(t, bin, addrs[1], flags(1)...)
	mu.Lock()
	live = []int{0, 1, 2}
	mu.Unlock()
	<-sent
	close(stop)

	checkOrders(t, addrs[2], orders, logs, "three nodes, one killed, connections cut")
	checkEffects(t, rec, orders)
	checkHistories(t, addrs[0], logs)
	rec.mu.Lock()
	// Two calls of one order at the sink at once mean two nodes advanced
	// one instance at once: an order's calls come one after the other; a
	// dead node's slots wait for its leases (2 s), far longer than a call
	// lasts; a call whose completion's commit was cut off is made again
	// only after a back-off; and a slot is handed over only once no call
	// is being made in it.
	overlaps := append([]string(nil), rec.overlaps...)
	rec.mu.Unlock()
	require.Empty(t, overlaps, "calls that overlapped another for the same order\n%s", logs())
	// Every node took part.
	var starters int
	require.NoError(t, admin.QueryRow(ctx, `SELECT COUNT(DISTINCT owner) FROM `+pgx.Identifier{schema, "slots"}.Sanitize()+` WHERE owner <> ''`).Scan(&starters))
	require.Equal(t, 3, starters, "the three nodes share the slots at the end\n%s", logs())
}

// checkHistories checks that no instance was advanced twice: two nodes
// advancing one instance at once would each record the steps they took.
func checkHistories(t *testing.T, addr string, logs func() string) {
	t.Helper()
	var list struct {
		Instances []struct {
			ID string `json:"id"`
		} `json:"instances"`
	}
	getJSON(t, "http://"+addr+"/v1/instances?limit=1000", &list)
	for _, in := range list.Instances {
		var detail struct {
			History []struct {
				Type string `json:"type"`
				Task string `json:"task"`
			} `json:"history"`
		}
		getJSON(t, "http://"+addr+"/v1/instances/"+in.ID, &detail)
		seen := map[string]int{}
		for _, h := range detail.History {
			seen[h.Type+" "+h.Task]++
		}
		for step, n := range seen {
			require.Equal(t, 1, n, "instance %s recorded %q %d times\n%s", in.ID, step, n, logs())
		}
		require.Equal(t, 1, seen["workflow.completed "], "instance %s", in.ID)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}
