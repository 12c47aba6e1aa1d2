package pretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/connector/profiles"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/connector/tasks"
	"github.com/storeflow/storeflow/customer"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/secret"
	"github.com/storeflow/storeflow/sending"
	"github.com/storeflow/storeflow/shop"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
	"github.com/storeflow/storeflow/task"
	"github.com/storeflow/storeflow/user"
	"github.com/storeflow/storeflow/webhook"
)

// Options configure runs.
type Options struct {
	// Run, when set, runs only the scenario of this name.
	Run string
	// Logger receives the runtime's logs; nil discards them.
	Logger *slog.Logger
	// HTTP is the live HTTP client of the catalog the twin is made of. It
	// is never used, since the twin answers every call; tests pass one
	// that fails loudly, to prove it.
	HTTP *httpcall.Client
	// Settle bounds, in real time, how long the runtime may take to settle
	// after one move of the clock (default 60 s): a workflow that keeps
	// making work at one instant fails its scenario instead of hanging.
	Settle time.Duration
}

// maxSpan is how far a scenario without `for` may run on the virtual
// clock before it is stopped.
const maxSpan = 366 * 24 * time.Hour

// scheduledSpan is how long a scenario without `for` runs when a workflow
// under test starts by cron or interval: its ticks never end.
const scheduledSpan = 7 * 24 * time.Hour

// Result is the outcome of one scenario.
type Result struct {
	File     string    `json:"file"`
	Scenario string    `json:"scenario"`
	Line     int       `json:"line"`
	Passed   bool      `json:"passed"`
	Failures []Failure `json:"failures,omitempty"`
	// Calls are the calls the recording twin answered, in order.
	Calls []CallRecord `json:"calls"`
	// Instances are the instances the scenario left, oldest first.
	Instances []InstanceRecord `json:"instances"`
	// Tasks are the approval tasks the scenario opened, oldest first.
	Tasks []TaskRecord `json:"tasks,omitempty"`
	// Took is the real time the scenario ran; Span the virtual time it
	// covered.
	Took time.Duration `json:"tookNs"`
	Span time.Duration `json:"spanNs"`
}

// Failure is one expectation not met (or a problem running the scenario),
// at the line of the file that says what was expected.
type Failure struct {
	File string `json:"file"`
	Line int    `json:"line"`
	// Expect names the expectation: "sent[0]", "instances[1]"; empty for
	// problems of the scenario itself.
	Expect  string `json:"expect,omitempty"`
	Message string `json:"message"`
}

func (f Failure) String() string {
	where := fmt.Sprintf("%s:%d", f.File, f.Line)
	if f.Expect != "" {
		return where + ": " + f.Expect + ": " + f.Message
	}
	return where + ": " + f.Message
}

// CallRecord is a call the twin answered.
type CallRecord struct {
	Call     string `json:"call"`
	Workflow string `json:"workflow,omitempty"`
	Instance string `json:"instance"`
	Task     string `json:"task"`
	// At is the offset from the scenario's start, ISO 8601.
	At      string        `json:"at"`
	Offset  time.Duration `json:"-"`
	Args    any           `json:"args,omitempty"`
	Attempt int           `json:"attempt"`
}

// InstanceRecord is an instance as the scenario left it.
type InstanceRecord struct {
	ID       string        `json:"id"`
	Workflow string        `json:"workflow"`
	Status   string        `json:"status"`
	Output   any           `json:"output,omitempty"`
	Error    *ProblemMatch `json:"error,omitempty"`
	// Trigger is what started the instance: "event:SOURCE/ID" for an
	// event, "schedule:…" for a tick.
	Trigger string `json:"trigger,omitempty"`
	// Suppressed are the messages the sending rules suppressed.
	Suppressed []Suppression `json:"suppressed,omitempty"`
}

// RunFile runs a file's scenarios (those named opts.Run, when set).
func RunFile(ctx context.Context, f *File, opts Options) []Result {
	var out []Result
	for _, sc := range f.Scenarios {
		if opts.Run != "" && sc.Name != opts.Run {
			continue
		}
		out = append(out, runScenario(ctx, f, sc, opts))
	}
	return out
}

