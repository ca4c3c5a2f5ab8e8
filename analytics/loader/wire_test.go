package loader

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

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
