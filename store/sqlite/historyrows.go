package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/storeflow/storeflow/store"
)

// A transition's history entries are one row of the history table: its
// key is the first entry's seq, entries counts them, time is the earliest
// entry's (so that retention finds every row holding an old entry). A row
// of one entry keeps its type, task and data in their columns; a row of
// several holds them in data, framed as below, and leaves type and task
// empty. Writing one row instead of one per entry took about a third of
// the writer's work per throughput instance away.
//
// The frame is a version byte, then per entry: the time in Unix
// nanoseconds (varint), the type and the task (uvarint length, bytes), and
// the data (uvarint length+1, bytes; 0 for none).
const framedV1 = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// frameEntries encodes several history entries as one row's data.
func frameEntries(hs []store.HistoryEntry) []byte {
	size := 1
	for _, h := range hs {
		size += 3*binary.MaxVarintLen64 + len(h.Type) + len(h.Task) + len(h.Data)
	}
	b := make([]byte, 0, size)
	b = append(b, framedV1)
	for _, h := range hs {
		b = binary.AppendVarint(b, nanos(h.Time))
		b = appendString(b, h.Type)
		b = appendString(b, h.Task)
		if h.Data == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(h.Data))+1)
		b = append(b, h.Data...)
	}
	return b
}

var errFrame = errors.New("malformed history row")

// unframeEntries decodes a row of n entries starting at seq.
func unframeEntries(b []byte, instanceID string, seq int64, n int) ([]store.HistoryEntry, error) {
	if len(b) == 0 || b[0] != framedV1 {
		return nil, fmt.Errorf("history of %s at %d: %w (version)", instanceID, seq, errFrame)
	}
	b = b[1:]
	out := make([]store.HistoryEntry, 0, n)
	bytes := func() ([]byte, bool) {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, false
		}
		v := b[k : k+int(l)]
		b = b[k+int(l):]
		return v, true
	}
	for i := 0; len(b) > 0; i++ {
		t, k := binary.Varint(b)
		if k <= 0 {
			return nil, fmt.Errorf("history of %s at %d: %w", instanceID, seq, errFrame)
		}
		b = b[k:]
		typ, ok1 := bytes()
		task, ok2 := bytes()
		l, k := binary.Uvarint(b)
		if !ok1 || !ok2 || k <= 0 || l > 0 && uint64(len(b)-k) < l-1 {
			return nil, fmt.Errorf("history of %s at %d: %w", instanceID, seq, errFrame)
		}
		var data []byte
		if l > 0 {
			data = make([]byte, l-1)
			copy(data, b[k:])
			b = b[k+int(l-1):]
		} else {
			b = b[k:]
		}
		out = append(out, store.HistoryEntry{InstanceID: instanceID, Seq: seq + int64(i), Time: fromNanos(t), Type: string(typ), Task: string(task), Data: data})
	}
	if len(out) != n {
		return nil, fmt.Errorf("history of %s at %d: %w (%d entries, %d expected)", instanceID, seq, errFrame, len(out), n)
	}
	return out, nil
}

// historyRow is the columns of the row a transition's entries make.
type historyRow struct {
	time       int64
	typ, task  string
	data       []byte
	numEntries int
}

func rowOf(hs []store.HistoryEntry) historyRow {
	if len(hs) == 1 {
		h := hs[0]
		return historyRow{time: nanos(h.Time), typ: h.Type, task: h.Task, data: h.Data, numEntries: 1}
	}
	first := hs[0].Time
	for _, h := range hs[1:] {
		if h.Time.Before(first) {
			first = h.Time
		}
	}
	return historyRow{time: nanos(first), data: frameEntries(hs), numEntries: len(hs)}
}

// entriesOf reads back a history row.
func entriesOf(instanceID string, seq, t int64, typ, task string, data []byte, n int) ([]store.HistoryEntry, error) {
	if n <= 1 {
		return []store.HistoryEntry{{InstanceID: instanceID, Seq: seq, Time: fromNanos(t), Type: typ, Task: task, Data: data}}, nil
	}
	return unframeEntries(data, instanceID, seq, n)
}

// keptAfter is what retention leaves of a row's entries: those at or after
// cutoff.
func keptAfter(hs []store.HistoryEntry, cutoff time.Time) []store.HistoryEntry {
	var out []store.HistoryEntry
	for _, h := range hs {
		if !h.Time.Before(cutoff) {
			out = append(out, h)
		}
	}
	return out
}
