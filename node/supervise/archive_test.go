package supervise_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// growTier is a node's Tier that, as the supervision observes the entry
// named at, has another goroutine commit a write to the ledger's file
// large enough to make bbolt map the file again, and waits until that
// write is committing before it returns: the moment at which an archive
// read that opens a read transaction while one is open in the same
// goroutine (a chain's Range) waits on the remap, which waits on the
// Range: bbolt's mmap lock.
type growTier struct {
	supervise.Tier
	db   *bolt.DB
	at   string
	done chan error
}

func (g *growTier) ObserveOwn(st *ledger.Stored, m proto.Message) {
	g.Tier.ObserveOwn(st, m)
	if st.ID() != g.at || g.done != nil {
		return
	}
	g.done = make(chan error, 1)
	committing := make(chan struct{})
	go func() {
		g.done <- g.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("test-grow"))
			if err != nil {
				return err
			}
			fi, err := os.Stat(g.db.Path())
			if err != nil {
				return err
			}
			// Past what is mapped: the commit maps the file again.
			if err := b.Put([]byte("k"), make([]byte, 2*fi.Size()+1<<20)); err != nil {
				return err
			}
			close(committing)
			return nil
		})
	}()
	<-committing
	// Let the commit reach the remap, which waits for the Range open
	// here; a write that has not reached it yet makes the case pass
	// without showing anything, never fail.
	time.Sleep(200 * time.Millisecond)
}

// TestArchiveReadWhileChainRead: an entry read from a chain (one the
// books did not hand over: pulled, or replayed at start) that names an
// archived one (a decision closing the procedure an expense opened) is
// observed while a recorder's append grows the file. The supervision
// must not read the archive inside the chain's read transaction: that
// deadlocks the node (every append waits on the remap).
func TestArchiveReadWhileChainRead(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, cst)}
	ctx := context.Background()
	g := &growTier{}
	n, closeFn := openCkVillage(t, dir, clock, withCheckpoints(io.Discard), func(b *books.Books, c *supervise.Config) {
		g.Tier, g.db, c.Tier = c.Tier, b.Ledger().DB(), g
	})
	defer closeFn()
	v := &ckVillage{t: t, ctx: ctx, n: n, clock: clock}
	pid := procOf(v.expense(120_000, nil))
	if err := n.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	// The procedure is archived and out of memory now; a decision on it
	// is appended to the chain directly, as a pull or a replay reads it.
	p, err := n.Procedure(pid)
	if err != nil {
		t.Fatal(err)
	}
	step, _ := p.OpenStep()
	payload, _ := proto.Marshal(&sanziv1.StepDecision{Org: benchOrg, ProcedureId: pid, StepCode: step.GetCode(), Post: step.GetPost(),
		Action: sanziv1.StepAction_STEP_ACTION_REJECT, Reason: "不符合规定", Closes: true})
	st, err := n.Ledger().Append(ctx, ledger.Record{Origin: benchOrg, Author: "岗位人员", Type: sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION,
		Payload: payload, Subject: pid})
	if err != nil {
		t.Fatal(err)
	}
	g.at = st[0].ID()
	followed := make(chan error, 1)
	go func() { followed <- n.Follow(ctx) }()
	select {
	case err := <-followed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		// The file cannot be closed any more (the ledger's cleanup would
		// wait on the write): stop the test binary here, with the stacks.
		fmt.Fprintf(os.Stderr, "--- FAIL: %s: deadlock: the supervision read its archive inside a chain's read transaction while a write remapped the file\n%s", t.Name(), buf)
		os.Exit(1)
	}
	if g.done == nil {
		t.Fatalf("the reversal %s was not observed", g.at)
	}
	if err := <-g.done; err != nil {
		t.Fatal(err)
	}
}
