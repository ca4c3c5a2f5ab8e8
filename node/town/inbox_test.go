package town

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/refusal"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const testVillage = "350505100201"

// TestInboxRefusesUnverifiedEntries: a town's inbox given a village entry
// whose body was edited, whose signature is another key's, that does not
// link to the entry before, or that names the wrong seq, refuses the batch
// with the permanent CHAIN_BROKEN detail naming the seq and the failed
// check, tells OnTamper with the pushed bytes (the town's TAMPER alert),
// and stores nothing of it; the genuine entry is then accepted.
func TestInboxRefusesUnverifiedEntries(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	other := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), 7))
	vl := villageLedger(t, key)
	for i := range 4 {
		if _, err := vl.Append(context.Background(), ledger.Record{Origin: testVillage, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte{byte(i), 'x'}}); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(seq uint64) *ledger.Stored {
		s, err := vl.Get(testVillage, seq)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tl, in, told := tamperInbox(t, key)
	// The pusher's certificate: accept pins its key (a test certificate
	// needs no more).
	pub := &x509.Certificate{PublicKey: key.Public().(ed25519.PublicKey)}
	if _, err := in.accept(context.Background(), testVillage, pub, [][]byte{entry(1).Raw, entry(2).Raw}); err != nil {
		t.Fatal(err)
	}
	e2, e3 := entry(2), entry(3)
	edited := append([]byte(nil), e3.Raw...)
	edited[len(edited)/2] ^= 1 // one bit inside the body
	resealed, err := ledger.Seal(other, ledger.Head{Seq: 2, Hash: e2.Hash}, ledger.Record{Origin: testVillage, Author: "a", Type: e3.Type, Payload: []byte("forged")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	unlinked, err := ledger.Seal(key, ledger.Head{Seq: 2, Hash: [32]byte{1}}, ledger.Record{Origin: testVillage, Author: "a", Type: e3.Type, Payload: e3.Payload}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// An entry paid to a resident, sealed as a village does: its personal
	// data in the private part. Pushed without that part (as the public
	// site serves it), or with another person's in it, it is refused.
	personal, err := proto.Marshal(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 100,
		Counterparty: &sanziv1.Counterparty{Name: "张三丰", IdNumber: "11010519491231002X", Phone: "13812345678"}})
	if err != nil {
		t.Fatal(err)
	}
	split, err := ledger.SealSplit(key, ledger.Head{Seq: 2, Hash: e2.Hash}, ledger.Record{Origin: testVillage, Author: "a", Type: e3.Type, Payload: personal}, time.Now(), entries.Masker{})
	if err != nil || len(split.Digest) == 0 {
		t.Fatalf("seal with personal data: %v (digest %x)", err, split.Digest)
	}
	redacted, err := ledger.Redact(split.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var swapped sanziv1.Entry
	if err := proto.Unmarshal(split.Raw, &swapped); err != nil {
		t.Fatal(err)
	}
	swapped.Private, _ = proto.Marshal(&sanziv1.EntryPrivate{Salt: make([]byte, ledger.SaltSize), Payload: personal[:len(personal)-1]})
	swappedRaw, _ := proto.Marshal(&swapped)
	for _, c := range []struct {
		name    string
		raws    [][]byte
		seq     uint64
		failure ledger.Failure
	}{
		{"personal data without its private part", [][]byte{redacted}, 3, ledger.FailurePrivate},
		{"another private part", [][]byte{swappedRaw}, 3, ledger.FailurePrivate},
		{"an edited body", [][]byte{edited}, 3, ledger.FailureHash},
		{"another key's signature", [][]byte{resealed.Raw}, 3, ledger.FailureSignature},
		{"a broken link", [][]byte{unlinked.Raw}, 3, ledger.FailureLink},
		{"a wrong seq", [][]byte{entry(4).Raw}, 3, ledger.FailureSeq},
	} {
		t.Run(c.name, func(t *testing.T) {
			*told = nil
			_, err := in.accept(context.Background(), testVillage, pub, c.raws)
			r := refusal.From(err)
			if r == nil || r.Reason != refusal.ReasonChainBroken || r.Origin != testVillage || r.Seq != c.seq || r.Extra[refusal.KeyFailure] != string(c.failure) {
				t.Fatalf("refusal %+v from %v, want CHAIN_BROKEN at %d (%s)", r, err, c.seq, c.failure)
			}
			if len(*told) != 1 || (*told)[0].Failure != c.failure || (*told)[0].Seq != c.seq {
				t.Fatalf("OnTamper told %v", *told)
			}
			if h := tl.Head(testVillage); h.Seq != 2 {
				t.Fatalf("the town holds %d after a refused batch", h.Seq)
			}
		})
	}
	if _, err := in.accept(context.Background(), testVillage, pub, [][]byte{e3.Raw, entry(4).Raw}); err != nil || tl.Head(testVillage).Seq != 4 {
		t.Fatalf("the genuine entries: %v, head %d", err, tl.Head(testVillage).Seq)
	}
}

// TestInboxOpensWithAPartialCertificate: a town killed while pinning a
// village's certificate leaves keys.WriteFile's .tmp in peers/; the town
// must still start (it refused to: the partial file did not parse).
func TestInboxOpensWithAPartialCertificate(t *testing.T) {
	dir := t.TempDir()
	tl := openTownLedger(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "peers"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "peers", testVillage+".crt.tmp"), []byte{0x30, 0x82, 0x01}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewInbox(tl, "350505100000", dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("a partial certificate left by a kill stops the town: %v", err)
	}
}

// TestRepairPins: a town killed between pinning a village's certificate
// and writing its key (the order before the fix) came back with the
// village pinned and no key, and its ledger refused that chain for good
// ("no public key for this origin"; seen in TestSyncTownKilledFiveTimes).
// RepairPins writes the missing key from the certificate before the ledger
// opens, and leaves a key that is there (a rotated village's first key).
func TestRepairPins(t *testing.T) {
	dir := t.TempDir()
	cert := func(seed byte) ([]byte, ed25519.PublicKey) {
		k := ed25519.NewKeyFromSeed(append(make([]byte, ed25519.SeedSize-1), seed))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(seed)), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		return der, k.Public().(ed25519.PublicKey)
	}
	const lost, kept = "350505100201", "350505100202"
	lostDER, lostPub := cert(1)
	keptDER, _ := cert(2)
	_, firstPub := cert(3)
	if err := os.MkdirAll(filepath.Join(dir, "peers"), 0o755); err != nil {
		t.Fatal(err)
	}
	for org, der := range map[string][]byte{lost: lostDER, kept: keptDER} {
		if err := os.WriteFile(filepath.Join(dir, "peers", org+".crt"), der, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := keys.WritePublic(filepath.Join(dir, "keys"), kept, firstPub); err != nil {
		t.Fatal(err)
	}
	// The district chain's first certificate, as its puller keeps it: not
	// a pin, and no key file may be made of it.
	const district = "350505000000"
	if err := os.WriteFile(filepath.Join(dir, "peers", district+".first.crt"), keptDER, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := RepairPins(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ring, err := keys.Load(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := ring.Public(lost); !ok || !got.Equal(lostPub) {
		t.Errorf("%s: key %x (found %v), want the certificate's %x", lost, got, ok, lostPub)
	}
	if got, _ := ring.Public(kept); !got.Equal(firstPub) {
		t.Errorf("%s: key %x, want the first key %x left alone", kept, got, firstPub)
	}
	for _, name := range []string{district + ".first.pub", district + ".first.first.pub", district + ".pub"} {
		if _, err := os.Stat(filepath.Join(dir, "keys", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("keys/%s after RepairPins: %v, want none (made of a .first.crt)", name, err)
		}
	}
}

// openTownLedger opens an empty town ledger in dir, closed when t ends.
func openTownLedger(t *testing.T, dir string) *ledger.Ledger {
	t.Helper()
	tl, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: keys.NewRing(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	return tl
}

// editBody changes the payload of raw's body; rehash also makes the
// stated hash the new body's, as a forger who cannot sign would.
func editBody(t *testing.T, raw []byte, rehash bool) []byte {
	t.Helper()
	var e sanziv1.Entry
	var b sanziv1.EntryBody
	if err := proto.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(e.GetBody(), &b); err != nil {
		t.Fatal(err)
	}
	b.Payload = append([]byte("forged "), b.GetPayload()...)
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	e.Body = body
	if rehash {
		sum := sha256.Sum256(body)
		e.Hash = sum[:]
	}
	out, err := proto.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInboxUnsignedEntries: a village records an expense as one append
// whose last entry alone is signed. The town accepts it whole; it refuses,
// as tampering, an edit of an unsigned middle entry (its hash, or, with the
// hash recomputed, the signed entry's link to it); and it refuses a batch
// cut inside the append with an error saying so, without a TAMPER finding.
func TestInboxUnsignedEntries(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	vl := villageLedger(t, key)
	rec := func(i int) ledger.Record {
		return ledger.Record{Origin: testVillage, Author: "a", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte{byte(i), 'x'}}
	}
	for _, app := range [][]ledger.Record{{rec(1)}, {rec(2), rec(3), rec(4)}} {
		if _, err := vl.Append(context.Background(), app...); err != nil {
			t.Fatal(err)
		}
	}
	raw := func(seq uint64) []byte {
		s, err := vl.Get(testVillage, seq)
		if err != nil {
			t.Fatal(err)
		}
		if s.Signed() != (seq == 1 || seq == 4) {
			t.Fatalf("seq %d signed %v: want the last entry of each append signed, no other", seq, s.Signed())
		}
		return s.Raw
	}
	tl, in, told := tamperInbox(t, key)
	pub := &x509.Certificate{PublicKey: key.Public().(ed25519.PublicKey)}
	if _, err := in.accept(context.Background(), testVillage, pub, [][]byte{raw(1)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		raws    [][]byte
		seq     uint64
		failure ledger.Failure
		tamper  bool
	}{
		{"an unsigned middle entry edited", [][]byte{raw(2), editBody(t, raw(3), false), raw(4)}, 3, ledger.FailureHash, true},
		{"an unsigned middle entry edited and rehashed", [][]byte{raw(2), editBody(t, raw(3), true), raw(4)}, 4, ledger.FailureLink, true},
		{"a batch cut inside the append", [][]byte{raw(2), raw(3)}, 2, ledger.FailureUnsigned, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			*told = nil
			_, err := in.accept(context.Background(), testVillage, pub, c.raws)
			var ve *ledger.VerifyError
			if err == nil || (c.tamper && refusal.From(err) == nil) {
				t.Fatalf("accepted or not refused as a broken chain: %v", err)
			}
			if c.tamper {
				r := refusal.From(err)
				if r.Reason != refusal.ReasonChainBroken || r.Seq != c.seq || r.Extra[refusal.KeyFailure] != string(c.failure) {
					t.Fatalf("refusal %+v, want CHAIN_BROKEN at %d (%s)", r, c.seq, c.failure)
				}
				if len(*told) != 1 || (*told)[0].Seq != c.seq {
					t.Fatalf("OnTamper told %v", *told)
				}
			} else {
				if errors.As(err, &ve) || !strings.Contains(err.Error(), "ends inside an append") {
					t.Fatalf("a cut batch: %v, want a plain refusal saying it ends inside an append", err)
				}
				if len(*told) != 0 {
					t.Fatalf("a cut batch is not tampering, OnTamper told %v", *told)
				}
			}
			if h := tl.Head(testVillage); h.Seq != 1 {
				t.Fatalf("the town holds %d after a refused batch", h.Seq)
			}
		})
	}
	if _, err := in.accept(context.Background(), testVillage, pub, [][]byte{raw(2), raw(3), raw(4)}); err != nil || tl.Head(testVillage).Seq != 4 {
		t.Fatalf("the whole append: %v, head %d", err, tl.Head(testVillage).Seq)
	}
}

// tamperInbox is a town's inbox over a fresh ledger that knows
// testVillage's key, and the tamper findings it reports (told).
func tamperInbox(t *testing.T, key ed25519.PrivateKey) (*ledger.Ledger, *Inbox, *[]*ledger.VerifyError) {
	t.Helper()
	dir := t.TempDir()
	town := keys.NewRing()
	town.AddPublic(testVillage, key.Public().(ed25519.PublicKey))
	tl, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: town, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	in, err := NewInbox(tl, "350505100000", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	told := new([]*ledger.VerifyError)
	in.OnTamper = func(_ context.Context, _ string, ve *ledger.VerifyError, _ []byte) { *told = append(*told, ve) }
	return tl, in, told
}

// villageLedger is testVillage's own ledger, signing with key.
func villageLedger(t *testing.T, key ed25519.PrivateKey) *ledger.Ledger {
	t.Helper()
	village := keys.NewRing()
	village.Add(testVillage, key)
	vl, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "village.db"), Keys: village, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vl.Close() })
	return vl
}