// scenario is one scenario's world: its store, runtime, clock and twin.
type scenario struct {
	f     *File
	sc    *Scenario
	opts  Options
	start time.Time
	zone  *time.Location
	shop  *shop.Shop
	st    store.Store
	vc    *clock.Virtual
	rt    *runtime.Runtime
	rec   *recording.Recorder
	hooks *webhook.Receiver
	res   *Result
	wfs   []*dsl.Workflow
	// users are the file's users; tasks opens and answers their tasks.
	users map[string]*user.User
	tasks *task.Service
}

func (s *scenario) fail(line int, expect, format string, args ...any) {
	s.res.Failures = append(s.res.Failures, Failure{File: s.f.Path, Line: line, Expect: expect, Message: fmt.Sprintf(format, args...)})
}

func runScenario(ctx context.Context, f *File, sc *Scenario, opts Options) Result {
	began := time.Now()
	res := Result{File: f.Path, Scenario: sc.Name, Line: sc.Line, Calls: []CallRecord{}, Instances: []InstanceRecord{}}
	s := &scenario{f: f, sc: sc, opts: opts, res: &res}
	if opts.Settle <= 0 {
		s.opts.Settle = 60 * time.Second
	}
	if err := s.run(ctx); err != nil {
		s.fail(sc.Line, "", "%v", err)
	}
	sort.SliceStable(res.Failures, func(i, j int) bool {
		a, b := res.Failures[i], res.Failures[j]
		return a.File == b.File && a.Line < b.Line
	})
	res.Took = time.Since(began)
	if s.vc != nil {
		res.Span = s.vc.Now().Sub(s.start)
	}
	res.Passed = len(res.Failures) == 0
	return res
}

func (s *scenario) run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "storeflow-pretest-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "pretest.db"))
	if err != nil {
		return fmt.Errorf("temporary store: %w", err)
	}
	s.st = st
	defer st.Close()
	logger := s.opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	key, _, err := secret.GenerateKey()
	if err != nil {
		return err
	}
	shops := shop.NewDirectory(st, key)
	if err := s.addShop(ctx, shops); err != nil {
		return err
	}
	s.start = DefaultStart
	if f := s.f.Start; f != nil {
		s.start = f.At(DefaultStart, s.zone)
	}
	if w := s.sc.Start; w != nil {
		s.start = w.At(DefaultStart, s.zone)
	}
	s.vc = clock.NewVirtual(s.start)

	s.rec = recording.New()
	scripted := s.script()
	// The sending rules stand in front of the twin as in front of the live
	// connectors: what they suppress or hold never reaches it (or later).
	facts := &sending.Facts{Store: st, Logger: logger}
	rules := &sending.Rules{Log: st, Shops: shops.Get, Consents: facts, Conversions: facts,
		Origins: sending.StoreOrigins{Instances: st}, Clock: s.vc, Logger: logger}
	// Customer profiles are the real projection of the log (the customers'
	// history and the scenario's events): customer.get reads them, as it
	// does in production, since a read sends nothing.
	customers := &customer.Directory{Store: st, Shops: shops.Get, Now: s.vc.Now}
	projections, err := follower.New(follower.Options{Store: st, Logger: logger}, &customer.Projection{Shops: shops.Get})
	if err != nil {
		return err
	}
	customers.Sync = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, s.opts.Settle)
		defer cancel()
		return projections.CaughtUp(ctx, customer.Name)
	}
	live := catalog.Default(catalog.Options{Logger: logger, Shops: shops.Get, HTTP: s.opts.HTTP, Sending: rules, Customers: customers})
	twin := live.Twin(connector.Func(func(ctx context.Context, req connector.Request) (any, error) {
		out, err := s.rec.Call(ctx, req)
		name := recording.Call{Kind: req.Kind, Function: req.Function}.Name()
		if fn, _, _ := connector.ParseRef(name); !scripted[fn] {
			return defaultOutput(fn, req), nil
		}
		return out, err
	}))
	if err := s.people(ctx); err != nil {
		return err
	}
	if err := twin.Replace(tasks.Name, s.taskTwin(scripted)); err != nil {
		return err
	}
	reads := &profiles.Connector{Profiles: customers}
	for _, name := range []string{profiles.Name, profiles.ListName} {
		if err := twin.Replace(name, connector.Func(func(ctx context.Context, req connector.Request) (any, error) {
			out, err := s.rec.Call(ctx, req)
			if scripted[name] {
				return out, err
			}
			return reads.Call(ctx, req)
		})); err != nil {
			return err
		}
	}
	s.rt = runtime.New(runtime.Options{Store: st, Clock: s.vc, Connectors: twin, Logger: logger, Shards: 4, CallWorkers: 8,
		SecretSource: func(ctx context.Context) (map[string]any, error) {
			m, err := shops.WorkflowSecrets(ctx)
			return map[string]any{"shops": m}, err
		}})
	s.tasks.Wake = s.rt.Wake
	s.hooks = &webhook.Receiver{Shops: shops, Ingest: s.rt.Ingest, Deliveries: st, Logger: logger, Now: s.vc.Now}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- s.rt.Run(runCtx) }()
	followed := make(chan struct{})
	go func() { defer close(followed); _ = projections.Run(runCtx) }()
	defer func() {
		stop()
		<-done
		<-followed
	}()

	// History first, with no workflow under test published: it builds
	// what reads the log (profiles) and starts nothing.
	if err := s.history(ctx); err != nil {
		return err
	}
	if err := s.settle(ctx); err != nil {
		return err
	}
	if !s.publish(ctx) {
		return nil // the workflows' own errors are reported
	}
	if err := s.settle(ctx); err != nil {
		return err
	}
	if err := s.drive(ctx); err != nil {
		return err
	}
	return s.check(ctx)
}

