package fsm

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	oA = "350505100201"
	oB = "350505100202"
	oC = "350505100203"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

// newRing holds the signing keys of oA and oB.
func newRing() *keys.Ring {
	r := keys.NewRing()
	r.Add(oA, ed25519.NewKeyFromSeed(seed(1)))
	r.Add(oB, ed25519.NewKeyFromSeed(seed(2)))
	r.Add(oC, ed25519.NewKeyFromSeed(seed(3)))
	return r
}

// chains makes real signed entries with a throw-away ledger.
type chains struct {
	ring *keys.Ring
	led  *ledger.Ledger
}

func newChains(tb testing.TB) *chains {
	tb.Helper()
	ring := newRing()
	led, err := ledger.Open(ledger.Config{Path: filepath.Join(tb.TempDir(), "ledger.db"), Keys: ring, NoSync: true, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { led.Close() })
	return &chains{ring: ring, led: led}
}

// next appends n records to origin and returns their raw bytes; payloads are
// "<tag>-<origin>-<i>" padded to size bytes.
func (c *chains) next(tb testing.TB, origin, tag string, n, size int) [][]byte {
	tb.Helper()
	recs := make([]ledger.Record, n)
	for i := range recs {
		p := []byte(fmt.Sprintf("%s-%s-%d|", tag, origin, i))
		if pad := size - len(p); pad > 0 {
			r := make([]byte, pad)
			rand.Read(r)
			p = append(p, r...)
		}
		recs[i] = ledger.Record{Origin: origin, Author: "test", Type: sanziv1.EntryType(1), Payload: p}
	}
	st, err := c.led.Append(context.Background(), recs...)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([][]byte, n)
	for i, s := range st {
		out[i] = s.Raw
	}
	return out
}

func openFSM(tb testing.TB) *FSM {
	tb.Helper()
	f, err := Open(Config{Path: filepath.Join(tb.TempDir(), "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func cmdLog(tb testing.TB, index uint64, typ clusterv1.CommandType, optional bool, m proto.Message) *raft.Log {
	tb.Helper()
	p, err := proto.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := proto.Marshal(&clusterv1.Command{Type: typ, Payload: p, Optional: optional})
	if err != nil {
		tb.Fatal(err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func appendLog(tb testing.TB, index uint64, entries ...[]byte) *raft.Log {
	return cmdLog(tb, index, clusterv1.CommandType_COMMAND_TYPE_APPEND, false, &clusterv1.AppendBatch{Entries: entries})
}

func registerLog(tb testing.TB, index uint64, origin string, pub []byte) *raft.Log {
	return cmdLog(tb, index, clusterv1.CommandType_COMMAND_TYPE_REGISTER_ORIGIN, false, &clusterv1.RegisterOrigin{Origin: origin, PublicKey: pub})
}

func pub(r *keys.Ring, origin string) []byte { k, _ := r.Public(origin); return k }

func digest(tb testing.TB, f *FSM) [32]byte {
	tb.Helper()
	d, err := f.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func result(tb testing.TB, v interface{}) *Result {
	tb.Helper()
	r, ok := v.(*Result)
	if !ok {
		tb.Fatalf("apply returned %T %v, want *Result", v, v)
	}
	return r
}

// panics runs fn and returns what it panicked with ("" if it did not).
func panics(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	fn()
	return ""
}

// forge returns raw with one byte of its payload changed.
func forge(t *testing.T, raw []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(raw, []byte(marker))
	if i < 0 {
		t.Fatalf("marker %q not in entry", marker)
	}
	out := append([]byte(nil), raw...)
	out[i] ^= 0x01
	return out
}

func feedAt(t *testing.T, f *FSM, index uint64) *clusterv1.FeedRecord {
	t.Helper()
	var got *clusterv1.FeedRecord
	if err := f.Feed(index-1, 1, func(i uint64, rec *clusterv1.FeedRecord) bool {
		if i == index {
			got = rec
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestApplyAppend(t *testing.T) {
	c := newChains(t)
	a := c.next(t, oA, "a", 6, 100)
	b := c.next(t, oB, "b", 4, 100)
	cc := c.next(t, oC, "c", 2, 100)
	// A second, conflicting chain of oA signed with the same key.
	other := newChains(t)
	a2 := other.next(t, oA, "x", 5, 100)

	f := openFSM(t)
	f.Apply(registerLog(t, 1, oA, pub(c.ring, oA)))
	f.Apply(registerLog(t, 2, oB, pub(c.ring, oB)))

	type rng struct {
		origin   string
		from, to uint64
	}
	steps := []struct {
		name                  string
		entries               [][]byte
		added, dups, rejected int
		problems              []string // substrings, in order
		heads                 map[string]uint64
		feed                  []rng
		sameDigest            bool
	}{
		{name: "interleaved origins", entries: [][]byte{a[0], b[0], a[1], b[1], a[2]},
			added: 5, heads: map[string]uint64{oA: 3, oB: 2}, feed: []rng{{oA, 1, 3}, {oB, 1, 2}}},
		{name: "duplicates are harmless", entries: [][]byte{a[0], a[1], b[0]},
			dups: 3, heads: map[string]uint64{oA: 3, oB: 2}, sameDigest: true},
		{name: "overlap stores only the new", entries: [][]byte{b[1], a[2], a[3], b[2]},
			added: 2, dups: 2, heads: map[string]uint64{oA: 4, oB: 3}, feed: []rng{{oB, 3, 3}, {oA, 4, 4}}},
		{name: "fork is counted, not stored", entries: [][]byte{a2[1]},
			dups: 1, problems: []string{"fork at " + oA + " seq 2"}, heads: map[string]uint64{oA: 4}, sameDigest: true},
		// Body hashes and signatures are the leader's job (verified before
		// proposing); the FSM checks only the links, so it stays cheap.
		{name: "bad link rejects the rest of its origin", entries: [][]byte{a2[4], b[3], a[5]},
			added: 1, rejected: 2, problems: []string{oA + " seq 5 rejected: prev_hash", oA + ": 1 later entries rejected"},
			heads: map[string]uint64{oA: 4, oB: 4}, feed: []rng{{oB, 4, 4}}},
		{name: "gap rejected", entries: [][]byte{a[5]},
			rejected: 1, problems: []string{oA + " seq 6 rejected: gap: head is seq 4"}, heads: map[string]uint64{oA: 4}, sameDigest: true},
		{name: "bad link rejected", entries: [][]byte{a2[4]},
			rejected: 1, problems: []string{oA + " seq 5 rejected: prev_hash"}, heads: map[string]uint64{oA: 4}, sameDigest: true},
		{name: "rejects of a new origin leave no trace", entries: [][]byte{cc[1]},
			rejected: 1, problems: []string{oC + " seq 2 rejected: gap: head is seq 0"}, heads: map[string]uint64{oC: 0}, sameDigest: true},
		{name: "undecodable entry rejected", entries: [][]byte{[]byte("not an entry")},
			rejected: 1, problems: []string{"entry 0: decode entry"}, heads: map[string]uint64{}, sameDigest: true},
		{name: "chain continues", entries: [][]byte{a[4], a[5]},
			added: 2, heads: map[string]uint64{oA: 6}, feed: []rng{{oA, 5, 6}}},
	}
	index := uint64(10)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			index++
			before := digest(t, f)
			r := result(t, f.Apply(appendLog(t, index, st.entries...)))
			if r.Index != index || r.Added != st.added || r.Duplicates != st.dups || r.Rejected != st.rejected {
				t.Errorf("result %+v, want added %d dups %d rejected %d", r, st.added, st.dups, st.rejected)
			}
			if len(r.Problems) != len(st.problems) {
				t.Fatalf("problems %q, want %q", r.Problems, st.problems)
			}
			for i, p := range st.problems {
				if !strings.Contains(r.Problems[i], p) {
					t.Errorf("problem %d = %q, want it to contain %q", i, r.Problems[i], p)
				}
			}
			if len(r.Heads) != len(st.heads) {
				t.Errorf("result heads %v, want origins %v", r.Heads, st.heads)
			}
			for o, seq := range st.heads {
				if r.Heads[o].Seq != seq || f.Head(o) != r.Heads[o] {
					t.Errorf("head %s: result %d, fsm %d, want %d", o, r.Heads[o].Seq, f.Head(o).Seq, seq)
				}
			}
			rec := feedAt(t, f, index)
			var got []rng
			for _, x := range rec.GetRanges() {
				got = append(got, rng{x.GetOrigin(), x.GetFromSeq(), x.GetToSeq()})
			}
			if !reflect.DeepEqual(got, st.feed) {
				t.Errorf("feed record %v, want %v", got, st.feed)
			}
			if same := digest(t, f) == before; same != st.sameDigest {
				t.Errorf("digest unchanged = %v, want %v", same, st.sameDigest)
			}
			if f.AppliedIndex() != index {
				t.Errorf("applied %d, want %d", f.AppliedIndex(), index)
			}
		})
	}

	// The stored chain is exactly the ledger's entries, in order.
	var seqs []uint64
	if err := f.Range(oA, 1, 0, func(s *ledger.Stored) bool {
		if !bytes.Equal(s.Raw, a[s.Seq-1]) {
			t.Errorf("stored %s differs from the ledger's", s.ID())
		}
		seqs = append(seqs, s.Seq)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seqs, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("range %v", seqs)
	}
	var limited []uint64
	f.Range(oA, 3, 2, func(s *ledger.Stored) bool { limited = append(limited, s.Seq); return true })
	if !reflect.DeepEqual(limited, []uint64{3, 4}) {
		t.Errorf("range from 3 limit 2: %v", limited)
	}
	var idx []uint64
	f.Feed(0, 0, func(i uint64, _ *clusterv1.FeedRecord) bool { idx = append(idx, i); return true })
	if !reflect.DeepEqual(idx, []uint64{11, 13, 15, 20}) {
		t.Errorf("feed indexes %v", idx)
	}
	idx = nil
	f.Feed(13, 1, func(i uint64, _ *clusterv1.FeedRecord) bool { idx = append(idx, i); return true })
	if !reflect.DeepEqual(idx, []uint64{15}) {
		t.Errorf("feed after 13 limit 1: %v", idx)
	}
	if h := f.Heads(); len(h) != 2 || h[oA].Seq != 6 || h[oB].Seq != 4 {
		t.Errorf("heads %v", h)
	}

	// The state file verifies like a ledger, with the ring and with the
	// FSM's own registered keys.
	f.Close()
	for name, kr := range map[string]ledger.KeyRing{"ring": c.ring, "fsm": f} {
		counts, problems, err := ledger.Verify(f.Path(), kr)
		if err != nil || len(problems) != 0 || counts[oA] != 6 || counts[oB] != 4 {
			t.Errorf("verify with %s: counts %v problems %v err %v", name, counts, problems, err)
		}
	}
}

func TestOtherCommands(t *testing.T) {
	c := newChains(t)
	f := openFSM(t)
	keyA, keyB := pub(c.ring, oA), pub(c.ring, oB)
	const empty = "350505100299"
	steps := []struct {
		name    string
		log     func(i uint64) *raft.Log
		wantErr error
	}{
		{"register A", func(i uint64) *raft.Log { return registerLog(t, i, oA, keyA) }, nil},
		{"short key refused", func(i uint64) *raft.Log { return registerLog(t, i, oB, keyB[:31]) }, ErrBadCommand},
		{"no origin refused", func(i uint64) *raft.Log { return registerLog(t, i, "", keyB) }, ErrBadCommand},
		{"append to A", func(i uint64) *raft.Log { return appendLog(t, i, c.next(t, oA, "a", 2, 10)...) }, nil},
		{"same key again is a no-op", func(i uint64) *raft.Log { return registerLog(t, i, oA, keyA) }, nil},
		{"other key for A with entries refused", func(i uint64) *raft.Log { return registerLog(t, i, oA, keyB) }, ErrKeyConflict},
		{"register empty origin", func(i uint64) *raft.Log { return registerLog(t, i, empty, keyA) }, nil},
		{"other key without entries replaces", func(i uint64) *raft.Log { return registerLog(t, i, empty, keyB) }, nil},
		{"member", func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, false, &clusterv1.Member{Id: "m2", RaftAddress: "10.0.0.2:7000", ApiAddress: "10.0.0.2:8443"})
		}, nil},
		{"member updated", func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, false, &clusterv1.Member{Id: "m1", RaftAddress: "10.0.0.1:7000", ApiAddress: "10.0.0.1:9443"})
		}, nil},
		{"member without id refused", func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, false, &clusterv1.Member{RaftAddress: "x"})
		}, ErrBadCommand},
		{"loaded 40", func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, false, &clusterv1.LoadedIndex{Index: 40})
		}, nil},
		{"loaded never goes back", func(i uint64) *raft.Log {
			return cmdLog(t, i, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, false, &clusterv1.LoadedIndex{Index: 30})
		}, nil},
		{"malformed payload", func(i uint64) *raft.Log {
			data, _ := proto.Marshal(&clusterv1.Command{Type: clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, Payload: []byte{0xff}})
			return &raft.Log{Index: i, Type: raft.LogCommand, Data: data}
		}, ErrBadCommand},
	}
	for i, st := range steps {
		got := f.Apply(st.log(uint64(i + 1)))
		if r, ok := got.(*Result); ok && st.wantErr == nil {
			if r.Rejected != 0 {
				t.Errorf("%s: %+v", st.name, r)
			}
			continue
		}
		err, _ := got.(error)
		if got != nil && err == nil {
			t.Fatalf("%s: returned %T", st.name, got)
		}
		if !errors.Is(err, st.wantErr) {
			t.Errorf("%s: got %v, want %v", st.name, err, st.wantErr)
		}
	}
	if k, ok := f.Public(oA); !ok || !bytes.Equal(k, keyA) {
		t.Error("key of A changed or missing")
	}
	if _, ok := f.Public(oB); ok {
		t.Error("refused key of B was stored")
	}
	if k, _ := f.Public(empty); !bytes.Equal(k, keyB) {
		t.Error("key of an origin without entries was not replaced")
	}
	if k, ok := f.Private(oA); ok || k != nil {
		t.Error("Private must report no key")
	}
	if f.LoadedIndex() != 40 {
		t.Errorf("loaded %d, want 40", f.LoadedIndex())
	}
	m := f.Members()
	if len(m) != 2 || m[0].GetId() != "m1" || m[0].GetApiAddress() != "10.0.0.1:9443" || m[1].GetId() != "m2" {
		t.Errorf("members %v", m)
	}

	// The caches come back from the file.
	f.Close()
	g, err := Open(Config{Path: f.Path(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if k, _ := g.Public(empty); !bytes.Equal(k, keyB) || g.LoadedIndex() != 40 || g.AppliedIndex() != uint64(len(steps)) || g.Head(oA).Seq != 2 {
		t.Errorf("after reopen: key %x loaded %d applied %d head %v", k, g.LoadedIndex(), g.AppliedIndex(), g.Head(oA))
	}
}

func TestReplaySkipped(t *testing.T) {
	c := newChains(t)
	a := c.next(t, oA, "a", 4, 50)
	f := openFSM(t)
	result(t, f.Apply(appendLog(t, 5, a[0], a[1])))
	want := digest(t, f)
	for _, l := range []*raft.Log{
		appendLog(t, 5, a[2]), // same index, other content: a replay never re-applies
		appendLog(t, 3, a[2], a[3]),
	} {
		r := result(t, f.Apply(l))
		if !reflect.DeepEqual(r, &Result{Index: l.Index}) {
			t.Errorf("replay of %d: %+v, want zero counts", l.Index, r)
		}
	}
	if got := f.Apply(cmdLog(t, 4, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, false, &clusterv1.LoadedIndex{Index: 9})); got != nil || f.LoadedIndex() != 0 {
		t.Errorf("replayed set-loaded: %v, loaded %d", got, f.LoadedIndex())
	}
	if digest(t, f) != want || f.AppliedIndex() != 5 || f.Head(oA).Seq != 2 {
		t.Fatalf("replay changed state: applied %d head %d", f.AppliedIndex(), f.Head(oA).Seq)
	}

	// A restart (NoSnapshotRestoreOnStart) replays the log from the start:
	// what the file holds is skipped, the rest applied.
	f.Close()
	g, err := Open(Config{Path: f.Path(), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.AppliedIndex() != 5 || g.Head(oA) != f.Head(oA) {
		t.Fatalf("after reopen applied %d head %v", g.AppliedIndex(), g.Head(oA))
	}
	out := g.ApplyBatch([]*raft.Log{appendLog(t, 5, a[0], a[1]), {Index: 6, Type: raft.LogConfiguration}, appendLog(t, 7, a[2], a[3])})
	if len(out) != 3 || out[1] != nil || !reflect.DeepEqual(out[0], &Result{Index: 5}) || result(t, out[2]).Added != 2 {
		t.Errorf("replay batch results %v", out)
	}
	if g.AppliedIndex() != 7 || g.Head(oA).Seq != 4 {
		t.Errorf("applied %d head %d", g.AppliedIndex(), g.Head(oA).Seq)
	}
}

type bufSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { s.closed = true; return nil }

func TestSnapshotRestore(t *testing.T) {
	c := newChains(t)
	f := openFSM(t)
	f.ApplyBatch([]*raft.Log{
		registerLog(t, 1, oA, pub(c.ring, oA)),
		registerLog(t, 2, oB, pub(c.ring, oB)),
		cmdLog(t, 3, clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, false, &clusterv1.Member{Id: "m1", RaftAddress: "r", ApiAddress: "a"}),
	})
	for i := uint64(4); i < 10; i++ {
		f.Apply(appendLog(t, i, append(c.next(t, oA, "a", 50, 200), c.next(t, oB, "b", 30, 200)...)...))
	}
	f.Apply(cmdLog(t, 10, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, false, &clusterv1.LoadedIndex{Index: 7}))
	want, wantHeads := digest(t, f), f.Heads()

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Later applies run while Persist copies: the snapshot must not see them.
	later := []*raft.Log{appendLog(t, 11, c.next(t, oA, "late", 500, 200)...), appendLog(t, 12, c.next(t, oB, "late", 10, 200)...)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.ApplyBatch(later) }()
	sink := &bufSink{}
	if err := snap.Persist(sink); err != nil || !sink.closed || sink.cancelled {
		t.Fatalf("persist: %v closed %v cancelled %v", err, sink.closed, sink.cancelled)
	}
	snap.Release()
	wg.Wait()

	// Restore over a member with other state.
	g := openFSM(t)
	g.Apply(appendLog(t, 1, newChains(t).next(t, oB, "stale", 3, 10)...))
	g.Apply(registerLog(t, 2, "350505999999", pub(c.ring, oA)))
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if digest(t, g) != want || !reflect.DeepEqual(g.Heads(), wantHeads) || g.AppliedIndex() != 10 || g.LoadedIndex() != 7 {
		t.Fatalf("restored: heads %v applied %d loaded %d", g.Heads(), g.AppliedIndex(), g.LoadedIndex())
	}
	if _, ok := g.Public("350505999999"); ok {
		t.Error("restore kept a key of the old state")
	}
	if len(g.Members()) != 1 {
		t.Errorf("members %v", g.Members())
	}
	// The restored member follows the log like the others.
	g.ApplyBatch(later)
	if digest(t, g) != digest(t, f) || g.AppliedIndex() != f.AppliedIndex() {
		t.Fatal("restored member diverged after applying the same logs")
	}
	g.Close()
	counts, problems, err := ledger.Verify(g.Path(), c.ring)
	if err != nil || len(problems) != 0 || counts[oA] != 800 || counts[oB] != 190 {
		t.Fatalf("verify restored file: %v %v %v", counts, problems, err)
	}
}

func TestApplyBatchEquivalence(t *testing.T) {
	c := newChains(t)
	a, b := c.next(t, oA, "a", 8, 100), c.next(t, oB, "b", 5, 100)
	var logs []*raft.Log
	add := func(l *raft.Log) { l.Index = uint64(len(logs) + 1); logs = append(logs, l) }
	add(registerLog(t, 0, oA, pub(c.ring, oA)))
	add(appendLog(t, 0, a[0], b[0], a[1], a[2]))
	add(&raft.Log{Type: raft.LogConfiguration, Data: []byte("conf")})
	add(appendLog(t, 0, a[1], a[2], a[3], b[1]))                         // duplicates, then new
	add(appendLog(t, 0, forge(t, a[4], "a-"+oA+"-4"), a[5], b[2], b[4])) // forged, follower, new, gap
	add(cmdLog(t, 0, clusterv1.CommandType_COMMAND_TYPE_SET_MEMBER, false, &clusterv1.Member{Id: "m1"}))
	add(appendLog(t, 0, a[4], a[5], a[6], a[7], b[3], b[4]))
	add(cmdLog(t, 0, clusterv1.CommandType_COMMAND_TYPE_SET_LOADED, false, &clusterv1.LoadedIndex{Index: 5}))
	add(registerLog(t, 0, oA, pub(c.ring, oB))) // refused: A has entries

	one, batch := openFSM(t), openFSM(t)
	var singly []interface{}
	for _, l := range logs {
		singly = append(singly, one.Apply(l))
	}
	together := batch.ApplyBatch(logs)
	if len(together) != len(logs) {
		t.Fatalf("%d results for %d logs", len(together), len(logs))
	}
	if !reflect.DeepEqual(singly, together) {
		t.Errorf("results differ:\n one by one %v\n batch      %v", singly, together)
	}
	if digest(t, one) != digest(t, batch) || one.AppliedIndex() != batch.AppliedIndex() {
		t.Fatal("Apply one by one and ApplyBatch reached different states")
	}
	if one.Head(oA).Seq != 8 || one.Head(oB).Seq != 5 {
		t.Errorf("heads %v", one.Heads())
	}
}

func TestUnknownCommands(t *testing.T) {
	c := newChains(t)
	f := openFSM(t)
	good := appendLog(t, 1, c.next(t, oA, "a", 2, 10)...)
	unknown := func(i uint64, optional bool) *raft.Log {
		return cmdLog(t, i, clusterv1.CommandType(99), optional, &clusterv1.LoadedIndex{Index: 1})
	}
	for _, tc := range []struct {
		name string
		logs []*raft.Log
		want string
	}{
		{"undecodable envelope", []*raft.Log{{Index: 1, Type: raft.LogCommand, Data: []byte{0xff, 0xff}}}, "undecodable command"},
		{"unknown type, not optional", []*raft.Log{unknown(1, false)}, "unknown command type 99"},
		{"unspecified type", []*raft.Log{cmdLog(t, 1, clusterv1.CommandType_COMMAND_TYPE_UNSPECIFIED, false, &clusterv1.LoadedIndex{})}, "unknown command type 0"},
		{"unknown after a good one in a batch", []*raft.Log{good, unknown(2, false)}, "unknown command type 99"},
	} {
		if msg := panics(func() { f.ApplyBatch(tc.logs) }); !strings.Contains(msg, tc.want) || !strings.Contains(msg, "diverge") {
			t.Errorf("%s: panic %q, want %q and the reason", tc.name, msg, tc.want)
		}
		if f.AppliedIndex() != 0 || f.Head(oA).Seq != 0 {
			t.Errorf("%s: state changed before the panic", tc.name)
		}
	}
	// Still usable after a panic; an optional unknown command is skipped.
	out := f.ApplyBatch([]*raft.Log{good, unknown(2, true)})
	if out[1] != nil || result(t, out[0]).Added != 2 || f.AppliedIndex() != 2 {
		t.Errorf("results %v applied %d", out, f.AppliedIndex())
	}
}

func TestRestoreBadStream(t *testing.T) {
	c := newChains(t)
	f := openFSM(t)
	f.Apply(appendLog(t, 1, c.next(t, oA, "a", 3, 10)...))
	want := digest(t, f)
	snap, _ := f.Snapshot()
	good := &bufSink{}
	snap.Persist(good)
	snap.Release()

	header := func(version uint32, applied, size uint64) []byte {
		h := []byte("SANZIFSM")
		h = binary.BigEndian.AppendUint32(h, version)
		h = binary.BigEndian.AppendUint64(h, applied)
		return binary.BigEndian.AppendUint64(h, size)
	}
	body := good.Bytes()[headerSize:]
	for _, tc := range []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty", nil, "header"},
		{"short header", []byte("SANZI"), "header"},
		{"bad magic", append([]byte("NOTSANZI"), good.Bytes()[8:]...), "not a sanzi fsm snapshot"},
		{"unknown version", append(header(2, 1, uint64(len(body))), body...), "version 2"},
		{"truncated body", append(header(1, 1, uint64(len(body))), body[:len(body)/2]...), "receive state file"},
		{"garbage body", append(header(1, 1, 8192), make([]byte, 8192)...), "does not open"},
		{"wrong applied index", append(header(1, 9, uint64(len(body))), body...), "header says 9"},
	} {
		err := f.Restore(io.NopCloser(bytes.NewReader(tc.stream)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
		if digest(t, f) != want || f.Head(oA).Seq != 3 || f.AppliedIndex() != 1 {
			t.Fatalf("%s: old state not readable after a failed restore", tc.name)
		}
	}
	n := 0
	if err := f.Range(oA, 1, 0, func(*ledger.Stored) bool { n++; return true }); err != nil || n != 3 {
		t.Errorf("range after failed restores: %d entries, %v", n, err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(f.Path())); len(ents) != 1 {
		t.Errorf("left files behind: %v", ents)
	}
	if r := result(t, f.Apply(appendLog(t, 2, c.next(t, oA, "a", 1, 10)...))); r.Added != 1 {
		t.Errorf("apply after failed restores: %+v", r)
	}
}

// BenchmarkApplyBatch applies Raft logs of 1,000 entries (~300-byte
// payloads, four origins interleaved), one log per ApplyBatch, as a member
// does when each push is one Raft entry.
func BenchmarkApplyBatch(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			origins := []string{oA, oB, oC, "350505100204"}
			ring := newRing()
			ring.Add(origins[3], ed25519.NewKeyFromSeed(seed(4)))
			led, err := ledger.Open(ledger.Config{Path: filepath.Join(b.TempDir(), "l.db"), Keys: ring, NoSync: true, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer led.Close()
			c := &chains{ring: ring, led: led}
			f, err := Open(Config{Path: filepath.Join(b.TempDir(), "fsm.db"), Logger: quiet, NoSync: !fsync})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const perLog = 1000
			logs := make([]*raft.Log, b.N)
			for i := range logs {
				per := make([][][]byte, len(origins))
				for j, o := range origins {
					per[j] = c.next(b, o, "bench", perLog/len(origins), 300)
				}
				entries := make([][]byte, 0, perLog)
				for k := 0; k < perLog/len(origins); k++ {
					for j := range origins {
						entries = append(entries, per[j][k])
					}
				}
				logs[i] = appendLog(b, uint64(i+1), entries...)
			}
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for _, l := range logs {
				if r := f.ApplyBatch([]*raft.Log{l})[0].(*Result); r.Added != perLog {
					b.Fatalf("added %d: %v", r.Added, r.Problems)
				}
			}
			b.ReportMetric(float64(b.N*perLog)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// Reads from other goroutines go on while Restore swaps the file.
func TestReadsDuringRestore(t *testing.T) {
	c := newChains(t)
	f := openFSM(t)
	f.Apply(appendLog(t, 1, c.next(t, oA, "a", 200, 100)...))
	snap, _ := f.Snapshot()
	sink := &bufSink{}
	snap.Persist(sink)
	snap.Release()
	want := digest(t, f)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := 0
				if err := f.Range(oA, 1, 0, func(*ledger.Stored) bool { n++; return true }); err != nil || n != 200 {
					t.Errorf("range during restore: %d entries, %v", n, err)
					return
				}
				if d, err := f.Digest(); err != nil || d != want || f.Head(oA).Seq != 200 || len(f.Members()) != 0 {
					t.Errorf("read during restore: %v", err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if err := f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
