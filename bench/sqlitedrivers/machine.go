package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuTicks is /proc/stat's first line: busy and total clock ticks of all
// CPUs since boot (Linux only; ok is false elsewhere).
func cpuTicks() (busy, total int64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, true
}

const clockTicks = 100 // USER_HZ on Linux

// othersShare runs cmd and returns the share of all CPUs that programs
// other than cmd kept busy meanwhile, from 0 to 1, or -1 if unknown.
func othersShare(cmd *exec.Cmd) (float64, error) {
	b0, t0, ok := cpuTicks()
	err := cmd.Run()
	b1, t1, ok1 := cpuTicks()
	if !ok || !ok1 || cmd.ProcessState == nil || t1 <= t0 {
		return -1, err
	}
	own := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * clockTicks
	others := (float64(b1-b0) - own) / float64(t1-t0)
	return max(0, min(1, others)), err
}

// waitQuiet waits, up to limit, for a spell of 3 s in which other programs
// keep at most a tenth of the CPUs busy; it reports what it saw.
func waitQuiet(limit time.Duration) {
	if limit <= 0 {
		return
	}
	deadline := time.Now().Add(limit)
	var said time.Time
	for {
		b0, t0, ok := cpuTicks()
		time.Sleep(3 * time.Second)
		b1, t1, ok1 := cpuTicks()
		if !ok || !ok1 || t1 <= t0 {
			return
		}
		busy := float64(b1-b0) / float64(t1-t0)
		if busy <= 0.10 {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "  machine still busy (%.0f%% of %d CPUs) after %s; running anyway\n", busy*100, runtime.NumCPU(), limit)
			return
		}
		if time.Since(said) >= 30*time.Second {
			fmt.Fprintf(os.Stderr, "  waiting for a quiet machine: other programs use %.0f%% of the CPUs\n", busy*100)
			said = time.Now()
		}
	}
}
