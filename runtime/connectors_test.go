package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/catalog"
	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/recording"
	"github.com/storeflow/storeflow/engine"
	"github.com/storeflow/storeflow/problem"
	"github.com/storeflow/storeflow/runtime"
)

// lockedBuffer is a log sink the runtime's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const logFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: logs
  version: '1.0.0'
do:
  - note:
      call: log
      with:
        message: cart recovered
        level: warn
        fields:
          cart: ${ .cart }
  - versioned:
      call: log:1.0.0@default
      with:
        message: done
`

func TestLogBuiltinThroughTheDurableRuntime(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		var logs lockedBuffer
		logger := slog.New(slog.NewJSONHandler(&logs, nil))
		h := newHarnessWith(t, b, func(o *runtime.Options) {
			o.Connectors = catalog.Default(catalog.Options{Logger: logger})
		})
		h.put(logFlow)
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "logs"}, map[string]any{"cart": "c-7"})
		require.NoError(t, err)
		h.eventually("the instance completes", func() bool { return h.state(id).Status == engine.StatusCompleted })

		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(l), &m))
			if m["msg"] == "cart recovered" || m["msg"] == "done" {
				lines = append(lines, m)
			}
		}
		require.Len(t, lines, 2, logs.String())
		require.Equal(t, "WARN", lines[0]["level"])
		require.Equal(t, id, lines[0]["instance"])
		require.Equal(t, "/do/0/note", lines[0]["task"])
		require.Equal(t, map[string]any{"cart": "c-7"}, lines[0]["fields"])
		require.Equal(t, "/do/1/versioned", lines[1]["task"])
		require.Equal(t, map[string]any{"level": "INFO", "message": "done"}, h.state(id).Output)
	})
}

const recordedFlow = `document:
  dsl: '1.0.3'
  namespace: shop
  name: recorded
  version: '1.0.0'
do:
  - tell:
      try:
        - post:
            call: log
            with:
              message: ${ "order " + .order }
      catch:
        errors:
          with:
            status: 503
        as: failure
        do:
          - noted:
              set:
                failed: ${ $failure.detail }
  - fetch:
      call: http
      with:
        method: get
        endpoint: ${ "https://shop.example/orders/" + $workflow.input.order }
`

func TestRecordingTwinRecordsAndAnswersInsteadOfCalling(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		rec := recording.New()
		rec.Answer("log", recording.Answer{Err: problem.New(problem.TypeCommunication, 503, "Down", "log sink down")})
		rec.Answer(connector.KindHTTP, recording.Answer{Output: map[string]any{"status": "paid"}})
		h := newHarnessWith(t, b, func(o *runtime.Options) {
			o.Connectors = rec.Twin(catalog.Default(catalog.Options{}))
		})
		h.put(recordedFlow)
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "recorded"}, map[string]any{"order": "1042"})
		require.NoError(t, err)
		h.eventually("the instance ends", func() bool { return h.state(id).Status.Ended() })
		require.Equal(t, engine.StatusCompleted, h.state(id).Status, "%+v", h.state(id).Error)
		require.Equal(t, map[string]any{"status": "paid"}, h.state(id).Output, "the scripted answer is the call's output")

		calls := rec.Calls()
		require.Len(t, calls, 2)
		require.Equal(t, "log", calls[0].Name())
		require.Equal(t, map[string]any{"message": "order 1042"}, calls[0].Args)
		require.Equal(t, id, calls[0].Instance)
		require.Equal(t, "/do/0/tell/try/0/post", calls[0].Task)
		require.Equal(t, epoch, calls[0].At, "the call's time is the runtime clock's")
		require.True(t, strings.HasPrefix(calls[0].IdempotencyKey, id+"/"), calls[0].IdempotencyKey)
		require.Equal(t, connector.KindHTTP, calls[1].Kind)
		require.Equal(t, "https://shop.example/orders/1042", calls[1].Args.(map[string]any)["uri"])
		require.NotEqual(t, calls[0].IdempotencyKey, calls[1].IdempotencyKey)
		require.Empty(t, h.calls, "nothing reached the network")
	})
}

func TestCompileChecksBuiltinCalls(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		h := newHarness(t, b)
		for _, tc := range []struct{ call, with, want, at string }{
			{"lgo", "{message: hi}", `did you mean "log"?`, "bad.yaml:8:13"},
			{"log:2.0.0@default", "{message: hi}", "not in that version", "bad.yaml:8:13"},
			{"log", "{message: 3}", "with/message: got number, want string", "bad.yaml:9:13"},
			{"log", "{text: hi}", "additional", "bad.yaml:9:13"},
			{"log", "{level: loud, message: hi}", "with/level", "bad.yaml:9:13"},
		} {
			src := strings.Replace(strings.Replace(`document:
  dsl: '1.0.3'
  namespace: shop
  name: bad
  version: '1.0.0'
