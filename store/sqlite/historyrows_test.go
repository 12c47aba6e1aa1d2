package sqlite

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store"
)

// A framed row reads back as the entries it was made of, and no stored
// bytes, however damaged, make the reader panic.
func FuzzHistoryFrame(f *testing.F) {
	f.Add("workflow.started", "", []byte(`{"a":1}`), "task.started", "/do/0/x", []byte(nil), int64(1764870000123456789))
	f.Add("", "", []byte{}, "t", "\x00", []byte("\xff\x00"), int64(-1))
	f.Fuzz(func(t *testing.T, typ1, task1 string, data1 []byte, typ2, task2 string, data2 []byte, at int64) {
		hs := []store.HistoryEntry{
			{Time: fromNanos(at), Type: typ1, Task: task1, Data: data1},
			{Time: fromNanos(at).Add(time.Millisecond), Type: typ2, Task: task2, Data: data2},
		}
		b := frameEntries(hs)
		got, err := unframeEntries(b, "i", 7, 2)
		require.NoError(t, err)
		for i, h := range got {
			require.Equal(t, int64(7+i), h.Seq)
			require.Equal(t, "i", h.InstanceID)
			require.True(t, hs[i].Time.Equal(h.Time))
			require.Equal(t, hs[i].Type, h.Type)
			require.Equal(t, hs[i].Task, h.Task)
			require.Equal(t, hs[i].Data == nil, h.Data == nil)
			require.Equal(t, string(hs[i].Data), string(h.Data))
		}
		// Damaged rows are errors, never panics.
		for cut := range b {
			_, _ = unframeEntries(b[:cut], "i", 7, 2)
		}
		_, _ = unframeEntries(append([]byte{framedV1}, data1...), "i", 1, 1)
		_, err = unframeEntries(b, "i", 7, 3)
		require.Error(t, err, "a count that does not match is an error")
	})
}
