package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storeflow/storeflow/store"
)

// PartitionPeriod is the span of time one partition of the event log or
// history covers (migration 0005): a week, starting Monday 00:00 UTC. The
// store creates partitions ahead of time; retention drops whole partitions.
const PartitionPeriod = 7 * 24 * time.Hour

const (
	// partitionsAhead is how many weeks after the current one have their
	// partitions ready, so that maintenance missing for a while (a node
	// down, a lock it could not get) does not send rows to the default
	// partition.
	partitionsAhead = 2
	// partitionLock serialises nodes creating and dropping partitions.
	partitionLock = 0x73746f7265707274 // "storeprt"
	// pruneBatch bounds one DELETE in a default partition, so that pruning
	// it never holds locks for long.
	pruneBatch = 5000
	// ddlLockTimeout bounds the wait for the exclusive lock that creating or
	// dropping a partition takes on its table: queued behind a long query,
	// it would hold up every append. Maintenance is retried later.
	ddlLockTimeout = "5s"
)

// partitioned are the partitioned tables and their partition keys.
var partitioned = []struct{ table, key string }{
	{"events", "received_at"},
	{"history", "time"},
	// The keys of events go with them (migration 0030).
	{"event_keys", "received_at"},
}

// periodStart returns the start of the week holding t: Monday 00:00 UTC.
func periodStart(t time.Time) time.Time {
	t = t.UTC()
	y, m, d := t.Date()
	return time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, time.UTC)
}

type partition struct {
	name      string
	from, to  int64 // [from, to) in unix nanoseconds
	isDefault bool
}

var boundRE = regexp.MustCompile(`^FOR VALUES FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)$`)

