// Package runtime turns the interpreter into a service: it starts instances
// on events and schedules, commits every transition durably with its
// effects (transactional outbox), fires timers, performs calls at least once
// with idempotency keys, and matches events to waiting instances.
package runtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/expr"
	"github.com/storeflow/storeflow/store"
)

// Options configure a Runtime.
type Options struct {
	Store store.Store
	Clock clock.Clock
	// Connectors perform the calls workflows make, and declare the
	// built-in functions of the default catalog; nil: catalog.Default.
	Connectors *connector.Registry
	Logger     *slog.Logger
	Secrets    map[string]any
	// SecretSource adds secrets that change while the runtime runs (the
	// shops' credentials); see engine.Engine.SecretSource.
	SecretSource func(ctx context.Context) (map[string]any, error)
	// Shards is the number of workers advancing instances; an instance is
	// always advanced by the same worker, so never by two at once.
	Shards int
	// CallWorkers bounds the calls performed at the same time.
	CallWorkers int
	// BatchSize bounds how many transitions one commit groups.
	BatchSize int
	// Lifecycle says which of the DSL's lifecycle CloudEvents are recorded in
	// the event log with the transitions that cause them; empty means
	// LifecycleWorkflow.
	Lifecycle Lifecycle
	// EventSource is the CloudEvents source of those events; empty means
	// DefaultEventSource.
	EventSource string
	// Observe, when set, sees every committed transition (benchmarks and
	// tests measure with it). It must be quick.
	Observe func(Observation)
	// Node names this runtime among the nodes sharing a store ("local" by
	// default). A node restarted under the same name takes its slots back
	// at once; other nodes wait for the leases to expire.
	Node string
	// LeaseTTL is how long a node's slot leases last unless renewed (10s
	// by default): how long a dead node's work waits before others take it.
	LeaseTTL time.Duration
	// Retention, when above 0, is how long events and instance history are
	// kept; older ones are pruned at start and hourly (store.Pruner).
	Retention time.Duration
	// ExprLimits bound every expression evaluation: the workflows' and the
	// event filters' (zero fields: expr's defaults).
	ExprLimits expr.Limits
}

// Observation describes a committed transition.
type Observation struct {
	Instance  string
	Status    engine.Status
	StartedAt time.Time
	Input     any
	// Started and Ended tell whether this transition started or ended the
	// instance; Completion is the effect it fed back ("" for others).
	Started, Ended bool
	Completion     string
	CommittedAt    time.Time

	// TimerDue is when the timer this transition fired was due (zero when
	// it fired none): CommittedAt less TimerDue is how late it fired.
	TimerDue time.Time
}

// Runtime runs instances durably.
type Runtime struct {
	opts   Options
	st     store.Store
	clk    clock.Clock
	eng    *engine.Engine
	calls  *connector.Registry
	log    *slog.Logger
	defs   *registry
	shards []chan *item
	commit chan *commitReq

	ingest       chan *ingestReq
	wakeMatcher  chan struct{}
	wakeOutbox   chan struct{}
	wakeSchedule chan struct{}
	// act counts work in flight, for Settle.
	act     activity
	timers  *timerQueue
	leases  *leases
	opening openings
	untils  untils

	// wakeLeases has the lease loop claim now (slots changed hands, a node
	// joined); wakeHandBack has it give back draining slots whose last
	// call ended.
	wakeLeases, wakeHandBack chan struct{}

	inflightMu sync.Mutex
	inflight   map[string]string // outbox item → its instance
	// performed holds the outbox items performed since the read of the
	// outbox whose number they carry: a read from before an item's
	// completion committed may still list it, and must not start it again.
	performed  map[string]int64
	outboxRead int64

	// matched is the event log position the matcher has handed over.
	matched atomic.Int64
	// listened holds the event types some listen has waited for; events of
	// other types skip the subscription lookups.
	listened sync.Map

	wg          sync.WaitGroup
	dispatching sync.WaitGroup // outbox items being performed
	stopped     chan struct{}
	// ready is closed once Run has made its first claim of work slots.
	ready chan struct{}
	// storeDown is set when a delivery failed because the store did.
	storeDown atomic.Bool
	// idlePoll is how often an idle matcher looks at the log unwoken: a
	// safety net, long where the store notifies of other nodes' events.
	idlePoll time.Duration
}

