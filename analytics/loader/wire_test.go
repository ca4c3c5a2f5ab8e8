package loader

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestWireDecodeMatchesLedger reads sealed entries with the loader's
// wireDecoder and with ledger.Decode: every field the loader loads must be
// the same, for an entry split into a public and a private part (the
// payload is the private one), the same entry with its private part gone
// (redacted: the masked payload), and an entry that was not split.
func TestWireDecodeMatchesLedger(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	const org = "350505100201"
	at := time.Date(2026, 8, 15, 9, 30, 0, 123_456_789, time.UTC)
	payload := func(m proto.Message) []byte {
		p, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	person := payload(&sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 12_300,
		Counterparty: &sanziv1.Counterparty{Name: "林某某", IdNumber: "11010519491231002X", BankAccount: "6228480012345678"}, BusinessDate: "2026-08-15"})
	company := payload(&sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 45_600,
		Counterparty: &sanziv1.Counterparty{Name: "某公司"}, BusinessDate: "2026-08-15"})
	split, err := ledger.SealSplit(key, ledger.Head{}, ledger.Record{Origin: org, Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: person}, at, entries.Masker{})
	if err != nil {
		t.Fatal(err)
	}
	var e sanziv1.Entry
	if err := proto.Unmarshal(split.Raw, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.GetPrivate()) == 0 {
		t.Fatal("the entry paid to a person was not split")
	}
	e.Private = nil
	redacted, err := proto.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ledger.SealSplit(key, ledger.Head{Seq: split.Seq, Hash: split.Hash}, ledger.Record{Origin: org, Author: "cn", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION,
		Payload: company, Subject: ledger.EntryID(org, 1)}, at.Add(time.Minute), entries.Masker{})
	if err != nil {
		t.Fatal(err)
	}
	w := newWireDecoder()
	for _, c := range []struct {
		name     string
		raw      []byte
		origin   string // the range's
		redacted bool
	}{
		{"split", split.Raw, org, false},
		{"redacted", redacted, org, true},
		{"not split, with a subject", plain.Raw, org, false},
		{"from a range of another origin", plain.Raw, "350505100202", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := ledger.Decode(bytes.Clone(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			var got ledger.Stored
			if err := w.decode(&got, c.raw, c.origin); err != nil {
				t.Fatal(err)
			}
			if got.Origin != want.Origin || got.Seq != want.Seq || got.Author != want.Author || got.Type != want.Type || got.Subject != want.Subject ||
				!got.RecordedAt.Equal(want.RecordedAt) || !bytes.Equal(got.Payload, want.Payload) || got.Redacted != c.redacted || want.Redacted != c.redacted {
				t.Fatalf("wire decode:\n%+v\nledger.Decode:\n%+v", got, want)
			}
		})
	}
	if err := w.decode(new(ledger.Stored), split.Raw[:len(split.Raw)-3], org); err == nil {
		t.Fatal("a cut entry decoded")
	}
}

// TestFieldsMatchWireFields walks messages with fields and with
// ledger.WireFields and wants the same fields, values and error: a sealed
// entry, its body, and the same bytes cut, with bytes changed at random
// and with one- and many-byte tags, lengths and varints (fields reads the
// one-byte ones itself).
func TestFieldsMatchWireFields(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	p, err := proto.Marshal(&sanziv1.Transaction{Org: "350505100201", Kind: 2, AmountFen: 1 << 40, PaymentMethod: 1, BusinessDate: "2026-08-15",
		Summary: string(bytes.Repeat([]byte("长"), 100)), Counterparty: &sanziv1.Counterparty{Name: "某公司"}, Category: "办公费", Attachments: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.Seal(key, ledger.Head{}, ledger.Record{Origin: "350505100201", Author: "kj", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: p}, time.Unix(1e9, 5))
	if err != nil {
		t.Fatal(err)
	}
	type field struct {
		n   protowire.Number
		typ protowire.Type
		v   string
		u   uint64
	}
	walk := func(b []byte) (a, w []field, aerr, werr error) {
		f := fields{b: b}
		for f.next() {
			a = append(a, field{f.n, f.typ, string(f.v), f.u})
		}
		werr = ledger.WireFields(b, func(n protowire.Number, typ protowire.Type, v []byte, u uint64) {
			w = append(w, field{n, typ, string(v), u})
		})
		return a, w, f.err, werr
	}
	cases := [][]byte{st.Raw, p, nil, {0x00}, {0x08}, {0x08, 0x80}, {0x0a, 0x01}, {0x0a, 0x7f, 1}, {0x78, 1}, {0x80, 0x01, 0x05}, {0x0b, 0x0c}, {0x0e}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := bytes.Clone([]byte(cases[rng.IntN(2)]))
		for range 1 + rng.IntN(3) {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		cases = append(cases, b, b[:rng.IntN(len(b))])
	}
	errs := 0
	for i, b := range cases {
		a, w, aerr, werr := walk(b)
		if fmt.Sprint(a) != fmt.Sprint(w) || fmt.Sprint(aerr) != fmt.Sprint(werr) {
			t.Fatalf("case %d (% x):\nfields     %v, %v\nWireFields %v, %v", i, b, a, aerr, w, werr)
		}
		if aerr != nil {
			errs++
		}
	}
	if errs < 100 || errs > len(cases)-100 {
		t.Fatalf("%d of %d cases failed to parse: the cases do not test both", errs, len(cases))
	}
}
