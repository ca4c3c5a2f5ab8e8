package cpstore

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
)

const (
	district = "350505000000"
	village  = "350505100201"
	other    = "350505200301" // a village of another town: not held here
)

// hashOf is the hash the town holds at (origin, seq): it holds village's
// chain up to seq 100 and the district's up to 10, no other.
func hashOf(origin string, seq uint64) [ledger.HashSize]byte {
	return sha256.Sum256([]byte(origin + "/" + string(rune(seq))))
}

func townHashAt(origin string, seq uint64) ([ledger.HashSize]byte, bool, error) {
	switch {
	case origin == village && seq <= 100, origin == district && seq <= 10:
		return hashOf(origin, seq), true, nil
	}
	return [ledger.HashSize]byte{}, false, nil
}

func key(t *testing.T, seed byte) ed25519.PrivateKey {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s)
}

// statement is checkpoint n after prev (nil: the first) with heads.
func statement(prev *checkpoint.Statement, n uint64, heads ...checkpoint.Head) *checkpoint.Statement {
	s := &checkpoint.Statement{District: district, Number: n, Time: time.Date(2026, 12, 1, 10, int(n), 0, 0, time.UTC), Heads: heads}
	if prev != nil {
		s.Prev = prev.Sum()
	}
	return s
}

func head(origin string, seq uint64) checkpoint.Head {
	return checkpoint.Head{Origin: origin, Seq: seq, Hash: hashOf(origin, seq)}
}

func TestStoreAdd(t *testing.T) {
	dk, ok := key(t, 1), key(t, 2)
	pub := dk.Public().(ed25519.PublicKey)
	c1 := statement(nil, 1, head(district, 3), head(other, 7), head(village, 10))
	c2 := statement(c1, 2, head(district, 3), head(other, 9), head(village, 40))
	forked := head(village, 40)
	forked.Hash[0] ^= 1
	tests := []struct {
		name string
		st   *checkpoint.Statement
		key  ed25519.PrivateKey
		want error // nil: kept
	}{
		{"the first", c1, dk, nil},
		{"the next", c2, dk, nil},
		{"the next again, same text", c2, dk, nil},
		{"re-signed with another key", statement(c2, 3, head(district, 3), head(other, 9), head(village, 41)), ok, checkpoint.ErrSignature},
		{"another checkpoint 2", statement(c1, 2, head(district, 4), head(other, 9), head(village, 40)), dk, checkpoint.ErrContradiction},
		{"a chain gone back", statement(c2, 3, head(district, 3), head(other, 8), head(village, 40)), dk, checkpoint.ErrContradiction},
		{"a chain missing", statement(c2, 3, head(district, 3), head(village, 40)), dk, checkpoint.ErrContradiction},
		{"another hash than the town holds", statement(c2, 3, head(district, 3), head(other, 9), forked), dk, checkpoint.ErrContradiction},
		{"a number skipped", statement(c2, 4, head(district, 3), head(other, 9), head(village, 41)), dk, checkpoint.ErrSequence},
		{"another predecessor", statement(c1, 3, head(district, 3), head(other, 9), head(village, 41)), dk, checkpoint.ErrSequence},
		{"a chain the town does not hold so far", statement(c2, 3, head(district, 3), head(other, 9), head(village, 140)), dk, nil},
	}
	s, err := Open(filepath.Join(t.TempDir(), "checkpoints.db"), townHashAt, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Next()
			signed := checkpoint.Sign(tc.st, tc.key)
			got, err := s.Add(signed.Text, signed.Signature, pub)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("Add(checkpoint %d) = %v, want %v", tc.st.Number, err, tc.want)
			}
			if tc.want != nil {
				if s.Next() != before {
					t.Fatalf("a refused checkpoint moved the store from %d to %d", before, s.Next())
				}
				return
			}
			if got.Statement.Number != tc.st.Number {
				t.Fatalf("kept checkpoint %d, want %d", got.Statement.Number, tc.st.Number)
			}
			back, err := s.Checkpoint(tc.st.Number)
			if err != nil || back == nil || string(back.Text) != string(signed.Text) || string(back.Signature) != string(signed.Signature) {
				t.Fatalf("Checkpoint(%d) = %v, %v; want the text and signature added", tc.st.Number, back, err)
			}
		})
	}
}

func TestStoreCovering(t *testing.T) {
	dk := key(t, 1)
	pub := dk.Public().(ed25519.PublicKey)
	path := filepath.Join(t.TempDir(), "checkpoints.db")
	s, err := Open(path, townHashAt, true)
	if err != nil {
		t.Fatal(err)
	}
	// The village's head moves in checkpoints 1, 2, 5 and 9 (seqs 10, 20,
	// 50, 90); the district's only in 1.
	var prev *checkpoint.Statement
	seqs := map[uint64]uint64{1: 10, 2: 20, 5: 50, 9: 90}
	cur := uint64(0)
	for n := uint64(1); n <= 10; n++ {
		if q, ok := seqs[n]; ok {
			cur = q
		}
		st := statement(prev, n, head(district, 3), head(village, cur))
		signed := checkpoint.Sign(st, dk)
		if _, err := s.Add(signed.Text, signed.Signature, pub); err != nil {
			t.Fatalf("add checkpoint %d: %v", n, err)
		}
		prev = st
	}
	s.Close()
	// Reopened: what was kept is read back, the newest first.
	if s, err = Open(path, townHashAt, true); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l, _ := s.LatestCheckpoint(); l == nil || l.Statement.Number != 10 || s.Next() != 11 {
		t.Fatalf("reopened store's newest is %v, next %d; want 10 and 11", l, s.Next())
	}
	tests := []struct {
		origin  string
		seq     uint64
		n, head uint64 // 0: none covers it
	}{
		{village, 1, 1, 10},
		{village, 10, 1, 10},
		{village, 11, 2, 20},
		{village, 21, 5, 50},
		{village, 50, 5, 50},
		{village, 51, 9, 90},
		{village, 90, 9, 90},
		{village, 91, 0, 0},
		{district, 3, 1, 3},
		{other, 1, 0, 0},
	}
	for _, tc := range tests {
		n, h, err := s.CheckpointCovering(tc.origin, tc.seq)
		if err != nil || n != tc.n || h.Seq != tc.head {
			t.Errorf("CheckpointCovering(%s, %d) = %d, seq %d, %v; want %d, seq %d", tc.origin, tc.seq, n, h.Seq, err, tc.n, tc.head)
		}
		if n > 0 && h.Hash != hashOf(tc.origin, tc.head) {
			t.Errorf("CheckpointCovering(%s, %d): hash %x, want the head's", tc.origin, tc.seq, h.Hash[:4])
		}
	}
	// A statement rebuilt from the head changes is the one signed.
	c7, err := s.Checkpoint(7)
	if err != nil || c7 == nil {
		t.Fatalf("Checkpoint(7) = %v, %v", c7, err)
	}
	if _, err := checkpoint.Open(c7.Text, c7.Signature, pub); err != nil {
		t.Fatalf("checkpoint 7 rebuilt does not verify: %v", err)
	}
	if h, _ := c7.Statement.Head(village); h.Seq != 50 {
		t.Fatalf("checkpoint 7 names village seq %d, want 50", h.Seq)
	}
}
