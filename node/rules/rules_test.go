package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	// A company's unified social credit code: 18 characters, not a person.
	creditCode = "91350100M000100Y43"
)

// personID builds a valid resident ID, so PRIVATE-ACCT sees a person.
func personID(t *testing.T) string {
	t.Helper()
	body := "11010519491231002"
	c, err := idcode.ResidentIDCheck(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + string(c)
}

type txOpt func(*sanziv1.Transaction)

// expense is a clean expense: bank transfer to a company, invoice and
// resolution attached, so no default rule fires unless an option changes it.
func expense(amount int64, opts ...txOpt) *sanziv1.Transaction {
	t := &sanziv1.Transaction{
		Org: "350102001001", Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: amount,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		Counterparty:  &sanziv1.Counterparty{Name: "某某建材有限公司", IdNumber: creditCode, BankAccount: "6222020200112233445"},
		BusinessDate:  "2026-03-15", Summary: "购买水泥", InvoiceNumber: "12345678",
		Attachments: []string{hashA, hashB}, Category: "管理费用",
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

func cash(t *sanziv1.Transaction)    { t.PaymentMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_CASH }
func income(t *sanziv1.Transaction)  { t.Kind = sanziv1.TransactionKind_TRANSACTION_KIND_INCOME }
func loanOut(t *sanziv1.Transaction) { t.Kind = sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT }
func attachments(n int) txOpt {
	return func(t *sanziv1.Transaction) { t.Attachments = []string{hashA, hashB}[:n] }
}
func noInvoice(t *sanziv1.Transaction) { t.InvoiceNumber, t.Attachments = "", nil }

func contract(start, end string, annual int64, area float64, award sanziv1.AwardMethod) *sanziv1.Contract {
	return &sanziv1.Contract{
		Org: "350102001001", Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE, ContractNumber: "HT-2026-01",
		Object:    &sanziv1.ContractObject{Kind: sanziv1.ObjectKind_OBJECT_KIND_LAND, ObjectId: "DK-01", AreaMu: area},
		TermStart: start, TermEnd: end, AnnualAmountFen: annual, AwardMethod: award, SignedDate: "2025-12-20",
	}
}

const (
	negotiated = sanziv1.AwardMethod_AWARD_METHOD_NEGOTIATED
	tender     = sanziv1.AwardMethod_AWARD_METHOD_TENDER
	auction    = sanziv1.AwardMethod_AWARD_METHOD_AUCTION
	sale       = sanziv1.DisposalMethod_DISPOSAL_METHOD_SALE
	scrap      = sanziv1.DisposalMethod_DISPOSAL_METHOD_SCRAP
	transfer   = sanziv1.DisposalMethod_DISPOSAL_METHOD_TRANSFER
)

// disposal is an entry plus the appraisal the books would pass with it.
type disposal struct {
	d         *sanziv1.AssetDisposal
	appraised int64
}

func dispose(m sanziv1.DisposalMethod, price, appraised int64) disposal {
	return disposal{&sanziv1.AssetDisposal{Org: "350102001001", AssetId: "v1-7", Method: m, PriceFen: price,
		DisposalDate: "2026-04-01"}, appraised}
}

// resolved is a transaction with the books' verdict on the resolution it
// names.
type resolved struct {
	t     *sanziv1.Transaction
	facts TxFacts
}

func approved(t *sanziv1.Transaction) resolved { return resolved{t, TxFacts{ResolutionApproved: true}} }

// withParams returns the default set with one rule's params replaced.
func withParams(code string, p map[string]int64) RuleSet {
	rs := Default()
	for i := range rs.Rules {
		if rs.Rules[i].Code == code {
			rs.Rules[i].Params = p
		}
	}
	return rs
}

func mustCompile(t *testing.T, rs RuleSet) *Engine {
	t.Helper()
	e, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run checks any supported entry.
func run(t *testing.T, e *Engine, entry any) []Hit {
	t.Helper()
	var hits []Hit
	var err error
	switch v := entry.(type) {
	case *sanziv1.Transaction:
		hits, err = e.CheckTransaction(v, TxFacts{})
	case resolved:
		hits, err = e.CheckTransaction(v.t, v.facts)
	case *sanziv1.Contract:
		hits, err = e.CheckContract(v)
	case disposal:
		hits, err = e.CheckAssetDisposal(v.d, v.appraised)
	case vouched:
		hits, err = e.CheckVoucher(v.v, v.facts)
	default:
		t.Fatalf("unsupported entry %T", entry)
	}
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func find(hits []Hit, code string) *Hit {
	for i := range hits {
		if hits[i].Code == code {
			return &hits[i]
		}
	}
	return nil
}

func TestDefaultRules(t *testing.T) {
	person := personID(t)
	toPerson := func(t *sanziv1.Transaction) { t.Counterparty.IdNumber = person }
	works := func(t *sanziv1.Transaction) { t.Category = "工程支出" }
	cases := []struct {
		code   string
		name   string
		rs     *RuleSet // nil = Default()
		entry  any
		fires  bool
		others []string // other codes that must (also) fire; nil = not checked
	}{
		// CASH-PAY: above 1,000 yuan in cash, money going out.
		{"CASH-PAY", "cash exactly at the limit", nil, expense(100_000, cash), false, nil},
		{"CASH-PAY", "cash one fen over", nil, expense(100_001, cash), true, nil},
		{"CASH-PAY", "cash one fen under", nil, expense(99_999, cash), false, nil},
		{"CASH-PAY", "large bank transfer", nil, expense(10_000_000), false, nil},
		{"CASH-PAY", "village card", nil, expense(500_000, func(t *sanziv1.Transaction) {
			t.PaymentMethod = sanziv1.PaymentMethod_PAYMENT_METHOD_VILLAGE_CARD
		}), false, nil},
		{"CASH-PAY", "loan out in cash", nil, expense(100_001, cash, loanOut), true, nil},
		{"CASH-PAY", "cash income", nil, expense(100_001, cash, income), false, nil},
		{"CASH-PAY", "raised limit", ptr(withParams("CASH-PAY", map[string]int64{"cash_limit_fen": 200_000})),
			expense(150_000, cash), false, nil},

		// NO-INVOICE: no attachment and no invoice number.
		{"NO-INVOICE", "白条 of one fen", nil, expense(1, noInvoice), true, nil},
		{"NO-INVOICE", "attachment only", nil, expense(1, noInvoice, attachments(1)), false, nil},
		{"NO-INVOICE", "invoice number only", nil, expense(1, noInvoice, func(t *sanziv1.Transaction) {
			t.InvoiceNumber = "87654321"
		}), false, nil},
		{"NO-INVOICE", "income without voucher", nil, expense(100, noInvoice, income), false, nil},
		{"NO-INVOICE", "under a district minimum", ptr(withParams("NO-INVOICE", map[string]int64{"no_invoice_min_fen": 10_000})),
			expense(9_999, noInvoice), false, nil},
		{"NO-INVOICE", "exactly a district minimum", ptr(withParams("NO-INVOICE", map[string]int64{"no_invoice_min_fen": 10_000})),
			expense(10_000, noInvoice), true, nil},

		// BIG-SPEND: at or over 50,000 yuan unless the books found the
		// resolution it names approved; attachments do not count.
		{"BIG-SPEND", "exactly 50,000 yuan, no resolution", nil, expense(5_000_000, attachments(1)), true, nil},
		{"BIG-SPEND", "one fen under", nil, expense(4_999_999, attachments(1)), false, nil},
		{"BIG-SPEND", "two attachments are no resolution", nil, expense(5_000_001), true, nil},
		{"BIG-SPEND", "a resolution named but not approved", nil, resolved{expense(5_000_001, func(t *sanziv1.Transaction) {
			t.ResolutionProcedureId = "350102001001-9"
		}), TxFacts{}}, true, nil},
		{"BIG-SPEND", "approved resolution", nil, approved(expense(5_000_001, attachments(1))), false, nil},
		{"BIG-SPEND", "large income", nil, expense(9_000_000, attachments(0), income), false, nil},
		{"BIG-SPEND", "under a district threshold of 20,000 yuan", ptr(withParams("BIG-SPEND", map[string]int64{"big_spend_fen": 2_000_000})),
			expense(1_999_999), false, nil},
		{"BIG-SPEND", "at a district threshold of 20,000 yuan", ptr(withParams("BIG-SPEND", map[string]int64{"big_spend_fen": 2_000_000})),
			expense(2_000_000), true, nil},

		// PRIVATE-ACCT: over 1,000 yuan by bank transfer to a person's account.
		{"PRIVATE-ACCT", "one fen over to a person", nil, expense(100_001, toPerson), true, nil},
		{"PRIVATE-ACCT", "exactly 1,000 yuan", nil, expense(100_000, toPerson), false, nil},
		{"PRIVATE-ACCT", "to a company", nil, expense(1_000_000), false, nil},
		{"PRIVATE-ACCT", "person without a bank account", nil, expense(1_000_000, toPerson, func(t *sanziv1.Transaction) {
			t.Counterparty.BankAccount = ""
		}), false, nil},
		{"PRIVATE-ACCT", "person paid in cash", nil, expense(1_000_000, toPerson, cash), false, []string{"CASH-PAY"}},
		{"PRIVATE-ACCT", "bad check digit is no person", nil, expense(1_000_000, func(t *sanziv1.Transaction) {
			t.Counterparty.IdNumber = person[:17] + strings.Replace("1", person[17:], "2", 1)
		}), false, nil},
		{"PRIVATE-ACCT", "income from a person", nil, expense(1_000_000, toPerson, income), false, nil},

		// TENDER: works at or over 100,000 yuan.
		{"TENDER", "exactly 100,000 yuan of works", nil, expense(10_000_000, works), true, nil},
		{"TENDER", "one fen under", nil, expense(9_999_999, works), false, nil},
		{"TENDER", "works named in the budget line", nil, expense(10_000_001, func(t *sanziv1.Transaction) {
			t.BudgetLine = "道路硬化工程"
		}), true, nil},
		{"TENDER", "not works", nil, expense(20_000_000), false, nil},
		{"TENDER", "works income", nil, expense(20_000_000, works, income), false, nil},

		// LEASE-20Y: the end day is inclusive.
		{"LEASE-20Y", "exactly 20 years", nil, contract("2026-01-01", "2045-12-31", 100_000, 10, tender), false, nil},
		{"LEASE-20Y", "20 years and one day", nil, contract("2026-01-01", "2046-01-01", 100_000, 10, tender), true, nil},
		{"LEASE-20Y", "exactly 20 years from a leap day", nil, contract("2024-02-29", "2044-02-28", 100_000, 10, tender), false, nil},
		{"LEASE-20Y", "one day more from a leap day", nil, contract("2024-02-29", "2044-02-29", 100_000, 10, tender), true, nil},
		{"LEASE-20Y", "mid-month 20 years", nil, contract("2026-03-15", "2046-03-14", 100_000, 10, tender), false, nil},
		{"LEASE-20Y", "mid-month 20 years and one day", nil, contract("2026-03-15", "2046-03-15", 100_000, 10, tender), true, nil},
		{"LEASE-20Y", "30 years", nil, contract("2026-01-01", "2055-12-31", 100_000, 10, tender), true, nil},

		// MUST-TRADE: total ≥ 50,000 yuan or area ≥ 50 mu, not tendered or auctioned.
		{"MUST-TRADE", "5 years × 10,000 yuan exactly", nil, contract("2026-01-01", "2030-12-31", 1_000_000, 10, negotiated), true, nil},
		{"MUST-TRADE", "one day short of 5 years", nil, contract("2026-01-01", "2030-12-30", 1_000_000, 10, negotiated), false, nil},
		{"MUST-TRADE", "one year, total one fen under", nil, contract("2026-01-01", "2026-12-31", 4_999_999, 10, negotiated), false, nil},
		{"MUST-TRADE", "one year, total exactly", nil, contract("2026-01-01", "2026-12-31", 5_000_000, 10, negotiated), true, nil},
		{"MUST-TRADE", "one year, total one fen over", nil, contract("2026-01-01", "2026-12-31", 5_000_001, 10, negotiated), true, nil},
		{"MUST-TRADE", "tendered", nil, contract("2026-01-01", "2030-12-31", 9_000_000, 100, tender), false, nil},
		{"MUST-TRADE", "auctioned", nil, contract("2026-01-01", "2030-12-31", 9_000_000, 100, auction), false, nil},
		{"MUST-TRADE", "exactly 50 mu, small money", nil, contract("2026-01-01", "2026-12-31", 100_000, 50, negotiated), true, nil},
		{"MUST-TRADE", "just under 50 mu", nil, contract("2026-01-01", "2026-12-31", 100_000, 49.99, negotiated), false, nil},

		// NO-APPRAISAL: never appraised, and a sale or price ≥ 50,000 yuan.
		{"NO-APPRAISAL", "scrap exactly 50,000 yuan", nil, dispose(scrap, 5_000_000, 0), true, nil},
		{"NO-APPRAISAL", "scrap one fen under", nil, dispose(scrap, 4_999_999, 0), false, nil},
		{"NO-APPRAISAL", "transfer one fen over", nil, dispose(transfer, 5_000_001, 0), true, nil},
		{"NO-APPRAISAL", "transfer for nothing", nil, dispose(transfer, 0, 0), false, nil},
		{"NO-APPRAISAL", "cheap sale", nil, dispose(sale, 100, 0), true, nil},
		{"NO-APPRAISAL", "appraised sale", nil, dispose(sale, 9_000_000, 9_000_000), false, nil},

		// UNDERPRICE: a sale below 100% of the appraisal.
		{"UNDERPRICE", "at the appraisal", nil, dispose(sale, 1_000_000, 1_000_000), false, nil},
		{"UNDERPRICE", "one fen under", nil, dispose(sale, 999_999, 1_000_000), true, nil},
		{"UNDERPRICE", "one fen over", nil, dispose(sale, 1_000_001, 1_000_000), false, nil},
		{"UNDERPRICE", "never appraised", nil, dispose(sale, 1, 0), false, []string{"NO-APPRAISAL"}},
		{"UNDERPRICE", "scrap under the appraisal", nil, dispose(scrap, 1, 1_000_000), false, nil},
		{"UNDERPRICE", "exactly 90% reserve", ptr(withParams("UNDERPRICE", map[string]int64{"reserve_percent": 90})),
			dispose(sale, 900_000, 1_000_000), false, nil},
		{"UNDERPRICE", "one fen under 90% reserve", ptr(withParams("UNDERPRICE", map[string]int64{"reserve_percent": 90})),
			dispose(sale, 899_999, 1_000_000), true, nil},
	}
	cases = append(cases, voucherCases(t)...)
	def := mustCompile(t, Default())
	covered := map[string][2]bool{}
	for _, c := range cases {
		t.Run(c.code+"/"+c.name, func(t *testing.T) {
			e := def
			if c.rs != nil {
				e = mustCompile(t, *c.rs)
			}
			hits := run(t, e, c.entry)
			if got := find(hits, c.code) != nil; got != c.fires {
				t.Errorf("%s fired = %v, want %v (hits %v)", c.code, got, c.fires, codes(hits))
			}
			for _, o := range c.others {
				if find(hits, o) == nil {
					t.Errorf("%s did not fire too (hits %v)", o, codes(hits))
				}
			}
		})
		cov := covered[c.code]
		cov[map[bool]int{true: 0, false: 1}[c.fires]] = true
		covered[c.code] = cov
	}
	for _, r := range Default().Rules {
		if r.Stateful {
			continue // Go code, tested in package watch
		}
		if cov := covered[r.Code]; !cov[0] || !cov[1] {
			t.Errorf("rule %s lacks a firing or a non-firing case", r.Code)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func codes(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Code)
	}
	return out
}

func TestCleanEntriesHitNothing(t *testing.T) {
	e := mustCompile(t, Default())
	for name, entry := range map[string]any{
		"expense":  approved(expense(10_000_000)),
		"contract": contract("2026-01-01", "2035-12-31", 1_000_000, 80, tender),
		"sale":     dispose(sale, 6_000_000, 6_000_000),
	} {
		if hits := run(t, e, entry); len(hits) != 0 {
			t.Errorf("%s: hits %v", name, codes(hits))
		}
	}
}

// TestHelpers evaluates each expression as a rule over an empty transaction;
// it must fire (be true).
func TestHelpers(t *testing.T) {
	person := personID(t)
	for _, expr := range []string{
		`days_between("2026-01-31", "2026-02-01") == 1`,
		`days_between("2026-02-28", "2026-03-01") == 1`,
		`days_between("2024-02-28", "2024-03-01") == 2`,
		`days_between("2025-12-31", "2026-01-01") == 1`,
		`days_between("2026-03-01", "2026-02-01") == -28`,
		`days_between("2026-01-01", "2026-01-01") == 0`,
		`years_between("2026-01-01", "2046-01-01") == 20.0`,
		`years_between("2024-02-29", "2044-02-29") == 20.0`,
		`years_between("2026-01-01", "2046-01-02") > 20.0`,
		`years_between("2026-01-01", "2045-12-31") < 20.0`,
		`years_between("2025-01-01", "2025-07-02") > 0.498 && years_between("2025-01-01", "2025-07-02") < 0.499`,
		`years_between("2046-01-01", "2026-01-01") == -20.0`,
		`add_days("2026-01-31", 1) == "2026-02-01"`,
		`add_days("2024-02-28", 1) == "2024-02-29"`,
		`add_days("2026-03-01", -1) == "2026-02-28"`,
		`is_round(1000000, 1000000)`,
		`is_round(0, 100)`,
		`!is_round(1000001, 1000000)`,
		`is_resident_id("` + person + `")`,
		`!is_resident_id("` + creditCode + `")`,
		`!is_resident_id("")`,
		`params.n == 7`,
		`tx.counterparty.id_number == ""`,
		`tx.kind == TransactionKind.TRANSACTION_KIND_UNSPECIFIED`,
	} {
		t.Run(expr, func(t *testing.T) {
			e := mustCompile(t, RuleSet{Version: "t", Rules: []Rule{rule("H", expr)}})
			hits, err := e.CheckTransaction(&sanziv1.Transaction{}, TxFacts{})
			if err != nil || len(hits) != 1 {
				t.Fatalf("hits %v, err %v", codes(hits), err)
			}
		})
	}
}

func TestHelperErrors(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`days_between("2026-02-30", "2026-03-01") == 1`, `days_between: "2026-02-30" is not a date`},
		{`years_between("2026-01-01", "2046/01/01") > 20.0`, `years_between: "2046/01/01" is not a date`},
		{`add_days("2026-13-01", 1) == ""`, `add_days("2026-13-01", 1)`},
		{`is_round(100, 0)`, "unit_fen 0 must be greater than 0"},
		{`params.missing == 1`, "missing"},
	} {
		t.Run(c.expr, func(t *testing.T) {
			e := mustCompile(t, RuleSet{Version: "t", Rules: []Rule{rule("BAD-DATE", c.expr), rule("OK", "true")}})
			hits, err := e.CheckTransaction(&sanziv1.Transaction{}, TxFacts{})
			if err == nil || !strings.Contains(err.Error(), "rule BAD-DATE") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming BAD-DATE and %q", err, c.want)
			}
			if len(hits) != 1 || hits[0].Code != "OK" {
				t.Errorf("a broken rule hid another's hit: %v", codes(hits))
			}
		})
	}
}

// rule is a minimal valid transaction rule.
func rule(code, expr string) Rule {
	return Rule{Code: code, Severity: SeverityYellow, Action: ActionWarn, Applies: []string{KindTransaction},
		Expr: expr, Reason: "测试", Params: map[string]int64{"n": 7}}
}

func TestCompileRejects(t *testing.T) {
	mod := func(f func(*Rule)) []Rule {
		r := rule("R-1", "tx.amount_fen > params.n")
		f(&r)
		return []Rule{rule("OK", "true"), r}
	}
	cases := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"non-bool expression", mod(func(r *Rule) { r.Expr = "tx.amount_fen + 1" }), "returns int, must return bool"},
		{"syntax error", mod(func(r *Rule) { r.Expr = "tx.amount_fen >" }), "Syntax error"},
		{"unknown field", mod(func(r *Rule) { r.Expr = "tx.amount > 1" }), "undefined field 'amount'"},
		{"variable of another kind", mod(func(r *Rule) { r.Expr = "contract.annual_amount_fen > 1" }), "undeclared reference to 'contract'"},
		{"unknown applies kind", mod(func(r *Rule) { r.Applies = []string{"invoice"} }), `unknown entry kind "invoice"`},
		{"empty applies", mod(func(r *Rule) { r.Applies = nil }), "applies is empty"},
		{"duplicate code", append(mod(func(*Rule) {}), rule("R-1", "true")), "duplicate code"},
		{"empty reason", mod(func(r *Rule) { r.Reason = " " }), "reason is required"},
		{"bad severity", mod(func(r *Rule) { r.Severity = "orange" }), `severity "orange"`},
		{"bad action", mod(func(r *Rule) { r.Action = "refuse" }), `action "refuse"`},
		{"reason names no param", mod(func(r *Rule) { r.Reason = "超过{limit_yuan}元" }), "{limit_yuan}"},
		{"negative param", mod(func(r *Rule) { r.Params = map[string]int64{"n": -1} }), "never negative"},
		{"bad param name", mod(func(r *Rule) { r.Params = map[string]int64{"Max-Fen": 1} }), `param "Max-Fen"`},
		{"kind only one of two applies", mod(func(r *Rule) { r.Applies = []string{KindTransaction, KindContractPayment} }), "(as contract_payment)"},
		{"exprs for a kind not applied", mod(func(r *Rule) { r.Exprs = map[string]string{KindVoucher: "true"} }), "exprs: voucher is not a kind"},
		{"exprs of the wrong kind's variables", mod(func(r *Rule) {
			r.Applies, r.Exprs = []string{KindTransaction, KindVoucher}, map[string]string{KindVoucher: "tx.amount_fen > 1"}
		}), "undeclared reference to 'tx'"},
		{"voucher without its own expr", mod(func(r *Rule) { r.Applies = []string{KindTransaction, KindVoucher} }), "(as voucher)"},
		{"empty expr", mod(func(r *Rule) { r.Expr = " " }), "is empty"},
		{"stateful with exprs", mod(func(r *Rule) {
			r.Stateful, r.Applies, r.Expr, r.Exprs = true, nil, "", map[string]string{KindVoucher: "true"}
		}), "a stateful rule is Go code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compile(RuleSet{Version: "v9", Rules: c.rules})
			if err == nil {
				t.Fatal("compiled")
			}
			code := c.rules[len(c.rules)-1].Code
			if msg := err.Error(); !strings.Contains(msg, "rule "+code+":") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not name rule %s and %q", msg, code, c.want)
			}
		})
	}
	if _, err := Compile(RuleSet{Version: "v9", Rules: []Rule{rule("A", "true"), rule("B", "tx.amount_fen > params.n")}}); err != nil {
		t.Errorf("valid set refused: %v", err)
	}
}