// partitions lists a table's partitions with their bounds, read from the
// catalog so that partitions are recognised whatever their names.
func partitions(ctx context.Context, q querier, table string) ([]partition, error) {
	rows, err := q.Query(ctx, `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY c.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (partition, error) {
		var p partition
		var bound string
		if err := r.Scan(&p.name, &bound); err != nil {
			return p, err
		}
		if bound == "DEFAULT" {
			p.isDefault = true
			return p, nil
		}
		m := boundRE.FindStringSubmatch(bound)
		if m == nil {
			return p, fmt.Errorf("partition %s of %s: unexpected bounds %q", p.name, table, bound)
		}
		p.from, _ = strconv.ParseInt(m[1], 10, 64)
		p.to, _ = strconv.ParseInt(m[2], 10, 64)
		return p, nil
	})
}

// EnsurePartitions creates the partitions of the event log and history for
// the week holding now and the weeks after it, unless they exist. Rows the
// default partition holds for such a week move into its new partition. Open
// calls it; a long-running node calls it periodically (see serve).
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time) error {
	start := periodStart(now)
	for _, t := range partitioned {
		existing, err := partitions(ctx, s.pool, t.table)
		if err != nil {
			return err
		}
		for i := 0; i <= partitionsAhead; i++ {
			from := start.Add(time.Duration(i) * PartitionPeriod)
			if covered(existing, nanos(from)) {
				continue
			}
			if err := s.createPartition(ctx, t.table, t.key, from); err != nil {
				return err
			}
		}
	}
	return nil
}

func covered(parts []partition, from int64) bool {
	to := from + int64(PartitionPeriod)
	for _, p := range parts {
		if !p.isDefault && p.from < to && from < p.to {
			return true
		}
	}
	return false
}

// createPartition creates the partition of table for the week from.
func (s *Store) createPartition(ctx context.Context, table, key string, from time.Time) error {
	name := fmt.Sprintf("%s_p%s", table, from.Format("20060102"))
	lo, hi := nanos(from), nanos(from.Add(PartitionPeriod))
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+ddlLockTimeout+`'`); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(partitionLock)); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	// Taken first, as appenders do, and needed anyway to add a partition.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{table}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	// Another node may have created it while this one was listing.
	parts, err := partitions(ctx, tx, table)
	if err != nil {
		return err
	}
	if covered(parts, lo) {
		return nil
	}
	tbl, part := pgx.Identifier{table}.Sanitize(), pgx.Identifier{name}.Sanitize()
	// PostgreSQL refuses a new partition while the default partition holds
	// rows of its range, so such rows move out first and back in through
	// the parent, which routes them to the new partition. The locks this
	// takes make the move invisible to other transactions.
	moved := false
	for _, p := range parts {
		if !p.isDefault {
			continue
		}
		def := pgx.Identifier{p.name}.Sanitize()
		where := fmt.Sprintf(`%s >= %d AND %s < %d`, key, lo, key, hi)
		tag, err := tx.Exec(ctx, `CREATE TEMP TABLE storeflow_moved ON COMMIT DROP AS SELECT * FROM `+def+` WHERE `+where)
		if err != nil {
			return fmt.Errorf("create partition %s: save rows of the default partition: %w", name, err)
		}
		if tag.RowsAffected() > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM `+def+` WHERE `+where); err != nil {
				return fmt.Errorf("create partition %s: take rows out of the default partition: %w", name, err)
			}
			moved = true
		}
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF %s FOR VALUES FROM (%d) TO (%d)`, part, tbl, lo, hi)); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	if moved {
		// OVERRIDING SYSTEM VALUE keeps the events' sequence numbers.
		if _, err := tx.Exec(ctx, `INSERT INTO `+tbl+` OVERRIDING SYSTEM VALUE SELECT * FROM storeflow_moved`); err != nil {
			return fmt.Errorf("create partition %s: move rows in from the default partition: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create partition %s: %w", name, err)
	}
	return nil
}

// Prune drops the partitions of the event log and history whose every row
// is older than olderThan, and deletes, in bounded batches, the rows older
// than olderThan that sit in the default partitions. A partition holding
// rows on both sides of olderThan is kept whole, so up to a week more than
// asked is kept.
//
// Retention applies regardless of instances: a running instance keeps its
// state, timers and subscriptions (they are not pruned) but loses history
// entries older than the retention, and a listen it opens later no longer
// finds, looking back, events older than the retention. An event sent
// again after its first copy was pruned is no longer recognised as a
// duplicate; a workflow it triggered is still not started again, because
// instances and their trigger keys are kept.
//
// History is partitioned by entry time rather than by its instance's
// creation time: by creation time, a long-running instance would lose its
// whole history at once, the recent entries too, and its later entries
// would fall into the default partition. The price: an instance whose every
// entry was pruned numbers its next entries from 1 again.
func (s *Store) Prune(ctx context.Context, olderThan time.Time) (store.Pruned, error) {
	var out store.Pruned
	cutoff := nanos(olderThan)
	var pruned seqSpan // of the events pruned
	for _, t := range partitioned {
		var span *seqSpan
		if t.table == "events" {
			span = &pruned
		}
		dropped, defaults, err := s.dropPartitions(ctx, t.table, cutoff, span)
		out.Partitions = append(out.Partitions, dropped...)
		if err != nil {
			return out, err
		}
		for _, def := range defaults {
			n, err := s.pruneDefault(ctx, def, t.key, cutoff, span)
			out.Rows += n
			if err != nil {
				return out, err
			}
		}
	}
	// The links of events to their instances go with the events: those of
	// the seqs the pruned events spanned whose event is gone.
	n, err := s.pruneEventLinks(ctx, pruned)
	out.Rows += n
	if err != nil {
		return out, err
	}
	// Webhook deliveries and the message log are not partitioned: the raw
	// bodies of webhooks go with their events, messages with the history,
	// in batches.
	for _, q := range []struct{ table, query string }{
		{"webhook deliveries", `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE received_at < $1 LIMIT 1000)`},
		{"messages", `DELETE FROM messages WHERE key IN (SELECT key FROM messages WHERE at < $1 LIMIT 1000)`},
	} {
		for {
			tag, err := s.pool.Exec(ctx, q.query, cutoff)
			if err != nil {
				return out, fmt.Errorf("prune %s: %w", q.table, err)
			}
			out.Rows += tag.RowsAffected()
			if tag.RowsAffected() < 1000 {
				break
			}
		}
	}
	return out, nil
}

// dropPartitions drops, in one transaction, a table's partitions that end at
// or before cutoff; it returns them and the table's default partitions.
func (s *Store) dropPartitions(ctx context.Context, table string, cutoff int64, span *seqSpan) (dropped, defaults []string, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("prune %s: %w", table, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+ddlLockTimeout+`'`); err != nil {
		return nil, nil, fmt.Errorf("prune %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(partitionLock)); err != nil {
		return nil, nil, fmt.Errorf("prune %s: %w", table, err)
	}
	parts, err := partitions(ctx, tx, table)
	if err != nil {
		return nil, nil, err
	}
	var expired []string
	for _, p := range parts {
		switch {
		case p.isDefault:
			defaults = append(defaults, p.name)
		case p.to <= cutoff:
			expired = append(expired, p.name)
		}
	}
	if len(expired) == 0 {
		return nil, defaults, nil
	}
	// The table before its partitions, in the order readers and appenders
	// lock them, so that dropping cannot deadlock with them.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+pgx.Identifier{table}.Sanitize()+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return nil, nil, fmt.Errorf("prune %s: %w", table, err)
	}
	for _, name := range expired {
		if span != nil {
			var lo, hi *int64
			if err := tx.QueryRow(ctx, `SELECT MIN(seq), MAX(seq) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&lo, &hi); err != nil {
				return nil, nil, fmt.Errorf("prune %s: seqs of partition %s: %w", table, name, err)
			}
			if lo != nil {
				span.add(*lo)
				span.add(*hi)
			}
		}
		if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, nil, fmt.Errorf("prune %s: drop partition %s: %w", table, name, err)
		}
		dropped = append(dropped, name)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("prune %s: %w", table, err)
	}
	return dropped, defaults, nil
}

// pruneDefault deletes a default partition's rows older than cutoff, a batch
// per transaction. The default partition only holds rows no weekly partition
// covered (times far from when they were written), so it stays small.
// With span set (of events), the seqs deleted widen it.
func (s *Store) pruneDefault(ctx context.Context, def, key string, cutoff int64, span *seqSpan) (int64, error) {
	tbl := pgx.Identifier{def}.Sanitize()
	query := `DELETE FROM ` + tbl + ` WHERE ctid IN (SELECT ctid FROM ` + tbl + ` WHERE ` + key + ` < $1 LIMIT ` + strconv.Itoa(pruneBatch) + `)`
	var total int64
	for {
		var n int64
		if span != nil {
			var lo, hi *int64
			err := s.pool.QueryRow(ctx, `WITH d AS (`+query+` RETURNING seq) SELECT COUNT(*), MIN(seq), MAX(seq) FROM d`, cutoff).Scan(&n, &lo, &hi)
			if err != nil {
				return total, fmt.Errorf("prune default partition %s: %w", def, err)
			}
			if lo != nil {
				span.add(*lo)
				span.add(*hi)
			}
		} else {
			tag, err := s.pool.Exec(ctx, query, cutoff)
			if err != nil {
				return total, fmt.Errorf("prune default partition %s: %w", def, err)
			}
			n = tag.RowsAffected()
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// seqSpan is the range of seqs of the events a prune deleted.
type seqSpan struct {
	lo, hi int64
	set    bool
}

func (s *seqSpan) add(seq int64) {
	if !s.set || seq < s.lo {
		s.lo = seq
	}
	if !s.set || seq > s.hi {
		s.hi = seq
	}
	s.set = true
}

// pruneEventLinks deletes, in batches, the links to instances of the
// events in span that are no longer logged. Events are pruned oldest
// first, so span holds few kept events, each an index lookup.
func (s *Store) pruneEventLinks(ctx context.Context, span seqSpan) (int64, error) {
	if !span.set {
		return 0, nil
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM event_instances WHERE (seq, instance_id) IN (SELECT l.seq, l.instance_id FROM event_instances l
			WHERE l.seq BETWEEN $1 AND $2 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.seq = l.seq) LIMIT 1000)`, span.lo, span.hi)
		if err != nil {
			return total, fmt.Errorf("prune event_instances: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			return total, nil
		}
	}
}
