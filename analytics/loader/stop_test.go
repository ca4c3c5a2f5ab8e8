package loader

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/federation/fsm"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// growingSource is the FSM, except that the first time the loader is inside
// a feed read it has raft apply a large entry (one that grows the state
// file) and gives that write time to reach bbolt's remap, which waits for
// every open read transaction to end.
type growingSource struct {
	*fsm.FSM
	grow  func()
	once  sync.Once
	grown chan struct{} // closed when the large entry is applied
	held  bool          // the write had to wait for the read (it remaps)
}

func (g *growingSource) Feed(after uint64, limit int, fn func(uint64, *clusterv1.FeedRecord) bool) error {
	return g.FSM.Feed(after, limit, func(index uint64, rec *clusterv1.FeedRecord) bool {
		g.once.Do(func() {
			go func() { g.grow(); close(g.grown) }()
			select {
			case <-g.grown: // it did not need a remap; the test says so
			case <-time.After(500 * time.Millisecond): // the write waits for this read to end
				g.held = true
			}
		})
		return fn(index, rec)
	})
}

// TestLoaderLetsTheFSMGrow: the loader reads the FSM while raft applies to
// it. When an apply grows the state file, bbolt remaps it, and the remap
// waits for every open read transaction; a read transaction opened while
// that remap waits queues behind it. A loader that reads an origin's
// entries from inside its feed read (a read inside a read) therefore waits
// for the remap, which waits for the loader: raft's FSM goroutine never
// returns (no push is acknowledged again, the member cannot stop). Here a
// large entry is applied while the loader is inside its first feed read:
// the write must finish, and the loader must load everything.
func TestLoaderLetsTheFSMGrow(t *testing.T) {
	ctx := context.Background()
	s, err := chserver.Start(ctx, chserver.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f, err := fsm.Open(fsm.Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	stuck := false
	// Closing a deadlocked FSM would wait for the read forever: a failing
	// run must still end.
	t.Cleanup(func() {
		if !stuck {
			f.Close()
		}
	})
	d := &district{t: t, f: f}
	rnd := rand.New(rand.NewPCG(7, 7))
	small, big := newVillage(t, "350505100201"), newVillage(t, "350505100202")
	small.record(t, rnd, 30)
	d.ship(small, 10)
	big.record(t, rnd, 1500) // several times the state file so far
	src := &growingSource{FSM: f, grown: make(chan struct{}), grow: func() { d.ship(big, 1<<20) }}

	l, err := New(Config{Source: src, Conn: connect(t, s), BatchRows: 500, Poll: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx) }()

	select {
	case <-src.grown:
	case <-time.After(30 * time.Second):
		stuck = true
		t.Fatal("the FSM's write never finished: the loader holds a read transaction while it waits for another one (raft's FSM goroutine would be stuck for good)")
	}
	if !src.held {
		t.Fatal("the large entry was applied while the loader read the feed: it did not grow the state file enough to test anything")
	}
	deadline := time.Now().Add(30 * time.Second)
	for l.Stats().LoadedIndex < f.AppliedIndex() {
		if time.Now().After(deadline) {
			stuck = true
			t.Fatalf("loader stuck at %d of %d: %+v", l.Stats().LoadedIndex, f.AppliedIndex(), l.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		stuck = true
		t.Fatal("the loader did not return after its context was cancelled")
	}
	check(t, connect(t, s), []*village{small, big})
}