do:
  - note:
      call: CALL
      with: WITH
`, "CALL", tc.call, 1), "WITH", tc.with, 1)
			_, err := h.rt.Compile("bad.yaml", []byte(src))
			require.ErrorContains(t, err, tc.want, tc.call+" "+tc.with)
			require.ErrorContains(t, err, tc.at, "the error points at the call or its arguments")
		}
		// Computed arguments are checked when the call is made.
		_, err := h.rt.Compile("ok.yaml", []byte(strings.Replace(logFlow, "level: warn", "level: ${ .level }", 1)))
		require.NoError(t, err)
	})
}

func TestEvaluatedArgumentsAreCheckedBeforeTheCall(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		rec := recording.New()
		h := newHarnessWith(t, b, func(o *runtime.Options) { o.Connectors = rec.Twin(catalog.Default(catalog.Options{})) })
		h.put(strings.Replace(logFlow, "level: warn", "level: ${ .level }", 1))
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "logs"}, map[string]any{"cart": "c-1", "level": "loud"})
		require.NoError(t, err)
		h.eventually("the instance faults", func() bool { return h.state(id).Status == engine.StatusFaulted })
		p := h.state(id).Error
		require.Equal(t, problem.TypeValidation, p.Type)
		require.Contains(t, p.Detail, "level")
		require.Equal(t, "/do/0/note", p.Instance)
		require.Empty(t, rec.Calls(), "a call with bad arguments is not made")
	})
}

func TestADeferredCallIsMadeAgainLaterWithTheSameKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		rec := recording.New()
		var calls atomic.Int32
		rec.Handle("log", func(_ context.Context, req connector.Request) (any, error) {
			if calls.Add(1) == 1 {
				return nil, connector.Defer(req.At.Add(time.Hour), "quiet hours")
			}
			return map[string]any{"sent": true}, nil
		})
		h := newHarnessWith(t, b, func(o *runtime.Options) { o.Connectors = rec.Twin(catalog.Default(catalog.Options{})) })
		h.put(logFlow)
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "logs"}, map[string]any{"cart": "c-1"})
		require.NoError(t, err)
		h.eventually("the first call is deferred", func() bool { return calls.Load() == 1 })
		require.Equal(t, engine.StatusWaiting, h.state(id).Status, "a deferred call is no result and no failure")
		h.vc.Advance(59 * time.Minute)
		time.Sleep(50 * time.Millisecond)
		require.Equal(t, int32(1), calls.Load(), "not before its time")
		h.eventually("the call is made again an hour later", func() bool {
			h.vc.Advance(time.Minute)
			return calls.Load() >= 2
		})
		h.eventually("the instance completes", func() bool { return h.state(id).Status == engine.StatusCompleted })
		got := rec.Calls("log")
		require.GreaterOrEqual(t, len(got), 3)
		require.Equal(t, got[0].IdempotencyKey, got[1].IdempotencyKey, "the repeat keeps its key")
		require.Equal(t, got[0].Attempt, got[1].Attempt, "a deferral is no failed attempt")
		require.False(t, got[1].At.Before(epoch.Add(time.Hour)), "made again at %s, not before its time", got[1].At)
	})
}

func TestANotedOutputLeavesItsNoteInTheHistory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b backend) {
		rec := recording.New()
		rec.Handle("log", func(_ context.Context, req connector.Request) (any, error) {
			return connector.Noted{Output: map[string]any{"suppressed": true}, Note: connector.Note{Type: "message.suppressed", Detail: map[string]any{"reason": "no-consent"}}}, nil
		})
		h := newHarnessWith(t, b, func(o *runtime.Options) { o.Connectors = rec.Twin(catalog.Default(catalog.Options{})) })
		h.put(logFlow)
		id, err := h.rt.Start(context.Background(), engine.WorkflowRef{Namespace: "shop", Name: "logs"}, map[string]any{"cart": "c-1"})
		require.NoError(t, err)
		h.eventually("the instance completes", func() bool { return h.state(id).Status == engine.StatusCompleted })
		require.Equal(t, map[string]any{"suppressed": true}, h.state(id).Output, "the workflow sees the output")
		hist, err := h.st.History(context.Background(), id)
		require.NoError(t, err)
		var notes []string
		for _, e := range hist {
			if e.Type == "message.suppressed" {
				notes = append(notes, e.Task+" "+string(e.Data))
			}
		}
		require.Len(t, notes, 2, "one per call")
		require.Contains(t, notes[0], "/do/0/note")
		require.Contains(t, notes[0], `"reason":"no-consent"`)
	})
}
