package loader

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// gate stops a loader at one of its hooks once armed: at is closed when
// the loader gets there, and it goes on when open is closed.
type gate struct {
	armed    atomic.Bool
	at, open chan struct{}
}

func newGate() *gate { return &gate{at: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) hook() {
	if g.armed.CompareAndSwap(true, false) {
		close(g.at)
		<-g.open
	}
}

// fenceRun is one loader running under term.
type fenceRun struct {
	l      *Loader
	done   chan struct{} // closed when Run has returned err
	err    error
	cancel context.CancelFunc
}

func startTerm(t *testing.T, d *district, conn driver.Conn, term uint64, before, after *gate) *fenceRun {
	t.Helper()
	l, err := New(Config{Source: d.f, Conn: conn, Term: term, BatchRows: 500, Poll: 20 * time.Millisecond,
		Base: 50 * time.Millisecond, Max: 500 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	l.beforeFence, l.afterFence = before.hook, after.hook
	ctx, cancel := context.WithCancel(context.Background())
	r := &fenceRun{l: l, done: make(chan struct{}), cancel: cancel}
	go func() { r.err = l.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	return r
}

// until polls cond for at most 60 s.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitAt(t *testing.T, g *gate, what string) {
	t.Helper()
	select {
	case <-g.at:
	case <-time.After(60 * time.Second):
		t.Fatalf("waited 60 s for %s", what)
	}
}

// claimed reports whether loader_progress holds a claim of term.
func claimed(t *testing.T, conn driver.Conn, term uint64) bool {
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM loader_progress WHERE term = ?", term).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// noDuplicates fails when any (origin, seq) is in entries twice.
func noDuplicates(t *testing.T, conn driver.Conn) {
	t.Helper()
	var rows, distinct uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(origin, seq) FROM entries").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct {
		t.Fatalf("entries holds %d rows for %d entries: a batch went in twice", rows, distinct)
	}
}

func fencedOut(t *testing.T, r *fenceRun, who string) {
	t.Helper()
	select {
	case <-r.done:
		if !errors.Is(r.err, ErrFenced) {
			t.Fatalf("%s's loader ended with %v, want ErrFenced", who, r.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("%s's loader still runs after a newer term claimed ClickHouse", who)
	}
}

// TestLoaderFencedByNewerTerm runs the loaders of an old and a new leader
// against one real ClickHouse at the moments that matter: the old one has
// opened a batch and not yet read the fence when the new one claims (its
// batch must be refused, and the new one must wait for it to give up),
// and the old one has passed the fence and is inserting when the new one
// claims (its batch must go in once, the new one must wait for it and load
// only what came after, and its next batch must be refused). Every step
// checks sums, counts and that no entry is in ClickHouse twice.
func TestLoaderFencedByNewerTerm(t *testing.T) {
	s, d := newRig(t)
	f := d.f
	rnd := rand.New(rand.NewPCG(17, 3))
	vs := []*village{newVillage(t, "350505100201"), newVillage(t, "350505101202")}
	for _, v := range vs {
		v.record(t, rnd, 150)
		d.ship(v, 40)
	}
	conn := connect(t, s)
	more := func() {
		for _, v := range vs {
			v.record(t, rnd, 60)
			d.ship(v, 40)
		}
	}

	oldBefore := newGate()
	old := startTerm(t, d, conn, 5, oldBefore, newGate())
	until(t, "the term-5 loader to load everything", func() bool { return old.l.Stats().LoadedIndex == f.AppliedIndex() })
	check(t, conn, vs)

	top := t
	var newer *fenceRun
	newerAfter := newGate()
	t.Run("a batch opened before the claim and fenced after it is refused", func(t *testing.T) {
		rows := old.l.Stats().Rows
		oldBefore.armed.Store(true)
		more()
		waitAt(t, oldBefore, "the term-5 loader to open its batch")
		newer = startTerm(top, d, conn, 6, newGate(), newerAfter) // runs on into the next step
		until(t, "the term-6 loader to claim ClickHouse", func() bool { return claimed(t, conn, 6) })
		until(t, "the term-6 loader to find the term-5 batch open", func() bool { return newer.l.Stats().WaitedForOlder > 0 })
		if newer.l.Stats().Batches != 0 {
			t.Fatalf("the term-6 loader inserted %d batches while the term-5 one held a batch open", newer.l.Stats().Batches)
		}
		close(oldBefore.open)
		fencedOut(t, old, "term 5")
		if got := old.l.Stats().Rows; got != rows {
			t.Fatalf("the term-5 loader inserted %d rows after the term-6 claim", got-rows)
		}
		until(t, "the term-6 loader to load everything", func() bool { return newer.l.Stats().LoadedIndex == f.AppliedIndex() })
		check(t, conn, vs)
		noDuplicates(t, conn)
	})

	t.Run("a batch past the fence when the claim comes goes in once", func(t *testing.T) {
		if newer == nil {
			t.Skip("the step before failed")
		}
		batches := newer.l.Stats().Batches
		newerAfter.armed.Store(true)
		more()
		waitAt(t, newerAfter, "the term-6 loader to pass its fence")
		newest := startTerm(t, d, conn, 7, newGate(), newGate())
		until(t, "the term-7 loader to claim ClickHouse", func() bool { return claimed(t, conn, 7) })
		until(t, "the term-7 loader to find the term-6 batch going in", func() bool { return newest.l.Stats().WaitedForOlder > 0 })
		if newest.l.Stats().Batches != 0 {
			t.Fatalf("the term-7 loader inserted %d batches while the term-6 one was inserting", newest.l.Stats().Batches)
		}
		close(newerAfter.open)
		until(t, "the term-6 batch to go in", func() bool { return newer.l.Stats().Batches > batches })
		until(t, "the term-7 loader to load everything", func() bool { return newest.l.Stats().LoadedIndex == f.AppliedIndex() })
		check(t, conn, vs)
		noDuplicates(t, conn)

		// The term-6 loader's next batch meets the term-7 claim.
		more()
		fencedOut(t, newer, "term 6")
		until(t, "the term-7 loader to load the rest", func() bool { return newest.l.Stats().LoadedIndex == f.AppliedIndex() })
		check(t, conn, vs)
		noDuplicates(t, conn)
	})
}
