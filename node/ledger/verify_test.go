package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTamperedByteIsFound flips one byte of one payload in the bbolt file
// itself, as someone with the disk and a hex editor would, and checks that
// Verify names that origin and seq and that the reopened ledger refuses to
// extend the chain.
func TestTamperedByteIsFound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target int // seq whose payload is changed
		total  int
	}{
		{"middle", 5, 9},
		{"first", 1, 3},
		{"newest", 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			ring := testKeys(t, testOrigin)
			l := openTest(t, path, ring)
			for i := 1; i <= tc.total; i++ {
				if _, err := l.Append(context.Background(), Record{Origin: testOrigin, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte(fmt.Sprintf("MARKER-%04d amount 1000", i))}); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			marker := []byte(fmt.Sprintf("MARKER-%04d amount 1000", tc.target))
			// bbolt copies pages on write, so freed pages may still hold an
			// old copy; change every copy, the live one among them.
			if bytes.Count(data, marker) == 0 {
				t.Fatal("marker not in the file")
			}
			tampered := bytes.Replace(marker, []byte("1000"), []byte("9000"), 1)
			data = bytes.ReplaceAll(data, marker, tampered) // one byte: 1 -> 9
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, problems, err := Verify(path, ring)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || problems[0].Origin != testOrigin || problems[0].Seq != uint64(tc.target) {
				t.Fatalf("problems = %+v, want %s seq %d", problems, testOrigin, tc.target)
			}
			if !strings.Contains(problems[0].Problem, "does not match its hash") {
				t.Fatalf("problem %q does not say the hash is wrong", problems[0].Problem)
			}
			for _, later := range []bool{false, true} {
				l, err := Open(Config{Path: path, Keys: ring, CheckLater: later})
				if err != nil {
					t.Fatal(err)
				}
				if later {
					// Open read the head and left the check for later:
					// nothing is known yet, until the check has run.
					if ve := l.ChainBroken(testOrigin); ve != nil {
						t.Fatalf("checked before CheckChains: %v", ve)
					}
					l.CheckChains()
					<-l.Checked()
				}
				if ve := l.ChainBroken(testOrigin); ve == nil || ve.Seq != uint64(tc.target) {
					t.Fatalf("reopened ledger (check later %v): ChainBroken = %v", later, ve)
				}
				if _, err := l.Append(context.Background(), rec(testOrigin, 99)); !errors.Is(err, ErrChainBroken) {
					t.Fatalf("append to a broken chain (check later %v): %v, want ErrChainBroken", later, err)
				}
				if h := l.Head(testOrigin); h.Seq != uint64(tc.total) {
					t.Fatalf("head of broken chain %d, want %d", h.Seq, tc.total)
				}
				l.Close()
			}
		})
	}
}

// TestVerifyFindsRemovedAndResignedEntries covers the other ways to rewrite
// history: deleting an entry, and rebuilding the tail with a different key.
func TestVerifyFindsRemovedAndResignedEntries(t *testing.T) {
	ring := testKeys(t, testOrigin)
	raws := buildChain(t, ring, 6)
	check := func(raws [][]byte, keysFrom [][]byte) error {
		pub, _ := ring.Public(testOrigin)
		v := NewChainVerifier(testOrigin, pub, 1, [HashSize]byte{}, true)
		for i, r := range raws {
			if _, err := v.Next(uint64(i+1), r); err != nil {
				return err
			}
		}
		_, err := v.Finish()
		return err
	}
	if err := check(raws, nil); err != nil {
		t.Fatalf("genuine chain: %v", err)
	}
	gap := append(append([][]byte{}, raws[:2]...), raws[3:]...)
	var ve *VerifyError
	if err := check(gap, nil); !errors.As(err, &ve) || ve.Seq != 3 {
		t.Fatalf("removed entry 3: %v", err)
	}
	forged := buildChain(t, testKeys(t, "other"), 6) // same shape, other key, other origin
	if err := check(forged, nil); !errors.As(err, &ve) || ve.Seq != 1 {
		t.Fatalf("forged chain: %v", err)
	}
}

