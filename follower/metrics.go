package follower

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the followers, by follower, registered with the default
// Prometheus registry that `storeflow serve` exposes on /metrics.
var (
	metricLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "storeflow_follower_lag_events",
		Help: "Events logged after the follower's cursor (of any type), as this node last saw it."}, []string{"follower"})
	metricLagSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "storeflow_follower_lag_seconds",
		Help: "How long ago the oldest event the follower has yet to apply was received (0 when caught up)."}, []string{"follower"})
	metricApplied = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "storeflow_follower_events_applied_total",
		Help: "Events the follower applied and committed on this node."}, []string{"follower"})
	metricFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "storeflow_follower_batch_failures_total",
		Help: "Batches of the follower that failed and are retried."}, []string{"follower"})
	metricLeader = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "storeflow_follower_leased",
		Help: "1 while this node holds the follower's lease."}, []string{"follower"})
	metricBatch = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "storeflow_follower_commit_seconds",
		Help: "Time to apply and commit a batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"follower"})
)

func init() {
	prometheus.MustRegister(metricLag, metricLagSeconds, metricApplied, metricFailures, metricLeader, metricBatch)
}
