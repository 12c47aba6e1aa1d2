package runtime

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/store/sqlite"
)

// A lapse of this node's own leases (a renewal that came late, behind a
// saturated writer) has the matcher rewind to the slots' stored positions,
// so the position must not be saved past events refused in the lapse before
// the matcher took that rewind: a second lapse, while it matched them
// again, rewound past them and their starts were lost for good.
func TestCursorIsNotSavedPastARewindStillPending(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	r := New(Options{Store: st, Node: "n"})
	claim := func() {
		t.Helper()
		_, err := r.claimSlots(ctx)
		require.NoError(t, err)
	}
	lapse := func() {
		r.leases.mu.Lock()
		r.leases.validUntil = time.Now().Add(-time.Millisecond)
		r.leases.mu.Unlock()
		require.Empty(t, r.leases.list(), "lapsed leases take no work")
	}
	stored := func() int64 {
		t.Helper()
		states, err := st.SlotStates(ctx)
		require.NoError(t, err)
		low := int64(-1)
		for _, s := range states {
			if low < 0 || s.Cursor < low {
				low = s.Cursor
			}
		}
		return low
	}
	// takeRewind is what the match loop does at the top of each round.
	takeRewind := func() int64 { return r.leases.rewind.Swap(-1) }

	claim()
	require.Equal(t, int64(0), takeRewind(), "first claim: match from the start")
	require.True(t, r.saveCursor(ctx, 10), "events up to 10 matched and committed")
	require.Equal(t, int64(10), stored())

	// Events 11 to 20 are refused while the leases are lapsed; the renewal
	// comes before the matcher ends that batch and saves 20.
	lapse()
	claim()
	require.Equal(t, int64(10), r.leases.rewind.Load(), "the renewal rewinds to the stored position")
	r.saveCursor(ctx, 20)
	require.Equal(t, int64(10), stored(), "20 is not saved: 11 to 20 still have to be matched again")

	// The matcher rewinds to 10; another lapse comes while it matches 11 to
	// 20 again: the next rewind must still go back to 10.
	require.Equal(t, int64(10), takeRewind())
	lapse()
	claim()
	require.Equal(t, int64(10), takeRewind(), "events refused in a lapse are matched again")

	// Once matched again with no lapse since, the position is saved.
	require.True(t, r.saveCursor(ctx, 20))
	require.Equal(t, int64(20), stored())
}
