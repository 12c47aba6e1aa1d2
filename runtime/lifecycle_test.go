package runtime_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/store"
)

const greetFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: greet
  version: '1.0.0'
do:
  - hello:
      set:
        greeting: ${ "hi " + .name }
`

const refuseFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: refuse
  version: '1.0.0'
do:
  - check:
      raise:
        error:
          type: https://shop.example/errors/declined
          status: 402
          title: Payment Declined
`

const awaitFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: await
  version: '1.0.0'
do:
  - order:
      listen:
        to:
          one:
            with: {type: order.placed}
            correlate:
              cart: {from: .data.cartId, expect: '${ .cartId }'}
`

// lifecycle is one lifecycle event as the log holds it.
type lifecycle struct {
	Type string
	Data map[string]any
}

// lifecycleOf reads the lifecycle events of one instance from the log and
// checks the CloudEvents attributes they all share.
func (h *harness) lifecycleOf(id string) []lifecycle {
	h.t.Helper()
	events, err := h.st.ReadEvents(context.Background(), 0, "", 10000)
	require.NoError(h.t, err)
	var out []lifecycle
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Source != runtime.DefaultEventSource || ev.Subject != id {
			continue
		}
		var env map[string]any
		require.NoError(h.t, json.Unmarshal(ev.Envelope, &env))
		require.Equal(h.t, "1.0", env["specversion"])
		require.Equal(h.t, ev.ID, env["id"])
		require.Equal(h.t, runtime.DefaultEventSource, env["source"])
		require.Equal(h.t, ev.Type, env["type"])
		require.Equal(h.t, id, env["subject"])
		require.Equal(h.t, "application/json", env["datacontenttype"])
		require.Equal(h.t, ev.Time.Format(time.RFC3339Nano), env["time"])
		require.False(h.t, seen[ev.ID], "event id %s logged twice", ev.ID)
		seen[ev.ID] = true
		data, _ := env["data"].(map[string]any)
		out = append(out, lifecycle{Type: ev.Type, Data: data})
	}
	return out
}

func at(d time.Duration) string { return epoch.Add(d).Format(time.RFC3339Nano) }

func TestLifecycleEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awaitInput := map[string]any{"cartId": "c1"}
	// placeOrder delivers the event the await flow waits for, a minute later.
	placeOrder := func(h *harness, id string) {
		h.vc.Advance(time.Minute)
		h.ingest("order.placed", "o-"+id, map[string]any{"cartId": "c1"})
		h.eventually("the order completes the instance", func() bool { return h.state(id).Status == engine.StatusCompleted })
	}
	tests := []struct {
		name  string
		level runtime.Lifecycle
		flow  string
		input any
		// drive moves the instance on after its start; virtual time moves
		// only where it says.
		drive func(h *harness, id string)
		want  func(name string) []lifecycle
	}{
		{
			name: "started and completed", flow: greetFlow, input: map[string]any{"name": "ada"},
			want: func(name string) []lifecycle {
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "greet", "version": "1.0.0"}}},
					{runtime.TypeWorkflowCompleted, map[string]any{"name": name, "completedAt": at(0)}},
				}
			},
		},
		{
			name: "faulted with its error", flow: refuseFlow,
			want: func(name string) []lifecycle {
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "refuse", "version": "1.0.0"}}},
					{runtime.TypeWorkflowFaulted, map[string]any{"name": name, "faultedAt": at(0), "error": map[string]any{
						"type": "https://shop.example/errors/declined", "status": float64(402), "title": "Payment Declined", "instance": "/do/0/check"}}},
				}
			},
		},
		{
			name: "correlation started and completed", flow: awaitFlow, input: awaitInput, drive: placeOrder,
			want: func(name string) []lifecycle {
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "await", "version": "1.0.0"}}},
					{runtime.TypeWorkflowCorrelationStarted, map[string]any{"name": name, "startedAt": at(0)}},
					{runtime.TypeWorkflowCorrelationCompleted, map[string]any{"name": name, "completedAt": at(time.Minute),
						"correlationKeys": map[string]any{"cart": "c1"}}},
					{runtime.TypeWorkflowCompleted, map[string]any{"name": name, "completedAt": at(time.Minute)}},
				}
			},
		},
		{
			name: "cancelled", flow: awaitFlow, input: awaitInput,
			drive: func(h *harness, id string) {
				h.vc.Advance(time.Minute)
				require.NoError(t, h.rt.Cancel(ctx, id, "customer left"))
			},
			want: func(name string) []lifecycle {
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "await", "version": "1.0.0"}}},
					{runtime.TypeWorkflowCorrelationStarted, map[string]any{"name": name, "startedAt": at(0)}},
					{runtime.TypeWorkflowCancelled, map[string]any{"name": name, "cancelledAt": at(time.Minute)}},
				}
			},
		},
		{
			name: "suspended and resumed", flow: awaitFlow, input: awaitInput,
			drive: func(h *harness, id string) {
				h.vc.Advance(time.Minute)
				require.NoError(t, h.rt.Suspend(ctx, id))
				h.vc.Advance(time.Minute)
				require.NoError(t, h.rt.Resume(ctx, id))
				placeOrder(h, id)
			},
			want: func(name string) []lifecycle {
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "await", "version": "1.0.0"}}},
					{runtime.TypeWorkflowCorrelationStarted, map[string]any{"name": name, "startedAt": at(0)}},
					{runtime.TypeWorkflowSuspended, map[string]any{"name": name, "suspendedAt": at(time.Minute)}},
					{runtime.TypeWorkflowResumed, map[string]any{"name": name, "resumedAt": at(2 * time.Minute)}},
					{runtime.TypeWorkflowCorrelationCompleted, map[string]any{"name": name, "completedAt": at(3 * time.Minute),
						"correlationKeys": map[string]any{"cart": "c1"}}},
					{runtime.TypeWorkflowCompleted, map[string]any{"name": name, "completedAt": at(3 * time.Minute)}},
				}
			},
		},
		{
			name: "none records nothing", level: runtime.LifecycleNone, flow: awaitFlow, input: awaitInput,
			drive: func(h *harness, id string) {
				require.NoError(t, h.rt.Suspend(ctx, id))
				require.NoError(t, h.rt.Resume(ctx, id))
				placeOrder(h, id)
			},
			want: func(string) []lifecycle { return nil },
		},
		{
			name: "all adds task events", level: runtime.LifecycleAll, flow: greetFlow, input: map[string]any{"name": "ada"},
			want: func(name string) []lifecycle {
				task := func(key string) map[string]any {
					return map[string]any{"workflow": name, "task": "/do/0/hello", key: at(0)}
				}
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "greet", "version": "1.0.0"}}},
					{runtime.TypeTaskCreated, task("createdAt")},
					{runtime.TypeTaskStarted, task("startedAt")},
					{runtime.TypeTaskCompleted, task("completedAt")},
					{runtime.TypeWorkflowCompleted, map[string]any{"name": name, "completedAt": at(0)}},
				}
			},
		},
		{
			name: "all: a faulted task carries its error", level: runtime.LifecycleAll, flow: refuseFlow,
			want: func(name string) []lifecycle {
				task := func(key string) map[string]any {
					return map[string]any{"workflow": name, "task": "/do/0/check", key: at(0)}
				}
				problem := map[string]any{"type": "https://shop.example/errors/declined", "status": float64(402), "title": "Payment Declined", "instance": "/do/0/check"}
				faulted := task("faultedAt")
				faulted["error"] = problem
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "refuse", "version": "1.0.0"}}},
					{runtime.TypeTaskCreated, task("createdAt")},
					{runtime.TypeTaskStarted, task("startedAt")},
					{runtime.TypeTaskFaulted, faulted},
					{runtime.TypeWorkflowFaulted, map[string]any{"name": name, "faultedAt": at(0), "error": problem}},
				}
			},
		},
		{
			name: "all: the running task is suspended, resumed and cancelled", level: runtime.LifecycleAll, flow: awaitFlow, input: awaitInput,
			drive: func(h *harness, id string) {
				h.vc.Advance(time.Minute)
				require.NoError(t, h.rt.Suspend(ctx, id))
				require.NoError(t, h.rt.Resume(ctx, id))
				h.vc.Advance(time.Minute)
				require.NoError(t, h.rt.Cancel(ctx, id, "customer left"))
			},
			want: func(name string) []lifecycle {
				task := func(key string, d time.Duration) map[string]any {
					return map[string]any{"workflow": name, "task": "/do/0/order", key: at(d)}
				}
				return []lifecycle{
					{runtime.TypeWorkflowStarted, map[string]any{"name": name, "startedAt": at(0),
						"definition": map[string]any{"namespace": "shop", "name": "await", "version": "1.0.0"}}},
					{runtime.TypeTaskCreated, task("createdAt", 0)},
					{runtime.TypeTaskStarted, task("startedAt", 0)},
					{runtime.TypeWorkflowCorrelationStarted, map[string]any{"name": name, "startedAt": at(0)}},
					{runtime.TypeWorkflowSuspended, map[string]any{"name": name, "suspendedAt": at(time.Minute)}},
					{runtime.TypeTaskSuspended, task("suspendedAt", time.Minute)},
					{runtime.TypeWorkflowResumed, map[string]any{"name": name, "resumedAt": at(time.Minute)}},
					{runtime.TypeTaskResumed, task("resumedAt", time.Minute)},
					{runtime.TypeTaskCancelled, task("cancelledAt", 2*time.Minute)},
					{runtime.TypeWorkflowCancelled, map[string]any{"name": name, "cancelledAt": at(2 * time.Minute)}},
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b backend) {
				h := newHarnessWith(t, b, func(o *runtime.Options) { o.Lifecycle = tt.level })
				h.put(tt.flow)
				id, err := h.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: nameOf(tt.flow), Version: "1.0.0"}, tt.input)
				require.NoError(t, err)
				if tt.drive != nil {
					tt.drive(h, id)
				}
				in := h.state(id)
				require.True(t, in.Status.Ended(), "the instance ended (%s)", in.Status)
				require.Equal(t, tt.want(nameOf(tt.flow)+"-"+id+".shop"), h.lifecycleOf(id))
			})
		})
	}
}

func TestLifecycleEventStartsTheNextWorkflow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		ctx := context.Background()
		h.put(greetFlow)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: other
  version: '1.0.0'
do:
  - nothing:
      set: {done: true}
`)
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: followup
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with:
        type: io.serverlessworkflow.workflow.completed.v1
        source: storeflow
        data: ${ .name | startswith("greet-") }
