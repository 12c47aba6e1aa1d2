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
		"limit":      {Instances: 250},
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
			case "limit":
				require.Equal(t, 250, res["instances"])
				require.Contains(t, res, "instances_per_second")
				require.Contains(t, res, "cpu_us_per_instance")
			}
		})
	}
}

// A scenario run against the limit carries the limit's figures from before
// and after it, and its own figure's ratio to them.
func TestRunVsLimit(t *testing.T) {
	t.Parallel()
	res, err := bench.RunVsLimit(context.Background(), "throughput", bench.Config{Instances: 100, Dir: t.TempDir(), LimitInstances: 150})
	require.NoError(t, err)
	require.Equal(t, "throughput", res["scenario"])
	for _, key := range []string{"limit_before", "limit_after", "limit_instances_per_second", "instances_per_second_to_limit"} {
		require.Contains(t, res, key)
		require.Greater(t, res[key], 0.0, key)
	}
	_, err = bench.RunVsLimit(context.Background(), "nonesuch", bench.Config{})
	require.ErrorContains(t, err, "nonesuch")
}
