package voucher

import (
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/chart/charttest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const org = "350505100201"

func dr(acct string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: acct, DebitFen: fen}
}

func cr(acct string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: acct, CreditFen: fen}
}

func TestValidate(t *testing.T) {
	ch := charttest.National(t)
	ok := func() *sanziv1.Voucher {
		return &sanziv1.Voucher{Org: org, BusinessDate: "2026-03-05", Summary: "购办公用品",
			Lines: []*sanziv1.VoucherLine{dr("502", 120000), cr(chart.Cash, 120000)}}
	}
	cases := []struct {
		name   string
		edit   func(v *sanziv1.Voucher)
		field  string
		reason string
	}{
		{"valid", func(*sanziv1.Voucher) {}, "", ""},
		{"bad org", func(v *sanziv1.Voucher) { v.Org = "3505" }, "voucher.org", "12-digit"},
		{"bad date", func(v *sanziv1.Voucher) { v.BusinessDate = "2026-3-5" }, "voucher.businessDate", "YYYY-MM-DD"},
		{"no summary", func(v *sanziv1.Voucher) { v.Summary = " " }, "voucher.summary", "required"},
		{"one line", func(v *sanziv1.Voucher) { v.Lines = v.Lines[:1] }, "voucher.lines", "at least one debit and one credit"},
		{"unknown account", func(v *sanziv1.Voucher) { v.Lines[0].Account = "999" }, "voucher.lines[0].account", "no account"},
		{"both sides", func(v *sanziv1.Voucher) { v.Lines[0].CreditFen = 5 }, "voucher.lines[0].debitFen", "exactly one"},
		{"no side", func(v *sanziv1.Voucher) { v.Lines[1].CreditFen = 0 }, "voucher.lines[1].debitFen", "exactly one"},
		{"negative", func(v *sanziv1.Voucher) {
			v.Lines = []*sanziv1.VoucherLine{dr("502", -100), cr(chart.Cash, -100)}
		}, "voucher.lines[0].debitFen", "must be positive"},
		{"red ink positive", func(v *sanziv1.Voucher) { v.ReversesVoucherId = org + "-3" }, "voucher.lines[0].debitFen", "every amount negative"},
		{"red ink negative", func(v *sanziv1.Voucher) {
			v.ReversesVoucherId = org + "-3"
			v.Lines = []*sanziv1.VoucherLine{dr("502", -100), cr(chart.Cash, -100)}
		}, "", ""},
		{"debits exceed", func(v *sanziv1.Voucher) { v.Lines[1].CreditFen = 100000 }, "voucher.lines", "debits 1,200.00 exceed credits 1,000.00 by 200.00"},
		{"credits exceed", func(v *sanziv1.Voucher) {
			v.Lines = append(v.Lines, cr(chart.Bank, 5))
		}, "voucher.lines", "credits 1,200.05 exceed debits 1,200.00 by 0.05"},
		{"counterparty required", func(v *sanziv1.Voucher) { v.Lines[0].Account = chart.Receivable }, "voucher.lines[0].counterparty", "subsidiary"},
		{"counterparty given", func(v *sanziv1.Voucher) {
			v.Lines[0].Account, v.Lines[0].Counterparty = chart.Receivable, "张三"
		}, "", ""},
		{"asset code required", func(v *sanziv1.Voucher) { v.Lines[0].Account = chart.FixedAssets }, "voucher.lines[0].assetCode", "subsidiary"},
		{"too many lines", func(v *sanziv1.Voucher) {
			v.Lines = nil
			for range MaxLines/2 + 1 {
				v.Lines = append(v.Lines, dr("502", 1), cr(chart.Cash, 1))
			}
		}, "voucher.lines", "more than 5000"},
		{"long line summary", func(v *sanziv1.Voucher) { v.Lines[1].Summary = strings.Repeat("现", 200) }, "voucher.lines[1].summary", "longer than 500 bytes"},
		{"long counterparty", func(v *sanziv1.Voucher) {
			v.Lines[0].Account, v.Lines[0].Counterparty = chart.Receivable, strings.Repeat("x", 501)
		}, "voucher.lines[0].counterparty", "longer than 500 bytes"},
		{"too many attachments", func(v *sanziv1.Voucher) { v.Attachments = make([]string, MaxAttachments+1) }, "voucher.attachments", "more than 50"},
		{"long attachment", func(v *sanziv1.Voucher) { v.Attachments = []string{"a", strings.Repeat("b", 501)} }, "voucher.attachments[1]", "longer than 500 bytes"},
		{"amount too large", func(v *sanziv1.Voucher) { v.Lines[0].DebitFen, v.Lines[1].CreditFen = MaxAmountFen+1, MaxAmountFen+1 }, "voucher.lines[0].debitFen", "more than 10 billion"},
		{"opening many lines", func(v *sanziv1.Voucher) {
			v.Opening = true
			v.Lines = []*sanziv1.VoucherLine{dr(chart.Cash, 500), dr(chart.Bank, 1500), cr(chart.Capital, 1000), cr(chart.Reserve, 1000)}
		}, "", ""},
		{"opening unbalanced", func(v *sanziv1.Voucher) {
			v.Opening = true
			v.Lines = []*sanziv1.VoucherLine{dr(chart.Cash, 500), dr(chart.Bank, 1500), cr(chart.Capital, 1000)}
		}, "voucher.lines", "debits 20.00 exceed credits 10.00 by 10.00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := ok()
			c.edit(v)
			err := Validate(ch, v)
			if c.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError on %s", err, c.field)
			}
			if fe.Field != c.field || !strings.Contains(fe.Reason, c.reason) {
				t.Fatalf("got %s: %s; want %s: …%s…", fe.Field, fe.Reason, c.field, c.reason)
			}
		})
	}
}

