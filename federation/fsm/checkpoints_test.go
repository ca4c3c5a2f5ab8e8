package fsm

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	clusterv1 "github.com/sanzi/sanzi/proto/gen/sanzi/cluster/v1"
)

// rawProposer applies checkpoints to an FSM as raft would, with no raft:
// each proposal is the next log index.
type rawProposer struct {
	t     *testing.T
	f     *FSM
	index *uint64 // shared with the test's own applies
	n     int
}

func (p *rawProposer) ProposeCheckpoint(_ context.Context, c *clusterv1.Checkpoint) error {
	*p.index++
	p.n++
	if err, ok := p.f.Apply(cmdLog(p.t, *p.index, clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT, false, c)).(error); ok {
		return err
	}
	return nil
}

// alteredState is the FSM with one head reported with another hash: what
// a member whose state file was edited would sign from.
type alteredState struct {
	*FSM
	origin string
}

func (s alteredState) Heads() map[string]ledger.Head {
	h := s.FSM.Heads()
	x := h[s.origin]
	x.Hash[0] ^= 1
	h[s.origin] = x
	return h
}

// TestCheckpoints signs checkpoints from an FSM's state with the signer and
// stores them through the FSM's Apply, step by step: nothing to sign on an
// empty state; every head signed; nothing new while nothing changes until
// MaxAge; only changed heads in the command while the statement names
// every head; the checkpoint covering an entry; the signer refusing heads
// that contradict the newest checkpoint; the FSM refusing commands that do
// not follow, that sign what it does not hold or with another key; and
// checkpoints surviving a snapshot.
func TestCheckpoints(t *testing.T) {
	c := newChains(t)
	key := ed25519.NewKeyFromSeed(seed(9))
	f := openFSM(t)
	index := uint64(0)
	prop := &rawProposer{t: t, f: f, index: &index}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	signer, err := checkpoint.NewSigner(checkpoint.Config{District: district, Key: key, State: f, Proposer: prop,
		Now: func() time.Time { return now }, MaxAge: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apply := func(l *raft.Log) interface{} { index++; l.Index = index; return f.Apply(l) }
	once := func(want uint64) *checkpoint.Signed {
		t.Helper()
		s, err := signer.Once(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want == 0 {
			if s != nil {
				t.Fatalf("signed checkpoint %d, want none", s.Statement.Number)
			}
			return nil
		}
		if s == nil || s.Statement.Number != want {
			t.Fatalf("signed %v, want checkpoint %d", s, want)
		}
		got, err := f.LatestCheckpoint()
		if err != nil || got == nil || !bytes.Equal(got.Text, s.Text) || !bytes.Equal(got.Signature, s.Signature) {
			t.Fatalf("latest stored %v (%v), want what was signed:\n%s", got, err, s.Text)
		}
		if _, err := checkpoint.Open(got.Text, got.Signature, key.Public().(ed25519.PublicKey)); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("nothing to sign", func(t *testing.T) { once(0) })
	apply(registerLog(t, 0, oA, pub(c.ring, oA)))
	apply(registerLog(t, 0, oB, pub(c.ring, oB)))
	apply(registerLog(t, 0, district, key.Public().(ed25519.PublicKey)))
	apply(appendLog(t, 0, append(c.next(t, oA, "a", 5, 50), c.next(t, oB, "b", 3, 50)...)...))
	var first *checkpoint.Signed
	t.Run("every head", func(t *testing.T) {
		first = once(1)
		for o, want := range f.Heads() {
			h, ok := first.Statement.Head(o)
			if !ok || h.Seq != want.Seq || h.Hash != want.Hash {
				t.Errorf("checkpoint 1 has %s at %+v, the state %+v", o, h, want)
			}
		}
	})
	t.Run("unchanged until max age", func(t *testing.T) {
		now = now.Add(9 * time.Minute)
		once(0)
		now = now.Add(time.Minute)
		if s := once(2); s.Statement.Prev != first.Statement.Sum() {
			t.Fatal("checkpoint 2 does not name checkpoint 1")
		}
	})
	t.Run("changed heads only in the command", func(t *testing.T) {
		apply(appendLog(t, 0, c.next(t, oA, "a2", 4, 50)...))
		now = now.Add(time.Minute)
		before := prop.n
		s := once(3)
		if h, _ := s.Statement.Head(oA); h.Seq != 9 {
			t.Errorf("oA at %d in checkpoint 3, want 9", h.Seq)
		}
		if h, _ := s.Statement.Head(oB); h.Seq != 3 {
			t.Errorf("oB at %d in checkpoint 3, want 3", h.Seq)
		}
		if prop.n != before+1 {
			t.Fatal("no proposal")
		}
		prev, _ := f.Checkpoint(2)
		if d := checkpoint.Delta(prev.Statement, s, nil); len(d.GetChanged()) != 1 || d.GetChanged()[0].GetOrigin() != oA {
			t.Errorf("command changes %v, want oA only", d.GetChanged())
		}
		for _, n := range []uint64{1, 2, 3} {
			if cp, err := f.Checkpoint(n); err != nil || cp == nil || cp.Statement.Number != n {
				t.Fatalf("checkpoint %d: %v %v", n, cp, err)
			}
		}
	})
	t.Run("covering", func(t *testing.T) {
		for _, tc := range []struct {
			origin  string
			seq     uint64
			want    uint64
			wantSeq uint64
		}{{oA, 1, 1, 5}, {oA, 5, 1, 5}, {oA, 6, 3, 9}, {oA, 10, 0, 0}, {oB, 3, 1, 3}, {oC, 1, 0, 0}} {
			n, h, err := f.CheckpointCovering(tc.origin, tc.seq)
			if err != nil || n != tc.want || h.Seq != tc.wantSeq {
				t.Errorf("covering %s seq %d: checkpoint %d head %d (%v), want %d head %d", tc.origin, tc.seq, n, h.Seq, err, tc.want, tc.wantSeq)
			}
		}
	})
	t.Run("signer refuses a contradiction", func(t *testing.T) {
		bad, err := checkpoint.NewSigner(checkpoint.Config{District: district, Key: key, State: alteredState{f, oB}, Proposer: prop,
			Now: func() time.Time { return now.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		before := prop.n
		if _, err := bad.Once(ctx); !errors.Is(err, checkpoint.ErrContradiction) {
			t.Fatalf("signing an altered head: %v, want ErrContradiction", err)
		}
		if prop.n != before {
			t.Fatal("the refused checkpoint was proposed")
		}
	})
	t.Run("fsm refuses", func(t *testing.T) {
		latest, _ := f.LatestCheckpoint()
		ls := latest.Statement
		other := ed25519.NewKeyFromSeed(seed(8))
		heads := func(mod func(hs []checkpoint.Head) []checkpoint.Head) []checkpoint.Head {
			return mod(append([]checkpoint.Head(nil), ls.Heads...))
		}
		same := func(hs []checkpoint.Head) []checkpoint.Head { return hs }
		for _, tc := range []struct {
			name string
			st   checkpoint.Statement
			key  ed25519.PrivateKey
			want string
		}{
			{"a number skipped", checkpoint.Statement{District: district, Number: ls.Number + 2, Time: ls.Time, Prev: ls.Sum(), Heads: heads(same)}, key, "number"},
			{"another predecessor", checkpoint.Statement{District: district, Number: ls.Number + 1, Time: ls.Time, Heads: heads(same)}, key, "another predecessor"},
			{"a head at the same seq with another hash", checkpoint.Statement{District: district, Number: ls.Number + 1, Time: ls.Time, Prev: ls.Sum(),
				Heads: heads(func(hs []checkpoint.Head) []checkpoint.Head { hs[0].Hash[3] ^= 1; return hs })}, key, "contradicts"},
			{"a chain gone back", checkpoint.Statement{District: district, Number: ls.Number + 1, Time: ls.Time, Prev: ls.Sum(),
				Heads: heads(func(hs []checkpoint.Head) []checkpoint.Head { hs[0].Seq--; return hs })}, key, "went back"},
			{"an entry not held", checkpoint.Statement{District: district, Number: ls.Number + 1, Time: ls.Time, Prev: ls.Sum(),
				Heads: append(heads(same), checkpoint.Head{Origin: oC, Seq: 1})}, key, "does not hold"},
			{"another key", checkpoint.Statement{District: district, Number: ls.Number + 1, Time: ls.Time.Add(time.Minute), Prev: ls.Sum(), Heads: heads(same)}, other, "not the district chain's"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := tc.st
				signed := checkpoint.Sign(&st, tc.key)
				cmd := checkpoint.Delta(ls, signed, tc.key.Public().(ed25519.PublicKey))
				if len(cmd.GetChanged()) == 0 && tc.name != "a number skipped" && tc.name != "another predecessor" && tc.name != "another key" {
					t.Fatal("the test's statement changes nothing")
				}
				res := apply(cmdLog(t, 0, clusterv1.CommandType_COMMAND_TYPE_CHECKPOINT, false, cmd))
				err, _ := res.(error)
				if !errors.Is(err, ErrCheckpoint) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
					t.Fatalf("result %v, want ErrCheckpoint saying %q", res, tc.want)
				}
				if got, _ := f.LatestCheckpoint(); got.Statement.Number != ls.Number {
					t.Fatalf("latest is %d after a refusal, want %d", got.Statement.Number, ls.Number)
				}
			})
		}
	})
	t.Run("snapshot", func(t *testing.T) {
		snap, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		sink := &bufSink{}
		if err := snap.Persist(sink); err != nil {
			t.Fatal(err)
		}
		snap.Release()
		g := openFSM(t)
		if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
			t.Fatal(err)
		}
		a, _ := f.LatestCheckpoint()
		b, err := g.LatestCheckpoint()
		if err != nil || b == nil || !bytes.Equal(a.Text, b.Text) || digest(t, f) != digest(t, g) {
			t.Fatalf("restored latest %v (%v)", b, err)
		}
	})
}
