package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/sqlite"
)

// The writer's work per transition, as the throughput and timers scenarios
// of `storeflow bench` give it: process CPU per change (it hardly moves when
// other programs load the machine, unlike wall time) and wall time.
//
//	go test -run '^$' -bench Commit -benchtime 20000x ./store/sqlite/

const benchBatch = 256

var (
	benchState = []byte(`{"id":"x","status":"completed","input":"` + strings.Repeat("s", 480) + `"}`)
	benchEntry = []byte(`{"time":"2026-12-04T17:57:13.054844832Z","type":"task.started","task":"/do/0/compute","name":"` + strings.Repeat("n", 20) + `"}`)
	benchEvent = []byte(`{"specversion":"1.0","id":"x","source":"storeflow","type":"io.serverlessworkflow.workflow.started.v1","data":"` + strings.Repeat("e", 360) + `"}`)
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "storeflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// commitAll commits changes in batches and reports CPU and wall time per
// change.
func commitAll(b *testing.B, s *sqlite.Store, changes []store.Change) {
	ctx := context.Background()
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	for lo := 0; lo < len(changes); lo += benchBatch {
		res, err := s.Commit(ctx, changes[lo:min(lo+benchBatch, len(changes))])
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range res {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	n := float64(len(changes))
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/n, "cpu-us/change")
	b.ReportMetric(float64(time.Since(wall0).Microseconds())/n, "wall-us/change")
}

func history(n int, at time.Time) []store.HistoryEntry {
	out := make([]store.HistoryEntry, n)
	for i := range out {
		out[i] = store.HistoryEntry{Time: at, Type: "task.started", Task: "/do/0/compute", Data: benchEntry}
	}
	return out
}

func lifecycle(id string, n int, at time.Time) []store.Event {
	out := make([]store.Event, n)
	for i := range out {
		out[i] = store.Event{ID: fmt.Sprintf("%s/1/%d/workflow.started", id, i), Source: "storeflow", Type: "io.serverlessworkflow.workflow.started.v1",
			Subject: id, Time: at, ReceivedAt: at, Envelope: benchEvent}
	}
	return out
}

func benchID(i int) string { return fmt.Sprintf("019ae9a0-%04x-7000-8000-%012x", i%0x10000, i) }

// A throughput instance: started and ended in one transition, with six
// history entries and three events (two lifecycle events, one emitted).
func BenchmarkCommitStart(b *testing.B) {
	s := benchStore(b)
	now := time.Now().UTC()
	changes := make([]store.Change, b.N)
	for i := range changes {
		id := benchID(i)
		changes[i] = store.Change{Instance: store.Instance{ID: id, Namespace: "bench", Name: "order-routing", Version: "1.0.0", Status: "completed",
			State: benchState, TriggerKey: "event:bench/o-" + id, CreatedAt: now, UpdatedAt: now},
			History: history(6, now), Emit: lifecycle(id, 3, now), Fence: 0}
	}
	commitAll(b, s, changes)
}

// A timer firing: the instance's row updated, two history entries, its
// timer deleted and one lifecycle event.
func BenchmarkCommitTimer(b *testing.B) {
	s := benchStore(b)
	now := time.Now().UTC()
	setup := make([]store.Change, b.N)
	for i := range setup {
		id := benchID(i)
		setup[i] = store.Change{Instance: store.Instance{ID: id, Namespace: "bench", Name: "timers", Version: "1.0.0", Status: "waiting",
			State: benchState, CreatedAt: now, UpdatedAt: now},
			History: history(3, now), AddTimers: []store.Timer{{ID: id + "/1", InstanceID: id, Due: now}}}
	}
	ctx := context.Background()
	for lo := 0; lo < len(setup); lo += benchBatch {
		if _, err := s.Commit(ctx, setup[lo:min(lo+benchBatch, len(setup))]); err != nil {
			b.Fatal(err)
		}
	}
	changes := make([]store.Change, b.N)
	for i := range changes {
		in := setup[i].Instance
		in.Rev, in.Status = 1, "completed"
		changes[i] = store.Change{Instance: in, History: history(2, now), DeleteTimers: []string{in.ID + "/1"}, Emit: lifecycle(in.ID, 1, now)}
	}
	commitAll(b, s, changes)
}

// The read a timer firing starts with: an instance by id, from the read
// pool, with its state.
func BenchmarkGetInstance(b *testing.B) {
	s := benchStore(b)
	now := time.Now().UTC()
	const n = 10000
	changes := make([]store.Change, n)
	for i := range changes {
		changes[i] = store.Change{Instance: store.Instance{ID: benchID(i), Namespace: "bench", Name: "timers", Version: "1.0.0", Status: "waiting",
			State: benchState, CreatedAt: now, UpdatedAt: now}}
	}
	ctx := context.Background()
	for lo := 0; lo < n; lo += benchBatch {
		if _, err := s.Commit(ctx, changes[lo:min(lo+benchBatch, n)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		if _, err := s.GetInstance(ctx, benchID(i%n)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/read")
}