func TestLeafOnly(t *testing.T) {
	c := chart.National()
	c.Accounts = append(c.Accounts, &sanziv1.LedgerAccount{Code: "12101", Name: "农资", Class: sanziv1.AccountClass_ACCOUNT_CLASS_ASSET, Side: sanziv1.BalanceSide_BALANCE_SIDE_DEBIT, Parent: "121"})
	ch, err := chart.New(c)
	if err != nil {
		t.Fatal(err)
	}
	v := &sanziv1.Voucher{Org: org, BusinessDate: "2026-03-05", Summary: "购农资", Lines: []*sanziv1.VoucherLine{dr("121", 100), cr(chart.Cash, 100)}}
	var fe *FieldError
	if err := Validate(ch, v); !errors.As(err, &fe) || fe.Field != "voucher.lines[0].account" || !strings.Contains(fe.Reason, "sub-accounts") {
		t.Fatalf("posting to parent 121: got %v", err)
	}
	v.Lines[0].Account = "12101"
	if err := Validate(ch, v); err != nil {
		t.Fatalf("posting to 12101: %v", err)
	}
}

func TestFromTransaction(t *testing.T) {
	ch := charttest.National(t)
	cases := []struct {
		name          string
		tx            *sanziv1.Transaction
		debit, credit string
		party         [2]string
		noVoucher     bool
	}{
		{"expense in cash", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Category: "管理费用"},
			"531", chart.Cash, [2]string{}, false},
		{"income by bank", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, Category: "501"},
			chart.Bank, "501", [2]string{}, false},
		{"loan out names the debtor", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER},
			chart.Receivable, chart.Bank, [2]string{"李四", ""}, false},
		{"category names no account", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Category: "杂项"},
			"", "", [2]string{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx := c.tx
			tx.Org, tx.AmountFen, tx.BusinessDate, tx.Summary = org, 35000, "2026-04-02", "业务"
			tx.Counterparty = &sanziv1.Counterparty{Name: "李四"}
			v, err := FromTransaction(ch, tx, org+"-9")
			if c.noVoucher {
				if !errors.Is(err, ErrNoVoucher) {
					t.Fatalf("got %v, %v; want ErrNoVoucher", v, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(ch, v); err != nil {
				t.Fatalf("derived voucher invalid: %v", err)
			}
			l := v.GetLines()
			if l[0].GetAccount() != c.debit || l[0].GetDebitFen() != 35000 || l[1].GetAccount() != c.credit || l[1].GetCreditFen() != 35000 {
				t.Fatalf("lines %v, want Dr %s / Cr %s 350.00", l, c.debit, c.credit)
			}
			if l[0].GetCounterparty() != c.party[0] || l[1].GetCounterparty() != c.party[1] {
				t.Fatalf("counterparties %q %q, want %q", l[0].GetCounterparty(), l[1].GetCounterparty(), c.party)
			}
			if v.GetSourceEntryId() != org+"-9" || v.GetSummary() != "业务" || v.GetBusinessDate() != "2026-04-02" {
				t.Fatalf("voucher %v", v)
			}
		})
	}
}

