package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector/email"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/server"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/templates"
	"github.com/storeflow/storeflow/user"
	"github.com/storeflow/storeflow/webhook"
)

// envOr returns the environment variable, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", envOr("STOREFLOW_ADDR", "127.0.0.1:8080"), "listen address (env STOREFLOW_ADDR)")
	dataDir := fl.String("data-dir", envOr("STOREFLOW_DATA_DIR", "storeflow-data"), "directory of the embedded database (env STOREFLOW_DATA_DIR)")
	level := fl.String("log-level", envOr("STOREFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (env STOREFLOW_LOG_LEVEL)")
	workers := fl.Int("workers", 64, "workers advancing instances; each instance is always advanced by one of them")
	storeURL := fl.String("store", envOr("STOREFLOW_STORE", ""), "postgres://… to keep state in PostgreSQL instead of the embedded SQLite (env STOREFLOW_STORE); several nodes may share one database")
	node := fl.String("node", envOr("STOREFLOW_NODE", ""), "this node's name among nodes sharing a PostgreSQL store; keep it across restarts (env STOREFLOW_NODE; default HOSTNAME/ADDR, such as shop1/127.0.0.1:8080, with --store; local on SQLite)")
	leaseTTL := fl.Duration("lease-ttl", 10*time.Second, "how long a node's work slots stay its own without renewal: how long a dead node's work waits for the others")
	retention := fl.String("retention", envOr("STOREFLOW_RETENTION", "0"), "drop events and instance history older than this, e.g. 720h; 0 keeps them forever (env STOREFLOW_RETENTION)")
	lifecycle := fl.String("lifecycle-events", envOr("STOREFLOW_LIFECYCLE_EVENTS", "workflow"), "lifecycle CloudEvents to record in the event log: none, workflow or all (task events too) (env STOREFLOW_LIFECYCLE_EVENTS)")
	publicURL := fl.String("public-url", envOr("STOREFLOW_PUBLIC_URL", ""), "the URL customers and shops reach this storeflow at (https://automation.shop.example), for unsubscribe links in emails; default http://ADDR (env STOREFLOW_PUBLIC_URL)")
	keyFile := fl.String("secret-key-file", envOr("STOREFLOW_SECRET_KEY_FILE", ""), "file of the key that seals shops' secrets at rest, created (mode 0600) on first start; default DATA-DIR/secret.key; STOREFLOW_SECRET_KEY (base64) takes precedence, and nodes sharing a store need the same key (env STOREFLOW_SECRET_KEY_FILE)")
	eventSource := fl.String("event-source", envOr("STOREFLOW_EVENT_SOURCE", runtime.DefaultEventSource), "CloudEvents source of the lifecycle events this node records (env STOREFLOW_EVENT_SOURCE)")
	exprLimits := exprLimitFlags(fl)
	var tokens listFlag
	fl.Var(&tokens, "token", "API token accepted as `Authorization: Bearer <token>`; repeatable (env STOREFLOW_TOKENS, comma-separated); required off loopback")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow serve [flags]\n\nRuns storeflow: the HTTP API, event ingress and the durable runtime on an embedded SQLite database.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return flagExit(err)
	}
	if env := os.Getenv("STOREFLOW_TOKENS"); env != "" && len(tokens) == 0 {
		for _, t := range strings.Split(env, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tokens = append(tokens, t)
			}
		}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "storeflow serve: --log-level %q: use debug, info, warn or error\n", *level)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	if err := server.CheckExposure(*addr, tokens); err != nil {
		fmt.Fprintf(stderr, "storeflow serve: %v\n", err)
		return 2
	}
	if *workers < 1 {
		fmt.Fprintln(stderr, "storeflow serve: --workers must be at least 1")
		return 2
	}
	if *storeURL != "" && !strings.HasPrefix(*storeURL, "postgres://") && !strings.HasPrefix(*storeURL, "postgresql://") {
		fmt.Fprintf(stderr, "storeflow serve: --store %q: give a postgres:// URL, or leave it empty for the embedded SQLite in --data-dir\n", *storeURL)
		return 2
	}
	if *leaseTTL < time.Second {
		fmt.Fprintln(stderr, "storeflow serve: --lease-ttl must be at least 1s")
		return 2
	}
	keep, err := parseRetention(*retention)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow serve: %v\n", err)
		return 2
	}
	lc, err := runtime.ParseLifecycle(*lifecycle)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow serve: --lifecycle-events: %v\n", err)
		return 2
	}
	if strings.TrimSpace(*eventSource) == "" {
		fmt.Fprintln(stderr, "storeflow serve: --event-source must not be empty")
		return 2
	}
	limits, err := exprLimits()
	if err != nil {
		fmt.Fprintf(stderr, "storeflow serve: %v\n", err)
		return 2
	}
	cfg := serveConfig{exprLimits: limits, addr: *addr, dataDir: *dataDir, storeURL: *storeURL, workers: *workers, tokens: tokens, node: *node, leaseTTL: *leaseTTL, lifecycle: lc, eventSource: *eventSource, retention: keep, keyFile: *keyFile, publicURL: *publicURL}
	if err := serve(ctx, cfg, log, stdout); err != nil {
		log.Error("storeflow stopped", "err", err)
		return 1
	}
	return 0
}

// serveConfig is what the serve flags set.
type serveConfig struct {
	addr, dataDir, storeURL string
	workers                 int
	tokens                  []string
	node                    string
	leaseTTL                time.Duration
	retention               time.Duration
	keyFile                 string
	publicURL               string
	lifecycle               runtime.Lifecycle
	eventSource             string
	exprLimits              expr.Limits
}

