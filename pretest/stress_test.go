package pretest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/pretest"
)

// TestManyInstancesSettleExactly runs twenty checkouts over two days:
// every reminder must come at its exact time and none too many, which
// holds only if the clock never moves while work is still in flight.
func TestManyInstancesSettleExactly(t *testing.T) {
	t.Parallel()
	const n = 20
	var b strings.Builder
	b.WriteString("workflows: [flow.yaml]\ncustomers:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: c%d, email: c%d@example.com, consent: {email: subscribed}}\n", i, i)
	}
	b.WriteString("scenarios:\n  - name: a busy day\n    events:\n")
	for i := range n {
		fmt.Fprintf(&b, "      - {at: PT%dM, type: commerce.checkout.started, customer: c%d, data: {checkoutToken: t%d}}\n", i, i, i)
		if i%2 == 0 {
			// Even customers buy 90 minutes in: after the first reminder.
			fmt.Fprintf(&b, "      - {at: PT%dM, type: commerce.order.placed, customer: c%d, data: {orderId: o%d, checkoutToken: t%d}}\n", i+90, i, i, i)
		}
	}
	b.WriteString("    expect:\n      sent:\n")
	for i := range n {
		fmt.Fprintf(&b, "        - {at: PT%dM, within: PT0S, call: email.send, to: c%d@example.com, template: cart-reminder-1, count: 1}\n", i+60, i)
		if i%2 == 1 {
			fmt.Fprintf(&b, "        - {at: PT%dM, within: PT0S, call: email.send, to: c%d@example.com, template: cart-reminder-2, count: 1}\n", i+60+24*60, i)
		}
	}
	b.WriteString("      notSent:\n")
	for i := 0; i < n; i += 2 {
		fmt.Fprintf(&b, "        - {call: email.send, to: c%d@example.com, template: cart-reminder-2}\n", i)
	}
	fmt.Fprintf(&b, "      instances:\n        - {workflow: abandoned-checkout, status: completed, output: {outcome: recovered}, count: %d}\n", n/2)
	fmt.Fprintf(&b, "        - {workflow: abandoned-checkout, status: completed, output: {outcome: reminded}, count: %d}\n", n/2)

	dir := t.TempDir()
	wf, err := os.ReadFile("../examples/abandoned-checkout.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flow.yaml"), wf, 0o644))
	path := filepath.Join(dir, "busy.test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	f, err := pretest.LoadFile(path)
	require.NoError(t, err)
	results := pretest.RunFile(context.Background(), f, pretest.Options{})
	require.Len(t, results, 1)
	r := results[0]
	require.Empty(t, r.Failures)
	require.Len(t, r.Calls, n+n/2)
	require.Equal(t, 24*time.Hour+(n-1+60)*time.Minute, r.Span)
	t.Logf("%d instances, %d calls over %s of virtual time in %s", n, len(r.Calls), pretest.FormatOffset(r.Span), r.Took)
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"workflows: [a.yaml]\nscenarios: [{name: a, expect: {}}]\n",
		"workflows: [a.yaml]\nscenarios:\n  - name: a\n    events: [{at: PT1H, type: x, data: {a: 1}}]\n    expect: {sent: [{call: email.send, at: -P1D}]}\n",
		"start: 2026-01-01T00:00:00\nshop: {timeZone: Europe/Berlin}\n",
		"[1, 2]",
		"a: &x {b: *x}",
		"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := pretest.Load("fuzz.test.yaml", []byte(src))
		if err == nil && file == nil {
			t.Fatal("no file and no error")
		}
		var errs pretest.Errors
		if err != nil && !asErrors(err, &errs) {
			t.Fatalf("an error other than Errors: %v", err)
		}
	})
}
