// Command sqlitedrivers runs storeflow's SQLite workloads against three
// database/sql drivers and prints median figures:
//
//	modernc  modernc.org/sqlite           SQLite translated from C to Go (cgo-free)
//	mattn    github.com/mattn/go-sqlite3  the C amalgamation through cgo
//	ncruces  github.com/ncruces/go-sqlite3 SQLite compiled to Wasm, translated to Go (cgo-free)
//
// `go run .` is the orchestrator: it builds one child binary per driver
// (mattn and ncruces both register the database/sql name "sqlite3", so they
// cannot share a program; a binary apiece also shows each driver's size and
// whether it builds with CGO_ENABLED=0), then runs every child once per
// round, the drivers interleaved, each workload on a fresh database.
package main

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

const modulePath = "github.com/storeflow/storeflow/bench/sqlitedrivers"

var allDrivers = []string{"modernc", "mattn", "ncruces"}

// cgoFor is how each driver's child is built: the cgo-free drivers with
// CGO_ENABLED=0, which proves they need no C toolchain.
var cgoFor = map[string]string{"modernc": "0", "mattn": "1", "ncruces": "0"}

// result is one child's figures for one round.
type result struct {
	Driver      string            `json:"driver"`
	Module      string            `json:"module"`
	Run         int               `json:"run"`
	Settings    map[string]string `json:"settings,omitempty"`
	GroupCommit float64           `json:"group_commit_transitions_per_s"`
	Singles     float64           `json:"single_commits_per_s"`
	Reads       float64           `json:"reads_per_s"`
	ReadUS      float64           `json:"read_latency_us"`
	ReadShut    int64             `json:"read_conns_closed"` // by database/sql for want of an idle slot (see -read-idle)
	UnderReads  float64           `json:"group_commit_under_reads_transitions_per_s"`
	Events      float64           `json:"event_append_events_per_s"`
	// Process CPU µs per operation: the driver's cost with the waiting for
	// disk and for other programs left out.
	GroupCommitCPU float64 `json:"group_commit_cpu_us_per_transition"`
	SinglesCPU     float64 `json:"single_cpu_us_per_commit"`
	ReadsCPU       float64 `json:"reads_cpu_us_per_transition"` // writer and readers together, per transition
	EventsCPU      float64 `json:"event_append_cpu_us_per_event"`
	// Load is /proc/loadavg's 1-minute figure as the child ended: other
	// programs on the machine, if well above the benchmark's own, make the
	// wall-clock figures of that run unreliable.
	Load string `json:"load,omitempty"`
	// Others is the share of all CPUs that other programs kept busy while
	// this run's child ran (from /proc/stat); -1 if unknown. On a quiet
	// machine it is near 0.
	Others float64 `json:"others_cpu_share"`
}

func main() {
	var sz sizes
	child := flag.Bool("child", false, "internal: run the workloads once with the driver this binary was built with")
	run := flag.Int("run", 1, "internal: the round a child runs")
	runs := flag.Int("runs", 3, "rounds; each runs every workload once per driver on fresh databases")
	drivers := flag.String("drivers", strings.Join(allDrivers, ","), "drivers to compare, comma-separated")
	quietShare := flag.Float64("quiet-share", 0.10, "also print medians over only the runs in which other programs used at most this share of the CPUs")
	quiet := flag.Duration("wait-quiet", 0, "before each child, wait up to this long for other programs to leave the CPUs idle (for shared machines)")
	dir := flag.String("dir", "", "directory for the temporary databases (default: the system temp dir); use the disk storeflow's data would live on")
	flag.IntVar(&sz.Instances, "instances", 4096, "instances preloaded before the group-commit workloads")
	flag.IntVar(&sz.Batch, "batch", 256, "transitions per group-commit transaction")
	flag.IntVar(&sz.Batches, "batches", 40, "group-commit transactions timed")
	flag.IntVar(&sz.Readers, "readers", 4, "concurrent point readers in workload 3")
	flag.IntVar(&sz.Singles, "singles", 2000, "single-event transactions timed")
	flag.IntVar(&sz.EventBatch, "event-batch", 512, "events per append transaction")
	flag.IntVar(&sz.EventBatches, "event-batches", 40, "append transactions timed")
	flag.IntVar(&sz.ReadIdle, "read-idle", 4, "MaxIdleConns of the read pool (store/sqlite leaves database/sql's default, 2)")
	pool := flag.Bool("pool", false, "instead of measuring, read the JSON lines of earlier runs from the files named as arguments and print the medians of their quiet runs (see -quiet-share)")
	flag.Parse()
	if *pool {
		if err := poolRuns(os.Stdout, flag.Args(), *quietShare); err != nil {
			fmt.Fprintln(os.Stderr, "sqlitedrivers:", err)
			os.Exit(1)
		}
		return
	}

	if *child {
		if err := runChild(*run, *dir, sz); err != nil {
			fmt.Fprintln(os.Stderr, "sqlitedrivers:", err)
			os.Exit(1)
		}
		return
	}
	if err := orchestrate(strings.Split(*drivers, ","), *runs, *dir, *quiet, *quietShare, sz); err != nil {
		fmt.Fprintln(os.Stderr, "sqlitedrivers:", err)
		os.Exit(1)
	}
}

