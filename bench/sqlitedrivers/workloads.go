package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The statements are store/sqlite's (state.go), character for character,
// so that each driver prepares and runs what storeflow runs.
const (
	qInsertInstance = `INSERT INTO instances (id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`
	qUpdateInstance = `UPDATE instances SET status = ?, state = ?, rev = rev + 1, updated_at = ? WHERE id = ? AND rev = ?`
	qMaxHistory     = `SELECT COALESCE(MAX(seq), 0) FROM history WHERE instance_id = ?`
	qInsertHistory  = `INSERT INTO history (instance_id, seq, time, type, task, data) VALUES (?, ?, ?, ?, ?, ?)`
	qDeleteTimer    = `DELETE FROM timers WHERE id = ?`
	qInsertTimer    = `INSERT INTO timers (id, instance_id, due, slot) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET due = excluded.due`
	qAppendEvent    = `INSERT INTO events (id, source, type, subject, time, envelope, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, id) DO NOTHING`
	qGetInstance = `SELECT id, namespace, name, version, status, state, rev, trigger_key, created_at, updated_at FROM instances WHERE id = ?`
)

// sizes are the workloads' sizes; flags set them.
type sizes struct {
	Instances    int `json:"instances"`     // instances preloaded before group commit
	Batch        int `json:"batch"`         // transitions per group-commit transaction
	Batches      int `json:"batches"`       // group-commit transactions timed
	Readers      int `json:"readers"`       // concurrent readers in workload 3
	Singles      int `json:"singles"`       // single-row transactions timed
	EventBatch   int `json:"event_batch"`   // events per append transaction
	EventBatches int `json:"event_batches"` // append transactions timed
	ReadIdle     int `json:"read_idle"`     // MaxIdleConns of the read pool
}

// ---- payloads ----

// stateJSON is an instance's state document of about 1-2 KB: the cart the
// workflow started with, its context and position, changed by rev.
func stateJSON(i, rev int) []byte {
	var b strings.Builder
	b.Grow(2048)
	fmt.Fprintf(&b, `{"input":{"cartId":"cart-%06d","customer":{"id":"cus-%06d","email":"customer%06d@example.com","name":"Customer %d","locale":"en-GB"},"currency":"EUR","items":[`, i, i, i, i)
	items := 3 + i%8 // 3..10 items: 1-2 KB in all
	for k := 0; k < items; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%05d-%d","title":"Organic cotton t-shirt, size M, colour %d","qty":%d,"price":%d.99}`, i%99991, k, k, 1+k%3, 10+k)
	}
	fmt.Fprintf(&b, `]},"context":{"reminders":%d,"lastEmail":"2026-11-25T10:%02d:00Z","discountCode":"CART-%06d"},"position":"/do/%d/wait","rev":%d}`, rev, rev%60, i, rev%5, rev)
	return []byte(b.String())
}

func historyData(i, rev, k int) []byte {
	return []byte(fmt.Sprintf(`{"task":"sendReminder","attempt":%d,"output":{"status":202,"messageId":"msg-%06d-%d-%d"}}`, k+1, i, rev, k))
}

// envelope is a CloudEvent of about 600 bytes, as the ingress stores it.
func envelope(n int) []byte {
	return []byte(fmt.Sprintf(`{"specversion":"1.0","id":"evt-%09d","source":"https://shop.example.com/webhooks","type":"checkout.started","subject":"cart-%06d","time":"2026-11-25T10:00:00Z","datacontenttype":"application/json","data":{"cartId":"cart-%06d","customer":{"id":"cus-%06d","email":"customer%06d@example.com"},"currency":"EUR","total":%d.50,"items":[{"sku":"SKU-%05d-0","qty":1,"price":19.99},{"sku":"SKU-%05d-1","qty":2,"price":24.99}],"landingSite":"/collections/summer?utm_source=newsletter&utm_medium=email","note":"leave at the door"}}`,
		n, n%1000000, n%1000000, n%1000000, n%1000000, 20+n%500, n%99991, n%99991))
}

// ---- group commit (workloads 1 and 3) ----

// change is one instance's transition, as store.Change carries it.
type change struct {
	idx      int    // instance index
	id       string // instance id
	insert   bool   // a new instance (rev 0) rather than an update
	rev      int64  // expected rev, for updates
	state    []byte
	history  [2][]byte
	oldTimer string
	newTimer string
}

type instances struct {
	ids  []string
	revs []int64
}

func instanceID(i int) string { return "inst-" + strconv.Itoa(1000000+i) }

func timerID(id string, rev int64) string { return id + "/t" + strconv.FormatInt(rev, 10) }

