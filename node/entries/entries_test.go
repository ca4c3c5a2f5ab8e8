package entries

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// raw encodes an entry holding m as type t, the way a chain stores it (the
// hash and signature are not checked here).
func raw(t testing.TB, typ sanziv1.EntryType, m proto.Message) []byte {
	t.Helper()
	payload, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	body, err := proto.Marshal(&sanziv1.EntryBody{Origin: "350505100201", Seq: 1, PrevHash: make([]byte, 32), Type: typ, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	out, err := proto.Marshal(&sanziv1.Entry{Body: body, Hash: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeAndAttachments(t *testing.T) {
	tests := []struct {
		name      string
		typ       sanziv1.EntryType
		msg       proto.Message
		wantField string
		want      []string
	}{
		{"transaction", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.Transaction{Org: "350505100201", AmountFen: 5, Attachments: []string{"aa", "bb"}}, "attachments", []string{"aa", "bb"}},
		{"appraisal names its report", sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, &sanziv1.AssetAppraisal{AssetId: "x-1", ReportAttachment: "cc"}, "reportAttachment", []string{"cc"}},
		{"appraisal without a report", sanziv1.EntryType_ENTRY_TYPE_ASSET_APPRAISAL, &sanziv1.AssetAppraisal{AssetId: "x-1"}, "reportAttachment", nil},
		{"an alert names none", sanziv1.EntryType_ENTRY_TYPE_ALERT, &sanziv1.Alert{RuleCode: "SPLIT"}, "", nil},
		{"a directive names none", sanziv1.EntryType_ENTRY_TYPE_DIRECTIVE, &sanziv1.Directive{}, "", nil},
		{"a voucher names its attachments", sanziv1.EntryType_ENTRY_TYPE_VOUCHER, &sanziv1.Voucher{Org: "350505100201", BusinessDate: "2025-06-01",
			Lines: []*sanziv1.VoucherLine{{Account: "101", DebitFen: 5}, {Account: "501", CreditFen: 5}}, Attachments: []string{"dd"}}, "attachments", []string{"dd"}},
		{"a month close", sanziv1.EntryType_ENTRY_TYPE_MONTH_CLOSE, &sanziv1.MonthClose{Org: "350505100201", Month: "2025-06", Vouchers: 3}, "", nil},
		{"a month reopened", sanziv1.EntryType_ENTRY_TYPE_MONTH_REOPEN, &sanziv1.MonthReopen{Org: "350505100201", Month: "2025-06", Reason: "补记"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := proto.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(tc.typ, payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !proto.Equal(m, tc.msg) {
				t.Fatalf("Decode = %v, want %v", m, tc.msg)
			}
			if f, _ := AttachmentsOf(m); f != tc.wantField {
				t.Errorf("AttachmentsOf field = %q, want %q", f, tc.wantField)
			}
			got, err := Attachments(raw(t, tc.typ, tc.msg))
			if err != nil {
				t.Fatalf("Attachments: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Attachments = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeUnknownAndBroken(t *testing.T) {
	m, err := Decode(sanziv1.EntryType(9999), []byte{0xff})
	if m != nil || err != nil {
		t.Errorf("unknown type: Decode = %v, %v; want nil, nil (kept in the chain, skipped)", m, err)
	}
	if _, err := Decode(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, []byte{0xff}); err == nil {
		t.Error("a broken transaction payload decoded without error")
	}
	if _, err := Attachments([]byte{0xff}); err == nil {
		t.Error("a broken entry listed attachments without error")
	}
}

// BenchmarkAttachments is what every district member pays per entry it
// applies (the FSM's Config.Named, AttachmentsIn on the payload it has
// already peeked) for the commonest entry, a transaction, with one
// attachment and with none (BenchmarkClusterPush's entries); and what a
// caller with only the encoded entry pays (Attachments, CheckAttachments).
func BenchmarkAttachments(b *testing.B) {
	tx := &sanziv1.Transaction{Org: "350505100201", AmountFen: 12_345, Summary: "diesel for the village truck", InvoiceNumber: "2026-118",
		Counterparty: &sanziv1.Counterparty{Name: "Xiamen Fuel Co."},
		Attachments:  []string{"4f1c2a9e0b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"}}
	bare := proto.Clone(tx).(*sanziv1.Transaction)
	bare.Attachments = nil
	typ := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	for _, bc := range []struct {
		name string
		msg  *sanziv1.Transaction
	}{{"one attachment", tx}, {"none", bare}} {
		want := len(bc.msg.GetAttachments())
		b.Run("payload/"+bc.name, func(b *testing.B) {
			payload, err := proto.Marshal(bc.msg)
			if err != nil {
				b.Fatal(err)
			}
			var buf [4][]byte
			b.ReportAllocs()
			for b.Loop() {
				if got, err := AttachmentsIn(typ, payload, buf[:0]); err != nil || len(got) != want {
					b.Fatalf("AttachmentsIn = %q, %v", got, err)
				}
			}
		})
		b.Run("entry/"+bc.name, func(b *testing.B) {
			r := raw(b, typ, bc.msg)
			b.ReportAllocs()
			for b.Loop() {
				if got, err := Attachments(r); err != nil || len(got) != want {
					b.Fatalf("Attachments = %q, %v", got, err)
				}
			}
		})
	}
}