func TestFromContractPayment(t *testing.T) {
	ch := charttest.National(t)
	p := &sanziv1.ContractPayment{Org: org, ContractId: org + "-2", AmountFen: 800000, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, BusinessDate: "2026-05-01", Period: "2026"}
	v, err := FromContractPayment(ch, p, "王五", org+"-7")
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(ch, v); err != nil {
		t.Fatal(err)
	}
	if l := v.GetLines(); l[0].GetAccount() != chart.Cash || l[1].GetAccount() != chart.OperatingIncome || l[1].GetCreditFen() != 800000 {
		t.Fatalf("lines %v", l)
	}
	if v.GetSourceEntryId() != org+"-7" || !strings.Contains(v.GetSummary(), "王五") {
		t.Fatalf("voucher %v", v)
	}
}

func TestReverse(t *testing.T) {
	ch := charttest.National(t)
	orig := &sanziv1.VoucherRecord{Entry: &sanziv1.EntryMeta{Id: org + "-4"}, Voucher: &sanziv1.Voucher{
		Org: org, BusinessDate: "2026-01-20", Number: 3, Summary: "借出",
		Lines: []*sanziv1.VoucherLine{{Account: chart.Receivable, DebitFen: 500, Counterparty: "赵六"}, cr(chart.Bank, 500)}}}
	r := Reverse(orig, "2026-02-03", "重复记账")
	if err := Validate(ch, r); err != nil {
		t.Fatalf("reversal invalid: %v", err)
	}
	if r.GetReversesVoucherId() != org+"-4" || r.GetBusinessDate() != "2026-02-03" || !strings.Contains(r.GetSummary(), "重复记账") {
		t.Fatalf("reversal %v", r)
	}
	if l := r.GetLines(); l[0].GetDebitFen() != -500 || l[0].GetCounterparty() != "赵六" || l[1].GetCreditFen() != -500 || l[1].GetAccount() != chart.Bank {
		t.Fatalf("lines %v", l)
	}
}

// TestValidateImported: a voucher from another system's books whose lines
// are all negative is its red-ink correction and is taken without the
// voucher it reverses; Validate refuses it, and a voucher mixing signs or
// opening balances in red ink are refused either way.
func TestValidateImported(t *testing.T) {
	ch := charttest.National(t)
	v := func(opening bool, fen ...int64) *sanziv1.Voucher {
		out := &sanziv1.Voucher{Org: org, BusinessDate: "2025-05-31", Summary: "红字冲销", Opening: opening}
		out.Lines = []*sanziv1.VoucherLine{{Account: "532", DebitFen: fen[0]}, {Account: "102", CreditFen: fen[1]}}
		return out
	}
	for _, tc := range []struct {
		name             string
		v                *sanziv1.Voucher
		imported, direct string // "" accepted, else the field refused
	}{
		{"red ink", v(false, -250000, -250000), "", "voucher.lines[0].debitFen"},
		{"black ink", v(false, 250000, 250000), "", ""},
		{"mixed signs", v(false, 250000, -250000), "voucher.lines[1].creditFen", "voucher.lines[1].creditFen"},
		{"red-ink opening", v(true, -250000, -250000), "voucher.lines[0].debitFen", "voucher.lines[0].debitFen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range []struct {
				f    func(*chart.Chart, *sanziv1.Voucher) error
				want string
			}{{ValidateImported, tc.imported}, {Validate, tc.direct}} {
				err := c.f(ch, tc.v)
				var fe *FieldError
				switch {
				case c.want == "" && err != nil:
					t.Fatalf("refused: %v", err)
				case c.want != "" && (!errors.As(err, &fe) || fe.Field != c.want):
					t.Fatalf("%v, want refused at %s", err, c.want)
				}
			}
		})
	}
}

