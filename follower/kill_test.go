package follower_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storeflow/storeflow/analytics"
	"github.com/storeflow/storeflow/follower"
	"github.com/storeflow/storeflow/store"
)

// childEnv makes the test binary a node that follows the log of the store
// it names and hangs inside its third batch, after writing it, until it is
// killed.
const childEnv = "STOREFLOW_FOLLOWER_CHILD"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childEnv); addr != "" {
		os.Exit(child(addr))
	}
	os.Exit(m.Run())
}

func child(addr string) int {
	s, err := openAddr(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p := &hanging{}
	r, err := follower.New(follower.Options{Store: s, Node: "n1", Batch: 50, Logger: quiet()}, p)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = r.Run(context.Background())
	return 0
}

type hanging struct {
	analytics.Projection
	mu    sync.Mutex
	calls int
}

func (h *hanging) Apply(ctx context.Context, tx store.ProjectionTx, events []store.Event) error {
	if err := h.Projection.Apply(ctx, tx, events); err != nil {
		return err
	}
	h.mu.Lock()
	h.calls++
	n := h.calls
	h.mu.Unlock()
	if n == 3 {
		fmt.Println("in batch", events[0].Seq)
		select {}
	}
	return nil
}

// A node killed (SIGKILL) in the middle of a batch, after its projection
// wrote and before the commit: the batch is gone with it, and the node
// started again applies every event exactly once.
func TestNodeKilledMidBatch(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, addr := b.open(t)
			want := logEvents(t, s, 0, 400)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+addr)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			line := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "in batch") {
						line <- sc.Text()
					}
				}
			}()
			select {
			case l := <-line:
				t.Log("child:", l)
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the child never reached its third batch")
			}
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()

			f, err := s.GetFollower(context.Background(), analytics.Name)
			require.NoError(t, err)
			require.Equal(t, int64(100), f.Cursor, "two batches committed before the kill")
			require.Equal(t, "n1", f.Node, "the dead node still holds the lease")

			// The node starts again under its name: it takes its lease back
			// at once, under a new fence.
			var seen batches
			start(t, follower.Options{Store: b.reopen(t, addr), Node: "n1", Batch: 50, Observe: seen.observe}, &analytics.Projection{})
			caughtUp(t, s, analytics.Name)
			require.Equal(t, want, counted(t, s))
			seen.mu.Lock()
			require.Equal(t, int64(100), seen.all[0].From, "the restarted node went on from the last commit")
			seen.mu.Unlock()
		})
	}
}
