package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/storeflow/storeflow/runtime"
	"github.com/storeflow/storeflow/server"
	"github.com/storeflow/storeflow/store"
)

const throughputFlow = `document:
  dsl: '1.0.3'
  namespace: bench
  name: order-routing
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: bench.order}
do:
  - compute:
      set:
        orderId: ${ .orderId }
        total: ${ .qty * .price }
  - route:
      switch:
        - big:
            when: .total > 100
            then: notify
        - small:
            then: end
  - notify:
      emit:
        event:
          with:
            type: bench.big-order
            source: bench
            data: ${ . }
`

// Throughput: events trigger a three-task workflow (set, switch, emit);
// completed instances per second and start-to-end latency.
func Throughput(ctx context.Context, cfg Config) (Result, error) {
	n := cfg.Instances
	var mu sync.Mutex
	var lat []time.Duration
	var first, last time.Time
	var ended atomic.Int64
	e, err := newEnv(ctx, cfg, func(o runtime.Observation) {
		if !o.Ended {
			return
		}
		mu.Lock()
		lat = append(lat, o.CommittedAt.Sub(o.StartedAt))
		if first.IsZero() || o.StartedAt.Before(first) {
			first = o.StartedAt
		}
		if o.CommittedAt.After(last) {
			last = o.CommittedAt
		}
		mu.Unlock()
		ended.Add(1)
	})
	if err != nil {
		return nil, err
	}
	defer e.close(cfg.Dir == "")
	if err := e.publish(ctx, throughputFlow); err != nil {
		return nil, err
	}
	began, cpu0 := time.Now(), cpuTime()
	err = e.ingestAll(ctx, n, func(i int) store.Event {
		return event("bench.order", fmt.Sprintf("o-%d", i), map[string]any{"orderId": i, "qty": 1 + i%5, "price": 40})
	}, nil)
	if err != nil {
		return nil, err
	}
	err = waitUntil(ctx, 10*time.Minute, func() bool { return ended.Load() >= int64(n) }, func() {
		progressf(cfg.Progress, "throughput: %d/%d instances completed", ended.Load(), n)
	})
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	p50, p99, worst := percentiles(lat)
	span := last.Sub(first).Seconds()
	return Result{"scenario": "throughput", "instances": n, "seconds": round(time.Since(began).Seconds()),
		"instances_per_second": round(float64(n) / span), "latency_p50_ms": p50, "latency_p99_ms": p99, "latency_max_ms": worst,
		"cpu_us_per_instance": round(float64((cpuTime() - cpu0).Microseconds()) / float64(n))}, nil
}

const waitingFlow = `document:
  dsl: '1.0.3'
  namespace: bench
  name: cart-wait
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: bench.checkout}
do:
  - awaitOrder:
      timeout:
        after: PT1H
      listen:
        to:
          one:
            with: {type: bench.ordered}
            correlate:
              cart: {from: .data.cart, expect: '${ .cart }'}
`

// Waiting: many instances wait for a correlated event with a timeout; then
// matching events resume some of them.
func Waiting(ctx context.Context, cfg Config) (Result, error) {
	n, m := cfg.Instances, min(cfg.Events, cfg.Instances)
	var started, resumed atomic.Int64
	var mu sync.Mutex
	sentAt := map[string]time.Time{}
	var lat []time.Duration
	e, err := newEnv(ctx, cfg, func(o runtime.Observation) {
		if o.Started && o.Status == "waiting" {
			started.Add(1)
		}
		if o.Ended {
			cart, _ := startData(o.Input)["cart"].(string)
			mu.Lock()
			if at, ok := sentAt[cart]; ok {
				lat = append(lat, o.CommittedAt.Sub(at))
			}
			mu.Unlock()
			resumed.Add(1)
		}
	})
	if err != nil {
		return nil, err
	}
	defer e.close(cfg.Dir == "")
	if err := e.publish(ctx, waitingFlow); err != nil {
		return nil, err
	}
	began := time.Now()
	err = e.ingestAll(ctx, n, func(i int) store.Event {
		return event("bench.checkout", fmt.Sprintf("c-%d", i), map[string]any{"cart": fmt.Sprintf("cart-%d", i)})
	}, nil)
	if err != nil {
		return nil, err
	}
	err = waitUntil(ctx, 2*time.Hour, func() bool { return started.Load() >= int64(n) }, func() {
		progressf(cfg.Progress, "waiting: %d/%d instances waiting, peak RSS %.0f MiB", started.Load(), n, peakRSS())
	})
	if err != nil {
		return nil, err
	}
	startSecs := time.Since(began).Seconds()
	rss, size := peakRSS(), e.size(ctx)
	progressf(cfg.Progress, "waiting: %d instances waiting after %.1fs; resuming %d", n, startSecs, m)

	// Resume m random carts, at a steady pace so that latency is not queueing.
	perm := rand.Perm(n)[:m]
	for i, c := range perm {
		cart := fmt.Sprintf("cart-%d", c)
		mu.Lock()
		sentAt[cart] = time.Now()
		mu.Unlock()
		if _, err := e.rt.Ingest(ctx, []store.Event{event("bench.ordered", fmt.Sprintf("ord-%d", c), map[string]any{"cart": cart})}); err != nil {
			return nil, err
		}
		if i%1000 == 999 {
			progressf(cfg.Progress, "waiting: %d/%d resume events sent", i+1, m)
		}
	}
	err = waitUntil(ctx, 10*time.Minute, func() bool { return resumed.Load() >= int64(m) }, nil)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	p50, p99, worst := percentiles(lat)
	return Result{"scenario": "waiting", "instances": n, "start_seconds": round(startSecs), "starts_per_second": round(float64(n) / startSecs),
		"peak_rss_mib": round(rss), "store_mib": round(size), "resumed": m, "resume_p50_ms": p50, "resume_p99_ms": p99, "resume_max_ms": worst}, nil
}

