package books_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// subChart is the national chart with sub-accounts the district might add:
// 内部往来 by counterparty, 收益分配 by use (one of them 未分配收益), 投资收益
// by kind.
func subChart(tb testing.TB) *sanziv1.ChartOfAccounts {
	tb.Helper()
	c := chart.National()
	parent := map[string]*sanziv1.LedgerAccount{}
	for _, a := range c.GetAccounts() {
		parent[a.GetCode()] = a
	}
	for _, s := range []struct{ code, name, parent string }{
		{"11301", "内部往来-一组", "113"}, {"11302", "内部往来-二组", "113"},
		{"32201", "提取公积公益金", "322"}, {"32202", "未分配收益", "322"},
		{"51101", "投资收益-股权", "511"}, {"51102", "投资收益-债权", "511"},
	} {
		p := parent[s.parent]
		c.Accounts = append(c.Accounts, &sanziv1.LedgerAccount{Code: s.code, Name: s.name, Parent: s.parent, Class: p.GetClass(), Side: p.GetSide()})
	}
	if _, err := chart.New(c); err != nil {
		tb.Fatalf("the test's chart: %v", err)
	}
	return c
}

func vline(account string, dr, cr int64) *sanziv1.VoucherLine {
	return &sanziv1.VoucherLine{Account: account, DebitFen: dr, CreditFen: cr}
}

// historyOfYears records years of a village's books from 2016 on the
// chart with sub-accounts, hand vouchers only, months left open: opening
// balances on 2015-12-31; each month income on both sub-accounts of 经营收入,
// expenses, movements on both sub-accounts of 内部往来, cash drawn; every
// third month a voucher reversed in red ink (in its month, or the next);
// one imported red-ink correction a year; at each year's end the
// profit-and-loss accounts carried forward to 本年收益, 本年收益 to 未分配收益,
// and a distribution to 公积公益金 closed into 未分配收益.
func historyOfYears(tb testing.TB, dir string, years int) (*books.Books, *benchClock, func()) {
	tb.Helper()
	ctx := context.Background()
	clk := &benchClock{at: time.Date(2016+years, 1, 10, 10, 0, 0, 0, time.UTC)}
	bk, closeFn := openVillage(tb, dir, clk)
	c := subChart(tb)
	bk.SetChart(func() (*sanziv1.ChartOfAccounts, string) { return c, "7" })
	rec := func(date, summary string, lines ...*sanziv1.VoucherLine) *ledger.Stored {
		tb.Helper()
		s, _, _, err := bk.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: date, Summary: summary, Lines: lines})
		if err != nil {
			tb.Fatalf("voucher %s %s: %v", date, summary, err)
		}
		return s
	}
	if _, _, _, err := bk.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2015-12-31", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{vline(chart.Cash, 5_000_00, 0), vline(chart.Bank, 2_000_000_00, 0), vline("11301", 30_000_00, 0),
			vline("11302", 0, 12_000_00), vline(chart.Capital, 0, 2_018_000_00), vline("32202", 0, 5_000_00)}}); err != nil {
		tb.Fatal(err)
	}
	for y := 2016; y < 2016+years; y++ {
		var contract, lease, cost, admin int64
		for m := 1; m <= 12; m++ {
			day := func(d int) string { return fmt.Sprintf("%d-%02d-%02d", y, m, d) }
			n := int64(y-2016)*12 + int64(m)
			contract += 40_000_00 + n*100
			lease += 7_000_00 + n*7
			cost += 9_000_00 + n*3
			admin += 1_500_00 + n
			rec(day(3), "发包收入", vline(chart.Bank, 40_000_00+n*100, 0), vline("51101", 0, 40_000_00+n*100))
			rec(day(5), "租赁收入", vline(chart.Cash, 7_000_00+n*7, 0), vline("51102", 0, 7_000_00+n*7))
			rec(day(8), "经营支出", vline("502", 9_000_00+n*3, 0), vline(chart.Bank, 0, 9_000_00+n*3))
			rec(day(12), "办公费", vline("531", 1_500_00+n, 0), vline(chart.Cash, 0, 1_500_00+n))
			rec(day(15), "借给一组", vline("11301", 3_000_00+n, 0), vline(chart.Bank, 0, 3_000_00+n))
			rec(day(18), "二组存入", vline(chart.Bank, 2_000_00, 0), vline("11302", 0, 2_000_00))
			rec(day(20), "提现", vline(chart.Cash, 1_000_00, 0), vline(chart.Bank, 0, 1_000_00))
			if m%3 == 0 {
				wrong := rec(day(21), "记错的办公费", vline("531", 777_00, 0), vline(chart.Cash, 0, 777_00))
				date := day(25)
				if m%6 == 0 && m < 12 {
					date = fmt.Sprintf("%d-%02d-02", y, m+1) // reversed in the next month
				}
				if _, _, err := bk.ReverseVoucher(ctx, "t", wrong.ID(), date, "记错"); err != nil {
					tb.Fatalf("reverse %s: %v", wrong.ID(), err)
				}
			}
			if m == 7 {
				vs := []*sanziv1.Voucher{{Org: benchOrg, BusinessDate: day(22), Summary: "红字冲销办公费",
					Lines: []*sanziv1.VoucherLine{vline("531", -200_00, 0), vline(chart.Cash, 0, -200_00)}}}
				if _, bad, err := bk.ImportVouchers(ctx, "t", benchOrg, vs, false); err != nil || len(bad) > 0 {
					tb.Fatalf("import a red-ink voucher: %v %+v", err, bad)
				}
				admin -= 200_00
			}
		}
		end := fmt.Sprintf("%d-12-31", y)
		rec(end, "结转收入", vline("51101", contract, 0), vline("51102", lease, 0), vline(chart.CurrentYearIncome, 0, contract+lease))
		rec(end, "结转支出", vline(chart.CurrentYearIncome, cost+admin, 0), vline("502", 0, cost), vline("531", 0, admin))
		net := contract + lease - cost - admin
		rec(end, "本年收益转入未分配", vline(chart.CurrentYearIncome, net, 0), vline("32202", 0, net))
		rec(end, "提取公积公益金", vline("32201", net/10, 0), vline(chart.Reserve, 0, net/10))
		rec(end, "结转收益分配", vline("32202", net/10, 0), vline("32201", 0, net/10))
	}
	return bk, clk, closeFn
}