// plan builds the changes of n transactions of size each, before the clock
// starts: every fourth change starts a new instance, the others move an
// existing instance on (round robin over the preloaded ones).
func plan(inst *instances, preloaded, n, size int) [][]change {
	batches := make([][]change, n)
	next := 0
	for b := range batches {
		cs := make([]change, size)
		for k := range cs {
			var c change
			if k%4 == 3 {
				c.idx = len(inst.ids)
				c.id = instanceID(c.idx)
				c.insert = true
				inst.ids = append(inst.ids, c.id)
				inst.revs = append(inst.revs, 1)
				c.newTimer = timerID(c.id, 1)
				c.state = stateJSON(c.idx, 1)
			} else {
				c.idx = next % preloaded
				next++
				c.id = inst.ids[c.idx]
				c.rev = inst.revs[c.idx]
				inst.revs[c.idx]++
				c.oldTimer = timerID(c.id, c.rev)
				c.newTimer = timerID(c.id, c.rev+1)
				c.state = stateJSON(c.idx, int(c.rev+1))
			}
			c.history[0] = historyData(c.idx, int(c.rev), 0)
			c.history[1] = historyData(c.idx, int(c.rev), 1)
			cs[k] = c
		}
		batches[b] = cs
	}
	return batches
}

// commitBatch is store/sqlite's Store.Commit: one transaction, a savepoint
// per change, the instance row, its history rows, its timer moved.
func commitBatch(ctx context.Context, w *writer, cs []change) error {
	if err := w.begin(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for i := range cs {
		if err := applyChange(ctx, w, &cs[i]); err != nil {
			w.rollback(ctx)
			return err
		}
	}
	return w.commit(ctx)
}

func applyChange(ctx context.Context, w *writer, c *change) error {
	if _, err := w.exec(ctx, `SAVEPOINT change`); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	if c.insert {
		if _, err := w.exec(ctx, qInsertInstance, c.id, "shop", "abandoned-cart", "1.0.0", "running", c.state, "cart-"+c.id, now, now); err != nil {
			return fmt.Errorf("insert instance %s: %w", c.id, err)
		}
	} else {
		res, err := w.exec(ctx, qUpdateInstance, "waiting", c.state, now, c.id, c.rev)
		if err != nil {
			return fmt.Errorf("update instance %s: %w", c.id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("update instance %s rev %d: %d rows", c.id, c.rev, n)
		}
	}
	row, err := w.queryRow(ctx, qMaxHistory, c.id)
	if err != nil {
		return err
	}
	var seq int64
	if err := row.Scan(&seq); err != nil {
		return err
	}
	for k, data := range c.history {
		seq++
		typ := "taskCompleted"
		if k == 1 {
			typ = "waitStarted"
		}
		if _, err := w.exec(ctx, qInsertHistory, c.id, seq, now, typ, "remind", data); err != nil {
			return fmt.Errorf("history of %s: %w", c.id, err)
		}
	}
	if c.oldTimer != "" {
		if _, err := w.exec(ctx, qDeleteTimer, c.oldTimer); err != nil {
			return err
		}
	}
	// The slot is store.SlotOf(id) in storeflow; any stable 0..63 does here.
	if _, err := w.exec(ctx, qInsertTimer, c.newTimer, c.id, now+int64(time.Hour), c.idx%64); err != nil {
		return err
	}
	_, err = w.exec(ctx, `RELEASE change`)
	return err
}

// preload inserts n instances, with their first history rows and timers,
// untimed, so that the timed part updates existing rows as a running
// storeflow mostly does.
func preload(ctx context.Context, w *writer, n, size int) (*instances, error) {
	inst := &instances{}
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		cs := make([]change, 0, end-start)
		for i := start; i < end; i++ {
			id := instanceID(i)
			inst.ids = append(inst.ids, id)
			inst.revs = append(inst.revs, 1)
			cs = append(cs, change{idx: i, id: id, insert: true, state: stateJSON(i, 1), newTimer: timerID(id, 1),
				history: [2][]byte{historyData(i, 0, 0), historyData(i, 0, 1)}})
		}
		if err := commitBatch(ctx, w, cs); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	return inst, nil
}

type groupResult struct {
	Transitions   float64 // transitions/s
	CPUUS         float64 // process CPU µs per transition (readers' included)
	Reads         float64 // reads/s, when readers ran
	ReadLatencyUS float64 // mean µs per read
	ReadConnsShut int64   // read connections closed for want of an idle slot
}

// groupCommit times sz.Batches transactions of sz.Batch transitions, with
// readers goroutines reading instances by primary key from the read pool
// meanwhile (store/sqlite's GetInstance: an unprepared QueryRow).
func groupCommit(ctx context.Context, s *db, sz sizes, readers int) (groupResult, error) {
	inst, err := preload(ctx, s.w, sz.Instances, sz.Batch)
	if err != nil {
		return groupResult{}, err
	}
	// Readers pick among the preloaded instances, which exist throughout.
	readIDs := append([]string(nil), inst.ids[:sz.Instances]...)
	batches := plan(inst, sz.Instances, sz.Batches, sz.Batch)

	var reads atomic.Int64
	var readErr error
	var errOnce sync.Once
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var readersStarted sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		readersStarted.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 42))
			first := true
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := readIDs[rng.IntN(len(readIDs))]
				var (
					gotID, ns, name, version, status, trigger string
					state                                     []byte
					rev, created, updated                     int64
				)
				err := s.read.QueryRowContext(ctx, qGetInstance, id).Scan(&gotID, &ns, &name, &version, &status, &state, &rev, &trigger, &created, &updated)
				if err == nil && (gotID != id || len(state) < 500) {
					err = fmt.Errorf("read %s: got %s with %d bytes of state", id, gotID, len(state))
				}
				if err != nil {
					errOnce.Do(func() { readErr = err })
					if first {
						readersStarted.Done()
					}
					return
				}
				reads.Add(1)
				if first {
					readersStarted.Done()
					first = false
				}
			}
		}(uint64(r + 1))
	}
	readersStarted.Wait() // every reader has its connection open

	reads.Store(0)
	shut0 := s.read.Stats().MaxIdleClosed
	start, cpu0 := time.Now(), cpuTime()
	var werr error
	for _, cs := range batches {
		if werr = commitBatch(ctx, s.w, cs); werr != nil {
			break
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	n := reads.Load()
	shut := s.read.Stats().MaxIdleClosed - shut0
	close(stop)
	wg.Wait()
	if werr != nil {
		return groupResult{}, werr
	}
	if readErr != nil {
		return groupResult{}, readErr
	}
	res := groupResult{Transitions: float64(sz.Batches*sz.Batch) / elapsed.Seconds(), CPUUS: usPer(cpu, sz.Batches*sz.Batch)}
	if readers > 0 {
		res.Reads = float64(n) / elapsed.Seconds()
		res.ReadConnsShut = shut
		if n > 0 {
			res.ReadLatencyUS = float64(readers) * elapsed.Seconds() * 1e6 / float64(n)
		}
	}
	return res, nil
}

// ---- event log (workloads 2 and 4) ----

type event struct {
	id, subject string
	envelope    []byte
}

func planEvents(first, n int) []event {
	evs := make([]event, n)
	for i := range evs {
		k := first + i
		evs[i] = event{id: "evt-" + strconv.Itoa(1000000000+k), subject: "cart-" + strconv.Itoa(k%1000000), envelope: envelope(k)}
	}
	return evs
}

// appendEvents is store/sqlite's AppendEvents: one transaction, each event
// inserted unless a duplicate, its sequence number read back.
func appendEvents(ctx context.Context, w *writer, evs []event) error {
	if err := w.begin(ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	now := time.Now().UnixNano()
	for _, ev := range evs {
		res, err := w.exec(ctx, qAppendEvent, ev.id, "https://shop.example.com/webhooks", "checkout.started", ev.subject, now, ev.envelope, now)
		if err != nil {
			w.rollback(ctx)
			return fmt.Errorf("append event %s: %w", ev.id, err)
		}
		n, err := res.RowsAffected()
		if err == nil && n != 1 {
			err = errors.New("not inserted")
		}
		if err == nil {
			_, err = res.LastInsertId()
		}
		if err != nil {
			w.rollback(ctx)
			return fmt.Errorf("append event %s: %w", ev.id, err)
		}
	}
	return w.commit(ctx)
}

// usPer is d in µs per one of n.
func usPer(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }

// singles times n transactions of one event each: commits/s, and CPU µs
// per commit.
func singles(ctx context.Context, s *db, n int) (float64, float64, error) {
	evs := planEvents(0, n)
	start, cpu0 := time.Now(), cpuTime()
	for i := range evs {
		if err := appendEvents(ctx, s.w, evs[i:i+1]); err != nil {
			return 0, 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), usPer(cpuTime()-cpu0, n), nil
}

// eventBatches times n transactions of size events each: events/s, and
// CPU µs per event.
func eventBatches(ctx context.Context, s *db, n, size int) (float64, float64, error) {
	evs := planEvents(0, n*size)
	start, cpu0 := time.Now(), cpuTime()
	for b := 0; b < n; b++ {
		if err := appendEvents(ctx, s.w, evs[b*size:(b+1)*size]); err != nil {
			return 0, 0, err
		}
	}
	return float64(n*size) / time.Since(start).Seconds(), usPer(cpuTime()-cpu0, n*size), nil
}

// checkCounts makes sure a workload wrote what it says it wrote.
func checkCount(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string, want int) error {
	var got int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s has %d rows, want %d", table, got, want)
	}
	return nil
}