func (s *scenario) settle(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, s.opts.Settle)
	defer cancel()
	err := s.rt.Settle(sctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return fmt.Errorf("the runtime did not settle within %s of real time at %s: does a workflow keep starting or resuming instances at one moment?",
			s.opts.Settle, FormatOffset(s.vc.Now().Sub(s.start)))
	}
	return err
}

// addShop configures the scenarios' shop: the file's settings over
// defaults, with a webhook secret of its own to sign webhooks with.
func (s *scenario) addShop(ctx context.Context, shops *shop.Directory) error {
	sh, line, err := shopOf(s.f.Shop)
	if err != nil {
		return &lineErr{line, err}
	}
	added, err := shops.Add(ctx, sh)
	if err != nil {
		return &lineErr{line, fmt.Errorf("shop: %w", err)}
	}
	s.shop = added
	s.shop.Webhooks = sh.Webhooks
	if s.zone, err = time.LoadLocation(added.TimeZone); err != nil {
		return &lineErr{line, fmt.Errorf("shop: time zone %q: %w", added.TimeZone, err)}
	}
	for _, x := range s.f.extraShops {
		if x.Webhooks.Secret == "" {
			x.Webhooks.Secret = randomSecret()
		}
		if _, err := shops.Add(ctx, x); err != nil {
			return fmt.Errorf("shop %s: %w", x.ID, err)
		}
	}
	return nil
}

// lineErr is a problem of the scenario at a line other than its own.
type lineErr struct {
	line int
	err  error
}

func (e *lineErr) Error() string { return e.err.Error() }

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// script hands the scripted answers to the recorder: the scenario's
// before the file's. It returns the calls that have any.
func (s *scenario) script() map[string]bool {
	scripted := map[string]bool{}
	names := map[string]bool{}
	for n := range s.sc.Answers {
		names[n] = true
	}
	for n := range s.f.Answers {
		names[n] = true
	}
	for n := range names {
		fn, _, _ := connector.ParseRef(n)
		var list []recording.Answer
		for _, a := range append(slices.Clone(s.sc.Answers[n]), s.f.Answers[n]...) {
			list = append(list, a.recorded())
		}
		s.rec.Answer(fn, list...)
		scripted[fn] = true
	}
	return scripted
}

