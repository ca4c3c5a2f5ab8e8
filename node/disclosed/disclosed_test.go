package disclosed

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const village = "350505100201"

// book writes a village chain for the tests.
type book struct {
	t   *testing.T
	led *ledger.Ledger
	now time.Time
}

func newBook(t *testing.T) *book {
	ring := keys.NewRing()
	ring.Add(village, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	led, err := ledger.Open(ledger.Config{Path: filepath.Join(t.TempDir(), "l.db"), Keys: ring, NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	return &book{t: t, led: led, now: now}
}

func (b *book) add(typ sanziv1.EntryType, m proto.Message) string {
	b.t.Helper()
	p, err := proto.Marshal(m)
	if err != nil {
		b.t.Fatal(err)
	}
	st, err := b.led.Append(context.Background(), ledger.Record{Origin: village, Author: "e2e", Type: typ, Payload: p})
	if err != nil {
		b.t.Fatal(err)
	}
	return st[0].ID()
}

func (b *book) tx(kind sanziv1.TransactionKind, fen int64, method sanziv1.PaymentMethod, cat string, cp *sanziv1.Counterparty) string {
	return b.add(sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, &sanziv1.Transaction{Org: village, Kind: kind, AmountFen: fen, PaymentMethod: method,
		Category: cat, Counterparty: cp, BusinessDate: "2026-01-10", Summary: cat})
}

// disclose opens the month's procedure and decides its steps; the last
// decision closes it with action (approve or reject).
func (b *book) disclose(period string, action sanziv1.StepAction) string {
	id := b.add(sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, &sanziv1.Procedure{Org: village, MatterCode: Matter, Period: period, Summary: period + "财务公开"})
	for i, step := range []string{"prepare", "audit", "check", "publish"} {
		last := i == 3
		a := sanziv1.StepAction_STEP_ACTION_APPROVE
		if last {
			a = action
		}
		b.add(sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, &sanziv1.StepDecision{Org: village, ProcedureId: id, StepCode: step, Action: a, Post: "p", Closes: last})
	}
	return id
}

var (
	cash = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	bank = sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER
	inc  = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	exp  = sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
)

// TestCompute writes two months of a village's books with a rejected
// disclosure between them and checks each published disclosure's figures,
// masking and range; then computes again from a later seq, as a verifier
// with a chain segment does, and gets the same second disclosure.
func TestCompute(t *testing.T) {
	b := newBook(t)
	first17 := "35050519800101123"
	ck, _ := idcode.ResidentIDCheck(first17)
	person := &sanziv1.Counterparty{Name: "张三", IdNumber: first17 + string(ck), BankAccount: "6222020200112233445", Phone: "13800135678"}
	company := &sanziv1.Counterparty{Name: "福州某建材有限公司", IdNumber: "91350100M000100Y43"}

	b.tx(inc, 300_000, cash, "经营收入", company)           // 3,000 yuan cash in
	big := b.tx(exp, 2_000_000, bank, "工程支出", company)  // 20,000 yuan by bank: itemized
	small := b.tx(exp, 5_000, cash, "管理费用", person)     // 50 yuan cash: not itemized
	wrong := b.tx(exp, 1_500_000, bank, "管理费用", person) // reversed in the same month
	b.add(sanziv1.EntryType_ENTRY_TYPE_REVERSAL, &sanziv1.Reversal{Org: village, TargetId: wrong, Reason: "录错"})
	ct := b.add(sanziv1.EntryType_ENTRY_TYPE_CONTRACT, &sanziv1.Contract{Org: village, Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: "ZL-1",
		Counterparty: person, Object: &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "D-7", AreaMu: 12.5}, TermStart: "2026-01-01",
		TermEnd: "2030-12-31", AnnualAmountFen: 1_200_000, SignedDate: "2026-01-03"})
	b.add(sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, &sanziv1.ContractPayment{Org: village, ContractId: ct, AmountFen: 600_000, PaymentMethod: bank, BusinessDate: "2026-01-04", Period: "2026上半年"})
	asset := b.add(sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, &sanziv1.AssetRegistration{Org: village, AssetCode: "A-1", Name: "收割机", Category: "机械", OriginalValueFen: 8_000_000, AcquiredDate: "2026-01-02"})
	jan := b.disclose("2026-01", sanziv1.StepAction_STEP_ACTION_APPROVE)
	_, janSeq, _ := ledger.ParseEntryID(jan)

	// February: a payment on January's contract, the small expense
	// reversed, the asset disposed, and a disclosure first rejected.
	b.add(sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT, &sanziv1.ContractPayment{Org: village, ContractId: ct, AmountFen: 600_000, PaymentMethod: cash, BusinessDate: "2026-02-04"})
	b.add(sanziv1.EntryType_ENTRY_TYPE_REVERSAL, &sanziv1.Reversal{Org: village, TargetId: small, Reason: "重复"})
	b.add(sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, &sanziv1.AssetDisposal{Org: village, AssetId: asset, Method: sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE, PriceFen: 100_000, Counterparty: person, DisposalDate: "2026-02-10"})
	b.disclose("2026-02", sanziv1.StepAction_STEP_ACTION_REJECT)
	b.tx(inc, 50_000, cash, "其他收入", person)
	feb := b.disclose("2026-02", sanziv1.StepAction_STEP_ACTION_APPROVE)
	b.disclose("2026-03", sanziv1.StepAction_STEP_ACTION_APPROVE) // nothing new: an empty disclosure

	all, err := Compute(b.led, village, 1, Options{ItemizeFromFen: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d disclosures, want January, February and March", len(all))
	}
	t.Run("january", func(t *testing.T) {
		d := all[0]
		if d.Period != "2026-01" || d.Procedure.ID != jan || d.AfterSeq != 0 || d.ToSeq != janSeq-1 || d.FirstSeq != 1 || len(d.Approvals) != 4 || len(d.Unsure) != 0 {
			t.Fatalf("header: %+v", d)
		}
		wantSums(t, "income", d.Income, map[string]int64{"经营收入": 300_000, ContractIncome: 600_000})
		wantSums(t, "expense", d.Expense, map[string]int64{"工程支出": 2_000_000, "管理费用": 5_000})
		if d.IncomeFen != 900_000 || d.ExpenseFen != 2_005_000 {
			t.Errorf("totals %d %d", d.IncomeFen, d.ExpenseFen)
		}
		if len(d.Transactions) != 2 || d.Transactions[0].Ref.ID != big || !d.Transactions[1].Reversed || d.Transactions[1].Ref.ID != wrong {
			t.Fatalf("itemized %+v", d.Transactions)
		}
		if p := d.Transactions[1].Party; p.Name != "张*" || p.IDNumber[:4] != "3505" || p.IDNumber[4] != '*' || p.BankAccount != "6222***********3445" || p.Phone != "138****5678" {
			t.Errorf("a person's data shown as %+v", p)
		}
		if p := d.Transactions[0].Party; p.Name != "福州某建材有限公司" {
			t.Errorf("a company's name shown as %q", p.Name)
		}
		if len(d.Contracts) != 1 || !d.Contracts[0].New || d.Contracts[0].PaidFen != 600_000 || d.Contracts[0].Party.Name != "张*" {
			t.Fatalf("contracts %+v", d.Contracts)
		}
		if len(d.Acquired) != 1 || d.Acquired[0].ValueFen != 8_000_000 || len(d.Reversals) != 1 || d.Reversals[0].AmountFen != 1_500_000 {
			t.Fatalf("assets %+v reversals %+v", d.Acquired, d.Reversals)
		}
		want := Balances{CashFen: 300_000 - 5_000, BankFen: -2_000_000 + 600_000}
		if d.Opening != (Balances{}) || d.Movement != want || d.Closing != want || !d.OpeningKnown {
			t.Errorf("balances %+v %+v %+v", d.Opening, d.Movement, d.Closing)
		}
	})
	t.Run("february", func(t *testing.T) {
		d := all[1]
		// Its figures come from as far back as the expense it reverses.
		_, smallSeq, _ := ledger.ParseEntryID(small)
		if d.Period != "2026-02" || d.AfterSeq != janSeq || d.Procedure.ID != feb || d.FirstSeq != smallSeq {
			t.Fatalf("header: period %s after %d first %d", d.Period, d.AfterSeq, d.FirstSeq)
		}
		// The rejected procedure's entries are in the range; its own
		// decisions are not figures.
		wantSums(t, "income", d.Income, map[string]int64{ContractIncome: 600_000, "其他收入": 50_000})
		wantSums(t, "expense", d.Expense, map[string]int64{"管理费用": -5_000})
		if len(d.Contracts) != 1 || d.Contracts[0].New || len(d.Contracts[0].Payments) != 1 {
			t.Fatalf("contracts %+v", d.Contracts)
		}
		if len(d.Disposed) != 1 || d.Disposed[0].Name != "收割机" || d.Disposed[0].Party.Name != "张*" {
			t.Fatalf("disposed %+v", d.Disposed)
		}
		if d.Opening != all[0].Closing || d.Movement != (Balances{CashFen: 600_000 + 5_000 + 50_000}) {
			t.Errorf("balances %+v %+v", d.Opening, d.Movement)
		}
	})
	t.Run("march covers nothing new", func(t *testing.T) {
		d := all[2]
		if d.Entries != 0 || d.Opening != all[1].Closing || d.Closing != all[1].Closing {
			t.Fatalf("%+v", d)
		}
	})
	t.Run("from a segment", func(t *testing.T) {
		seg, err := Compute(b.led, village, all[1].FirstSeq, Options{ItemizeFromFen: 1_000_000})
		if err != nil {
			t.Fatal(err)
		}
		var got *Disclosure
		for _, d := range seg {
			if d.Procedure.ID == feb {
				got = d
			}
		}
		if got == nil || len(got.Unsure) != 0 || got.OpeningKnown {
			t.Fatalf("february from seq %d: %+v", all[1].FirstSeq, got)
		}
		got.Opening, got.Closing, got.OpeningKnown = all[1].Opening, all[1].Closing, true
		if err := got.Seal(); err != nil { // the digest covers the opening balance taken
			t.Fatal(err)
		}
		if a, b := mustJSON(t, got), mustJSON(t, all[1]); !bytes.Equal(a, b) {
			t.Fatalf("from the segment:\n%s\nfrom the whole chain:\n%s", a, b)
		}
		// Starting after the contract: the payment's contract is unknown.
		late, _ := Compute(b.led, village, all[1].FirstSeq+1, Options{ItemizeFromFen: 1_000_000})
		for _, d := range late {
			if d.Procedure.ID == feb && len(d.Unsure) == 0 {
				t.Fatal("a segment missing the contract computed February without a doubt")
			}
		}
	})
}

func wantSums(t *testing.T, what string, got []Sum, want map[string]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %+v, want %v", what, got, want)
	}
	for _, s := range got {
		if want[s.Category] != s.AmountFen {
			t.Errorf("%s %s: %d, want %d", what, s.Category, s.AmountFen, want[s.Category])
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
