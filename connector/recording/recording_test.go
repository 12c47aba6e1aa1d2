package recording_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/connector"
	"github.com/storeflow/storeflow/connector/logline"
	"github.com/storeflow/storeflow/connector/recording"
)

func TestRecorderAnswersInOrderAndRecords(t *testing.T) {
	t.Parallel()
	live := connector.NewRegistry()
	require.NoError(t, live.Define(logline.Builtin, &logline.Connector{}))
	live.Handle(connector.KindHTTP, connector.Func(func(context.Context, connector.Request) (any, error) {
		t.Fatal("the live connector must not be called")
		return nil, nil
	}))
	rec := recording.New()
	twin := rec.Twin(live)
	_, ok := twin.Builtin("log:1.0.0@default")
	require.True(t, ok, "the twin keeps the declarations")

	down := errors.New("down")
	rec.Answer("log", recording.Answer{Err: down}, recording.Answer{Output: "first"}, recording.Answer{Output: "rest"})
	rec.Handle(connector.KindHTTP, func(_ context.Context, req connector.Request) (any, error) { return req.IdempotencyKey, nil })

	ctx := context.Background()
	call := func(kind, fn, key string) (any, error) {
		return twin.Call(ctx, connector.Request{Kind: kind, Function: fn, IdempotencyKey: key, Instance: "i", Task: "/do/0/x", At: time.Unix(10, 0)})
	}
	_, err := call(connector.KindFunction, "log", "i/1")
	require.ErrorIs(t, err, down)
	for _, want := range []string{"first", "rest", "rest"} {
		out, err := call(connector.KindFunction, "log:1.0.0@default", "i/2")
		require.NoError(t, err)
		require.Equal(t, want, out)
	}
	out, err := call(connector.KindHTTP, "", "i/9")
	require.NoError(t, err)
	require.Equal(t, "i/9", out)

	require.Len(t, rec.Calls(), 5)
	require.Len(t, rec.Calls("log"), 4)
	got := rec.Calls(connector.KindHTTP)
	require.Len(t, got, 1)
	require.Equal(t, recording.Call{Kind: connector.KindHTTP, IdempotencyKey: "i/9", Instance: "i", Task: "/do/0/x", At: time.Unix(10, 0)}, got[0])
}

func TestWaitReturnsOnceEnoughCallsCame(t *testing.T) {
	t.Parallel()
	rec := recording.New()
	go func() {
		for range 3 {
			_, _ = rec.Call(context.Background(), connector.Request{Kind: connector.KindFunction, Function: "sms.send"})
		}
	}()
	calls, err := rec.Wait(context.Background(), 3, "sms.send")
	require.NoError(t, err)
	require.Len(t, calls, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = rec.Wait(ctx, 4)
	require.ErrorIs(t, err, context.Canceled)
}
