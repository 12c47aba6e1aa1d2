package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// memLog is an event log in memory: enough of store.EventLog for ReadBatch.
type memLog struct {
	store.EventLog
	events []store.Event
}

func (m *memLog) LastEventSeq(context.Context) (int64, error) {
	if len(m.events) == 0 {
		return 0, nil
	}
	return m.events[len(m.events)-1].Seq, nil
}

func (m *memLog) ReadEventsOfTypes(_ context.Context, after int64, types []string, limit int) ([]store.Event, error) {
	var out []store.Event
	for _, e := range m.events {
		if e.Seq > after && (types == nil || slices.Contains(types, e.Type)) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func TestReadBatch(t *testing.T) {
	t.Parallel()
	log := &memLog{}
	for i, typ := range []string{"a", "b", "a", "b", "b", "b"} {
		log.events = append(log.events, store.Event{Seq: int64(i + 1), Type: typ})
	}
	seqs := func(b store.Batch) []int64 {
		out := []int64{}
		for _, e := range b.Events {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		after int64
		types []string
		limit int
		seqs  []int64
		next  int64
	}{
		{"a full batch stops at its last event", 0, nil, 2, []int64{1, 2}, 2},
		{"a short batch reaches the log's end", 0, []string{"a"}, 10, []int64{1, 3}, 6},
		{"a full batch of one type", 0, []string{"b"}, 2, []int64{2, 4}, 4},
		{"nothing wanted: passes over the rest", 3, []string{"a"}, 10, []int64{}, 6},
		{"at the end", 6, nil, 10, []int64{}, 6},
		{"no type wanted", 0, []string{}, 10, []int64{}, 6},
	} {
		b, err := store.ReadBatch(context.Background(), log, tc.after, tc.types, tc.limit)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.seqs, seqs(b), tc.name)
		require.Equal(t, tc.next, b.Next, tc.name)
		require.Equal(t, int64(6), b.Head, tc.name)
	}
}