// publish stores the workflows under test; their compile errors are
// failures at their own files and lines.
func (s *scenario) publish(ctx context.Context) bool {
	ok := true
	dir := filepath.Dir(s.f.Path)
	for _, ref := range s.f.Workflows {
		path := filepath.Join(dir, ref.Path)
		src, err := os.ReadFile(path)
		if err != nil {
			s.fail(ref.Line, "", "workflow %s: %v", ref.Path, err)
			ok = false
			continue
		}
		stored, _, err := s.rt.Publish(ctx, path, src)
		if err != nil {
			var errs dsl.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					s.res.Failures = append(s.res.Failures, Failure{File: e.File, Line: e.Line, Message: e.Message})
				}
			} else {
				s.fail(ref.Line, "", "workflow %s: %v", ref.Path, err)
			}
			ok = false
			continue
		}
		wf, err := s.rt.Compile(path, stored.Source)
		if err == nil {
			s.wfs = append(s.wfs, wf)
		}
	}
	return ok
}

// timeline is a scenario's events in the order they happen.
type timedEvent struct {
	at    time.Time
	index int
	ev    *Event
}

func (s *scenario) timeline() []timedEvent {
	out := make([]timedEvent, 0, len(s.sc.Events))
	for i := range s.sc.Events {
		e := &s.sc.Events[i]
		at := e.At.At(s.start, s.zone)
		if at.Before(s.start) {
			s.fail(e.Line, "", "the event is at %s, before the scenario starts (%s); history belongs to customers' orders", e.At.Raw, s.start.Format(time.RFC3339))
			continue
		}
		out = append(out, timedEvent{at: at, index: i, ev: e})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// drive runs the timeline: settle, then move the clock to whichever comes
// first, the next event or the runtime's next due work, until neither is
// left or the scenario's time is up.
func (s *scenario) drive(ctx context.Context) error {
	events := s.timeline()
	end, bounded := s.start.Add(maxSpan), false
	if s.sc.For != nil {
		end, bounded = s.start.Add(s.sc.For.D), true
	} else if s.scheduled() {
		end, bounded = s.start.Add(scheduledSpan), true
	}
	for {
		if err := s.settle(ctx); err != nil {
			return err
		}
		next, due, err := s.rt.NextDue(ctx)
		if err != nil {
			return err
		}
		have := len(events) > 0
		var at time.Time
		if have {
			at = events[0].at
		}
		if due && (!have || next.Before(at)) {
			at, have = next, true
		}
		if !have {
			return nil
		}
		if at.After(end) {
			if !bounded {
				return fmt.Errorf("still running after %s of virtual time (work due at %s): give the scenario a `for` to stop it earlier", FormatOffset(maxSpan), FormatOffset(at.Sub(s.start)))
			}
			s.vc.Set(end)
			return s.settle(ctx)
		}
		s.vc.Set(at)
		for len(events) > 0 && !events[0].at.After(at) {
			if err := s.deliver(ctx, events[0]); err != nil {
				var le *lineErr
				if errors.As(err, &le) {
					s.fail(le.line, "", "%v", le.err)
				} else {
					s.fail(events[0].ev.Line, "", "%v", err)
				}
			}
			events = events[1:]
			// One at a time, so that events at one moment happen in the
			// file's order.
			if err := s.settle(ctx); err != nil {
				return err
			}
		}
	}
}

// scheduled reports whether a workflow under test starts on a cron or
// interval schedule, whose ticks never end.
func (s *scenario) scheduled() bool {
	for _, wf := range s.wfs {
		if sc := wf.Schedule; sc != nil && (sc.Cron != "" || sc.Every != nil) {
			return true
		}
	}
	return false
}
