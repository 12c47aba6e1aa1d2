package runtime

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the runtime, registered with the default Prometheus registry
// that `storeflow serve` exposes on /metrics.
var (
	metricEventsIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "storeflow_events_in_total", Help: "Events accepted into the event log (duplicates excluded)."})
	metricStarted  = prometheus.NewCounter(prometheus.CounterOpts{Name: "storeflow_instances_started_total", Help: "Instances started."})
	metricEnded    = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "storeflow_instances_ended_total", Help: "Instances that ended, by status."}, []string{"status"})
	metricStep     = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "storeflow_step_seconds", Help: "Time to advance an instance and commit the transition.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	metricTimerLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "storeflow_timer_lag_seconds", Help: "How late timers fire.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	metricSlots       = prometheus.NewGauge(prometheus.GaugeOpts{Name: "storeflow_work_slots_held", Help: "Work slots this node holds a lease on."})
	metricOutbox      = prometheus.NewGauge(prometheus.GaugeOpts{Name: "storeflow_outbox_backlog", Help: "Outbox items due and not yet performed at the last scan."})
	metricDeferred    = prometheus.NewCounter(prometheus.CounterOpts{Name: "storeflow_calls_deferred_total", Help: "Calls a connector deferred to later (quiet hours, send rates)."})
	metricCommitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "storeflow_commit_batch_size", Help: "Transitions per group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
)

func init() {
	prometheus.MustRegister(metricEventsIn, metricStarted, metricEnded, metricStep, metricTimerLag, metricOutbox, metricDeferred, metricCommitBatch, metricSlots)
}
