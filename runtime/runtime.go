// Package runtime turns the interpreter into a service: it starts instances
// on events and schedules, commits every transition durably with its
// effects (transactional outbox), fires timers, performs calls at least once
// with idempotency keys, and matches events to waiting instances.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/clock"
	"github.com/storeflow/storeflow/connector/httpcall"
	"github.com/storeflow/storeflow/dsl"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/store"
)

// Options configure a Runtime.
type Options struct {
	Store   store.Store
	Clock   clock.Clock
	HTTP    *httpcall.Client
	Logger  *slog.Logger
	Secrets map[string]any
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
}

// Runtime runs instances durably.
type Runtime struct {
	opts   Options
	st     store.Store
	clk    clock.Clock
	eng    *engine.Engine
	http   *httpcall.Client
	log    *slog.Logger
	defs   *registry
	shards []chan *item
	commit chan *commitReq

	ingest      chan *ingestReq
	wakeMatcher chan struct{}
	wakeOutbox  chan struct{}
	timers      *timerQueue
	leases      *leases
	opening     openings
	untils      untils

	inflightMu sync.Mutex
	inflight   map[string]string // outbox item → its instance

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
	if opts.HTTP == nil {
		opts.HTTP = &httpcall.Client{Logger: opts.Logger}
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
	eng.Logger = opts.Logger
	r := &Runtime{
		opts: opts, st: opts.Store, clk: opts.Clock, eng: eng, http: opts.HTTP, log: opts.Logger,
		defs:        newRegistry(opts.Store),
		commit:      make(chan *commitReq, opts.BatchSize*4),
		ingest:      make(chan *ingestReq, 1024),
		wakeMatcher: make(chan struct{}, 1),
		wakeOutbox:  make(chan struct{}, 1),
		timers:      newTimerQueue(),
		leases:      newLeases(),
		inflight:    map[string]string{},
		stopped:     make(chan struct{}),
		ready:       make(chan struct{}),
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
		err = r.claimSlots(ctx)
	}
	close(r.ready)
	if err != nil {
		close(r.stopped)
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	loops := []func(context.Context){r.matchLoop, r.timerLoop, r.outboxLoop, r.scheduleLoop, r.leaseLoop, r.notifyLoop}
	workCtx, cancelWork := context.WithCancel(context.Background())
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
		go func() { defer loopsWG.Done(); loop(ctx) }()
	}
	<-ctx.Done()
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
	}
	close(r.stopped)
	return nil
}

// ---- work items ----

type itemKind int

const (
	itemStart itemKind = iota
	itemComplete
	itemCancel
	itemSuspend
	itemResume
)

type item struct {
	kind       itemKind
	id         string
	start      *startReq
	completion engine.Completion
	// deleteTimer and deleteOutbox name the durable row the completion came
	// from; it is deleted in the same commit.
	deleteTimer  string
	deleteOutbox string
	reason       string
	done         func(error)
}

type startReq struct {
	wf      *dsl.Workflow
	input   any
	trigger string
	parent  *engine.ParentRef
}

func (r *Runtime) shardOf(id string) chan *item {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return r.shards[int(h.Sum32()%uint32(len(r.shards)))]
}

// enqueue hands an item to the worker of its instance.
func (r *Runtime) enqueue(ctx context.Context, it *item) error {
	select {
	case r.shardOf(it.id) <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.stopped:
		return errors.New("runtime stopped")
	}
}