// ---- child ----

func runChild(run int, dir string, sz sizes) error {
	if compiled == nil {
		return errors.New("this binary has no driver: build it with -tags sqlitedrivers_<driver>, or use `go run .`")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp(dir, "sqlitedrivers-"+compiled.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	res := result{Driver: compiled.name, Module: moduleVersion(compiled.module), Run: run}
	n := 0
	// fresh opens a new database file for one workload.
	fresh := func(f func(s *db) error) error {
		n++
		s, err := openDB(ctx, compiled, filepath.Join(tmp, fmt.Sprintf("w%d.db", n)), sz.ReadIdle)
		if err != nil {
			return err
		}
		if res.Settings == nil {
			if res.Settings, err = s.settings(ctx); err != nil {
				_ = s.close()
				return err
			}
		}
		if err := f(s); err != nil {
			_ = s.close()
			return err
		}
		return s.close()
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "  [run %d %-7s] "+format+"\n", append([]any{run, compiled.name}, args...)...)
	}
	if err := fresh(func(s *db) error {
		g, err := groupCommit(ctx, s, sz, 0)
		res.GroupCommit, res.GroupCommitCPU = g.Transitions, g.CPUUS
		if err == nil {
			err = checkCount(ctx, s.w.conn, "instances", sz.Instances+sz.Batches*sz.Batch/4)
		}
		return err
	}); err != nil {
		return fmt.Errorf("group commit: %w", err)
	}
	logf("1 group commit         %10.0f transitions/s (%.1f µs CPU each)", res.GroupCommit, res.GroupCommitCPU)
	if err := fresh(func(s *db) error {
		var err error
		res.Singles, res.SinglesCPU, err = singles(ctx, s, sz.Singles)
		if err == nil {
			err = checkCount(ctx, s.w.conn, "events", sz.Singles)
		}
		return err
	}); err != nil {
		return fmt.Errorf("single transactions: %w", err)
	}
	logf("2 single transactions  %10.0f commits/s (%.1f µs CPU each)", res.Singles, res.SinglesCPU)
	if err := fresh(func(s *db) error {
		g, err := groupCommit(ctx, s, sz, sz.Readers)
		res.Reads, res.ReadUS, res.UnderReads, res.ReadsCPU, res.ReadShut = g.Reads, g.ReadLatencyUS, g.Transitions, g.CPUUS, g.ReadConnsShut
		return err
	}); err != nil {
		return fmt.Errorf("reads during group commit: %w", err)
	}
	logf("3 reads, %d readers     %10.0f reads/s (%.0f µs each), writer %.0f transitions/s, %d read connections closed and reopened", sz.Readers, res.Reads, res.ReadUS, res.UnderReads, res.ReadShut)
	if err := fresh(func(s *db) error {
		var err error
		res.Events, res.EventsCPU, err = eventBatches(ctx, s, sz.EventBatches, sz.EventBatch)
		if err == nil {
			err = checkCount(ctx, s.w.conn, "events", sz.EventBatches*sz.EventBatch)
		}
		return err
	}); err != nil {
		return fmt.Errorf("event append: %w", err)
	}
	logf("4 event append         %10.0f events/s (%.1f µs CPU each)", res.Events, res.EventsCPU)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.Load = strings.Fields(string(b))[0]
		logf("load average %s", res.Load)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// moduleVersion is "path version" of a dependency linked into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Path + " " + d.Version
			}
		}
	}
	return path
}

// ---- orchestrator ----