// New returns a runtime; Run starts it.
func New(opts Options) *Runtime {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Connectors == nil {
		opts.Connectors = catalog.Default(catalog.Options{Logger: opts.Logger})
	}
	if opts.Shards <= 0 {
		opts.Shards = 64
	}
	if opts.CallWorkers <= 0 {
		opts.CallWorkers = 32
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.Node == "" {
		opts.Node = "local"
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.Lifecycle == "" {
		opts.Lifecycle = LifecycleWorkflow
	}
	if opts.EventSource == "" {
		opts.EventSource = DefaultEventSource
	}
	eng := engine.New(opts.Clock)
	eng.Secrets = opts.Secrets
	eng.SecretSource = opts.SecretSource
	eng.Builtins = opts.Connectors
	eng.Logger = opts.Logger
	eng.Limits = opts.ExprLimits
	r := &Runtime{
		opts: opts, st: opts.Store, clk: opts.Clock, eng: eng, calls: opts.Connectors, log: opts.Logger,
		defs:         newRegistry(opts.Store, opts.Connectors),
		commit:       make(chan *commitReq, opts.BatchSize*4),
		ingest:       make(chan *ingestReq, 1024),
		wakeMatcher:  make(chan struct{}, 1),
		wakeOutbox:   make(chan struct{}, 1),
		wakeSchedule: make(chan struct{}, 1),
		timers:       newTimerQueue(),
		leases:       newLeases(),
		inflight:     map[string]string{},
		performed:    map[string]int64{},
		stopped:      make(chan struct{}),
		ready:        make(chan struct{}),

		wakeLeases: make(chan struct{}, 1), wakeHandBack: make(chan struct{}, 1),
	}
	r.idlePoll = 500 * time.Millisecond
	if _, ok := opts.Store.(store.Notifier); ok {
		r.idlePoll = 5 * time.Second
	}
	// Ingestion works from New on, so that an API can accept events while
	// the rest of the runtime starts.
	go r.ingestLoop()
	r.shards = make([]chan *item, opts.Shards)
	for i := range r.shards {
		r.shards[i] = make(chan *item, 1024)
	}
	return r
}

// Engine returns the interpreter the runtime drives.
func (r *Runtime) Engine() *engine.Engine { return r.eng }

// Run starts the runtime's loops and blocks until ctx is done; then it stops
// taking work, lets running transitions commit, and returns.
func (r *Runtime) Run(ctx context.Context) error {
	err := r.defs.reload(ctx)
	if err == nil {
		var short bool
		if short, err = r.claimSlots(ctx); short {
			signal(r.wakeLeases)
		}
	}
	close(r.ready)
	if err != nil {
		close(r.stopped)
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	loops := []func(context.Context){r.matchLoop, r.timerLoop, r.outboxLoop, r.scheduleLoop, r.leaseLoop, r.notifyLoop, r.retentionLoop}
	// The loops evaluate event filters and correlations under the same
	// limits as workflows.
	loopCtx := expr.WithLimits(ctx, r.opts.ExprLimits)
	workCtx, cancelWork := context.WithCancel(expr.WithLimits(context.Background(), r.opts.ExprLimits))
	defer cancelWork()
	var committer sync.WaitGroup
	committer.Add(1)
	go func() { defer committer.Done(); r.commitLoop(workCtx) }()
	for _, ch := range r.shards {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); r.shardLoop(workCtx, ch) }()
	}
	var loopsWG sync.WaitGroup
	for _, loop := range loops {
		loopsWG.Add(1)
		go func() { defer loopsWG.Done(); loop(loopCtx) }()
	}
	<-ctx.Done()
	stopping := time.Now()
	loopsWG.Wait()
	r.dispatching.Wait()
	// Let queued work finish: everything still queued is re-derivable from
	// the store (timers, outbox rows, the event cursor), so shutting down
	// never loses it, but finishing it is kinder.
	for _, ch := range r.shards {
		close(ch)
	}
	r.wg.Wait()
	cancelWork()
	committer.Wait()
	// Give the slots back so that other nodes need not wait for them to
	// expire.
	if err := r.st.ReleaseSlots(context.WithoutCancel(ctx), r.opts.Node, nil); err != nil {
		r.log.Error("release work slots", "err", err)
	} else {
		r.log.Info("gave every work slot back", "node", r.opts.Node, "stopping_took", time.Since(stopping))
	}
	close(r.stopped)
	return nil
}

// Start starts an instance of a stored workflow with input and returns its ID
// once the start is durable.
func (r *Runtime) Start(ctx context.Context, ref engine.WorkflowRef, input any) (string, error) {
	wf, err := r.defs.get(ctx, ref)
	if err != nil {
		return "", err
	}
	id, err := r.startID(ctx)
	if err != nil {
		return "", err
	}
	return id, r.do(ctx, &item{kind: itemStart, id: id, start: &startReq{wf: wf, input: input}})
}

// StartWorkflow starts an instance of an already compiled workflow.
func (r *Runtime) StartWorkflow(ctx context.Context, wf *dsl.Workflow, input any) (string, error) {
	id, err := r.startID(ctx)
	if err != nil {
		return "", err
	}
	return id, r.do(ctx, &item{kind: itemStart, id: id, start: &startReq{wf: wf, input: input}})
}

// Cancel, Suspend and Resume change an instance's lifecycle.
// Instances of slots other nodes hold are changed through the event log
// (see command).
func (r *Runtime) Cancel(ctx context.Context, id, reason string) error {
	return r.command(ctx, &item{kind: itemCancel, id: id, reason: reason})
}

// Suspend pauses an instance; completions wait until it is resumed.
func (r *Runtime) Suspend(ctx context.Context, id string) error {
	return r.command(ctx, &item{kind: itemSuspend, id: id})
}

// Resume continues a suspended instance.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.command(ctx, &item{kind: itemResume, id: id})
}

