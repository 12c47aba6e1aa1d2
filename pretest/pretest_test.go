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
	require.Len(t, results, 3)
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

func TestTheSendingRulesApplyInPretests(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/rules.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 2)
	for _, r := range results {
		require.Empty(t, r.Failures, r.Scenario)
		require.Empty(t, r.Calls, "%s: a suppressed message never reaches the twin", r.Scenario)
	}
}

// Pretests answer approval tasks as the file's users, at their times; the
// virtual clock jumps to the reminders and the escalation.
func TestApprovalTasks(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/approval.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 4)
	for _, r := range results {
		require.Empty(t, r.Failures, "%s: %v; calls %+v; tasks %+v; instances %+v", r.Scenario, r.Failures, r.Calls, r.Tasks, r.Instances)
	}
	require.Len(t, results[0].Calls, 1, "task.create is recorded once, when it opens its task")
	require.Equal(t, "PT30M", results[0].Tasks[0].At)
	require.Equal(t, 2*time.Hour, results[3].Span, "the escalation is the last thing due: a task nobody answers does not keep the clock running")
}

func TestWrongTaskAnswersAndExpectationsFailAtTheirLines(t *testing.T) {
	t.Parallel()
	f, err := pretest.LoadFile("testdata/approval-wrong.test.yaml")
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 1)
	got := map[int]string{}
	for _, fl := range results[0].Failures {
		got[fl.Line] = fl.Expect + ": " + fl.Message
	}
	for line, want := range map[int]string{
		11: `: alice could not complete task "Refund 120.00 for order o1?" at PT10M: the answer does not fit the task's form: approved: got string, want boolean`,
		12: `: bob may not act on task "Refund 120.00 for order o1?" (role sales-manager, open) at PT20M: their roles are warehouse`,
		13: `: no open task titled "Refund 99.00 for order o9?" at PT30M; open: "Refund 120.00 for order o1?" (role sales-manager, open)`,
		16: `tasks[0]: expected a task titled "Refund 120.00 for order o1?", completed; 1 task(s): "Refund 120.00 for order o1?" for role admin, open, escalated`,
		17: `tasks[1]: expected a task for role admin, escalated, reminded 2×; 1 task(s)`,
	} {
		require.Contains(t, got[line], want, "line %d: %v", line, got)
	}
	require.Len(t, got, 5, "%v", got)
}