// do enqueues an item and waits until its transition committed.
func (r *Runtime) do(ctx context.Context, it *item) error {
	errc := make(chan error, 1)
	it.done = func(err error) { errc <- err }
	if err := r.enqueue(ctx, it); err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
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

// Reload refreshes the trigger and correlation indexes after workflows changed.
func (r *Runtime) Reload(ctx context.Context) error { return r.defs.reload(ctx) }

// shardLoop advances instances one item at a time.
func (r *Runtime) shardLoop(ctx context.Context, ch chan *item) {
	for it := range ch {
		err := r.apply(ctx, it)
		switch {
		case err == nil, errors.Is(err, context.Canceled):
		case errors.Is(err, errNotOwner), errors.Is(err, store.ErrFenced):
			// Another node holds the slot now and does this work itself.
			r.log.Debug("instance moved to another node", "instance", it.id, "err", err)
		default:
			r.log.Error("advance instance", "instance", it.id, "err", err)
		}
		if it.done != nil {
			it.done(err)
		}
	}
}

// errStoreDown marks failures of the store itself (unreachable, commit
// failed), after which work is retried rather than given up.
var errStoreDown = errors.New("store unavailable")

// ErrNotFound is returned for an unknown instance.
var ErrNotFound = store.ErrNotFound

func (r *Runtime) apply(ctx context.Context, it *item) error {
	// Work already handed to a worker still commits while its slot drains.
	if _, ok := r.leases.fence(it.id); !ok {
		return errNotOwner
	}
	began := time.Now()
	var (
		in   *engine.Instance
		wf   *dsl.Workflow
		rev  int64
		tr   *engine.Transition
		trig string
	)
	if it.kind == itemStart {
		wf = it.start.wf
		tr = r.eng.Start(ctx, wf, it.id, it.start.input)
		in = tr.Instance
		in.Parent = it.start.parent
		in.LogSeq = r.logPosition(ctx)
		trig = it.start.trigger
	} else {
		rec, err := r.st.GetInstance(ctx, it.id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) || ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("%w: %w", errStoreDown, err)
		}
		if in, err = engine.Unmarshal(rec.State); err != nil {
			return err
		}
		rev = rec.Rev
		if wf, err = r.defs.get(ctx, in.Workflow); err != nil {
			return err
		}
		switch it.kind {
		case itemComplete:
			tr = r.eng.Resume(ctx, wf, in, it.completion)
		case itemCancel:
			if in.Status.Ended() {
				return fmt.Errorf("instance %s has already ended (%s)", in.ID, in.Status)
			}
			tr = r.eng.Cancel(ctx, wf, in, it.reason)
		case itemSuspend:
			if in.Status.Ended() {
				return fmt.Errorf("instance %s has already ended (%s)", in.ID, in.Status)
			}
			tr = r.eng.Suspend(ctx, wf, in)
		case itemResume:
			if in.Status != engine.StatusSuspended {
				return fmt.Errorf("instance %s is not suspended (%s)", in.ID, in.Status)
			}
			tr = r.eng.Unsuspend(ctx, wf, in)
		}
	}
	// Registered before the look-back reads the log, unregistered once the
	// commit is over: see openings.
	defer r.opening.open(wf, tr)()
	if err := r.lookBack(ctx, wf, tr); err != nil {
		return err
	}
	change, err := r.change(rev, trig, tr)
	if err != nil {
		return err
	}
	fence, ok := r.leases.fence(in.ID)
	if !ok {
		return errNotOwner
	}
	change.Fence = fence
	if it.deleteTimer != "" {
		change.DeleteTimers = append(change.DeleteTimers, it.deleteTimer)
	}
	if it.deleteOutbox != "" {
		change.DeleteOutbox = append(change.DeleteOutbox, it.deleteOutbox)
	}
	if err := r.commitChange(ctx, change); err != nil {
		if errors.Is(err, store.ErrDuplicateTrigger) {
			return nil // this trigger started its instance before
		}
		return err
	}
	metricStep.Observe(time.Since(began).Seconds())
	if it.kind == itemStart {
		metricStarted.Inc()
	}
	ended := false
	for _, h := range tr.History {
		switch h.Type {
		case "workflow.completed", "workflow.faulted", "workflow.cancelled":
			metricEnded.WithLabelValues(string(in.Status)).Inc()
			ended = true
		}
	}
	if r.opts.Observe != nil {
		r.opts.Observe(Observation{Instance: in.ID, Status: in.Status, StartedAt: in.StartedAt, Input: in.Input,
			Started: it.kind == itemStart, Ended: ended, Completion: it.completion.Effect, CommittedAt: time.Now()})
	}
	r.afterCommit(ctx, wf, in, tr)
	if len(change.Emit) > 0 {
		// Lifecycle events may start or resume other instances.
		signal(r.wakeMatcher)
	}
	return nil
}

