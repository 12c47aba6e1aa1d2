package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/storeflow/storeflow/store/sqlite"
)

// The raw limit is what SQLite itself allows on this machine for the rows an
// instance needs, with nothing of storeflow around it: one program, one
// connection opened as store/sqlite opens its writer (the same driver and
// pragmas: WAL, synchronous=FULL), statements prepared once, and per
// instance one insert and two updates of its row and three history rows,
// 100 instances to a transaction. The row sizes are those of a throughput
// instance (a state of about 540 bytes, history entries of about 100).
// Every other SQLite figure is printed with its ratio to this one, measured
// in the same run, so that a result means the same on a slow machine and on
// a fast one.
const (
	limitPerTx      = 100
	limitStateBytes = 540
	limitDataBytes  = 100
)

const limitSchema = `
CREATE TABLE instances (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    state      BLOB NOT NULL,
    rev        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE history (
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    type        TEXT NOT NULL,
    data        BLOB,
    PRIMARY KEY (instance_id, seq)
);`

// Limit runs the raw-limit program (see above) on a fresh database and
// reports instances per second.
func Limit(ctx context.Context, cfg Config) (Result, error) {
	n := cfg.Instances
	if n <= 0 {
		n = defaultLimitInstances
	}
	dir, err := os.MkdirTemp(cfg.Dir, "storeflow-limit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.OpenWriteDB(filepath.Join(dir, "limit.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, limitSchema); err != nil {
		return nil, fmt.Errorf("limit schema: %w", err)
	}
	var stmts [3]*sql.Stmt
	for i, q := range []string{
		`INSERT INTO instances (id, status, state, rev, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)`,
		`UPDATE instances SET status = ?, state = ?, rev = rev + 1, updated_at = ? WHERE id = ? AND rev = ?`,
		`INSERT INTO history (instance_id, seq, time, type, data) VALUES (?, ?, ?, ?, ?)`,
	} {
		if stmts[i], err = conn.PrepareContext(ctx, q); err != nil {
			return nil, fmt.Errorf("limit: prepare: %w", err)
		}
		defer stmts[i].Close()
	}
	insert, update, history := stmts[0], stmts[1], stmts[2]
	state := []byte(`{"status":"running","data":"` + strings.Repeat("x", limitStateBytes-30) + `"}`)
	data := []byte(`{"type":"task.completed","task":"` + strings.Repeat("y", limitDataBytes-36) + `"}`)
	ids := make([]string, limitPerTx)
	cpu0, began := cpuTime(), time.Now()
	txs := 0
	for done := 0; done < n; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(limitPerTx, n-done)
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return nil, err
		}
		now := time.Now().UnixNano()
		for i := range k {
			ids[i] = uuid.Must(uuid.NewV7()).String()
			id := ids[i]
			if _, err := insert.ExecContext(ctx, id, "running", state, now, now); err != nil {
				return nil, rollback(conn, err)
			}
			for rev := int64(1); rev <= 2; rev++ {
				if _, err := update.ExecContext(ctx, "running", state, now, id, rev); err != nil {
					return nil, rollback(conn, err)
				}
			}
			for seq := 1; seq <= 3; seq++ {
				if _, err := history.ExecContext(ctx, id, seq, now, "task.completed", data); err != nil {
					return nil, rollback(conn, err)
				}
			}
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
			return nil, rollback(conn, err)
		}
		done += k
		txs++
	}
	secs := time.Since(began).Seconds()
	cpu := cpuTime() - cpu0
	return Result{"scenario": "limit", "instances": n, "per_transaction": limitPerTx, "seconds": round(secs),
		"instances_per_second": round(float64(n) / secs), "commits_per_second": round(float64(txs) / secs),
		"cpu_us_per_instance": round(float64(cpu.Microseconds()) / float64(n))}, nil
}

func ratio(a, b float64) float64 { return float64(int64(a/b*1000+0.5)) / 1000 }

func rollback(conn *sql.Conn, err error) error {
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
	return fmt.Errorf("limit: %w", err)
}

// defaultLimitInstances is the size of a limit run: about a second.
const defaultLimitInstances = 20000

// figures names, per scenario, the figure its ratio to the limit is of.
var figures = map[string]string{
	"throughput": "instances_per_second",
	"waiting":    "starts_per_second",
	"timers":     "fired_per_second",
	"ingest":     "events_per_second",
}

// RunVsLimit runs a scenario between two runs of the raw limit, in the same
// process and on the same disk, and adds the limit's figures and the
// scenario's ratio to their mean.
func RunVsLimit(ctx context.Context, name string, cfg Config) (Result, error) {
	run, ok := Scenarios[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q", name)
	}
	key, measured := figures[name]
	if !measured {
		return run(ctx, cfg)
	}
	limitCfg := Config{Dir: cfg.Dir, Instances: cfg.LimitInstances}
	before, err := Limit(ctx, limitCfg)
	if err != nil {
		return nil, fmt.Errorf("limit before %s: %w", name, err)
	}
	progressf(cfg.Progress, "limit: %v instances/s", before["instances_per_second"])
	res, err := run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	after, err := Limit(ctx, limitCfg)
	if err != nil {
		return nil, fmt.Errorf("limit after %s: %w", name, err)
	}
	progressf(cfg.Progress, "limit: %v instances/s", after["instances_per_second"])
	b, a := before["instances_per_second"].(float64), after["instances_per_second"].(float64)
	limit := (a + b) / 2
	res["limit_before"], res["limit_after"], res["limit_instances_per_second"] = b, a, round(limit)
	if v, ok := res[key].(float64); ok && limit > 0 {
		res[key+"_to_limit"] = ratio(v, limit)
	}
	// CPU per instance hardly moves when other programs compete for the
	// processors, unlike rates: the scenario's against the limit's.
	cb, ca := before["cpu_us_per_instance"].(float64), after["cpu_us_per_instance"].(float64)
	for _, k := range []string{"cpu_us_per_instance", "cpu_us_per_event"} {
		if v, ok := res[k].(float64); ok && cb+ca > 0 {
			res["limit_cpu_us_per_instance"] = round((cb + ca) / 2)
			res[k+"_to_limit"] = ratio(v, (cb+ca)/2)
		}
	}
	return res, nil
}