// Compile loads a definition as this runtime runs it: with its built-in
// functions known, so that a call of an unknown one, or literal arguments
// that do not fit, are errors now rather than faults of a running instance.
func (r *Runtime) Compile(file string, src []byte) (*dsl.Workflow, error) {
	return dsl.LoadWith(file, src, dsl.Options{Builtins: r.calls})
}

// Publish compiles a definition (see Compile), stores it as a new version
// and refreshes the indexes, so that its triggers work from now on. The
// same source posted again is no new version (created is false); other
// source under an existing version is store.ErrVersionExists. A compile
// error is of type dsl.Errors.
func (r *Runtime) Publish(ctx context.Context, file string, src []byte) (stored store.Workflow, created bool, err error) {
	wf, err := r.Compile(file, src)
	if err != nil {
		return store.Workflow{}, false, err
	}
	d := wf.Document
	stored, created, err = r.st.PutWorkflow(ctx, store.Workflow{Namespace: d.Namespace, Name: d.Name, Version: d.Version, Source: src})
	if err != nil {
		return stored, false, err
	}
	return stored, created, r.defs.reload(ctx)
}

// Wake tells the runtime that work was added to its store from outside
// it (a task answered through the API made its call due, and logged an
// event): it looks at its outbox and the event log now rather than at its
// next poll. Other nodes sharing a PostgreSQL store hear of it by
// notification.
func (r *Runtime) Wake() {
	signal(r.wakeOutbox)
	signal(r.wakeMatcher)
}

// Reload refreshes the trigger and correlation indexes after workflows changed.
func (r *Runtime) Reload(ctx context.Context) error { return r.defs.reload(ctx) }

// ErrNotFound is returned for an unknown instance.
var ErrNotFound = store.ErrNotFound