// change turns a transition into the rows to commit with it.
func (r *Runtime) change(rev int64, trigger string, tr *engine.Transition) (store.Change, error) {
	in := tr.Instance
	state, err := in.Marshal()
	if err != nil {
		return store.Change{}, fmt.Errorf("encode instance %s: %w", in.ID, err)
	}
	now := r.clk.Now()
	c := store.Change{Instance: store.Instance{ID: in.ID, Namespace: in.Workflow.Namespace, Name: in.Workflow.Name, Version: in.Workflow.Version,
		Status: string(in.Status), State: state, Rev: rev, TriggerKey: trigger, CreatedAt: in.StartedAt, UpdatedAt: now}}
	for _, h := range tr.History {
		data, _ := json.Marshal(h)
		c.History = append(c.History, store.HistoryEntry{Time: h.Time, Type: h.Type, Task: h.Task, Data: data})
	}
	// Lifecycle events join the commit of their transition: none is logged
	// without it, nor it without them. The start comes before what the
	// tasks emit; the rest follows it, as the transition does not say how
	// history and effects interleave.
	lifecycle := r.lifecycleEvents(tr, rev+1, now)
	if len(lifecycle) > 0 && lifecycle[0].Type == TypeWorkflowStarted {
		c.Emit = append(c.Emit, lifecycle[0])
		lifecycle = lifecycle[1:]
	}
	// An effect created and withdrawn in the same transition (a look-back
	// that completed a new listen at once) leaves no row.
	withdrawn := map[string]bool{}
	for _, e := range tr.Effects {
		if e.Kind == engine.EffectCancel {
			withdrawn[e.Cancels] = true
		}
	}
	for _, e := range tr.Effects {
		if withdrawn[e.ID] {
			continue
		}
		switch e.Kind {
		case engine.EffectTimer:
			c.AddTimers = append(c.AddTimers, store.Timer{ID: e.ID, InstanceID: in.ID, Due: e.Due})
		case engine.EffectSubscribe:
			spec, _ := json.Marshal(e.Subscription)
			for i, f := range e.Subscription.Filters {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: fmt.Sprintf("%s#%d", e.ID, i), InstanceID: in.ID,
					EventType: matchType(f), CorrKey: corrKey(f.Correlate), Since: e.Subscription.Since, Spec: spec})
			}
			if len(e.Subscription.Filters) == 0 {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: e.ID + "#0", InstanceID: in.ID, EventType: anyType, Since: e.Subscription.Since, Spec: spec})
			}
			for i, f := range e.Subscription.Until {
				c.AddSubscriptions = append(c.AddSubscriptions, store.Subscription{ID: fmt.Sprintf("%s#u%d", e.ID, i), InstanceID: in.ID,
					EventType: matchType(f), CorrKey: corrKey(f.Correlate), Since: e.Subscription.Since, Spec: spec})
			}
		case engine.EffectCall, engine.EffectChild:
			payload, _ := json.Marshal(e)
			c.AddOutbox = append(c.AddOutbox, store.OutboxItem{ID: e.ID, InstanceID: in.ID, Kind: string(e.Kind), Payload: payload, NextAt: now})
		case engine.EffectEmit:
			c.Emit = append(c.Emit, eventFromMap(e.Event, now))
		case engine.EffectCancel:
			c.DeleteTimers = append(c.DeleteTimers, e.Cancels)
			c.DeleteSubscriptions = append(c.DeleteSubscriptions, e.Cancels)
			c.DeleteOutbox = append(c.DeleteOutbox, e.Cancels)
		}
	}
	c.Emit = append(c.Emit, lifecycle...)
	if in.Status.Ended() && in.Parent != nil {
		payload, _ := json.Marshal(engine.Completion{Effect: in.Parent.Effect, Output: in.Output, Error: in.Error})
		c.AddOutbox = append(c.AddOutbox, store.OutboxItem{ID: in.ID + "/parent", InstanceID: in.Parent.Instance, Kind: "parent", Payload: payload, NextAt: now})
	}
	return c, nil
}

