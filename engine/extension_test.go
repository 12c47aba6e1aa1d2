package engine_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/engine"
)

func TestExtensions(t *testing.T) {
	t.Parallel()
	s := newSink(t)
	wf := load(t, fmt.Sprintf(`use:
  extensions:
    - mockShop:
        extend: call
        when: ($task.with.endpoint | startswith("https://mocked.shop.example"))
        before:
          - fake:
              set:
                order: mocked
              then: exit
    - audit:
        extend: set
        before:
          - log:
              call: http
              with:
                method: post
                endpoint: %s/audit
                body:
                  before: ${ $task.reference }
        after:
          - stamp:
              set: '${ . + {audited: true} }'
do:
  - mocked:
      call: http
      with:
        method: get
        endpoint: https://mocked.shop.example/orders/1
  - compute:
      set:
        order: ${ .order }
`, s.srv.URL))
	res := runLocal(t, wf, nil, roundTrip)
	require.Equal(t, engine.StatusCompleted, res.Instance.Status, "%v", res.Instance.Error)
	require.Equal(t, map[string]any{"order": "mocked", "audited": true}, res.Instance.Output)
	require.Equal(t, 1, s.count(), "the audit call ran once, the mocked call never left")
	require.Contains(t, s.bodies[0], "/do/1/compute")
}
