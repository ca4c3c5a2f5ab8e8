package member

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/ledger"
)

// laggingChain is a member's state that applies the district's chain up
// to head, as a follower does some time after the leader.
type laggingChain struct {
	mu   sync.Mutex
	head uint64
	// reads counts Range calls; after lagFor of them the state catches up
	// to catchUpTo.
	reads, lagFor int
	catchUpTo     uint64
}

func (l *laggingChain) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	l.mu.Lock()
	l.reads++
	if l.reads > l.lagFor {
		l.head = l.catchUpTo
	}
	head := l.head
	l.mu.Unlock()
	for seq := from; seq <= head && (limit <= 0 || int(seq-from) < limit); seq++ {
		if !fn(&ledger.Stored{Origin: origin, Seq: seq}) {
			break
		}
	}
	return nil
}

// TestAwaitWaitsForTheEntryHere: the leader has applied entry 5 but this
// member has not; await returns only once it holds it, and fails at its
// deadline when the member never catches up (no empty account read back).
func TestAwaitWaitsForTheEntryHere(t *testing.T) {
	for _, tc := range []struct {
		name          string
		head, catchUp uint64
		lagFor        int
		wantErr       bool
		minReads      int
	}{
		{name: "already applied", head: 5, catchUp: 5, lagFor: 0, minReads: 1},
		{name: "applied after a few reads", head: 4, catchUp: 5, lagFor: 3, minReads: 4},
		{name: "never applied", head: 4, catchUp: 4, lagFor: 0, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsm := &laggingChain{head: tc.head, lagFor: tc.lagFor, catchUpTo: tc.catchUp}
			c := &districtChain{origin: "350505000000", fsm: fsm}
			ctx := context.Background()
			if tc.wantErr {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			err := c.await(ctx, 5)
			if (err != nil) != tc.wantErr {
				t.Fatalf("await(5) with the member at %d: %v, want error %v", tc.head, err, tc.wantErr)
			}
			if !tc.wantErr && fsm.reads < tc.minReads {
				t.Fatalf("await returned after %d reads, before the member held entry 5 (read %d)", fsm.reads, tc.minReads)
			}
		})
	}
}
