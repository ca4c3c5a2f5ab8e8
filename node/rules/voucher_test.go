package rules

import (
	"strings"
	"testing"

	"github.com/google/cel-go/interpreter"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// vouched is a voucher with the facts the books would pass with it.
type vouched struct {
	v     *sanziv1.Voucher
	facts VoucherFacts
}

func dr(account string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: account, DebitFen: fen}
}

func cr(account string, fen int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: account, CreditFen: fen}
}

// hand is a voucher entered by hand, facts as the books find them.
func hand(lines ...*sanziv1.VoucherLine) vouched {
	return vouched{v: &sanziv1.Voucher{Org: "350102001001", BusinessDate: "2026-03-15", Summary: "手工凭证", Lines: lines}}
}

// derived is the voucher the books derive from a record of source (kind
// for a transaction).
func derived(source string, kind sanziv1.TransactionKind, lines ...*sanziv1.VoucherLine) vouched {
	v := hand(lines...)
	v.v.SourceEntryId = "350102001001-7"
	v.facts = VoucherFacts{Source: source, SourceKind: kind}
	return v
}

func (v vouched) with(f func(*vouched)) vouched { f(&v); return v }

// subCashChart is the national chart with a district sub-account of 库存现金.
func subCashChart(t *testing.T) *chart.Chart {
	t.Helper()
	c := chart.National()
	c.Accounts = append(c.Accounts, &sanziv1.LedgerAccount{Code: "10101", Name: "库存现金-村委会",
		Class: sanziv1.AccountClass_ACCOUNT_CLASS_ASSET, Side: sanziv1.BalanceSide_BALANCE_SIDE_DEBIT, Parent: "101"})
	for _, m := range c.Mappings { // vouchers post to leaves only
		if m.DebitAccount == "101" {
			m.DebitAccount = "10101"
		}
		if m.CreditAccount == "101" {
			m.CreditAccount = "10101"
		}
	}
	ch, err := chart.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// voucherCases are TestDefaultRules' cases for vouchers.
func voucherCases(t *testing.T) []struct {
	code   string
	name   string
	rs     *RuleSet
	entry  any
	fires  bool
	others []string
} {
	exp, inc := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	sub := subCashChart(t)
	type c = struct {
		code   string
		name   string
		rs     *RuleSet
		entry  any
		fires  bool
		others []string
	}
	return []c{
		// CASH-PAY on hand vouchers: a 库存现金 credit line above the limit
		// paid to anything but cash or bank.
		{"CASH-PAY", "hand voucher one fen over", nil, hand(dr("531", 100_001), cr("101", 100_001)), true, nil},
		{"CASH-PAY", "hand voucher exactly at the limit", nil, hand(dr("531", 100_000), cr("101", 100_000)), false, nil},
		{"CASH-PAY", "two cash lines each under the limit", nil, hand(dr("531", 180_000), cr("101", 90_000), cr("101", 90_000)), false, nil},
		{"CASH-PAY", "a district sub-account of cash", nil, hand(dr("112", 200_000), cr("10101", 200_000)).with(func(v *vouched) {
			v.facts.Chart = sub
		}), true, nil},
		{"CASH-PAY", "cash banked is no payment", nil, hand(dr("102", 900_000), cr("101", 900_000)), false, nil},
		{"CASH-PAY", "bank payment", nil, hand(dr("531", 900_000), cr("102", 900_000)), false, nil},
		{"CASH-PAY", "derived: its transaction was checked", nil, derived(KindTransaction, exp, dr("531", 900_000), cr("101", 900_000)), false, nil},
		{"CASH-PAY", "derived, checked before its source has an id", nil, derived(KindTransaction, exp, dr("531", 900_000), cr("101", 900_000)).with(func(v *vouched) {
			v.v.SourceEntryId = ""
		}), false, nil},
		{"CASH-PAY", "derived, facts not passed", nil, derived(KindTransaction, exp, dr("531", 900_000), cr("101", 900_000)).with(func(v *vouched) {
			v.facts = VoucherFacts{}
		}), false, nil},
		{"CASH-PAY", "opening balances", nil, hand(dr("101", 900_000), cr("301", 900_000)).with(func(v *vouched) {
			v.v.Opening = true
		}), false, nil},
		{"CASH-PAY", "red-ink reversal of a cash payment", nil, hand(dr("531", -900_000), cr("101", -900_000)).with(func(v *vouched) {
			v.v.ReversesVoucherId = "350102001001-9"
		}), false, nil},
		{"CASH-PAY", "under a raised limit", ptr(withParams("CASH-PAY", map[string]int64{"cash_limit_fen": 200_000})),
			hand(dr("531", 150_000), cr("101", 150_000)), false, nil},
		{"CASH-PAY", "over a lowered limit", ptr(withParams("CASH-PAY", map[string]int64{"cash_limit_fen": 50_000})),
			hand(dr("531", 50_001), cr("101", 50_001)), true, nil},

		// BIG-SPEND on hand vouchers: net outflow ≥ 50,000 yuan to an
		// expense or cost account with no approved resolution.
		{"BIG-SPEND", "hand voucher exactly 50,000 yuan", nil, hand(dr("531", 5_000_000), cr("102", 5_000_000)), true, nil},
		{"BIG-SPEND", "hand voucher one fen under", nil, hand(dr("531", 4_999_999), cr("102", 4_999_999)), false, nil},
		{"BIG-SPEND", "cash and bank together", nil, hand(dr("401", 5_000_000), cr("102", 4_900_000), cr("101", 100_000)), true, nil},
		{"BIG-SPEND", "approved resolution", nil, hand(dr("531", 5_000_000), cr("102", 5_000_000)).with(func(v *vouched) {
			v.facts.ResolutionApproved = true
		}), false, nil},
		{"BIG-SPEND", "paying a payable is no expense", nil, hand(dr("211", 9_000_000), cr("102", 9_000_000)), false, nil},
		{"BIG-SPEND", "an expense accrued, no money out", nil, hand(dr("531", 9_000_000), cr("211", 9_000_000)), false, nil},
		{"BIG-SPEND", "derived: its transaction was checked", nil, derived(KindTransaction, exp, dr("531", 9_000_000), cr("102", 9_000_000)), false, nil},
		{"BIG-SPEND", "at a district threshold of 20,000 yuan", ptr(withParams("BIG-SPEND", map[string]int64{"big_spend_fen": 2_000_000})),
			hand(dr("532", 2_000_000), cr("102", 2_000_000)), true, nil},
		{"BIG-SPEND", "red-ink reversal", nil, hand(dr("531", -9_000_000), cr("102", -9_000_000)), false, nil},

		// WRONG-ACCOUNT: a payment booked to an account of the wrong kind.
		{"WRONG-ACCOUNT", "expense debited to an income account", nil, derived(KindTransaction, exp, dr("501", 30_000), cr("102", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "expense debited to an expense account", nil, derived(KindTransaction, exp, dr("531", 30_000), cr("102", 30_000)), false, nil},
		{"WRONG-ACCOUNT", "expense repaying a payable", nil, derived(KindTransaction, exp, dr("211", 30_000), cr("102", 30_000)), false, nil},
		{"WRONG-ACCOUNT", "income credited to an expense account", nil, derived(KindTransaction, inc, dr("102", 30_000), cr("502", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "income credited to a cost account", nil, derived(KindTransaction, inc, dr("101", 30_000), cr("401", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "income credited to an income account", nil, derived(KindTransaction, inc, dr("102", 30_000), cr("501", 30_000)), false, nil},
		{"WRONG-ACCOUNT", "income collecting a receivable", nil, derived(KindTransaction, inc, dr("102", 30_000), cr("112", 30_000)), false, nil},
		{"WRONG-ACCOUNT", "contract payment credited to an expense account", nil,
			derived(KindContractPayment, 0, dr("102", 30_000), cr("533", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "hand: money out debited to income", nil, hand(dr("501", 30_000), cr("101", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "hand: money in credited to an expense", nil, hand(dr("102", 30_000), cr("531", 30_000)), true, nil},
		{"WRONG-ACCOUNT", "hand: year-end carry-forward", nil, hand(dr("501", 30_000), cr("321", 30_000)), false, nil},
		{"WRONG-ACCOUNT", "hand: red-ink reversal of a wrong one", nil, hand(dr("501", -30_000), cr("101", -30_000)).with(func(v *vouched) {
			v.v.ReversesVoucherId = "350102001001-9"
		}), false, nil},
	}
}

func TestAccountRole(t *testing.T) {
	sub := subCashChart(t)
	for _, tc := range []struct {
		c    *chart.Chart
		code string
		want string
	}{
		{nil, "101", RoleCash}, {sub, "10101", RoleCash}, {nil, "102", RoleBank}, {nil, "112", RoleAsset},
		{nil, "152", RoleAsset}, {nil, "211", RoleLiability}, {nil, "321", RoleEquity}, {nil, "401", RoleCost},
		{nil, "501", RoleIncome}, {nil, "521", RoleIncome}, {nil, "502", RoleExpense}, {nil, "541", RoleExpense},
		{nil, "10101", RoleUnknown}, {nil, "999", RoleUnknown},
	} {
		if got := AccountRole(tc.c, tc.code); got != tc.want {
			t.Errorf("AccountRole(%s) = %s, want %s", tc.code, got, tc.want)
		}
	}
}

func TestVoucherEvidence(t *testing.T) {
	e := mustCompile(t, Default())
	h := find(run(t, e, hand(dr("531", 5_000_000), cr("102", 4_800_000), cr("101", 200_000))), "BIG-SPEND")
	if h == nil {
		t.Fatal("BIG-SPEND did not fire")
	}
	for k, want := range map[string]string{
		"money_out_fen": "5000000", "money_in_fen": "0", "max_cash_credit_fen": "200000", "lines": "3",
		"source": "", "source_kind": "TRANSACTION_KIND_UNSPECIFIED", "resolution_approved": "false",
		"big_spend_fen": "5000000", "business_date": "2026-03-15", "opening": "false",
	} {
		if h.Evidence[k] != want {
			t.Errorf("evidence %s = %q, want %q", k, h.Evidence[k], want)
		}
	}
	if h.RuleSetVersion != Default().Version || h.Action != ActionWarn || h.Severity != SeverityRed {
		t.Errorf("hit %+v: want a red warning (a hand voucher cannot name its resolution)", h)
	}
	if _, err := e.CheckVoucher(nil, VoucherFacts{}); err == nil {
		t.Error("a nil voucher was checked")
	}
}

// A rule that reads vouchers keeps the floor: a town may make the
// voucher's threshold stricter (one param serves both kinds), never change
// its voucher expression.
func TestFloorHoldsForVoucherExprs(t *testing.T) {
	local := Default()
	for i := range local.Rules {
		if local.Rules[i].Code == "CASH-PAY" {
			local.Rules[i].Exprs = map[string]string{KindVoucher: "false"}
		}
	}
	vs := CheckFloor(Default(), local)
	if len(vs) != 1 || vs[0].Field != "rules[CASH-PAY].expr" {
		t.Fatalf("violations %v, want rules[CASH-PAY].expr", vs)
	}
	m := MergeFloor(Default(), local)
	e := mustCompile(t, m)
	if find(run(t, e, hand(dr("531", 100_001), cr("101", 100_001))), "CASH-PAY") == nil {
		t.Error("the merged set lost the district's voucher expression")
	}
	local = withParams("CASH-PAY", map[string]int64{"cash_limit_fen": 50_000})
	local.Version = "town-1"
	if vs := CheckFloor(Default(), local); len(vs) != 0 {
		t.Fatalf("a stricter limit is refused: %v", vs)
	}
	e = mustCompile(t, MergeFloor(Default(), local))
	if find(run(t, e, hand(dr("531", 60_000), cr("101", 60_000))), "CASH-PAY") == nil {
		t.Error("the town's stricter limit does not reach its vouchers")
	}
}

func TestDerivedFacts(t *testing.T) {
	exp := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	for _, tc := range []struct {
		m      proto.Message
		source string
		kind   sanziv1.TransactionKind
	}{
		{&sanziv1.Transaction{Kind: exp}, KindTransaction, exp},
		{&sanziv1.ContractPayment{}, KindContractPayment, 0},
		{&sanziv1.AssetDisposal{}, KindAssetDisposal, 0},
		{&sanziv1.Voucher{}, "", 0},
	} {
		f := DerivedFacts(nil, tc.m)
		if f.Source != tc.source || f.SourceKind != tc.kind || f.ResolutionApproved {
			t.Errorf("DerivedFacts(%T) = %+v, want %s %s", tc.m, f, tc.source, tc.kind)
		}
	}
	// What the books pass for an expense whose category names an income
	// account: WRONG-ACCOUNT warns, CASH-PAY leaves it to the transaction.
	e := mustCompile(t, Default())
	v := hand(dr("501", 900_000), cr("101", 900_000)).v
	v.SourceEntryId = "350102001001-7"
	hits, err := e.CheckVoucher(v, DerivedFacts(nil, &sanziv1.Transaction{Kind: exp}))
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(hits); len(got) != 1 || got[0] != "WRONG-ACCOUNT" {
		t.Errorf("hits %v, want WRONG-ACCOUNT only", got)
	}
}

// BIG-SPEND's action on a hand voucher is the district's to set (Actions),
// apart from its action on a transaction; a town may make either stricter,
// never weaker.
func TestActionPerKind(t *testing.T) {
	big := hand(dr("531", 5_000_000), cr("102", 5_000_000))
	action := func(rs RuleSet) Action {
		t.Helper()
		h := find(run(t, mustCompile(t, rs), big), "BIG-SPEND")
		if h == nil {
			t.Fatal("BIG-SPEND did not fire")
		}
		return h.Action
	}
	setActions := func(rs RuleSet, a map[string]Action) RuleSet {
		for i := range rs.Rules {
			if rs.Rules[i].Code == "BIG-SPEND" {
				rs.Rules[i].Actions = a
			}
		}
		return rs
	}
	if a := action(Default()); a != ActionWarn {
		t.Errorf("default action on a hand voucher %s, want warn", a)
	}
	if h := find(run(t, mustCompile(t, Default()), expense(5_000_000)), "BIG-SPEND"); h == nil || h.Action != ActionBlock {
		t.Errorf("default action on a transaction %+v, want block", h)
	}
	blocking := setActions(Default(), map[string]Action{KindVoucher: ActionBlock})
	blocking.Version = "town-1"
	if a := action(blocking); a != ActionBlock {
		t.Errorf("a district's block on hand vouchers gave %s", a)
	}
	if vs := CheckFloor(Default(), blocking); len(vs) != 0 {
		t.Errorf("blocking hand vouchers is stricter, refused: %v", vs)
	}
	if a := action(MergeFloor(Default(), blocking)); a != ActionBlock {
		t.Errorf("merged over the floor: %s, want the town's block", a)
	}
	if a := action(MergeFloor(blocking, Default())); a != ActionBlock {
		t.Errorf("a village under a blocking floor: %s, want block", a)
	}
	if vs := CheckFloor(blocking, Default()); len(vs) != 1 || vs[0].Field != "rules[BIG-SPEND].actions.voucher" {
		t.Errorf("a village warning under a blocking floor: %v, want rules[BIG-SPEND].actions.voucher", vs)
	}
	weak := setActions(Default(), map[string]Action{KindVoucher: ActionWarn, KindTransaction: ActionWarn})
	if vs := CheckFloor(Default(), weak); len(vs) != 1 || vs[0].Field != "rules[BIG-SPEND].actions.transaction" {
		t.Errorf("warning on transactions: %v, want rules[BIG-SPEND].actions.transaction", vs)
	}
	if h := find(run(t, mustCompile(t, MergeFloor(Default(), weak)), expense(5_000_000)), "BIG-SPEND"); h == nil || h.Action != ActionBlock {
		t.Errorf("merged: the floor's block on transactions lost: %+v", h)
	}
	for _, bad := range []map[string]Action{{KindContract: ActionWarn}, {KindVoucher: "refuse"}} {
		if _, err := Compile(setActions(Default(), bad)); err == nil {
			t.Errorf("actions %v compiled", bad)
		}
	}
}

func TestCleanVouchersHitNothing(t *testing.T) {
	e := mustCompile(t, Default())
	exp := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE
	for name, v := range map[string]vouched{
		"office costs by bank":     hand(dr("531", 4_000_000), cr("102", 4_000_000)),
		"petty cash under a limit": hand(dr("531", 100_000), cr("101", 100_000)),
		"cash drawn from the bank": hand(dr("101", 300_000), cr("102", 300_000)),
		"rent received":            hand(dr("102", 2_000_000), cr("501", 2_000_000)),
		"depreciation":             hand(dr("531", 50_000), cr("152", 50_000)),
		"year-end carry-forward":   hand(dr("501", 9_000_000), cr("321", 9_000_000)),
		"a derived cash expense":   derived(KindTransaction, exp, dr("531", 9_000_000), cr("101", 9_000_000)),
	} {
		if hits := run(t, e, v); len(hits) != 0 {
			t.Errorf("%s: hits %v", name, codes(hits))
		}
	}
}

// TestVoucherCostLimit: a voucher rule whose cost grows with the lines is
// evaluated unmetered on a voucher short enough that CEL's estimate keeps
// it under costLimit (compiled.small), and metered on a longer one, which
// is stopped at the limit with an error naming the rule; the default
// rules check a derived voucher (two lines) unmetered and decide as the
// metered program does.
func TestVoucherCostLimit(t *testing.T) {
	quad := Rule{Code: "QUAD", Severity: SeverityYellow, Applies: []string{KindVoucher}, Reason: "借贷同额", Action: ActionWarn,
		Expr: `voucher.lines.exists(a, voucher.lines.exists(b, a.debit_fen > 0 && b.credit_fen == a.debit_fen))`}
	e := mustCompile(t, RuleSet{Version: "t", Rules: []Rule{quad}})
	c := e.byKind[KindVoucher][0]
	if c.small == nil || c.smallLines < 2 || c.smallLines >= voucher.MaxLines {
		t.Fatalf("QUAD: small %v, smallLines %d; want unmetered up to some lines below %d", c.small != nil, c.smallLines, voucher.MaxLines)
	}
	lines := func(n int, match bool) vouched {
		ls := make([]*sanziv1.VoucherLine, n)
		for i := range ls {
			ls[i] = dr("501", 1) // no credit ever equals a debit: every pair is visited
		}
		if match {
			ls[n-1] = cr("101", 1)
		}
		return hand(ls...)
	}
	for _, tc := range []struct {
		name     string
		v        vouched
		hit, err bool
	}{
		{"2 lines, matching", lines(2, true), true, false},
		{"smallLines lines, none matching", lines(c.smallLines, false), false, false},
		{"smallLines lines, the last matching", lines(c.smallLines, true), true, false},
		{"1,000 lines", lines(1000, false), false, true},
	} {
		hits, err := e.CheckVoucher(tc.v.v, tc.v.facts)
		if (err != nil) != tc.err || tc.err && (!strings.Contains(err.Error(), "rule QUAD") || !strings.Contains(err.Error(), "cost")) {
			t.Errorf("%s: err %v, want error %v (at the cost limit)", tc.name, err, tc.err)
		}
		if (len(hits) == 1) != tc.hit {
			t.Errorf("%s: hits %v, want hit %v", tc.name, codes(hits), tc.hit)
		}
	}

	d := mustCompile(t, Default())
	for _, c := range d.byKind[KindVoucher] {
		if c.small == nil || c.smallLines < 2 {
			t.Errorf("%s: small %v, smallLines %d: a derived voucher is metered", c.rule.Code, c.small != nil, c.smallLines)
			continue
		}
		for _, v := range []vouched{
			hand(dr("531", 100_001), cr("101", 100_001)),
			hand(dr("501", 900_000), cr("101", 900_000)),
			derived(KindTransaction, sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, dr("531", 100_001), cr("102", 100_001)),
		} {
			vars := map[string]any{"voucher": v.v, "roles": map[string]string{"531": AccountRole(nil, "531"), "501": AccountRole(nil, "501"),
				"101": AccountRole(nil, "101"), "102": AccountRole(nil, "102")}, "money_out_fen": int64(100_001), "money_in_fen": int64(0),
				"source": v.facts.Source, "source_kind": int64(v.facts.SourceKind), "resolution_approved": false}
			act, err := interpreter.NewActivation(vars)
			if err != nil {
				t.Fatal(err)
			}
			metered, _, err1 := c.prg.Eval(interpreter.NewHierarchicalActivation(act, c.params))
			free, _, err2 := c.small.Eval(interpreter.NewHierarchicalActivation(act, c.params))
			if err1 != nil || err2 != nil || metered.Value() != free.Value() {
				t.Errorf("%s on %v: metered %v (%v), unmetered %v (%v)", c.rule.Code, v.v.GetLines(), metered, err1, free, err2)
			}
		}
	}
}