func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, stdout io.Writer) error {
	addr, tokens := cfg.addr, cfg.tokens
	var st store.Store
	path := filepath.Join(cfg.dataDir, "storeflow.db")
	node := cfg.node
	if node == "" && cfg.storeURL == "" {
		node = "local" // alone on its SQLite file
	}
	if cfg.storeURL != "" {
		if node == "" {
			host, _ := os.Hostname()
			node = host + "/" + addr
		}
		pg, err := postgres.Open(ctx, cfg.storeURL)
		if err != nil {
			return err
		}
		st, path = pg, "postgres"
	} else {
		lite, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		st = lite
	}
	defer st.Close()
	keyFile := cfg.keyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.dataDir, "secret.key")
	}
	key, created, err := secret.Load(keyFile)
	if err != nil {
		return fmt.Errorf("secret key: %w", err)
	}
	if created {
		log.Info("created the key that seals shops' secrets", "file", keyFile)
		if cfg.storeURL != "" {
			log.Warn("every node sharing this store needs the same secret key: give each STOREFLOW_SECRET_KEY, or copy the key file", "file", keyFile)
		}
	}
	shops := shop.NewDirectory(st, key)
	// Listening before the unsubscribe links are made lets the default
	// public URL name the port the node really has (with --addr …:0, the
	// one the system chose), not port 0.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	defer ln.Close()
	public := cfg.publicURL
	if public == "" {
		public = "http://" + ln.Addr().String()
	}
	links, err := email.NewUnsubscribeLinks(strings.TrimSuffix(public, "/")+"/unsubscribe", key.Derive("unsubscribe links"))
	if err != nil {
		if cfg.publicURL != "" {
			return fmt.Errorf("--public-url %q: %w", public, err)
		}
		// Marketing mail needs a link customers can reach; without one it
		// is refused with a problem that says so.
		log.Warn("no unsubscribe links, so marketing email is refused: set --public-url to the https URL customers reach storeflow at", "err", err)
		links = nil
	}
	customers := &customer.Directory{Store: st, Shops: shops.Get}
	// The sending rules check every message against consents and orders
	// the facts follower files from the event log.
	facts := &sending.Facts{Store: st, Logger: log}
	rules := &sending.Rules{Log: st, Shops: shops.Get, Consents: facts, Conversions: facts,
		Origins: sending.StoreOrigins{Instances: st}, Logger: log}
	// The template library's email templates serve every shop that has
	// none of the same name.
	emails, err := templates.Emails()
	if err != nil {
		return fmt.Errorf("the template library's emails: %w", err)
	}
	calls := catalog.Default(catalog.Options{Logger: log, Shops: shops.Get, Unsubscribe: links, Customers: customers, Sending: rules, Templates: emails})
	rt := runtime.New(runtime.Options{Store: st, Logger: log, Shards: cfg.workers, Node: node, LeaseTTL: cfg.leaseTTL, Connectors: calls,
		Lifecycle: cfg.lifecycle, EventSource: cfg.eventSource, Retention: cfg.retention, ExprLimits: cfg.exprLimits,
		SecretSource: func(ctx context.Context) (map[string]any, error) {
			m, err := shops.WorkflowSecrets(ctx)
			return map[string]any{"shops": m}, err
		}})
	projections, err := follower.New(follower.Options{Store: st, Node: node, LeaseTTL: cfg.leaseTTL, Logger: log},
		&analytics.Projection{Zone: func(ctx context.Context, id string) (*time.Location, error) {
			sh, err := shops.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			return sh.Location(), nil
		}},
		&customer.Projection{Shops: shops.Get})
	if err != nil {
		return err
	}
	customers.Sync = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return projections.CaughtUp(ctx, customer.Name)
	}
	users := &user.Directory{Store: st, ShopExists: func(ctx context.Context, id string) error {
		_, err := shops.Get(ctx, id)
		return err
	}}
	var ready atomic.Bool
	hooks := &webhook.Receiver{Shops: shops, Ingest: rt.Ingest, Deliveries: st, Logger: log}
	api := server.New(server.Config{Runtime: rt, Store: st, Logger: log, Tokens: tokens, Ready: ready.Load, Shops: shops, Webhooks: hooks, Unsubscribe: links, Followers: projections,
		Customers: customers, CustomerMessages: customer.MessagesFrom(st), Users: users})
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	runCtx, stopRuntime := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRuntime()
	runDone := make(chan error, 1)
	go func() { runDone <- rt.Run(runCtx) }()
	followersDone := make(chan struct{})
	go func() { defer close(followersDone); _ = projections.Run(runCtx) }()
	defer func() { stopRuntime(); <-followersDone }()
	factsDone := make(chan struct{})
	go func() { defer close(factsDone); facts.Run(runCtx, time.Second) }()
	defer func() { stopRuntime(); <-factsDone }() // before the store closes
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	ready.Store(true)
	log.Info("storeflow serving", "addr", ln.Addr().String(), "data", path, "auth", len(tokens) > 0, "node", node)
	fmt.Fprintf(stdout, "storeflow is running: http://%s (data in %s)\n", ln.Addr(), path)

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		stopRuntime()
		<-runDone
		return err
	case err := <-runDone:
		_ = srv.Close()
		return err
	}
	// Graceful stop: refuse new requests, finish the ones in flight, then
	// let the runtime commit what it is doing.
	ready.Store(false)
	log.Info("storeflow stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	stopRuntime()
	return <-runDone
}
