package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	privOrigin = "350505100201"
	residentID = "11010519491231002X"
	bankAcct   = "6222021234567890123"
	phone      = "13812345678"
	person     = "张三丰"
)

var privAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// payment is a transaction paid to a private person, with the personal
// data the public must not see; company is one paid to a company named
// without any number.
func payment(t testing.TB, name, id string) []byte {
	t.Helper()
	b, err := proto.Marshal(&sanziv1.Transaction{
		Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 12345, Summary: "修路",
		Counterparty: &sanziv1.Counterparty{Name: name, IdNumber: id, BankAccount: bankAcct, Phone: phone},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func company(t testing.TB) []byte {
	t.Helper()
	b, err := proto.Marshal(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 500,
		Counterparty: &sanziv1.Counterparty{Name: "恒达建材有限公司"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func txOf(t *testing.T, payload []byte) *sanziv1.Transaction {
	t.Helper()
	var m sanziv1.Transaction
	if err := proto.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// TestSplitRoundTrip seals entries through the real masker and reads them
// back with Decode and Peek: an entry with personal data holds it only in
// its private part, readers get the whole payload, and an entry without
// personal data is sealed as before (no digest, no private part).
func TestSplitRoundTrip(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name    string
		payload []byte
		split   bool
	}{
		{"private person with ID, bank account, phone", payment(t, person, residentID), true},
		{"company without numbers", company(t), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: c.payload}
			st, err := ledger.SealSplit(key, ledger.Head{}, rec, privAt, entries.Masker{})
			if err != nil {
				t.Fatal(err)
			}
			d, err := ledger.Decode(st.Raw)
			if err != nil {
				t.Fatal(err)
			}
			l, err := ledger.Peek(st.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Payload, c.payload) || !bytes.Equal(l.Payload, c.payload) {
				t.Fatalf("Decode/Peek payload is not the payload recorded")
			}
			if d.Redacted || l.Redacted() {
				t.Fatal("an entry with its private part reads as redacted")
			}
			var e sanziv1.Entry
			if err := proto.Unmarshal(st.Raw, &e); err != nil {
				t.Fatal(err)
			}
			if got := len(d.Digest) > 0; got != c.split || (len(e.GetPrivate()) > 0) != c.split || (len(l.Digest) > 0) != c.split {
				t.Fatalf("split = %v (digest %d bytes, private %d bytes), want %v", got, len(d.Digest), len(e.GetPrivate()), c.split)
			}
			if !c.split {
				if !bytes.Equal(d.PublicPayload, c.payload) {
					t.Fatal("an entry without personal data has a public payload other than its payload")
				}
				return
			}
			for _, secret := range []string{residentID, bankAcct, phone, person} {
				if bytes.Contains(e.GetBody(), []byte(secret)) {
					t.Errorf("the hashed body holds %q", secret)
				}
			}
			cp := txOf(t, d.PublicPayload).GetCounterparty()
			if cp.GetName() != "张**" || cp.GetIdNumber() != "1101**********002X" || cp.GetPhone() != "138****5678" {
				t.Errorf("public counterparty %v, want name, ID and phone masked", cp)
			}
			var p sanziv1.EntryPrivate
			if err := proto.Unmarshal(e.GetPrivate(), &p); err != nil || len(p.GetSalt()) != ledger.SaltSize {
				t.Fatalf("private part %v (%v): want a %d-byte salt", &p, err, ledger.SaltSize)
			}
			again, err := ledger.SealSplit(key, ledger.Head{}, rec, privAt, entries.Masker{})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again.Digest, d.Digest) {
				t.Error("two seals of the same payload have the same digest: the salt is not random")
			}
		})
	}
}

// wrongMasker masks to a fixed payload: an origin signing a public part
// that is not its private one masked.
type wrongMasker struct{ public []byte }

func (w wrongMasker) Mask(sanziv1.EntryType, []byte, time.Time) ([]byte, bool, error) {
	return w.public, true, nil
}
func (wrongMasker) Same(sanziv1.EntryType, []byte, []byte) (bool, error) { return true, nil }

// TestPrivatePartTampered builds a three-entry chain whose second entry
// holds personal data and checks it as a parent does, with each way the
// private part can be wrong; the failure names seq 2.
func TestPrivatePartTampered(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	// chain seals entries 1..3; mid makes entry 2 from the head before it.
	chain := func(t *testing.T, mid func(h ledger.Head) []byte) [][]byte {
		t.Helper()
		var raws [][]byte
		var head ledger.Head
		for seq := 1; seq <= 3; seq++ {
			var raw []byte
			if seq == 2 {
				raw = mid(head)
			} else {
				st, err := ledger.SealSplit(key, head, ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: company(t)}, privAt, entries.Masker{})
				if err != nil {
					t.Fatal(err)
				}
				raw = st.Raw
			}
			l, err := ledger.Peek(raw)
			if err != nil {
				t.Fatal(err)
			}
			head = ledger.Head{Seq: l.Seq, Hash: l.Hash}
			raws = append(raws, raw)
		}
		return raws
	}
	seal := func(m ledger.Masker, payload []byte) func(ledger.Head) []byte {
		return func(h ledger.Head) []byte {
			st, err := ledger.SealSplit(key, h, ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: payload}, privAt, m)
			if err != nil {
				t.Fatal(err)
			}
			return st.Raw
		}
	}
	// reentry rewrites the unhashed part of the entry seal makes.
	reentry := func(make func(ledger.Head) []byte, edit func(e *sanziv1.Entry)) func(ledger.Head) []byte {
		return func(h ledger.Head) []byte {
			var e sanziv1.Entry
			if err := proto.Unmarshal(make(h), &e); err != nil {
				t.Fatal(err)
			}
			edit(&e)
			b, err := proto.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	genuine := seal(entries.Masker{}, payment(t, person, residentID))
	otherPrivate := func(e *sanziv1.Entry) {
		var p sanziv1.EntryPrivate
		if err := proto.Unmarshal(e.GetPrivate(), &p); err != nil {
			t.Fatal(err)
		}
		p.Payload = payment(t, "李四", "110105194912310021")
		e.Private, _ = proto.Marshal(&p)
	}
	// The public part masks someone else: digest and signature are genuine.
	lying := seal(wrongMasker{public: payment(t, "王*", "1101**********0021")}, payment(t, person, residentID))
	cases := []struct {
		name     string
		mid      func(ledger.Head) []byte
		opts     ledger.PrivateOptions
		wantFail string // substring of the problem; "" passes
	}{
		{"genuine", genuine, ledger.PrivateOptions{Masker: entries.Masker{}}, ""},
		{"private part changed", reentry(genuine, otherPrivate), ledger.PrivateOptions{Masker: entries.Masker{}}, "does not match the digest"},
		{"private part changed, no masker", reentry(genuine, otherPrivate), ledger.PrivateOptions{}, "does not match the digest"},
		{"public part disagrees with private", lying, ledger.PrivateOptions{Masker: entries.Masker{}}, "not its private payload masked"},
		{"redacted, refused by a parent", reentry(genuine, func(e *sanziv1.Entry) { e.Private = nil }), ledger.PrivateOptions{Masker: entries.Masker{}}, "private part is missing"},
		{"redacted, taken by a public proof", reentry(genuine, func(e *sanziv1.Entry) { e.Private = nil }), ledger.PrivateOptions{AllowRedacted: true, Masker: entries.Masker{}}, ""},
		{"private part without a digest", reentry(seal(entries.Masker{}, company(t)), func(e *sanziv1.Entry) {
			e.Private, _ = proto.Marshal(&sanziv1.EntryPrivate{Salt: make([]byte, 16), Payload: payment(t, person, residentID)})
		}), ledger.PrivateOptions{Masker: entries.Masker{}}, "does not commit to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := ledger.NewChainVerifier(privOrigin, pub, 1, [ledger.HashSize]byte{}, true).WithPrivate(c.opts)
			var err error
			for _, raw := range chain(t, c.mid) {
				if _, err = v.Next(0, raw); err != nil {
					break
				}
			}
			if err == nil {
				_, err = v.Finish()
			}
			if c.wantFail == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			var ve *ledger.VerifyError
			if !errors.As(err, &ve) || ve.Seq != 2 || ve.Failure != ledger.FailurePrivate || !strings.Contains(ve.Problem, c.wantFail) {
				t.Fatalf("verify: %v; want a %q failure at seq 2 saying %q", err, ledger.FailurePrivate, c.wantFail)
			}
		})
	}
}

// TestLedgerSplits records through a ledger with Config.Split: what it
// stores holds the personal data only outside the hash, readers get it
// whole, and the chain checks at reopening and with Verify.
func TestLedgerSplits(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	ring := privRing{pub: pub, key: key}
	path := filepath.Join(t.TempDir(), "l.db")
	l, err := ledger.Open(ledger.Config{Path: path, Keys: ring, NoSync: true, Split: entries.Masker{}, Now: func() time.Time { return privAt }})
	if err != nil {
		t.Fatal(err)
	}
	want := payment(t, person, residentID)
	out, err := l.Append(context.Background(),
		ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: company(t)},
		ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: want})
	if err != nil {
		t.Fatal(err)
	}
	if len(out[0].Digest) != 0 || len(out[1].Digest) == 0 {
		t.Fatalf("digests %x, %x: want only the entry with personal data split", out[0].Digest, out[1].Digest)
	}
	got, err := l.Get(privOrigin, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Payload, want) || got.Redacted {
		t.Fatal("Get does not give the whole payload")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	counts, problems, err := ledger.Verify(path, ring)
	if err != nil || len(problems) > 0 || counts[privOrigin] != 2 {
		t.Fatalf("verify: %v %v %v", counts, problems, err)
	}
	l, err = ledger.Open(ledger.Config{Path: path, Keys: ring, NoSync: true, Split: entries.Masker{}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if b := l.ChainBroken(privOrigin); b != nil {
		t.Fatalf("reopened chain broken: %v", b)
	}
}

type privRing struct {
	pub ed25519.PublicKey
	key ed25519.PrivateKey
}

func (r privRing) Private(string) (ed25519.PrivateKey, bool) { return r.key, true }
func (r privRing) Public(string) (ed25519.PublicKey, bool)   { return r.pub, true }

// BenchmarkSeal compares sealing an entry without personal data (sealed
// as before) with one split into public and private parts.
func BenchmarkSeal(b *testing.B) {
	_, key, _ := ed25519.GenerateKey(nil)
	for _, c := range []struct {
		name    string
		payload []byte
	}{{"no personal data", company(b)}, {"personal data split", payment(b, person, residentID)}} {
		b.Run(c.name, func(b *testing.B) {
			rec := ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: c.payload}
			for b.Loop() {
				if _, err := ledger.SealSplit(key, ledger.Head{}, rec, privAt, entries.Masker{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheck compares what a parent pays to check a pushed entry
// without personal data with a split one (digest and masked comparison).
func BenchmarkCheck(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(nil)
	for _, c := range []struct {
		name    string
		payload []byte
	}{{"no personal data", company(b)}, {"personal data split", payment(b, person, residentID)}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 256
			links := make([]ledger.Link, 0, n)
			var head ledger.Head
			for range n {
				st, err := ledger.SealSplit(key, head, ledger.Record{Origin: privOrigin, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: c.payload}, privAt, entries.Masker{})
				if err != nil {
					b.Fatal(err)
				}
				l, err := ledger.Peek(st.Raw)
				if err != nil {
					b.Fatal(err)
				}
				links = append(links, l)
				head = ledger.Head{Seq: st.Seq, Hash: st.Hash}
			}
			i := n
			var v *ledger.ChainVerifier
			for b.Loop() {
				if i == n {
					v, i = ledger.NewChainVerifier(privOrigin, pub, 1, [ledger.HashSize]byte{}, false).WithPrivate(ledger.PrivateOptions{Masker: entries.Masker{}}), 0
				}
				if err := v.Check(links[i]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