// TestFromAssetDisposal: the price in, the book value out of 固定资产 on
// the asset's card, the difference a gain or a loss; no zero line.
func TestFromAssetDisposal(t *testing.T) {
	ch := charttest.National(t)
	asset := &sanziv1.AssetRegistration{Org: org, AssetCode: "ZC-0001", Name: "拖拉机", Category: "机器设备", OriginalValueFen: 5_000_000}
	sale := sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE
	cases := []struct {
		name        string
		method      sanziv1.DisposalMethod
		pay         sanziv1.PaymentMethod
		price, book int64
		want        []*sanziv1.VoucherLine
	}{
		{"gain", sale, 0, 6_000_000, 5_000_000, []*sanziv1.VoucherLine{dr(chart.Bank, 6_000_000), cr(chart.FixedAssets, 5_000_000), cr(chart.OtherIncome, 1_000_000)}},
		{"loss", sale, 0, 3_500_000, 5_000_000, []*sanziv1.VoucherLine{dr(chart.Bank, 3_500_000), dr(chart.OtherExpense, 1_500_000), cr(chart.FixedAssets, 5_000_000)}},
		{"at book value", sale, sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, 4_200_000, 4_200_000, []*sanziv1.VoucherLine{dr(chart.Bank, 4_200_000), cr(chart.FixedAssets, 4_200_000)}},
		{"in cash", sale, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, 300_000, 250_000, []*sanziv1.VoucherLine{dr(chart.Cash, 300_000), cr(chart.FixedAssets, 250_000), cr(chart.OtherIncome, 50_000)}},
		{"scrapped for nothing", sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP, 0, 0, 5_000_000, []*sanziv1.VoucherLine{dr(chart.OtherExpense, 5_000_000), cr(chart.FixedAssets, 5_000_000)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &sanziv1.AssetDisposal{Org: org, AssetId: org + "-3", Method: c.method, PriceFen: c.price, PaymentMethod: c.pay,
				Counterparty: &sanziv1.Counterparty{Name: "张三"}, DisposalDate: "2026-06-30"}
			v, err := FromAssetDisposal(ch, d, asset, c.book, org+"-8")
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(ch, v); err != nil {
				t.Fatalf("derived voucher invalid: %v", err)
			}
			got := v.GetLines()
			if len(got) != len(c.want) {
				t.Fatalf("lines %v, want %v", got, c.want)
			}
			for i, w := range c.want {
				g := got[i]
				if g.GetAccount() != w.GetAccount() || g.GetDebitFen() != w.GetDebitFen() || g.GetCreditFen() != w.GetCreditFen() {
					t.Fatalf("line %d: %v, want %v", i, g, w)
				}
				if (g.GetAccount() == chart.FixedAssets) != (g.GetAssetCode() == "ZC-0001") {
					t.Fatalf("line %d: asset code %q: want it on 固定资产 only", i, g.GetAssetCode())
				}
			}
			if v.GetSourceEntryId() != org+"-8" || v.GetBusinessDate() != "2026-06-30" || !strings.Contains(v.GetSummary(), "拖拉机") {
				t.Fatalf("voucher %v", v)
			}
		})
	}
}

// TestFromAssetAppraisal: an appraisal books the change of the book value
// between 固定资产 and 公积公益金, either way; no change, no voucher.
func TestFromAssetAppraisal(t *testing.T) {
	ch := charttest.National(t)
	asset := &sanziv1.AssetRegistration{Org: org, AssetCode: "ZC-0002", Name: "村部办公楼", Category: "房屋建筑物", OriginalValueFen: 80_000_000}
	cases := []struct {
		name            string
		appraised, book int64
		want            []*sanziv1.VoucherLine // nil: no voucher
	}{
		{"up", 95_000_000, 80_000_000, []*sanziv1.VoucherLine{dr(chart.FixedAssets, 15_000_000), cr(chart.Reserve, 15_000_000)}},
		{"down", 60_000_000, 80_000_000, []*sanziv1.VoucherLine{dr(chart.Reserve, 20_000_000), cr(chart.FixedAssets, 20_000_000)}},
		{"down from an earlier appraisal", 90_000_000, 95_000_000, []*sanziv1.VoucherLine{dr(chart.Reserve, 5_000_000), cr(chart.FixedAssets, 5_000_000)}},
		{"unchanged", 80_000_000, 80_000_000, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &sanziv1.AssetAppraisal{Org: org, AssetId: org + "-3", AppraisedValueFen: c.appraised, Appraiser: "评估所", AppraisalDate: "2026-03-15"}
			v, err := FromAssetAppraisal(ch, p, asset, c.book, org+"-5")
			if c.want == nil {
				if !errors.Is(err, ErrNoVoucher) {
					t.Fatalf("got %v, %v; want ErrNoVoucher", v, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(ch, v); err != nil {
				t.Fatalf("derived voucher invalid: %v", err)
			}
			got := v.GetLines()
			if len(got) != 2 {
				t.Fatalf("lines %v, want %v", got, c.want)
			}
			for i, w := range c.want {
				if g := got[i]; g.GetAccount() != w.GetAccount() || g.GetDebitFen() != w.GetDebitFen() || g.GetCreditFen() != w.GetCreditFen() {
					t.Fatalf("line %d: %v, want %v", i, g, w)
				}
			}
			if v.GetSourceEntryId() != org+"-5" || v.GetBusinessDate() != "2026-03-15" {
				t.Fatalf("voucher %v", v)
			}
		})
	}
}