const timersFlow = `document:
  dsl: '1.0.3'
  namespace: bench
  name: timers
  version: '1.0.0'
input:
  from: ${ .[0].data }
schedule:
  on:
    one:
      with: {type: bench.timer}
do:
  - pause:
      wait: ${ .delay }
`

// Timers: many timers fall due within the same ten seconds; firing lag.
func Timers(ctx context.Context, cfg Config) (Result, error) {
	n := cfg.Instances
	var fired atomic.Int64
	var mu sync.Mutex
	var lag []time.Duration
	var firstDue, lastFired time.Time
	e, err := newEnv(ctx, cfg, func(o runtime.Observation) {
		if !o.Ended {
			return
		}
		ms, _ := startData(o.Input)["delayMs"].(float64)
		due := o.StartedAt.Add(time.Duration(ms) * time.Millisecond)
		mu.Lock()
		lag = append(lag, max(o.CommittedAt.Sub(due), 0))
		if firstDue.IsZero() || due.Before(firstDue) {
			firstDue = due
		}
		if o.CommittedAt.After(lastFired) {
			lastFired = o.CommittedAt
		}
		mu.Unlock()
		fired.Add(1)
	})
	if err != nil {
		return nil, err
	}
	defer e.close(cfg.Dir == "")
	if err := e.publish(ctx, timersFlow); err != nil {
		return nil, err
	}
	// Everything falls due in one window that opens once all instances can
	// have been created (estimated generously).
	window := cfg.Window
	if window <= 0 {
		window = 10 * time.Second
	}
	lead := 2*time.Second + time.Duration(n/2000)*time.Second
	windowStart := time.Now().Add(lead)
	err = e.ingestAll(ctx, n, func(i int) store.Event {
		due := windowStart.Add(time.Duration(rand.Int64N(int64(window))))
		ms := time.Until(due).Milliseconds()
		return event("bench.timer", fmt.Sprintf("t-%d", i), map[string]any{"delay": fmt.Sprintf("PT%.3fS", float64(ms)/1000), "delayMs": ms})
	}, nil)
	if err != nil {
		return nil, err
	}
	err = waitUntil(ctx, lead+10*time.Minute, func() bool { return fired.Load() >= int64(n) }, func() {
		progressf(cfg.Progress, "timers: %d/%d fired", fired.Load(), n)
	})
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	p50, p99, worst := percentiles(lag)
	// The rate timers fired at, from the first falling due to the last
	// firing: the window's own rate when they keep up.
	rate := float64(n) / max(lastFired.Sub(firstDue).Seconds(), window.Seconds()/1000)
	return Result{"scenario": "timers", "timers": n, "window_seconds": window.Seconds(), "lag_p50_ms": p50, "lag_p99_ms": p99, "lag_max_ms": worst,
		"fired_per_second": round(rate)}, nil
}

// Ingest: concurrent HTTP clients post CloudEvents; durable events per
// second and request latency.
func Ingest(ctx context.Context, cfg Config) (Result, error) {
	e, err := newEnv(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	defer e.close(cfg.Dir == "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: server.New(server.Config{Runtime: e.rt, Store: e.st})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/v1/events"
	clients := max(cfg.Clients, 1)
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var next, accepted atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var failures atomic.Int64
	began, cpu0 := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := next.Add(1) - 1
				if i >= int64(cfg.Events) {
					break
				}
				body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": fmt.Sprintf("e-%d", i), "source": "bench", "type": "bench.ingest", "data": map[string]any{"n": i}})
				t0 := time.Now()
				resp, err := client.Post(url, "application/cloudevents+json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					continue
				}
				// Read to the end, so that the connection is used again
				// (closed unread, each request dialled a new one: a fifth
				// of the run's CPU went to connecting and closing).
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					accepted.Add(1)
					mine = append(mine, time.Since(t0))
				} else {
					failures.Add(1)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(began).Seconds()
	p50, p99, worst := percentiles(lat)
	return Result{"scenario": "ingest", "events": cfg.Events, "clients": clients, "accepted": accepted.Load(), "failed": failures.Load(),
		"seconds": round(secs), "events_per_second": round(float64(accepted.Load()) / secs), "latency_p50_ms": p50, "latency_p99_ms": p99, "latency_max_ms": worst,
		"cpu_us_per_event": round(float64((cpuTime() - cpu0).Microseconds()) / float64(max(accepted.Load(), 1)))}, nil
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// startData is the data of the first event an event-started instance's
// input holds (the input is the array of its triggering events).
func startData(input any) map[string]any {
	events, _ := input.([]any)
	if len(events) == 0 {
		return nil
	}
	ev, _ := events[0].(map[string]any)
	data, _ := ev["data"].(map[string]any)
	return data
}