type built struct {
	driver string
	bin    string
	size   int64
	static string // "static", "dynamic: libc.so.6 …", or "" when not ELF
}

func orchestrate(drivers []string, runs int, dir string, quiet time.Duration, quietShare float64, sz sizes) error {
	mod, err := os.ReadFile("go.mod")
	if err != nil || !bytes.Contains(mod, []byte("module "+modulePath+"\n")) {
		return errors.New("run it from bench/sqlitedrivers (it builds the children from the module there)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is needed to build the children: %w", err)
	}
	binDir, err := os.MkdirTemp("", "sqlitedrivers-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)

	skipped := map[string]string{}
	var bins []built
	for _, d := range drivers {
		d = strings.TrimSpace(d)
		if _, ok := cgoFor[d]; !ok {
			return fmt.Errorf("unknown driver %q (want some of %s)", d, strings.Join(allDrivers, ","))
		}
		bin := filepath.Join(binDir, "sqlitedrivers-"+d)
		cmd := exec.Command(goTool, "build", "-trimpath", "-tags", "sqlitedrivers_"+d, "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgoFor[d])
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		fmt.Fprintf(os.Stderr, "building %s (CGO_ENABLED=%s)\n", d, cgoFor[d])
		if err := cmd.Run(); err != nil {
			msg := fmt.Sprintf("build failed with CGO_ENABLED=%s: %s", cgoFor[d], lastLines(out.String(), 4))
			fmt.Fprintf(os.Stderr, "SKIPPING %s: %s\n", d, msg)
			skipped[d] = msg
			continue
		}
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		bins = append(bins, built{driver: d, bin: bin, size: st.Size(), static: linkage(bin)})
	}
	if len(bins) == 0 {
		return errors.New("no driver could be built")
	}

	args := []string{"-child", "-dir", dir,
		fmt.Sprint("-instances=", sz.Instances), fmt.Sprint("-batch=", sz.Batch), fmt.Sprint("-batches=", sz.Batches),
		fmt.Sprint("-readers=", sz.Readers), fmt.Sprint("-singles=", sz.Singles),
		fmt.Sprint("-event-batch=", sz.EventBatch), fmt.Sprint("-event-batches=", sz.EventBatches), fmt.Sprint("-read-idle=", sz.ReadIdle)}
	results := map[string][]result{}
	for r := 1; r <= runs; r++ {
		fmt.Fprintf(os.Stderr, "round %d of %d\n", r, runs)
		for _, b := range bins {
			if _, ok := skipped[b.driver]; ok {
				continue
			}
			waitQuiet(quiet)
			cmd := exec.Command(b.bin, append(args, fmt.Sprint("-run=", r))...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			others, err := othersShare(cmd)
			if others >= 0 {
				fmt.Fprintf(os.Stderr, "  [run %d %-7s] other programs used %.0f%% of the CPUs meanwhile\n", r, b.driver, others*100)
			}
			if err != nil {
				msg := fmt.Sprintf("run %d failed: %v", r, err)
				fmt.Fprintf(os.Stderr, "SKIPPING %s from now on: %s\n", b.driver, msg)
				skipped[b.driver] = msg
				delete(results, b.driver)
				continue
			}
			var res result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				return fmt.Errorf("%s: reading its result: %w", b.driver, err)
			}
			res.Others = others
			results[b.driver] = append(results[b.driver], res)
		}
	}
	report(os.Stdout, bins, results, skipped, runs, quietShare, sz)
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// linkage says whether an ELF binary needs shared libraries.
func linkage(bin string) string {
	f, err := elf.Open(bin)
	if err != nil {
		return ""
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return ""
	}
	if len(libs) == 0 {
		return "static"
	}
	return "dynamic: " + strings.Join(libs, " ")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type metric struct {
	key, title, unit string
	get              func(result) float64
}

// table prints the header and metric rows of a markdown table of medians
// and returns them, by driver and metric key.
func table(w io.Writer, names []string, base string, results map[string][]result) map[string]map[string]float64 {
	fmt.Fprintf(w, "| workload | unit |")
	for _, n := range names {
		fmt.Fprintf(w, " %s |", n)
	}
	fmt.Fprintf(w, "\n|---|---|")
	for range names {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	medians := map[string]map[string]float64{}
	for _, n := range names {
		medians[n] = map[string]float64{}
		for _, m := range metrics {
			var xs []float64
			for _, r := range results[n] {
				xs = append(xs, m.get(r))
			}
			medians[n][m.key] = median(xs)
		}
	}
	for _, m := range metrics {
		fmt.Fprintf(w, "| %s | %s |", m.title, m.unit)
		for _, n := range names {
			v := medians[n][m.key]
			if len(results[n]) == 0 {
				fmt.Fprintf(w, " – |")
				continue
			}
			if base != "" && n != base && medians[base][m.key] > 0 && len(results[base]) > 0 {
				fmt.Fprintf(w, " %s (%.2fx) |", m.format(v), v/medians[base][m.key])
			} else {
				fmt.Fprintf(w, " %s |", m.format(v))
			}
		}
		fmt.Fprintln(w)
	}
	return medians
}

// format prints a rate whole and a CPU time to a tenth of a µs.
func (m metric) format(v float64) string {
	if strings.HasPrefix(m.unit, "µs") {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

var metrics = []metric{
	{"group_commit_transitions_per_s", "1 group commit", "transitions/s", func(r result) float64 { return r.GroupCommit }},
	{"single_commits_per_s", "2 single-row tx", "commits/s", func(r result) float64 { return r.Singles }},
	{"reads_per_s", "3 point reads (4 readers)", "reads/s", func(r result) float64 { return r.Reads }},
	{"group_commit_under_reads_transitions_per_s", "3 writer meanwhile", "transitions/s", func(r result) float64 { return r.UnderReads }},
	{"event_append_events_per_s", "4 event append", "events/s", func(r result) float64 { return r.Events }},
	{"group_commit_cpu_us_per_transition", "1 group commit, CPU", "µs/transition", func(r result) float64 { return r.GroupCommitCPU }},
	{"single_cpu_us_per_commit", "2 single-row tx, CPU", "µs/commit", func(r result) float64 { return r.SinglesCPU }},
	{"reads_cpu_us_per_transition", "3 reads + writer, CPU", "µs/transition", func(r result) float64 { return r.ReadsCPU }},
	{"event_append_cpu_us_per_event", "4 event append, CPU", "µs/event", func(r result) float64 { return r.EventsCPU }},
}

func report(w io.Writer, bins []built, results map[string][]result, skipped map[string]string, runs int, quietShare float64, sz sizes) {
	var names []string
	for _, b := range bins {
		if len(results[b.driver]) > 0 {
			names = append(names, b.driver)
		}
	}
	base := ""
	if len(results["modernc"]) > 0 {
		base = "modernc"
	}
	fmt.Fprintf(w, "\nmedian of %d runs; %s %s/%s, %d CPUs; (x) is the ratio to modernc: above 1 is faster for rates, costlier for CPU µs\n\n", runs, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	medians := table(w, names, base, results)
	sizeOf := map[string]built{}
	for _, b := range bins {
		sizeOf[b.driver] = b
	}
	fmt.Fprintf(w, "| binary size | MB |")
	for _, n := range names {
		fmt.Fprintf(w, " %.1f |", float64(sizeOf[n].size)/1e6)
	}
	fmt.Fprintf(w, "\n| build | |")
	for _, n := range names {
		fmt.Fprintf(w, " CGO_ENABLED=%s, %s |", cgoFor[n], sizeOf[n].static)
	}
	fmt.Fprintf(w, "\n| SQLite | |")
	for _, n := range names {
		fmt.Fprintf(w, " %s |", results[n][0].Settings["sqlite_version"])
	}
	fmt.Fprintln(w)

	// Other programs only ever slow a run down, so on a shared machine the
	// runs they left alone are the ones to compare.
	quietRuns := map[string][]result{}
	for _, n := range names {
		for _, r := range results[n] {
			if r.Others >= 0 && r.Others <= quietShare {
				quietRuns[n] = append(quietRuns[n], r)
			}
		}
	}
	fmt.Fprintf(w, "\nmedian of only the runs in which other programs used at most %.0f%% of the CPUs:\n\n", quietShare*100)
	var quietMedians map[string]map[string]float64
	if len(quietRuns) > 0 {
		quietMedians = table(w, names, base, quietRuns)
	} else {
		fmt.Fprintf(w, "| workload | unit |")
		for _, n := range names {
			fmt.Fprintf(w, " %s |", n)
		}
		fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---:|", len(names)))
	}
	fmt.Fprintf(w, "| quiet runs | of %d |", runs)
	for _, n := range names {
		fmt.Fprintf(w, " %d |", len(quietRuns[n]))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nper run (1 / 2 / 3 …):")
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, results[n][0].Module)
		for _, m := range metrics {
			var xs []string
			for _, r := range results[n] {
				xs = append(xs, m.format(m.get(r)))
			}
			fmt.Fprintf(w, "    %-28s %s\n", m.title, strings.Join(xs, " / "))
		}
		var loads, others []string
		for _, r := range results[n] {
			loads = append(loads, r.Load)
			others = append(others, fmt.Sprintf("%.0f%%", r.Others*100))
		}
		fmt.Fprintf(w, "    %-28s %s\n", "others' share of the CPUs", strings.Join(others, " / "))
		fmt.Fprintf(w, "    %-28s %s\n", "load average after the run", strings.Join(loads, " / "))
	}
	for _, d := range allDrivers {
		if msg, ok := skipped[d]; ok {
			fmt.Fprintf(w, "  %-8s skipped: %s\n", d, msg)
		}
	}
	fmt.Fprintln(w)

	type driverLine struct {
		Driver   string             `json:"driver"`
		Module   string             `json:"module"`
		SQLite   string             `json:"sqlite"`
		CGO      bool               `json:"cgo"`
		Linkage  string             `json:"linkage"`
		Binary   int64              `json:"binary_bytes"`
		Medians  map[string]float64 `json:"medians"`
		Quiet    map[string]float64 `json:"quiet_medians,omitempty"` // over the runs with others' share <= quiet_share
		NQuiet   int                `json:"quiet_runs"`
		Settings map[string]string  `json:"settings"`
		Runs     []result           `json:"runs"`
	}
	line := struct {
		Bench   string            `json:"bench"`
		Date    string            `json:"date"`
		Go      string            `json:"go"`
		OS      string            `json:"os"`
		CPUs    int               `json:"cpus"`
		Runs    int               `json:"runs"`
		QShare  float64           `json:"quiet_share"`
		Sizes   sizes             `json:"sizes"`
		Drivers []driverLine      `json:"drivers"`
		Skipped map[string]string `json:"skipped,omitempty"`
	}{Bench: "sqlitedrivers", Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		CPUs: runtime.NumCPU(), Runs: runs, QShare: quietShare, Sizes: sz, Skipped: skipped}
	for _, n := range names {
		runs := make([]result, len(results[n]))
		for i, r := range results[n] {
			r.Settings = nil // the same each run; given once per driver
			runs[i] = r
		}
		line.Drivers = append(line.Drivers, driverLine{Driver: n, Module: results[n][0].Module, SQLite: results[n][0].Settings["sqlite_version"],
			CGO: cgoFor[n] == "1", Linkage: sizeOf[n].static, Binary: sizeOf[n].size, Medians: medians[n], Quiet: quietMedians[n], NQuiet: len(quietRuns[n]), Settings: results[n][0].Settings, Runs: runs})
	}
	b, _ := json.Marshal(line)
	fmt.Fprintln(w, string(b))
}

// poolRuns prints the medians of the quiet runs found in files of JSON
// lines printed by earlier invocations.
func poolRuns(w io.Writer, files []string, quietShare float64) error {
	results := map[string][]result{}
	var names []string
	lines, total := 0, map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var line struct {
				Drivers []struct {
					Driver string   `json:"driver"`
					Runs   []result `json:"runs"`
				} `json:"drivers"`
			}
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			lines++
			for _, d := range line.Drivers {
				if _, seen := total[d.Driver]; !seen {
					names = append(names, d.Driver)
				}
				for _, r := range d.Runs {
					total[d.Driver]++
					if r.Others >= 0 && r.Others <= quietShare {
						results[d.Driver] = append(results[d.Driver], r)
					}
				}
			}
		}
	}
	base := ""
	if len(results["modernc"]) > 0 {
		base = "modernc"
	}
	fmt.Fprintf(w, "median of the runs, among %d invocations, in which other programs used at most %.0f%% of the CPUs\n\n", lines, quietShare*100)
	table(w, names, base, results)
	fmt.Fprintf(w, "| quiet runs | |")
	for _, n := range names {
		fmt.Fprintf(w, " %d of %d |", len(results[n]), total[n])
	}
	fmt.Fprintln(w)
	return nil
}
