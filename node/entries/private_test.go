package entries

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestSame: equal bytes are the same payload without a second decoding,
// other encodings of the same message are compared decoded, and a type
// this node does not know is refused whatever the bytes.
func TestSame(t *testing.T) {
	tx := &sanziv1.Transaction{Org: "350505100201", AmountFen: 1001, Summary: "材料费"}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(tx)
	if err != nil {
		t.Fatal(err)
	}
	// The same fields in reverse order: another encoding of tx.
	var reordered []byte
	for rest := enc; len(rest) > 0; {
		_, _, n := protowire.ConsumeField(rest)
		reordered = append(append([]byte{}, rest[:n]...), reordered...)
		rest = rest[n:]
	}
	other, _ := proto.Marshal(&sanziv1.Transaction{Org: "350505100201", AmountFen: 1002, Summary: "材料费"})
	unknown := sanziv1.EntryType(9999)
	for _, c := range []struct {
		name    string
		t       sanziv1.EntryType
		a, b    []byte
		want    bool
		wantErr bool
	}{
		{"equal bytes", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, enc, true, false},
		{"another encoding", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, reordered, true, false},
		{"another message", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, enc, other, false, false},
		{"undecodable, equal bytes", sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, []byte{0xff}, []byte{0xff}, false, true},
		{"unknown type, equal bytes", unknown, enc, enc, false, true},
	} {
		got, err := Masker{}.Same(c.t, c.a, c.b)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s: Same = %v, %v; want %v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

// TestPublicMaskedAgreesWithMaskThenSame: the one-pass check a verifier
// uses decides every pair of parts as Mask then Same do, failing at the
// same step: a public payload masked right (in the sealing's encoding and
// in another), one left unmasked, one masked from another payload, an
// undecodable part on either side, and a type this node does not know.
func TestPublicMaskedAgreesWithMaskThenSame(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tt := sanziv1.EntryType_ENTRY_TYPE_TRANSACTION
	enc := func(m proto.Message) []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	private := enc(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 12345, Summary: "修路",
		Counterparty: &sanziv1.Counterparty{Name: "张三丰", IdNumber: "350505199001011234", BankAccount: "6222020200112233445", Phone: "13800138000"}})
	other := enc(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: 12346, Summary: "修路",
		Counterparty: &sanziv1.Counterparty{Name: "张三丰", IdNumber: "350505199001011234"}})
	company := enc(&sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 500,
		Counterparty: &sanziv1.Counterparty{Name: "恒达建材有限公司"}})
	masked, differs, err := Masker{}.Mask(tt, private, at)
	if err != nil || !differs {
		t.Fatalf("Mask = %v, %v: the payment holds personal data", differs, err)
	}
	otherMasked, _, err := Masker{}.Mask(tt, other, at)
	if err != nil {
		t.Fatal(err)
	}
	// The masked payload's fields in reverse order: another encoding.
	var reordered []byte
	for rest := masked; len(rest) > 0; {
		_, _, n := protowire.ConsumeField(rest)
		reordered = append(append([]byte{}, rest[:n]...), reordered...)
		rest = rest[n:]
	}
	for _, c := range []struct {
		name            string
		t               sanziv1.EntryType
		private, public []byte
	}{
		{"masked at sealing", tt, private, masked},
		{"masked, another encoding", tt, private, reordered},
		{"left unmasked", tt, private, private},
		{"masked from another payload", tt, private, otherMasked},
		{"nothing to mask, same bytes", tt, company, company},
		{"nothing to mask, another payload", tt, company, other},
		{"private undecodable", tt, []byte{0xff}, masked},
		{"public undecodable", tt, private, []byte{0xff}},
		{"unknown type", sanziv1.EntryType(9999), private, masked},
	} {
		var wantSame bool
		var wantMask, wantCompare error
		m, _, err := Masker{}.Mask(c.t, c.private, at)
		if err != nil {
			wantMask = err
		} else {
			wantSame, wantCompare = Masker{}.Same(c.t, m, c.public)
		}
		same, maskErr, compareErr := Masker{}.PublicMasked(c.t, c.private, c.public, at)
		if same != wantSame || fmt.Sprint(maskErr) != fmt.Sprint(wantMask) || fmt.Sprint(compareErr) != fmt.Sprint(wantCompare) {
			t.Errorf("%s: PublicMasked = %v, %v, %v; Mask then Same = %v, %v, %v", c.name, same, maskErr, compareErr, wantSame, wantMask, wantCompare)
		}
	}
}
