package fsm

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
)

// TestAdoptCheckpoint: a restored state (the backup) adopts the newest
// checkpoint of the cluster that was lost, signed after the backup over
// entries the backup lacks. Refused: another key, a number not after the
// backup's newest, a head that contradicts an entry the backup holds.
// Adopted, the signer holds back while the chains are behind it and then
// follows it.
func TestAdoptCheckpoint(t *testing.T) {
	c := newChains(t)
	key := ed25519.NewKeyFromSeed(seed(9))
	f := openFSM(t)
	index := uint64(0)
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	signer, err := checkpoint.NewSigner(checkpoint.Config{District: district, Key: key, State: f,
		Proposer: &rawProposer{t: t, f: f, index: &index}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apply := func(l *raft.Log) { index++; l.Index = index; f.Apply(l) }
	apply(registerLog(t, 0, oA, pub(c.ring, oA)))
	apply(registerLog(t, 0, oB, pub(c.ring, oB)))
	apply(registerLog(t, 0, district, key.Public().(ed25519.PublicKey)))
	apply(appendLog(t, 0, append(c.next(t, oA, "a", 5, 50), c.next(t, oB, "b", 3, 50)...)...))
	first, err := signer.Once(ctx)
	if err != nil || first == nil {
		t.Fatalf("checkpoint 1: %v", err)
	}
	// The lost cluster went on: A to 10, checkpoints 2 and 3 signed.
	lost := c.next(t, oA, "a", 5, 50)
	last, err := ledger.Peek(lost[len(lost)-1])
	if err != nil {
		t.Fatal(err)
	}
	bHead, _ := first.Statement.Head(oB)
	statement := func(number uint64, aSeq uint64, aHash [ledger.HashSize]byte) *checkpoint.Statement {
		return &checkpoint.Statement{District: district, Number: number, Time: now.Add(time.Duration(number) * time.Minute),
			Prev:  sha256.Sum256([]byte("checkpoint 2, not at hand")),
			Heads: []checkpoint.Head{{Origin: oA, Seq: aSeq, Hash: aHash}, bHead}}
	}
	good := checkpoint.Sign(statement(3, last.Seq, last.Hash), key)

	a5, _ := first.Statement.Head(oA)
	for _, tc := range []struct {
		name string
		c    *checkpoint.Signed
	}{
		{"signed with another key", checkpoint.Sign(statement(3, last.Seq, last.Hash), ed25519.NewKeyFromSeed(seed(10)))},
		{"not after the backup's newest", checkpoint.Sign(&checkpoint.Statement{District: district, Number: 1, Time: now, Heads: []checkpoint.Head{{Origin: oA, Seq: last.Seq, Hash: last.Hash}, bHead}}, key)},
		{"another hash at an entry the backup holds", checkpoint.Sign(statement(3, a5.Seq, sha256.Sum256([]byte("other"))), key)},
	} {
		if err := f.AdoptCheckpoint(tc.c); !errors.Is(err, ErrCheckpoint) {
			t.Errorf("%s: adopted (%v)", tc.name, err)
		}
	}
	if l, _ := f.LatestCheckpoint(); l.Statement.Number != 1 {
		t.Fatalf("a refused checkpoint changed the newest to %d", l.Statement.Number)
	}

	if err := f.AdoptCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	if l, err := f.LatestCheckpoint(); err != nil || string(l.Text) != string(good.Text) {
		t.Fatalf("newest after adopting: %v %v", l, err)
	}
	now = now.Add(time.Hour)
	if s, err := signer.Once(ctx); !errors.Is(err, checkpoint.ErrContradiction) {
		t.Fatalf("signed %v while A is behind the adopted checkpoint (%v)", s, err)
	}
	apply(appendLog(t, 0, lost...)) // the village pushes again what the backup lacks
	if s, err := signer.Once(ctx); s != nil || err != nil {
		t.Fatalf("signed %v (%v) with the adopted checkpoint's heads unchanged", s, err)
	}
	apply(appendLog(t, 0, c.next(t, oA, "a", 1, 50)...)) // and goes on
	s, err := signer.Once(ctx)
	if err != nil || s == nil || s.Statement.Number != 4 || s.Statement.Prev != good.Statement.Sum() {
		t.Fatalf("checkpoint after the adopted 3: %v %v", s, err)
	}
}
