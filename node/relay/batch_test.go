package relay

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestBatchesEndOnASignedEntry: the outbox never cuts an append (one
// signature, on its last entry) between two batches: each origin's part of
// a batch ends on a signed entry, going past MaxBatchBytes to reach it,
// and every batch passes the parent's check (ChainVerifier.Finish), which
// refuses one that ends unsigned.
func TestBatchesEndOnASignedEntry(t *testing.T) {
	const other = "350505100202"
	l, ring := twoVillageLedger(t, other)
	appends := []int{1, 5, 3, 40, 2, 1, 7}
	for i, n := range appends {
		var recs []ledger.Record
		for j := range n {
			for _, o := range []string{testVillage, other} {
				recs = append(recs, ledger.Record{Origin: o, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION,
					Payload: fmt.Appendf(nil, "append %d entry %d, padded to a hundred bytes or so ..........................................", i, j)})
			}
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, n := range appends {
		total += n
	}
	for _, tc := range []struct {
		name  string
		bytes int
	}{{"one entry's worth", 1}, {"a few entries", 600}, {"more than a chain", 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := New(Config{Ledger: l, Origin: testVillage, Dial: func(context.Context) (sanziv1.SyncServiceClient, func(), error) { return nil, nil, nil }, MaxBatchBytes: tc.bytes})
			if err != nil {
				t.Fatal(err)
			}
			origins := []string{testVillage, other}
			from := map[string]uint64{}
			heads := map[string]ledger.Head{}
			batches := 0
			for from[testVillage] < uint64(total) || from[other] < uint64(total) {
				req, last, err := o.next(context.Background(), origins, from, map[string]bool{})
				if err != nil {
					t.Fatal(err)
				}
				if len(req.GetEntries()) == 0 {
					t.Fatalf("empty batch with entries left (from %v)", from)
				}
				batches++
				verifiers := map[string]*ledger.ChainVerifier{}
				for _, raw := range req.GetEntries() {
					s, err := ledger.Peek(raw)
					if err != nil {
						t.Fatal(err)
					}
					v := verifiers[s.Origin]
					if v == nil {
						pub, _ := ring.Public(s.Origin)
						v = ledger.NewChainVerifier(s.Origin, pub, heads[s.Origin].Seq+1, heads[s.Origin].Hash, false)
						verifiers[s.Origin] = v
					}
					if err := v.Check(s); err != nil {
						t.Fatalf("batch %d: %v", batches, err)
					}
					heads[s.Origin] = ledger.Head{Seq: s.Seq, Hash: s.Hash}
				}
				for org, v := range verifiers {
					if _, err := v.Finish(); err != nil {
						t.Fatalf("batch %d, %s up to %d: the parent would refuse it: %v", batches, org, last[org], err)
					}
				}
				for org, seq := range last {
					from[org] = seq
				}
			}
			if tc.bytes == 1 && batches != 2*len(appends) {
				t.Fatalf("%d batches at one entry's worth each, want one per append and chain (%d)", batches, 2*len(appends))
			}
		})
	}
}

// TestPullPageCutInsideAnAppendRefused: a page of a pulled chain that ends
// inside an append (a parent that pages by count alone) is refused with an
// error saying so, and nothing of it is stored; the page up to the append's
// signed end is stored.
func TestPullPageCutInsideAnAppendRefused(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	src := keys.NewRing()
	src.Add(testVillage, key)
	parent, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "parent.db"), Keys: src, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Close() })
	var recs []ledger.Record
	for i := range 4 {
		recs = append(recs, ledger.Record{Origin: testVillage, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: fmt.Appendf(nil, "entry %d", i)})
	}
	if _, err := parent.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	if err := parent.Range(testVillage, 1, 0, func(s *ledger.Stored) bool { raws = append(raws, s.Raw); return true }); err != nil {
		t.Fatal(err)
	}
	child := keys.NewRing()
	pub := key.Public().(ed25519.PublicKey)
	child.AddPublic(testVillage, pub)
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "child.db"), Keys: child, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if _, _, err := storeFollowing(context.Background(), l, testVillage, pub, ledger.Head{}, raws[:2], ledger.KeyOptions{}); err == nil ||
		!strings.Contains(err.Error(), "ends inside an append") || l.Head(testVillage).Seq != 0 {
		t.Fatalf("a page cut inside an append: %v, head %d; want refused, nothing stored", err, l.Head(testVillage).Seq)
	}
	if n, _, err := storeFollowing(context.Background(), l, testVillage, pub, ledger.Head{}, raws, ledger.KeyOptions{}); err != nil || n != 4 {
		t.Fatalf("the whole append: %d stored, %v", n, err)
	}
}

// twoVillageLedger is a ledger holding signing keys for testVillage and
// other, as a town's file holds its villages' chains, and its key ring.
func twoVillageLedger(t *testing.T, other string) (*ledger.Ledger, *keys.Ring) {
	t.Helper()
	ring := keys.NewRing()
	ring.Add(testVillage, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	ring.Add(other, ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 1)))
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "ledger.db"), Keys: ring, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, ring
}
