package pretest_test

import (
	"context"
	"testing"

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