// statementKinds are every kind with the account a subsidiary ledger is
// asked for.
var statementKinds = []struct {
	kind    sanziv1.StatementKind
	account string
}{
	{sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, ""},
	{sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, ""},
	{sanziv1.StatementKind_STATEMENT_KIND_INCOME, ""},
	{sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, ""},
	{sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, "113"},
	{sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, "11301"},
	{sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, "322"},
	{sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, "511"},
	{sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, ""},
	{sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL, ""},
}

// fromMonths is the statement made from the books' month indexes, as
// GetStatement makes a village's.
func fromMonths(bk *books.Books, ch *chart.Chart, kind sanziv1.StatementKind, period, account string) (*sanziv1.Statement, error) {
	ms, err := bk.Movements(benchOrg, period)
	if err != nil {
		return nil, err
	}
	var vs []*sanziv1.Voucher
	if statement.ListsLines(kind) {
		if vs, err = bk.VouchersIn(benchOrg, period); err != nil {
			return nil, err
		}
	}
	return statement.FromMonths(ch, kind, benchOrg, period, account, ms, vs)
}

// fromVouchers is the statement made from every voucher of the org.
func fromVouchers(bk *books.Books, ch *chart.Chart, kind sanziv1.StatementKind, period, account string) (*sanziv1.Statement, error) {
	vs, err := bk.VouchersOf(benchOrg, period)
	if err != nil {
		return nil, err
	}
	return statement.FromVouchers(ch, kind, benchOrg, period, account, vs)
}

