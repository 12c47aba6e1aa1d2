// Package bench holds the scenarios of `storeflow bench`: each runs in one
// process against a fresh SQLite store, reports progress, and returns its
// figures.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/sqlite"
)

// Config sizes a scenario.
type Config struct {
	Instances int // instances to start (throughput, waiting, timers)
	Events    int // events to send (waiting: matching events; ingest: total)
	Clients   int // concurrent HTTP clients (ingest)
	// Window is the span within which all timers fall due (timers; 10 s).
	Window time.Duration
	Dir    string
	// Store, when a postgres:// URL, runs the scenario on PostgreSQL, in a
	// fresh schema dropped afterwards; empty means SQLite.
	Store string
	// Lifecycle is the runtime's lifecycle event level ("" for its default).
	Lifecycle runtime.Lifecycle
	// Nodes is how many runtimes share the store (PostgreSQL only), each
	// with its own connections, as separate `storeflow serve` processes
	// would; events and starts go through the first.
	Nodes    int
	Progress io.Writer
	// LimitInstances sizes the raw-limit runs RunVsLimit makes (0: the
	// default of Limit).
	LimitInstances int
}

// Result is a scenario's figures, printed as one JSON line.
type Result map[string]any

// Scenarios lists the scenarios by name.
var Scenarios = map[string]func(ctx context.Context, cfg Config) (Result, error){
	"throughput": Throughput,
	"waiting":    Waiting,
	"timers":     Timers,
	"ingest":     Ingest,
	"limit":      Limit,
}

// env is a runtime on a fresh store for one scenario.
type env struct {
	st     store.Store
	rt     *runtime.Runtime
	cancel context.CancelFunc
	done   chan error
	dir    string
	// others are the further nodes (Config.Nodes), with their stores.
	others []*runtime.Runtime
	stores []store.Store
	dones  []chan error
	// pgSchema is the PostgreSQL schema of the run, dropped at close.
	pgSchema string
	pgAdmin  *pgx.Conn
}

func newEnv(ctx context.Context, cfg Config, observe func(runtime.Observation)) (*env, error) {
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "storeflow-bench-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	e := &env{done: make(chan error, 1), dir: dir}
	if cfg.Store != "" {
		admin, err := pgx.Connect(ctx, cfg.Store)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", cfg.Store, err)
		}
		e.pgAdmin, e.pgSchema = admin, fmt.Sprintf("storeflow_bench_%d", time.Now().UnixNano())
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+e.pgSchema); err != nil {
			return nil, err
		}
		sep := "?"
		if strings.Contains(cfg.Store, "?") {
			sep = "&"
		}
		url := cfg.Store + sep + "search_path=" + e.pgSchema
		if e.st, err = postgres.Open(ctx, url); err != nil {
			return nil, err
		}
		for range max(cfg.Nodes, 1) - 1 {
			st, err := postgres.Open(ctx, url)
			if err != nil {
				return nil, err
			}
			e.stores = append(e.stores, st)
		}
	} else {
		if cfg.Nodes > 1 {
			return nil, fmt.Errorf("--nodes %d: several nodes share a PostgreSQL store; give --store postgres://…", cfg.Nodes)
		}
		st, err := sqlite.Open(ctx, filepath.Join(dir, "storeflow.db"))
		if err != nil {
			return nil, err
		}
		e.st = st
	}
	// Short leases let several nodes share the slots within seconds. One
	// node keeps the default: under a saturated writer (and -race) a 3 s
	// lease lapsed every few seconds, and a lapse can strand a start (see
	// TestScenariosRunSmall's history in the issue notes).
	var ttl time.Duration
	if len(e.stores) > 0 {
		ttl = 3 * time.Second
	}
	rt := runtime.New(runtime.Options{Store: e.st, Observe: observe, Lifecycle: cfg.Lifecycle, Node: "bench-0", LeaseTTL: ttl})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.rt, e.cancel = rt, cancel
	go func() { e.done <- rt.Run(runCtx) }()
	for i, st := range e.stores {
		other := runtime.New(runtime.Options{Store: st, Observe: observe, Lifecycle: cfg.Lifecycle, Node: fmt.Sprintf("bench-%d", i+1), LeaseTTL: ttl})
		done := make(chan error, 1)
		go func() { done <- other.Run(runCtx) }()
		e.others, e.dones = append(e.others, other), append(e.dones, done)
	}
	if len(e.others) > 0 {
		nodes := append([]*runtime.Runtime{rt}, e.others...)
		progressf(cfg.Progress, "waiting for %d nodes to share the work slots", len(nodes))
		err := waitUntil(ctx, time.Minute, func() bool {
			total := 0
			for _, n := range nodes {
				held := len(n.Slots())
				if held < store.Slots/len(nodes)-1 {
					return false
				}
				total += held
			}
			return total == store.Slots
		}, nil)
		if err != nil {
			e.close(true)
			return nil, fmt.Errorf("nodes sharing slots: %w", err)
		}
	}
	return e, nil
}

