package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/keys"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVerbatim: a town stores a village's entries exactly as sealed; a
// resend is a no-op, a different entry at a held seq is a fork, a jump is a
// gap, and the town's file verifies with only the village's public key.
func TestVerbatim(t *testing.T) {
	ctx := context.Background()
	const village = "350505100201"
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	vring := keys.NewRing()
	vring.Add(village, key)
	v := openTest(t, filepath.Join(t.TempDir(), "v.db"), vring)
	var raws [][]byte
	for i := range 6 {
		st, err := v.Append(ctx, Record{Origin: village, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, st[0].Raw)
	}
	tring := keys.NewRing()
	tring.AddPublic(village, key.Public().(ed25519.PublicKey))
	path := filepath.Join(t.TempDir(), "town.db")
	town := openTest(t, path, tring)
	verbatim := func(rs ...[]byte) ([]*Stored, error) {
		var recs []Record
		for _, r := range rs {
			recs = append(recs, Record{Raw: r})
		}
		return town.Append(ctx, recs...)
	}
	if out, err := verbatim(raws[:3]...); err != nil || len(out) != 3 {
		t.Fatalf("first three: %d stored, %v", len(out), err)
	}
	if out, err := verbatim(raws[:5]...); err != nil || len(out) != 2 || out[0].Seq != 4 {
		t.Fatalf("resend of 1..5: %d stored, %v; want 4 and 5 only", len(out), err)
	}
	// A different entry 6 (another payload, sealed by the same key).
	forged, err := Seal(key, Head{Seq: 5, Hash: town.Head(village).Hash}, Record{Origin: village, Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte("x")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verbatim(raws[5]); err != nil {
		t.Fatal(err)
	}
	if _, err := verbatim(forged.Raw); !errors.Is(err, ErrFork) {
		t.Fatalf("a different entry at a held seq: %v, want ErrFork", err)
	}
	later, err := Seal(key, Head{Seq: 9}, Record{Origin: village, Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verbatim(later.Raw); !errors.Is(err, ErrGap) {
		t.Fatalf("seq 10 after 6: %v, want ErrGap", err)
	}
	if h := town.Head(village); h.Seq != 6 || h.Hash != v.Head(village).Hash {
		t.Fatalf("town head %d, village head %d", h.Seq, v.Head(village).Seq)
	}
	town.Close()
	counts, problems, err := Verify(path, tring)
	if err != nil || len(problems) > 0 || counts[village] != 6 {
		t.Fatalf("verify the town's file: %v %v %v", counts, problems, err)
	}
}