// afterCommit acts on what a committed transition asked for.
func (r *Runtime) afterCommit(ctx context.Context, wf *dsl.Workflow, in *engine.Instance, tr *engine.Transition) {
	wakeOutbox, wakeMatcher := false, false
	for _, e := range tr.Effects {
		switch e.Kind {
		case engine.EffectTimer:
			r.timers.add(e.ID, in.ID, e.Due, r.clk.Now())
		case engine.EffectCancel:
			r.timers.remove(e.Cancels)
		case engine.EffectCall, engine.EffectChild:
			wakeOutbox = true
		case engine.EffectEmit:
			wakeMatcher = true
		case engine.EffectSubscribe:
			for _, t := range listenTypes(e.Subscription) {
				r.listened.Store(t, true)
			}
			r.defs.noteListens(wf)
		}
	}
	if in.Status.Ended() && in.Parent != nil {
		wakeOutbox = true
	}
	if wakeOutbox {
		signal(r.wakeOutbox)
	}
	if wakeMatcher {
		signal(r.wakeMatcher)
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ---- group commit ----

type commitReq struct {
	change store.Change
	done   chan error
}

func (r *Runtime) commitChange(ctx context.Context, c store.Change) error {
	req := &commitReq{change: c, done: make(chan error, 1)}
	select {
	case r.commit <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitLoop commits the transitions of many instances together: whatever
// queued while the previous commit ran goes into the next one.
func (r *Runtime) commitLoop(ctx context.Context) {
	batch := make([]*commitReq, 0, r.opts.BatchSize)
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-r.commit:
			batch = append(batch[:0], req)
		}
	fill:
		for len(batch) < r.opts.BatchSize {
			select {
			case req := <-r.commit:
				batch = append(batch, req)
			default:
				break fill
			}
		}
		changes := make([]store.Change, len(batch))
		for i, req := range batch {
			changes[i] = req.change
		}
		results, err := r.st.Commit(context.WithoutCancel(ctx), changes)
		metricCommitBatch.Observe(float64(len(batch)))
		for i, req := range batch {
			if err != nil {
				req.done <- fmt.Errorf("%w: %w", errStoreDown, err)
				continue
			}
			req.done <- results[i]
		}
	}
}

// ---- helpers ----

func matchType(m engine.EventMatch) string {
	if t, ok := m.Attributes["type"].(string); ok {
		return t
	}
	return anyType
}

// corrKey is the canonical form of the correlation values a listen expects.
func corrKey(values map[string]any) string {
	m := map[string]any{}
	for k, v := range values {
		if v != nil {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // map keys marshal sorted
	return string(b)
}

func sortedCorrKeys(f *dsl.EventFilter) []string {
	keys := make([]string, 0, len(f.Correlate))
	for k := range f.Correlate {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func eventFromMap(ev map[string]any, now time.Time) store.Event {
	str := func(k string) string { s, _ := ev[k].(string); return s }
	out := store.Event{ID: str("id"), Source: str("source"), Type: str("type"), Subject: str("subject"), ReceivedAt: now}
	if t, err := time.Parse(time.RFC3339Nano, str("time")); err == nil {
		out.Time = t.UTC()
	}
	out.Envelope, _ = json.Marshal(ev)
	return out
}
