package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"time"

	"github.com/storeflow/storeflow/demo"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/mailbox"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/templates"
)

// demoShop is the simulated shop's id.
const demoShop = "demo"

// runDemo runs storeflow with everything a look at it needs: a shop whose
// fictitious customers send it their life through the real webhook
// ingress, every template of the library installed, mail to an inbox of
// its own and the shop's Admin API, Slack and purchasing answered by
// stand-ins, all on this machine, with the shop's time running faster.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8080", "listen address of the API (127.0.0.1:0 picks a free port)")
	dir := fl.String("dir", "", "directory of the demo's database and log, kept after it ends (default: a temporary one, removed)")
	speed := fl.Float64("speed", 1440, "how much faster the shop's time runs: 1440 makes a day a minute (an hour 2.5 s); the templates' delays and the shop's sending rules are scaled by it")
	rate := fl.Float64("rate", 30, "visitors of the shop per minute")
	seed := fl.Uint64("seed", 0, "seed of the simulated customers (0: a new one each run)")
	level := fl.String("log-level", "warn", "log level of storeflow's log (in the demo's directory)")
	duration := fl.Duration("for", 0, "stop after this long (0: run until Ctrl-C)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow demo [flags]\n\nRuns storeflow on an embedded database with a simulated shop: fictitious customers sign up,\nabandon checkouts, buy, get deliveries and return things, sent as signed Shopify webhooks;\nevery template of the library is installed; mail goes to an inbox of the demo. Nothing\nleaves this machine. Ctrl-C stops it.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(reorderFlags(fl, args)); err != nil {
		return flagExit(err)
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "storeflow demo: takes no arguments (got %q)\n", fl.Args())
		return 2
	}
	if *speed < 1 || *rate <= 0 {
		fmt.Fprintln(stderr, "storeflow demo: --speed must be at least 1 and --rate above 0")
		return 2
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "storeflow demo: --log-level %q: use debug, info, warn or error\n", *level)
		return 2
	}
	if err := loopbackOnly(*addr); err != nil {
		fmt.Fprintf(stderr, "storeflow demo: %v\n", err)
		return 2
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	d := &demoRun{addr: *addr, dir: *dir, speed: *speed, rate: *rate, seed: *seed, level: lvl, stdout: stdout}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "storeflow demo: %v\n", err)
		return 1
	}
	return 0
}

// loopbackOnly refuses a demo off loopback: it runs without API tokens.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--addr %q: the demo listens on loopback only (127.0.0.1:PORT), since it has no API tokens", addr)
	}
	return nil
}

type demoRun struct {
	addr, dir   string
	speed, rate float64
	seed        uint64
	level       slog.Level
	stdout      io.Writer
}

// scaled is a duration of the shop's time in real time, at least a
// second.
func (d *demoRun) scaled(v time.Duration) time.Duration {
	return max(time.Second, (time.Duration(float64(v) / d.speed)).Round(time.Second))
}

