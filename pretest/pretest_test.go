package pretest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/pretest"
)

func TestExampleAbandonedCheckoutPasses(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("../examples/abandoned-checkout.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 5)
	for _, r := range results {
		for _, fl := range r.Failures {
			t.Errorf("%s: %s", r.Scenario, fl)
		}
		t.Logf("%s: %d calls, took %s for %s virtual", r.Scenario, len(r.Calls), r.Took, r.Span)
	}
}

func TestWrongExpectationsFailAtTheirLines(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/wrong.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 2)
	require.False(t, results[0].Passed)
	require.True(t, results[1].Passed, "%v", results[1].Failures)

	got := map[int]string{}
	for _, fl := range results[0].Failures {
		require.Equal(t, "testdata/wrong.test.yaml", fl.File)
		got[fl.Line] = fl.Expect + ": " + fl.Message
	}
	for line, want := range map[int]string{
		11: "sent[0]: expected email.send template cart-reminder-3 at PT1H (±PT1M); made instead: email.send at PT1H to ada@example.com, template cart-reminder-1",
		12: "sent[1]: expected email.send template cart-reminder-1 at PT2H (±PT1M); it was made at PT1H instead",
		13: "sent[2]: expected sms.send to +4915112345678; no sms.send was made (calls made: email.send ×2)",
		14: "sent[3]: expected 3× email.send to ada@example.com; made 2: email.send at PT1H",
		16: "notSent[0]: expected no email.send template cart-reminder-2; made 1: email.send at P1DT1H to ada@example.com, template cart-reminder-2, category marketing, discount COMEBACK-T1",
		18: `instances[0]: expected an instance of abandoned-checkout faulted; 1 instance(s) of abandoned-checkout: abandoned-checkout completed with output {"outcome":"reminded"}`,
		19: "instances[1]: expected an instance of welcome completed; no instance of welcome was started (started: abandoned-checkout)",
		21: "suppressed[0]: expected email.send (smart-sending) to be suppressed; nothing was suppressed (2 email.send made)",
	} {
		require.Contains(t, got[line], want, "line %d", line)
	}
	require.Len(t, got, 8, "one failure per wrong expectation, none for the right ones")
}

func TestWebhooksGoThroughTheRealAdapters(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/webhooks.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 1)
	require.Empty(t, results[0].Failures)
}

func TestScriptedFailuresAndTimeoutsWithRetries(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/erp-sync.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 3)
	for _, r := range results {
		require.Empty(t, r.Failures, "%s: %v; calls %+v; instances %+v", r.Scenario, r.Failures, r.Calls, r.Instances)
	}
}

func TestTimesWithoutAZoneAreTheShops(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/zone.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 1)
	require.Empty(t, results[0].Failures)
	require.Equal(t, 3*time.Hour, results[0].Span, "the scenario stops when its `for` is over")
	require.Len(t, results[0].Calls, 1)
}

func TestCustomerGetReadsProfilesBuiltFromHistory(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/profile.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 3)
	for _, r := range results {
		require.Empty(t, r.Failures, "%s: calls %+v", r.Scenario, r.Calls)
	}
}