func TestReasonSubstitution(t *testing.T) {
	e := mustCompile(t, Default())
	hits := run(t, e, expense(120_000, cash))
	if h := find(hits, "CASH-PAY"); h == nil || h.Reason != "现金支付超过结算起点1,000元，应通过银行转账或村务卡支付" {
		t.Errorf("CASH-PAY reason: %+v", h)
	}
	r := rule("SUB", "true")
	r.Reason = "{limit_yuan}元/{limit_fen}分/{days}天/{big_yuan}元"
	r.Params = map[string]int64{"limit_fen": 12_345, "days": 30, "big_fen": 123_456_700}
	hits = run(t, mustCompile(t, RuleSet{Version: "t", Rules: []Rule{r}}), expense(1))
	if want := "123.45元/12345分/30天/1,234,567元"; len(hits) != 1 || hits[0].Reason != want {
		t.Errorf("reason = %v, want %q", hits, want)
	}
	for _, r := range Default().Rules {
		if strings.ContainsAny(hitReason(t, r), "{}") {
			t.Errorf("%s: placeholder left in reason", r.Code)
		}
	}
}

func hitReason(t *testing.T, r Rule) string {
	s, err := substitute(r.Reason, r.Params)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEvidence(t *testing.T) {
	e := mustCompile(t, Default())
	hits := run(t, e, expense(120_000, cash))
	h := find(hits, "CASH-PAY")
	if h == nil {
		t.Fatalf("no CASH-PAY hit: %v", codes(hits))
	}
	want := map[string]string{
		"kind": "TRANSACTION_KIND_EXPENSE", "amount_fen": "120000", "payment_method": "PAYMENT_METHOD_CASH",
		"business_date": "2026-03-15", "category": "管理费用", "budget_line": "", "invoice_number": "12345678",
		"attachments": "2", "counterparty_name": "某某建材有限公司", "counterparty_is_person": "false",
		"resolution_procedure_id": "", "resolution_approved": "false", "cash_limit_fen": "100000",
	}
	if !reflect.DeepEqual(h.Evidence, want) {
		t.Errorf("evidence\n got %v\nwant %v", h.Evidence, want)
	}
	if h.Severity != SeverityRed || h.Action != ActionBlock || h.RuleSetVersion != "default-1" {
		t.Errorf("hit %+v", h)
	}

	hits = run(t, e, contract("2026-01-01", "2046-01-01", 100_000, 12.5, negotiated))
	if h := find(hits, "LEASE-20Y"); h == nil || h.Evidence["term_years"] != "20.0027" ||
		h.Evidence["total_value_fen"] != "2000274" || h.Evidence["object_area_mu"] != "12.5" ||
		h.Evidence["award_method"] != "AWARD_METHOD_NEGOTIATED" || h.Evidence["max_term_years"] != "20" {
		t.Errorf("LEASE-20Y evidence: %+v", h)
	}
	hits = run(t, e, dispose(sale, 999_999, 1_000_000))
	if h := find(hits, "UNDERPRICE"); h == nil || h.Evidence["price_fen"] != "999999" ||
		h.Evidence["appraised_value_fen"] != "1000000" || h.Evidence["method"] != "DISPOSAL_METHOD_SALE" {
		t.Errorf("UNDERPRICE evidence: %+v", h)
	}

	// Rules firing together each show the entry's figures and their own
	// params, in maps of their own (the figures are read once, when the
	// first rule fires).
	two := []Rule{rule("ONE", "true"), rule("TWO", "tx.amount_fen > params.floor_fen")}
	two[0].Params, two[1].Params = map[string]int64{"one_fen": 1}, map[string]int64{"floor_fen": 2}
	hits = run(t, mustCompile(t, RuleSet{Version: "t", Rules: two}), expense(77))
	if len(hits) != 2 {
		t.Fatalf("hits %v, want ONE and TWO", codes(hits))
	}
	hits[0].Evidence["amount_fen"] = "changed"
	if ev := hits[1].Evidence; ev["amount_fen"] != "77" || ev["floor_fen"] != "2" || ev["one_fen"] != "" || hits[0].Evidence["one_fen"] != "1" {
		t.Errorf("evidence of two hits: %v and %v", hits[0].Evidence, ev)
	}

	// A param named like an entry figure must not hide the figure.
	r := rule("CLASH", "true")
	r.Params = map[string]int64{"amount_fen": 5}
	hits = run(t, mustCompile(t, RuleSet{Version: "t", Rules: []Rule{r}}), expense(77))
	if ev := hits[0].Evidence; ev["amount_fen"] != "77" || ev["params.amount_fen"] != "5" {
		t.Errorf("clash evidence: %v", ev)
	}
}

func TestBlocking(t *testing.T) {
	e := mustCompile(t, Default())
	person := personID(t)
	// Cash to a person without voucher, works, big: CASH-PAY, NO-INVOICE,
	// BIG-SPEND block; TENDER warns.
	hits := run(t, e, expense(20_000_000, cash, noInvoice, func(t *sanziv1.Transaction) {
		t.Category, t.Counterparty.IdNumber = "工程支出", person
	}))
	if got, want := codes(hits), []string{"CASH-PAY", "NO-INVOICE", "BIG-SPEND", "TENDER"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("hits %v, want %v", got, want)
	}
	if got, want := codes(Blocking(hits)), []string{"CASH-PAY", "NO-INVOICE", "BIG-SPEND"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Blocking = %v, want %v", got, want)
	}
	if b := Blocking(run(t, e, expense(100_001, func(t *sanziv1.Transaction) { t.Counterparty.IdNumber = person }))); len(b) != 0 {
		t.Errorf("a warning blocked: %v", codes(b))
	}
	if Blocking(nil) != nil {
		t.Error("Blocking(nil) != nil")
	}
}

func TestCheckErrors(t *testing.T) {
	e := mustCompile(t, Default())
	if _, err := e.CheckTransaction(nil, TxFacts{}); err == nil {
		t.Error("nil transaction accepted")
	}
	if _, err := e.CheckAssetDisposal(nil, 0); err == nil {
		t.Error("nil disposal accepted")
	}
	_, err := e.CheckContract(contract("2026-1-1", "2030-12-31", 1, 1, tender))
	if err == nil || !strings.Contains(err.Error(), "rule LEASE-20Y") || !strings.Contains(err.Error(), `"2026-1-1"`) {
		t.Errorf("bad date: %v", err)
	}
	// Kinds without default rules check cleanly.
	if h, err := e.CheckContractPayment(&sanziv1.ContractPayment{AmountFen: 1}); err != nil || h != nil {
		t.Errorf("payment: %v %v", h, err)
	}
	if h, err := e.CheckAssetAppraisal(&sanziv1.AssetAppraisal{}); err != nil || h != nil {
		t.Errorf("appraisal: %v %v", h, err)
	}
	if h, err := e.CheckAssetRegistration(&sanziv1.AssetRegistration{}); err != nil || h != nil {
		t.Errorf("registration: %v %v", h, err)
	}
}

func TestOtherKinds(t *testing.T) {
	rs := RuleSet{Version: "k", Rules: []Rule{
		{Code: "PAY-CASH", Severity: SeverityYellow, Action: ActionWarn, Applies: []string{KindContractPayment},
			Expr:   `payment.payment_method == PaymentMethod.PAYMENT_METHOD_CASH && payment.amount_fen > params.n`,
			Reason: "现金收取超过{n_yuan}元", Params: map[string]int64{"n_fen": 0, "n": 100}},
		{Code: "LOW-APPRAISAL", Severity: SeverityInfo, Action: ActionWarn, Applies: []string{KindAssetAppraisal},
			Expr: `appraisal.appraised_value_fen < params.n`, Reason: "评估价偏低", Params: map[string]int64{"n": 100}},
		{Code: "ROUND-ASSET", Severity: SeverityInfo, Action: ActionWarn, Applies: []string{KindAssetRegistration},
			Expr: `is_round(asset.original_value_fen, 1000000)`, Reason: "原值为整万元"},
	}}
	e := mustCompile(t, rs)
	h, err := e.CheckContractPayment(&sanziv1.ContractPayment{AmountFen: 101, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH})
	if err != nil || len(h) != 1 || h[0].Evidence["amount_fen"] != "101" || h[0].Reason != "现金收取超过0元" {
		t.Errorf("payment: %+v %v", h, err)
	}
	if h, err = e.CheckAssetAppraisal(&sanziv1.AssetAppraisal{AppraisedValueFen: 99}); err != nil || len(h) != 1 {
		t.Errorf("appraisal: %+v %v", h, err)
	}
	if h, err = e.CheckAssetRegistration(&sanziv1.AssetRegistration{OriginalValueFen: 3_000_000}); err != nil || len(h) != 1 ||
		h[0].Evidence["original_value_fen"] != "3000000" {
		t.Errorf("registration: %+v %v", h, err)
	}
}

func TestCompileRejectsEmptyVersion(t *testing.T) {
	if _, err := Compile(RuleSet{Rules: []Rule{rule("A", "true")}}); err == nil || !strings.Contains(err.Error(), "version is required") {
		t.Errorf("err = %v", err)
	}
}

func TestDaysBetweenFarApart(t *testing.T) {
	e := mustCompile(t, RuleSet{Version: "t", Rules: []Rule{rule("FAR", `days_between("1900-01-01", "2300-01-01") == 146097`)}})
	if hits, err := e.CheckTransaction(&sanziv1.Transaction{}, TxFacts{}); err != nil || len(hits) != 1 {
		t.Errorf("hits %v, err %v", codes(hits), err)
	}
}

// TestCostLimit: a rule whose cost grows with the entry is stopped at
// costLimit with an error naming it, and the other rules still decide; a
// rule whose cost CEL bounds below the limit for every entry is
// evaluated without counting it (costOptions), and decides as before.
func TestCostLimit(t *testing.T) {
	cubic := rule("CUBIC", `tx.attachments.all(a, tx.attachments.all(b, tx.attachments.all(c, a != "")))`)
	bounded := rule("BOUNDED", `tx.amount_fen > params.n && tx.invoice_number != ""`)
	e := mustCompile(t, RuleSet{Version: "t", Rules: []Rule{cubic, bounded}})
	if len(costOptionsFor(t, cubic)) == 0 || len(costOptionsFor(t, bounded)) != 0 {
		t.Errorf("CUBIC metered: %v, BOUNDED metered: %v; want CUBIC only", len(costOptionsFor(t, cubic)) > 0, len(costOptionsFor(t, bounded)) > 0)
	}
	withAttachments := func(n int) txOpt {
		return func(t *sanziv1.Transaction) { t.Attachments = slices.Repeat([]string{hashA}, n) }
	}
	few := expense(8, withAttachments(3))
	hits, err := e.CheckTransaction(few, TxFacts{})
	if err != nil || !reflect.DeepEqual(codes(hits), []string{"CUBIC", "BOUNDED"}) {
		t.Errorf("3 attachments: hits %v, %v; want CUBIC and BOUNDED", codes(hits), err)
	}
	many := expense(8, withAttachments(60)) // 216,000 steps
	hits, err = e.CheckTransaction(many, TxFacts{})
	if err == nil || !strings.Contains(err.Error(), "rule CUBIC") || !strings.Contains(err.Error(), "cost") {
		t.Errorf("60 attachments: %v, want CUBIC stopped at the cost limit", err)
	}
	if !reflect.DeepEqual(codes(hits), []string{"BOUNDED"}) {
		t.Errorf("60 attachments: hits %v, want BOUNDED", codes(hits))
	}
}

// costOptionsFor compiles r's transaction expression and returns the
// program options costOptions gives it.
func costOptionsFor(t *testing.T, r Rule) []cel.ProgramOption {
	t.Helper()
	envs, err := kindEnvs()
	if err != nil {
		t.Fatal(err)
	}
	ast, iss := envs[KindTransaction].Compile(r.Expr)
	if iss.Err() != nil {
		t.Fatal(iss.Err())
	}
	return costOptions(envs[KindTransaction], ast)
}