func (d *demoRun) run(ctx context.Context) error {
	dir, temporary := d.dir, d.dir == ""
	if temporary {
		var err error
		if dir, err = os.MkdirTemp("", "storeflow-demo-*"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "storeflow.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: d.level}))

	box, err := mailbox.Start(mailbox.Options{})
	if err != nil {
		return err
	}
	defer box.Close()
	token := "shpat_demo_" + randomHex(12)
	standin, err := demo.StartStandIn(token)
	if err != nil {
		return err
	}
	defer standin.Close()

	// storeflow serve itself, with the demo's inbox and the stand-ins'
	// record mounted beside the API.
	ready := make(chan string, 1)
	serveCtx, stopServe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServe()
	cfg := serveConfig{addr: d.addr, dataDir: dir, workers: 16, leaseTTL: 10 * time.Second, lifecycle: runtime.LifecycleWorkflow,
		eventSource: runtime.DefaultEventSource, exprLimits: expr.Limits{},
		wrap: func(api http.Handler) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("GET /demo/inbox", box)
			mux.Handle("GET /demo/shop", standin)
			mux.Handle("/", api)
			return mux
		},
		ready: func(addr string) { ready <- addr }}
	served := make(chan error, 1)
	go func() { served <- serve(serveCtx, cfg, log, io.Discard) }()
	var base string
	select {
	case a := <-ready:
		base = "http://" + a
	case err := <-served:
		return fmt.Errorf("storeflow did not start: %w (its log: %s)", err, logFile.Name())
	case <-ctx.Done():
		stopServe()
		<-served
		return nil
	}
	defer func() {
		stopServe()
		if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(d.stdout, "storeflow stopped: %v\n", err)
		}
	}()
	api := &apiClient{base: base}

	secret := "shpss_demo_" + randomHex(16)
	domain := "demo-tea.myshopify.com"
	if err := d.addShop(ctx, api, domain, secret, token, standin.URL(), box); err != nil {
		return err
	}
	sim := demo.NewSimulator(demo.Options{Target: base, Domain: domain, Secret: secret, Shop: demoShop, Speed: d.speed, Rate: d.rate, Seed: d.seed, Logger: log})
	// Customers who bought long ago, before any template is installed:
	// their old orders start no follow-up, and their last orders turn
	// lapsed in the first minutes, one every third of a win-back run.
	every := d.scaled(24 * time.Hour)
	sim.History(ctx, 6, 90*24*time.Hour, 120*24*time.Hour, every/3)
	if err := waitCaughtUp(ctx, api); err != nil {
		return err
	}
	installed, err := d.install(ctx, api, standin.URL())
	if err != nil {
		return err
	}

	fmt.Fprintf(d.stdout, `storeflow demo: a simulated tea shop, its time %gx faster than yours (a day in %s)

  API         %[3]s
  instances   %[3]s/v1/instances
  customers   %[3]s/v1/customers?shop=demo
  messages    %[3]s/v1/messages?shop=demo            (every message sent or suppressed, and why)
  inbox       %[3]s/demo/inbox                       (the mail itself; SMTP on %[4]s)
  shop calls  %[3]s/demo/shop                        (discount codes, Slack posts, purchase orders)
  events      %[3]s/v1/analytics/events?shop=demo    (the webhooks, as canonical events, per day)
  workflows   %[3]s/v1/workflows                     (%[5]s)

Data and log in %[6]s%[7]s. Ctrl-C stops it.
`, d.speed, every, base, box.Addr(), strings.Join(installed, ", "), dir, map[bool]string{true: " (removed at the end)", false: ""}[temporary])

	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simulated := make(chan error, 1)
	go func() { simulated <- sim.Run(simCtx) }()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			stopSim()
			<-simulated
			d.status(context.Background(), api, sim, box, standin)
			fmt.Fprintln(d.stdout, "storeflow demo: stopped")
			return nil
		case err := <-served:
			stopSim()
			<-simulated
			served <- err
			return fmt.Errorf("storeflow stopped: %w (its log: %s)", err, logFile.Name())
		case <-tick.C:
			d.status(ctx, api, sim, box, standin)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// addShop configures the demo shop: Shopify with a secret of this run,
// mail to the inbox, the Admin API and Slack at the stand-in, sending
// rules on the shop's time.
func (d *demoRun) addShop(ctx context.Context, api *apiClient, domain, secret, token, standin string, box *mailbox.Server) error {
	sh := shop.Shop{ID: demoShop, Platform: shop.Shopify, Domain: domain, TimeZone: "Europe/Berlin", Currency: "EUR", Country: "DE",
		Webhooks: shop.Webhooks{Secret: secret},
		Admin:    &shop.Admin{URL: standin, AccessToken: token},
		Email:    &shop.Email{Host: box.Host(), Port: box.Port(), Security: "none", From: "shop@demo-tea.example", FromName: "Demo Tea"},
		Slack:    &shop.Slack{WebhookURL: standin + "/slack"},
		Sending: shop.Sending{SmartSendingEmail: shop.Duration{Duration: d.scaled(shop.DefaultEmailSmartSending)},
			SmartSendingSMS: shop.Duration{Duration: d.scaled(shop.DefaultSMSSmartSending)}, QuietHours: shop.QuietHours{Off: true}},
		Segments: shop.Segments{AbandonedAfter: shop.Duration{Duration: d.scaled(shop.DefaultAbandonedAfter)}},
	}
	var view shop.View
	err := api.do(ctx, http.MethodPost, "/v1/shops", sh, &view)
	if err != nil && strings.Contains(err.Error(), "(409)") {
		// A kept --dir: the shop is there from a run before; this run's
		// secrets and ports replace its.
		err = api.do(ctx, http.MethodPut, "/v1/shops/"+demoShop, sh, &view)
	}
	if err != nil {
		return fmt.Errorf("configure the demo shop: %w", err)
	}
	return nil
}

// waitCaughtUp waits until the customer profiles hold every event logged.
func waitCaughtUp(ctx context.Context, api *apiClient) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		var out struct {
			Followers []struct {
				Name string `json:"name"`
				Lag  int64  `json:"lag"`
			} `json:"followers"`
		}
		if err := api.do(ctx, http.MethodGet, "/v1/followers", nil, &out); err != nil {
			return err
		}
		behind := false
		for _, f := range out.Followers {
			behind = behind || f.Lag > 0
		}
		if !behind {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the customer profiles did not catch up with the shop's history within a minute")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// install publishes every template with the demo's settings: its own
// values where a template names one, the demo shop and the purchasing
// stand-in, and every other duration scaled by the speed.
func (d *demoRun) install(ctx context.Context, api *apiClient, standin string) ([]string, error) {
	all, err := templates.All()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range all {
		set := d.settings(t, map[string]string{"win-back.shop": demoShop, "low-stock.purchaseOrderUrl": standin + "/purchase-orders",
			"customer-sync.erpUrl": standin + "/systems/erp", "customer-sync.invoicingUrl": standin + "/systems/invoicing", "customer-sync.crmUrl": standin + "/systems/crm",
			"order-processing.wmsUrl": standin + "/systems/wms", "order-processing.labelUrl": standin + "/systems/labels", "returns.returnsUrl": standin + "/systems/returns"})
		src, err := t.Install(set, "")
		if err != nil {
			return nil, err
		}
		if err := api.send(ctx, http.MethodPost, "/v1/workflows", "application/yaml", src, nil); err != nil {
			if strings.Contains(err.Error(), "(409)") {
				return nil, fmt.Errorf("install %s: %w; a kept --dir holds the templates with another --speed: remove it, or give another --dir", t.Name, err)
			}
			return nil, fmt.Errorf("install %s: %w", t.Name, err)
		}
		names = append(names, t.Name)
	}
	return names, nil
}

func (d *demoRun) settings(t *templates.Template, overrides map[string]string) map[string]string {
	set := map[string]string{}
	for _, p := range t.Parameters {
		switch v, ok := overrides[t.Name+"."+p.Name]; {
		case ok:
			set[p.Name] = v
		case p.Demo != "":
			set[p.Name] = p.Demo
		case p.Type == templates.TypeDuration:
			if v, err := dsl.ParseISODuration(p.Default); err == nil {
				set[p.Name] = fmt.Sprintf("PT%dS", int(d.scaled(v).Seconds()))
			}
		}
	}
	return set
}

// status prints a line of what happened so far.
func (d *demoRun) status(ctx context.Context, api *apiClient, sim *demo.Simulator, box *mailbox.Server, standin *demo.StandIn) {
	st := sim.Stats()
	counts := map[string]map[string]int{}
	after := ""
	for page := 0; page < 50; page++ {
		var out struct {
			Instances []struct {
				Workflow struct {
					Name string `json:"name"`
				} `json:"workflow"`
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"instances"`
			Next string `json:"next"`
		}
		path := "/v1/instances?limit=500"
		if after != "" {
			path += "&after=" + after
		}
		if err := api.do(ctx, http.MethodGet, path, nil, &out); err != nil {
			break
		}
		for _, in := range out.Instances {
			name := in.Workflow.Name
			if name == "" {
				name = in.Name
			}
			if counts[name] == nil {
				counts[name] = map[string]int{}
			}
			counts[name][in.Status]++
		}
		if out.Next == "" {
			break
		}
		after = out.Next
	}
	var parts []string
	for _, t := range []string{"abandoned-checkout", "welcome-series", "post-purchase", "win-back", "low-stock", "customer-sync", "loyalty", "browse-abandonment"} {
		c := counts[t]
		parts = append(parts, fmt.Sprintf("%s %d waiting, %d done", t, c["running"]+c["waiting"], c["completed"]))
	}
	fmt.Fprintf(d.stdout, "[%s] %d webhooks (%d repeated), %d checkouts, %d orders; %d emails in the inbox, %d Slack posts, %d codes; %s\n",
		time.Now().Format("15:04:05"), st.Webhooks, st.Repeated, st.Checkouts, st.Orders, box.Count(), standin.Count("slack"), standin.Count("shopify-admin"), strings.Join(parts, "; "))
}