// buildChain makes n genuine entries of testOrigin in memory.
func buildChain(t testing.TB, ring KeyRing, n int) [][]byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chain.db")
	l, err := Open(Config{Path: path, Keys: ring, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	origin := testOrigin
	if _, ok := ring.Private(origin); !ok {
		origin = "other"
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		s, err := l.Append(context.Background(), rec(origin, i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s[0].Raw)
	}
	return out
}

// FuzzDecode: neither decoder panics, and whatever the full decoder accepts
// the wire-level Peek reads identically (the district checks with Peek).
func FuzzDecode(f *testing.F) {
	for _, r := range buildChain(f, testKeys(f, testOrigin), 3) {
		f.Add(r)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, perr := Peek(raw)
		s, err := Decode(raw)
		if err != nil {
			return
		}
		if perr != nil {
			t.Fatalf("Decode accepted what Peek refuses: %v", perr)
		}
		if l.Origin != s.Origin || l.Seq != s.Seq || l.PrevHash != s.PrevHash || l.Hash != s.Hash || !bytes.Equal(l.Signature, s.Signature) {
			t.Fatalf("Peek %+v disagrees with Decode %+v", l, s)
		}
	})
}

// FuzzVerifyChain mutates one stored entry of a genuine chain. The verifier
// must refuse, unless the mutation left body, hash and signature as they
// were (protobuf allows re-encodings of the outer message that change
// nothing the chain covers).
func FuzzVerifyChain(f *testing.F) {
	ring := testKeys(f, testOrigin)
	chain := buildChain(f, ring, 4)
	pub, _ := ring.Public(testOrigin)
	for i := range chain {
		f.Add(uint8(i), chain[i])
	}
	f.Add(uint8(1), append(append([]byte{}, chain[1]...), 0x00))
	f.Fuzz(func(t *testing.T, idx uint8, mutated []byte) {
		i := int(idx) % len(chain)
		raws := append([][]byte{}, chain...)
		raws[i] = mutated
		v := NewChainVerifier(testOrigin, pub, 1, [HashSize]byte{}, false)
		var err error
		for k, r := range raws {
			if _, err = v.Next(uint64(k+1), r); err != nil {
				break
			}
		}
		if err == nil {
			_, err = v.Finish()
		}
		if err != nil {
			return
		}
		var orig, got sanziv1.Entry
		if e := unmarshal(chain[i], &orig); e != nil {
			t.Fatal(e)
		}
		if e := unmarshal(mutated, &got); e != nil {
			t.Fatalf("verifier accepted undecodable entry: %v", e)
		}
		if !bytes.Equal(orig.GetBody(), got.GetBody()) || !bytes.Equal(orig.GetHash(), got.GetHash()) {
			t.Fatalf("verifier accepted a changed entry %d", i+1)
		}
		if i == len(chain)-1 && !bytes.Equal(orig.GetSignature(), got.GetSignature()) {
			// Ed25519 signatures are not malleable in Go's implementation:
			// a different signature over the same hash must not verify.
			t.Fatalf("verifier accepted a different signature on the last entry")
		}
	})
}

// TestWritesWaitForTheDeferredCheck: with CheckLater, a write to a chain
// waits until the check has passed it (starting the check if the node did
// not), so that a chain edited while the node was down is refused, as
// when Open checks it; a chain the check passed takes it.
func TestWritesWaitForTheDeferredCheck(t *testing.T) {
	const other = "350505100202"
	path := filepath.Join(t.TempDir(), "ledger.db")
	ring := testKeys(t, testOrigin, other)
	l := openTest(t, path, ring)
	for i := 1; i <= 5; i++ {
		for _, o := range []string{testOrigin, other} {
			if _, err := l.Append(context.Background(), Record{Origin: o, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION,
				Payload: []byte(fmt.Sprintf("MARK-%s-%d amount 1000", o, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("MARK-" + testOrigin + "-3 amount 1000")
	data = bytes.ReplaceAll(data, marker, bytes.Replace(marker, []byte("1000"), []byte("9000"), 1))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = Open(Config{Path: path, Keys: ring, CheckLater: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The node never called CheckChains: the first write starts it.
	if _, err := l.Append(context.Background(), rec(testOrigin, 99)); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("write to the edited chain before its check: %v, want ErrChainBroken", err)
	}
	if _, err := l.Append(context.Background(), rec(other, 99)); err != nil {
		t.Fatalf("write to the intact chain: %v", err)
	}
	<-l.Checked()
	if ve := l.ChainBroken(testOrigin); ve == nil || ve.Seq != 3 {
		t.Fatalf("ChainBroken after the check: %v", ve)
	}
}