func (e *env) close(removeDir bool) {
	e.cancel()
	<-e.done
	for _, d := range e.dones {
		<-d
	}
	for _, st := range e.stores {
		_ = st.Close()
	}
	_ = e.st.Close()
	if e.pgAdmin != nil {
		_, _ = e.pgAdmin.Exec(context.Background(), "DROP SCHEMA "+e.pgSchema+" CASCADE")
		_ = e.pgAdmin.Close(context.Background())
	}
	if removeDir {
		_ = os.RemoveAll(e.dir)
	}
}

func (e *env) publish(ctx context.Context, src string) error {
	name := strings.Fields(src[strings.Index(src, "name:")+5:])[0]
	if _, _, err := e.st.PutWorkflow(ctx, store.Workflow{Namespace: "bench", Name: name, Version: "1.0.0", Source: []byte(src)}); err != nil {
		return err
	}
	for _, o := range e.others {
		if err := o.Reload(ctx); err != nil {
			return err
		}
	}
	return e.rt.Reload(ctx)
}

// ingestAll sends n events, made by gen on demand (a million events built
// up front would weigh on the memory being measured), in batches from
// several goroutines.
func (e *env) ingestAll(ctx context.Context, n int, gen func(i int) store.Event, progress func(int)) error {
	const batch = 500
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	var mu sync.Mutex
	sent := 0
	next := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n {
					mu.Unlock()
					return
				}
				lo, hi := next, min(next+batch, n)
				next = hi
				mu.Unlock()
				events := make([]store.Event, 0, hi-lo)
				for i := lo; i < hi; i++ {
					events = append(events, gen(i))
				}
				if _, err := e.rt.Ingest(ctx, events); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				mu.Lock()
				sent += hi - lo
				if progress != nil {
					progress(sent)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func event(typ, id string, data map[string]any) store.Event {
	env, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "bench", "type": typ, "data": data})
	return store.Event{ID: id, Source: "bench", Type: typ, Envelope: env}
}

// percentiles returns p50, p99 and max of durations, in milliseconds.
func percentiles(d []time.Duration) (float64, float64, float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(p float64) float64 {
		i := int(p * float64(len(d)-1))
		return float64(d[i].Microseconds()) / 1000
	}
	return at(0.50), at(0.99), float64(d[len(d)-1].Microseconds()) / 1000
}

// peakRSS reads the process's peak resident set size, in MiB.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return -1
}

// size is the store's size on disk, in MiB.
func (e *env) size(ctx context.Context) float64 {
	if e.pgAdmin == nil {
		return storeSize(e.dir)
	}
	var bytes int64
	_ = e.pgAdmin.QueryRow(ctx, `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, e.pgSchema).Scan(&bytes)
	return float64(bytes) / (1 << 20)
}

func storeSize(dir string) float64 {
	var total int64
	matches, _ := filepath.Glob(filepath.Join(dir, "storeflow.db*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil {
			total += st.Size()
		}
	}
	return float64(total) / (1 << 20)
}

func progressf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

// waitUntil polls cond until it holds or the timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool, tick func()) error {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %s", timeout)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if tick != nil && time.Since(last) > time.Second {
			tick()
			last = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
