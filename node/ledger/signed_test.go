package ledger

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// signatures counts the stored entries of origin that carry a signature.
func signatures(t *testing.T, path, origin string) (signed, total int) {
	t.Helper()
	err := View(path, func(tx *bolt.Tx) error {
		return Walk(tx, func(s *Stored) error {
			if s.Origin == origin {
				total++
				if s.Signed() {
					signed++
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return signed, total
}

func markRec(origin string, i int) Record {
	return Record{Origin: origin, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte(fmt.Sprintf("SIGN-%04d amount 1000", i))}
}

// TestAppendSignsOnce: an atomic append of n entries of one chain carries
// one signature, on its last entry; a longer one than a run allows one
// more every MaxUnsignedRun+1; several chains in one append one each; the
// head is always signed, and the file verifies with every signature checked.
func TestAppendSignsOnce(t *testing.T) {
	const other = "350505100202"
	for _, tc := range []struct {
		name    string
		appends []int // entries of testOrigin per append
		mixed   bool  // each append also holds one entry of other
		stream  bool  // through AppendStream
		want    int   // signatures of testOrigin
	}{
		{name: "one entry", appends: []int{1}, want: 1},
		{name: "an expense: 4 entries", appends: []int{4}, want: 1},
		{name: "three appends", appends: []int{2, 5, 1}, want: 3},
		{name: "a full run", appends: []int{MaxUnsignedRun + 1}, want: 1},
		{name: "one past a run", appends: []int{MaxUnsignedRun + 2}, want: 2},
		{name: "an import", appends: []int{200}, want: 4},
		{name: "two chains in one append", appends: []int{3, 3}, mixed: true, want: 2},
		{name: "streamed", appends: []int{5}, stream: true, want: 1},
		{name: "streamed import", appends: []int{200}, stream: true, want: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			ring := testKeys(t, testOrigin, other)
			l := openTest(t, path, ring)
			n := 0
			for _, k := range tc.appends {
				var recs []Record
				for range k {
					n++
					recs = append(recs, markRec(testOrigin, n))
					if tc.mixed && len(recs) == 2 {
						recs = append(recs, markRec(other, n))
					}
				}
				var err error
				if tc.stream {
					_, err = l.AppendStream(context.Background(), &recSource{recs: recs}, nil)
				} else {
					_, err = l.Append(context.Background(), recs...)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			signed, total := signatures(t, path, testOrigin)
			if total != n || signed != tc.want {
				t.Fatalf("%d entries in appends of %v: %d signed, want %d", total, tc.appends, signed, tc.want)
			}
			if tc.mixed {
				if s, tot := signatures(t, path, other); s != tot {
					t.Fatalf("other chain, one entry per append: %d of %d signed", s, tot)
				}
			}
			counts, problems, err := Verify(path, ring)
			if err != nil || len(problems) > 0 || counts[testOrigin] != n {
				t.Fatalf("Verify: %v %v %v", counts, problems, err)
			}
		})
	}
}

type recSource struct{ recs []Record }

func (s *recSource) Next() (Record, error) {
	if len(s.recs) == 0 {
		return Record{}, io.EOF
	}
	r := s.recs[0]
	s.recs = s.recs[1:]
	return r, nil
}

func TestSignPlan(t *testing.T) {
	const a, b = "A", "B"
	tx, rot := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION
	r := func(o string, typ sanziv1.EntryType) Record { return Record{Origin: o, Type: typ} }
	for _, tc := range []struct {
		name string
		recs []Record
		want string // s: signed, -: not
	}{
		{"one", []Record{r(a, tx)}, "s"},
		{"one append", []Record{r(a, tx), r(a, tx), r(a, tx)}, "--s"},
		{"two chains", []Record{r(a, tx), r(b, tx), r(a, tx), r(b, tx)}, "--ss"},
		{"a rotation and the entry before it", []Record{r(a, tx), r(a, tx), r(a, rot), r(a, tx), r(a, tx)}, "-ss-s"},
		{"verbatim entries are not sealed here", []Record{{Raw: []byte{1}}, {Raw: []byte{2}}}, "--"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got strings.Builder
			for _, s := range signPlan(tc.recs) {
				got.WriteString(map[bool]string{true: "s", false: "-"}[s])
			}
			if got.String() != tc.want {
				t.Fatalf("signPlan = %s, want %s", got.String(), tc.want)
			}
		})
	}
}

// sealRun makes a genuine chain of testOrigin in memory, signing only the
// entries signed says (indexes from 0).
func sealRun(t *testing.T, key ed25519.PrivateKey, n int, signed func(i int) bool) [][]byte {
	t.Helper()
	var head Head
	var out [][]byte
	for i := range n {
		s, err := seal(key, head, markRec(testOrigin, i+1), time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), nil, signed(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Raw)
		head = Head{Seq: s.Seq, Hash: s.Hash}
	}
	return out
}

// withSignature re-encodes raw with sig as its signature.
func withSignature(t *testing.T, raw, sig []byte) []byte {
	t.Helper()
	var e sanziv1.Entry
	if err := proto.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	e.Signature = sig
	out, err := proto.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifierUnsignedRuns: the rules on entries without a signature hold
// in both modes (a receiver's, the last signature only; an audit's, every
// signature), and a chain signed on every entry, as every chain before
// this change, still verifies.
func TestVerifierUnsignedRuns(t *testing.T) {
	ring := testKeys(t, testOrigin)
	key, _ := ring.Private(testOrigin)
	pub, _ := ring.Public(testOrigin)
	last := func(n int) func(int) bool { return func(i int) bool { return i == n-1 } }
	every := func(int) bool { return true }
	badSig := func(t *testing.T, c [][]byte, i int) [][]byte {
		c[i] = withSignature(t, c[i], bytes.Repeat([]byte{7}, ed25519.SignatureSize))
		return c
	}
	for _, tc := range []struct {
		name   string
		chain  func(t *testing.T) [][]byte
		every  bool    // the mode where it fails ("" want passes both)
		want   Failure // "" passes
		wantAt uint64
	}{
		{name: "every entry signed (older chains)", chain: func(t *testing.T) [][]byte { return sealRun(t, key, 6, every) }},
		{name: "one append of 6, signed last", chain: func(t *testing.T) [][]byte { return sealRun(t, key, 6, last(6)) }},
		{name: "the longest run allowed", chain: func(t *testing.T) [][]byte { return sealRun(t, key, MaxUnsignedRun+1, last(MaxUnsignedRun+1)) }},
		{name: "a run too long", chain: func(t *testing.T) [][]byte { return sealRun(t, key, MaxUnsignedRun+2, last(MaxUnsignedRun+2)) },
			want: FailureSignature, wantAt: MaxUnsignedRun + 1},
		{name: "ends unsigned: cut inside an append", chain: func(t *testing.T) [][]byte { return sealRun(t, key, 6, last(6))[:4] },
			want: FailureUnsigned, wantAt: 1},
		{name: "signature stripped from the head", chain: func(t *testing.T) [][]byte {
			c := sealRun(t, key, 3, every)
			c[2] = withSignature(t, c[2], nil)
			return c
		}, want: FailureUnsigned, wantAt: 3},
		{name: "bad signature ending a run, audit", every: true, chain: func(t *testing.T) [][]byte {
			return badSig(t, append(sealRun(t, key, 4, last(4)), sealRun(t, key, 1, every)...)[:4], 3)
		}, want: FailureSignature, wantAt: 4},
	} {
		for _, mode := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/every=%v", tc.name, mode), func(t *testing.T) {
				chain := tc.chain(t)
				v := NewChainVerifier(testOrigin, pub, 1, [HashSize]byte{}, mode)
				var err error
				for i, raw := range chain {
					if _, err = v.Next(uint64(i+1), raw); err != nil {
						break
					}
				}
				if err == nil {
					_, err = v.Finish()
				}
				want := tc.want
				if tc.every && !mode {
					want = FailureSignature // the last entry's is checked in this mode too
				}
				var ve *VerifyError
				switch {
				case want == "" && err != nil:
					t.Fatalf("genuine chain refused: %v", err)
				case want == "":
				case !errors.As(err, &ve) || ve.Failure != want || ve.Seq != tc.wantAt:
					t.Fatalf("got %v, want failure %s at seq %d", err, want, tc.wantAt)
				}
			})
		}
	}
}

// TestRotationAfterUnsignedRefused: a key rotation is always signed, and
// never closes a run of unsigned entries (the key in force must sign it).
func TestRotationAfterUnsignedRefused(t *testing.T) {
	ring := testKeys(t, testOrigin)
	key, _ := ring.Private(testOrigin)
	pub, _ := ring.Public(testOrigin)
	newKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	payload, err := proto.Marshal(&sanziv1.KeyRotation{PublicKey: newKey.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	rot := Record{Origin: testOrigin, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_KEY_ROTATION, Payload: payload}
	for _, tc := range []struct {
		name              string
		signPrev, signRot bool
		want              string
	}{
		{"signed after a signed entry", true, true, ""},
		{"after an unsigned entry", false, true, "follows 1 unsigned"},
		{"unsigned rotation", true, false, "carries no signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			first, err := seal(key, Head{}, markRec(testOrigin, 1), now, nil, tc.signPrev)
			if err != nil {
				t.Fatal(err)
			}
			r, err := seal(key, Head{Seq: 1, Hash: first.Hash}, rot, now, nil, tc.signRot)
			if err != nil {
				t.Fatal(err)
			}
			for _, every := range []bool{false, true} {
				v := NewChainVerifier(testOrigin, pub, 1, [HashSize]byte{}, every)
				_, err := v.Next(1, first.Raw)
				if err == nil {
					_, err = v.Next(2, r.Raw)
				}
				if err == nil {
					_, err = v.Finish()
				}
				var ve *VerifyError
				switch {
				case tc.want == "" && err != nil:
					t.Fatalf("every=%v: %v", every, err)
				case tc.want != "" && (!errors.As(err, &ve) || ve.Failure != FailureRotation || ve.Seq != 2 || !strings.Contains(ve.Problem, tc.want)):
					t.Fatalf("every=%v: got %v, want a rotation failure at seq 2 saying %q", every, err, tc.want)
				}
			}
		})
	}
}

// openChecked opens the ledger at path, its chains checked at open or
// after it (later), and returns it with what it found broken in
// testOrigin's chain once the check ended.
func openChecked(t *testing.T, path string, ring KeyRing, later bool) (*Ledger, *VerifyError) {
	t.Helper()
	l, err := Open(Config{Path: path, Keys: ring, CheckLater: later})
	if err != nil {
		t.Fatal(err)
	}
	l.CheckChains()
	<-l.Checked()
	return l, l.ChainBroken(testOrigin)
}

// appendSizes appends to testOrigin's chain in l one append of each of the
// given sizes, numbering the records from 1, and returns how many it
// appended.
func appendSizes(t *testing.T, l *Ledger, sizes ...int) int {
	t.Helper()
	n := 0
	for _, k := range sizes {
		var recs []Record
		for range k {
			n++
			recs = append(recs, markRec(testOrigin, n))
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// appendChain writes appends of the given sizes and returns the path.
func appendChain(t *testing.T, ring KeyRing, sizes ...int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(Config{Path: path, Keys: ring, Now: func() time.Time { return time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	appendSizes(t, l, sizes...)
	l.Close()
	return path
}

// TestTamperedUnsignedEntryIsFound: a byte changed in the payload of an
// entry that carries no signature (the middle of an append) is found by
// Verify and at open (now and deferred), as one in a signed entry is.
func TestTamperedUnsignedEntryIsFound(t *testing.T) {
	ring := testKeys(t, testOrigin)
	path := appendChain(t, ring, 2, 3, 2) // seq 4 is the middle of the second append
	if s, err := func() (*Stored, error) {
		var out *Stored
		err := View(path, func(tx *bolt.Tx) error { var err error; out, err = GetTx(tx, testOrigin, 4); return err })
		return out, err
	}(); err != nil || s.Signed() {
		t.Fatalf("seq 4 should be an unsigned middle entry: %v, signed %v", err, s != nil && s.Signed())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("SIGN-0004 amount 1000")
	if !bytes.Contains(data, marker) {
		t.Fatal("marker not in the file")
	}
	data = bytes.ReplaceAll(data, marker, []byte("SIGN-0004 amount 9000"))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, problems, err := Verify(path, ring)
	if err != nil || len(problems) != 1 || problems[0].Seq != 4 || problems[0].Failure != FailureHash {
		t.Fatalf("Verify: %+v %v, want a hash failure at seq 4", problems, err)
	}
	for _, later := range []bool{false, true} {
		l, ve := openChecked(t, path, ring, later)
		if ve == nil || ve.Seq != 4 {
			t.Fatalf("open (check later %v): ChainBroken = %v, want seq 4", later, ve)
		}
		l.Close()
	}
}

// TestChainEndingUnsignedRefusedAtOpen: a chain whose newest entry carries
// no signature (its append's signed entry removed, or its signature
// stripped) is broken at open: nothing vouches for its last entries.
func TestChainEndingUnsignedRefusedAtOpen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(b *bolt.Bucket) error
		wantAt uint64
	}{
		{"signed last entry removed", func(b *bolt.Bucket) error { return b.Delete(seqKey(5)) }, 3},
		{"signature of the head stripped", func(b *bolt.Bucket) error {
			var e sanziv1.Entry
			if err := proto.Unmarshal(b.Get(seqKey(5)), &e); err != nil {
				return err
			}
			e.Signature = nil
			raw, err := proto.Marshal(&e)
			if err != nil {
				return err
			}
			return b.Put(seqKey(5), raw)
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testKeys(t, testOrigin)
			path := appendChain(t, ring, 2, 3)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error { return tc.edit(tx.Bucket(bucketChains).Bucket([]byte(testOrigin))) }); err != nil {
				t.Fatal(err)
			}
			db.Close()
			for _, later := range []bool{false, true} {
				l, ve := openChecked(t, path, ring, later)
				if ve == nil || ve.Failure != FailureUnsigned || ve.Seq != tc.wantAt {
					t.Fatalf("open (check later %v): ChainBroken = %v, want unsigned from seq %d", later, ve, tc.wantAt)
				}
				if _, err := l.Append(context.Background(), markRec(testOrigin, 9)); !errors.Is(err, ErrChainBroken) {
					t.Fatalf("append after open: %v, want ErrChainBroken", err)
				}
				l.Close()
			}
			if _, problems, err := Verify(path, ring); err != nil || len(problems) != 1 || problems[0].Failure != FailureUnsigned {
				t.Fatalf("Verify: %+v %v", problems, err)
			}
		})
	}
}

// TestCheckEntryUnsigned: an auditor asking about an entry with no
// signature of its own is shown it verified through the hash links to its
// append's signature, and refused when that signature does not verify.
func TestCheckEntryUnsigned(t *testing.T) {
	ctx := context.Background()
	ring := testKeys(t, testOrigin)
	for _, tc := range []struct {
		name   string
		forge  bool // the covering entry's signature replaced
		seq    uint64
		wantOK bool
	}{
		{"middle of an append", false, 3, true},
		{"first of an append", false, 2, true},
		{"signed end of an append", false, 4, true},
		{"covering signature forged", true, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := appendChain(t, ring, 1, 3, 2)
			if tc.forge {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = db.Update(func(tx *bolt.Tx) error {
					b := tx.Bucket(bucketChains).Bucket([]byte(testOrigin))
					return b.Put(seqKey(4), withSignature(t, b.Get(seqKey(4)), bytes.Repeat([]byte{7}, ed25519.SignatureSize)))
				})
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			l, err := Open(Config{Path: path, Keys: ring, CheckLater: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			chk, err := l.CheckEntry(ctx, testOrigin, tc.seq)
			if err != nil {
				t.Fatal(err)
			}
			if (chk.Problem == nil) != tc.wantOK {
				t.Fatalf("CheckEntry(%d): problem %v, want ok %v", tc.seq, chk.Problem, tc.wantOK)
			}
			if !tc.wantOK && (chk.Problem.Seq != tc.seq || chk.Problem.Failure != FailureSignature || !strings.Contains(chk.Problem.Problem, "-4, which covers it")) {
				t.Fatalf("problem %+v does not name the covering signature", chk.Problem)
			}
		})
	}
}

func TestWholeAppendsAndVouched(t *testing.T) {
	ring := testKeys(t, testOrigin)
	pub, _ := ring.Public(testOrigin)
	path := appendChain(t, ring, 3, 3, 1)
	l, err := Open(Config{Path: path, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		from    uint64
		limit   int
		wantEnd uint64
	}{{1, 1, 3}, {1, 3, 3}, {1, 4, 6}, {4, 2, 6}, {7, 1, 7}} {
		var end uint64
		if err := l.Range(testOrigin, tc.from, 0, WholeAppends(tc.limit, func(s *Stored) bool { end = s.Seq; return true })); err != nil {
			t.Fatal(err)
		}
		if end != tc.wantEnd {
			t.Errorf("page from %d, limit %d ends at %d, want %d", tc.from, tc.limit, end, tc.wantEnd)
		}
	}
	var links []Link
	if err := l.Scan(testOrigin, 1, func(_ uint64, raw []byte) bool {
		lk, err := Peek(append([]byte(nil), raw...))
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, lk)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	other := testKeys(t, "y", "x") // seeded apart from testOrigin's key
	otherPub, _ := other.Public("x")
	if !Vouched(pub, links[0:]) || !Vouched(pub, links[1:]) || Vouched(otherPub, links) || Vouched(pub, links[:2]) {
		t.Fatal("Vouched: seq 1 and 2 are signed by seq 3's signature with the origin's key only, and not without it")
	}
}

// TestRangeRawAgreesWithRange: what an outbox reads without decoding (the
// seq, the bytes and whether an entry is signed) is what Range decodes,
// for a chain of appends of one entry, of a few and past a run (unsigned
// entries among them), from any seq and with a limit; fn may keep the
// bytes.
func TestRangeRawAgreesWithRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l := openTest(t, path, testKeys(t, testOrigin))
	n := appendSizes(t, l, 1, 4, MaxUnsignedRun+2, 1)
	type read struct {
		seq    uint64
		raw    []byte
		signed bool
	}
	for _, c := range []struct {
		from  uint64
		limit int
	}{{1, 0}, {3, 0}, {uint64(n), 0}, {uint64(n) + 1, 0}, {2, 7}} {
		var want, got []read
		if err := l.Range(testOrigin, c.from, c.limit, func(s *Stored) bool {
			want = append(want, read{s.Seq, s.Raw, s.Signed()})
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if err := l.RangeRaw(testOrigin, c.from, c.limit, func(seq uint64, raw []byte, signed bool) bool {
			got = append(got, read{seq, raw, signed})
			return true
		}); err != nil {
			t.Fatal(err)
		}
		unsigned := 0
		for _, w := range want {
			if !w.signed {
				unsigned++
			}
		}
		if c.from == 1 && (unsigned == 0 || unsigned == len(want)) {
			t.Fatalf("%d of %d entries unsigned: the chain must hold both", unsigned, len(want))
		}
		if !slices.EqualFunc(want, got, func(a, b read) bool { return a.seq == b.seq && bytes.Equal(a.raw, b.raw) && a.signed == b.signed }) {
			t.Errorf("from %d, limit %d: RangeRaw read %d entries, Range %d, or other bytes or signatures", c.from, c.limit, len(got), len(want))
		}
	}
	if err := l.RangeRaw("350505100299", 1, 0, func(uint64, []byte, bool) bool { t.Error("an entry of a chain not held"); return true }); err != nil {
		t.Fatal(err)
	}
}