// sameStatements compares, for every month from the opening's to two
// months past the history and every kind, the statement from the month
// indexes with the one from every voucher; it returns how many were made.
func sameStatements(t *testing.T, bk *books.Books, years int, when string) int {
	t.Helper()
	ch, _, err := bk.Chart()
	if err != nil {
		t.Fatal(err)
	}
	made := 0
	months := []string{"2015-12"}
	for y := 2016; y <= 2016+years; y++ {
		for m := 1; m <= 12; m++ {
			months = append(months, fmt.Sprintf("%d-%02d", y, m))
		}
	}
	for _, period := range months[:len(months)-10] {
		for _, k := range statementKinds {
			want, werr := fromVouchers(bk, ch, k.kind, period, k.account)
			got, gerr := fromMonths(bk, ch, k.kind, period, k.account)
			switch {
			case werr != nil || gerr != nil:
				if (werr == nil) != (gerr == nil) {
					t.Errorf("%s %s %s %s: from the months %v, from the vouchers %v", when, period, k.kind, k.account, gerr, werr)
				}
			case !proto.Equal(got, want):
				t.Errorf("%s %s %s %s: from the months\n%s\nfrom the vouchers\n%s", when, period, k.kind, k.account, rowsOf(got), rowsOf(want))
			default:
				made++
			}
		}
	}
	return made
}

func rowsOf(s *sanziv1.Statement) string {
	out := ""
	for _, r := range s.GetRows() {
		out += fmt.Sprintln(r.GetCode(), r.GetLabel(), r.GetTexts(), r.GetAmountsFen())
	}
	return out
}

// TestStatementsFromMonthsAreFromVouchers: over three years of history
// with opening balances, sub-accounts, red-ink reversals (in their month
// and the next), an imported red-ink voucher and year-end carry-forwards,
// every statement of every month made from the month indexes is the one
// made from every voucher; so after the indexes are built again at open,
// and after a restore removed the later half of the chain.
func TestStatementsFromMonthsAreFromVouchers(t *testing.T) {
	const years = 3
	dir := t.TempDir()
	bk, clk, closeFn := historyOfYears(t, dir, years)
	n := sameStatements(t, bk, years, "as recorded")
	if want := (1 + 12*years + 2) * len(statementKinds); n != want {
		t.Fatalf("%d statements made, want %d", n, want)
	}
	// A statement of the later years reads balances the early years left:
	// the check above is no check unless they moved.
	ch, _, _ := bk.Chart()
	tb, err := fromMonths(bk, ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, "2018-06", "")
	if err != nil || tb.GetRows()[len(tb.GetRows())-1].GetAmountsFen()[0] == 0 {
		t.Fatalf("balance sheet of 2018-06: %v, %v", tb, err)
	}

	// Built again at open, as for a ledger written before the accounts'
	// movements were kept.
	if err := bk.Ledger().DB().Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("idx_month_accounts")); err != nil {
			return err
		}
		return tx.Bucket([]byte("idx_meta")).Delete([]byte("months version"))
	}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	bk, closeFn = openVillage(t, dir, clk)
	bk.SetChart(func() (*sanziv1.ChartOfAccounts, string) { return subChart(t), "7" })
	if n2 := sameStatements(t, bk, years, "built again"); n2 != n {
		t.Errorf("built again: %d statements made, want %d", n2, n)
	}
	ms, err := bk.Movements(benchOrg, "2018-12")
	if err != nil || len(ms) == 0 {
		t.Fatalf("movements built again: %d, %v", len(ms), err)
	}

	// Restored from a copy holding the first half of the chain.
	restoreFromHalf(t, bk, dir, closeFn)
	bk, _ = openVillage(t, dir, clk)
	bk.SetChart(func() (*sanziv1.ChartOfAccounts, string) { return subChart(t), "7" })
	if n3 := sameStatements(t, bk, years, "after a restore"); n3 != n {
		t.Errorf("after a restore: %d statements made, want %d", n3, n)
	}
	after, err := bk.Movements(benchOrg, "2018-12")
	if err != nil || len(after) == 0 || len(after) >= len(ms) {
		t.Fatalf("movements after the restore: %d rows (%v), had %d: the restore removed none", len(after), err, len(ms))
	}
}