do:
  - note:
      set:
        after: ${ .name }
`)
		// Its event is logged after everything before it, so once it started an
		// instance the matcher has handed over all those.
		h.put(`document:
  dsl: '1.0.3'
  namespace: shop
  name: sentinel
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: test.sentinel}
do:
  - mark:
      set: {done: true}
`)
		count := func(name string) (n int, last store.Instance) {
			for _, in := range h.instances("") {
				if in.Name == name {
					n++
					last = in
				}
			}
			return n, last
		}
		sentinels := 0
		settle := func() {
			sentinels++
			want := sentinels
			h.ingest("test.sentinel", "s"+string(rune('0'+want)), nil)
			h.eventually("the matcher passes the sentinel", func() bool { n, _ := count("sentinel"); return n == want })
		}

		// Another workflow's outcome, and the follow-up's own, start nothing.
		_, err := h.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "other", Version: "1.0.0"}, nil)
		require.NoError(t, err)
		settle()
		n, _ := count("followup")
		require.Zero(t, n)

		id, err := h.rt.Start(ctx, engine.WorkflowRef{Namespace: "shop", Name: "greet", Version: "1.0.0"}, map[string]any{"name": "ada"})
		require.NoError(t, err)
		h.eventually("greet's completion starts the follow-up", func() bool { n, _ := count("followup"); return n == 1 })
		settle()
		n, follow := count("followup")
		require.Equal(t, 1, n)
		h.eventually("the follow-up completes", func() bool { return h.state(follow.ID).Status == engine.StatusCompleted })
		require.Equal(t, map[string]any{"after": "greet-" + id + ".shop"}, h.state(follow.ID).Output)

		// The lifecycle events offered again (a replayed log, a relay sending
		// them back) are recognised by source and id: nothing starts twice and
		// nothing is logged twice.
		before, err := h.st.ReadEvents(ctx, 0, "", 10000)
		require.NoError(t, err)
		var replay []store.Event
		for _, ev := range before {
			if ev.Source == runtime.DefaultEventSource {
				replay = append(replay, ev)
			}
		}
		require.NotEmpty(t, replay)
		got, err := h.rt.Ingest(ctx, replay)
		require.NoError(t, err)
		for _, ev := range got {
			require.True(t, ev.Duplicate, ev.ID)
		}
		settle()
		n, _ = count("followup")
		require.Equal(t, 1, n, "a lifecycle event offered again starts nothing again")
		after, err := h.st.ReadEvents(ctx, 0, "", 10000)
		require.NoError(t, err)
		require.Len(t, after, len(before)+3, "only the new sentinel and its instance's started and completed events are new")
	})
}
