package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/storeflow/storeflow/pretest"
	"github.com/storeflow/storeflow/store"
	"github.com/storeflow/storeflow/store/postgres"
	"github.com/storeflow/storeflow/store/sqlite"
)

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("replay", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dataDir := fl.String("data-dir", envOr("STOREFLOW_DATA_DIR", "storeflow-data"), "directory of the embedded database of the live storeflow (env STOREFLOW_DATA_DIR)")
	storeURL := fl.String("store", envOr("STOREFLOW_STORE", ""), "postgres://… of the live storeflow, instead of the embedded SQLite (env STOREFLOW_STORE)")
	since := fl.String("since", "7d", "how far back to replay: 7d, 36h")
	until := fl.String("until", "", "the end of the window, RFC 3339 (default: now)")
	sample := fl.String("sample", "100%", "the share of the events that start the workflow to replay: 10% (or 0.1)")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "Usage: storeflow replay [--data-dir DIR | --store postgres://…] [--since 7d] [--sample 10%] [--json] WORKFLOW_FILE\n\nRuns a changed workflow in shadow against the events a storeflow recorded: on a\ntemporary store with a virtual clock and recording connectors, so that nothing is\nsent; the live store is only read. Prints, for each sampled event that starts the\nworkflow, what the changed workflow would send beside what the live one sent.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(reorderFlags(fl, args)); err != nil {
		return flagExit(err)
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return 2
	}
	window, err := parseSince(*since)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow replay: --since: %v\n", err)
		return 2
	}
	share, err := parseShare(*sample)
	if err != nil {
		fmt.Fprintf(stderr, "storeflow replay: --sample: %v\n", err)
		return 2
	}
	end := time.Now().UTC()
	if *until != "" {
		if end, err = time.Parse(time.RFC3339Nano, *until); err != nil {
			fmt.Fprintf(stderr, "storeflow replay: --until %q: give an RFC 3339 time (2026-12-04T10:00:00Z)\n", *until)
			return 2
		}
	}
	var live store.Store
	switch {
	case *storeURL != "":
		pg, err := postgres.Open(ctx, *storeURL)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow replay: %v\n", err)
			return 1
		}
		live = pg
	default:
		path := filepath.Join(*dataDir, "storeflow.db")
		if _, err := os.Stat(path); err != nil {
			fmt.Fprintf(stderr, "storeflow replay: no live store at %s (give --data-dir of a storeflow, or --store): %v\n", path, err)
			return 1
		}
		lite, err := sqlite.Open(ctx, path)
		if err != nil {
			fmt.Fprintf(stderr, "storeflow replay: %v\n", err)
			return 1
		}
		live = lite
	}
	defer live.Close()
	rep, err := pretest.Replay(ctx, pretest.ReplayOptions{Live: live, Workflow: fl.Arg(0), Since: end.Add(-window), Until: end, Sample: share,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintf(stderr, "storeflow replay: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReplay(stdout, rep, *sample)
	}
	if len(rep.Failures) > 0 {
		return 1
	}
	return 0
}

func printReplay(w io.Writer, rep *pretest.ReplayReport, sample string) {
	fmt.Fprintf(w, "replay of %s from %s to %s\n", rep.Workflow, rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339))
	fmt.Fprintf(w, "  %d events replayed (%d before the window as history), %d of %d starting events sampled (%s)\n", rep.Events, rep.History, rep.Sampled, rep.Triggers, sample)
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "  shadow run: %s\n", f.Message)
	}
	for _, c := range rep.Cases {
		fmt.Fprintf(w, "%s (%s, %s)\n", c.Event, c.Type, c.ReceivedAt.Format(time.RFC3339))
		printMessages(w, "would:", c.Would, c.ShadowStatus, "")
		var state string
		if c.LiveInstance != nil {
			state = fmt.Sprintf("version %s, %s", c.LiveInstance.Version, c.LiveInstance.Status)
		}
		printMessages(w, "live: ", c.Live, state, "no live instance of this workflow")
	}
	fmt.Fprintf(w, "would send: %s; would suppress: %s\n", counts(rep.WouldSend), counts(rep.WouldSuppress))
	fmt.Fprintf(w, "live sent:  %s; live suppressed: %s\n", counts(rep.LiveSent), counts(rep.LiveSuppressed))
}

func printMessages(w io.Writer, label string, ms []pretest.ReplayMessage, state, none string) {
	if len(ms) == 0 {
		what := "nothing"
		if state == "" && none != "" {
			what = none
		} else if state != "" {
			what += " (" + state + ")"
		}
		fmt.Fprintf(w, "  %s %s\n", label, what)
		return
	}
	for i, m := range ms {
		line := m.Call + " +" + m.After
		if m.To != "" {
			line += " to " + m.To
		}
		if m.Template != "" {
			line += " template " + m.Template
		} else if m.Subject != "" {
			line += " subject " + strconv.Quote(m.Subject)
		}
		if m.Status != store.MessageSent {
			line += " (" + m.Status
			if m.Reason != "" {
				line += ": " + m.Reason
			}
			line += ")"
		}
		if i == len(ms)-1 && state != "" {
			line += "   [" + state + "]"
		}
		if i > 0 {
			label = strings.Repeat(" ", len(label))
		}
		fmt.Fprintf(w, "  %s %s\n", label, line)
	}
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// parseSince reads a window: a Go duration (36h) or whole days (7d).
func parseSince(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: give whole days (7d) or a duration (36h)", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: give whole days (7d) or a duration (36h)", v)
	}
	return d, nil
}

// parseShare reads a share: 10% or 0.1.
func parseShare(v string) (float64, error) {
	s, pct := strings.CutSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && pct {
		f /= 100
	}
	if err != nil || f <= 0 || f > 1 {
		return 0, fmt.Errorf("%q: give a share above 0 and at most 100%% (10%%, or 0.1)", v)
	}
	return f, nil
}
