package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/bench"
)

// The scenarios run end to end at a tiny size; the figures they print are
// for people, so only their presence is checked, never their values.
func TestScenariosRunSmall(t *testing.T) {
	t.Parallel()
	cases := map[string]bench.Config{
		"throughput": {Instances: 200},
		"waiting":    {Instances: 200, Events: 50},
		"timers":     {Instances: 100, Window: 500 * time.Millisecond},
		"ingest":     {Events: 300, Clients: 4},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg.Dir = t.TempDir()
			res, err := bench.Scenarios[name](context.Background(), cfg)
			require.NoError(t, err)
			require.Equal(t, name, res["scenario"])
			switch name {
			case "throughput":
				require.Equal(t, 200, res["instances"])
				require.Contains(t, res, "latency_p99_ms")
			case "waiting":
				require.Equal(t, 50, res["resumed"])
				require.Contains(t, res, "peak_rss_mib")
			case "timers":
				require.Contains(t, res, "lag_p99_ms")
			case "ingest":
				require.Equal(t, int64(300), res["accepted"])
			}
		})
	}
}
