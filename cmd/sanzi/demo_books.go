package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The demo village's books (issue 19): the node derives a voucher from
// every transaction and contract payment the year records (the demo's
// categories all name accounts of the national chart, and every method is
// mapped), so what the seeder adds is what an accountant adds by hand: the
// opening balances before the year's first business and the close of
// every month once it is over (结账), in order. An appraisal and a sale of
// an asset book their own vouchers (the national chart maps both). Without opening balances
// the year's spending would drive 库存现金 and 银行存款 negative, and a
// month whose cash ends negative cannot close.

// demoFlow is a planned movement of cash or bank money: what the opening
// balances must cover.
type demoFlow struct {
	at         time.Time
	cash, bank int64 // fen, negative out
}

// cashPayLimit is the largest cash payment the default rules let through
// (CASH-PAY blocks those above it): the opening cash need not cover the
// payments the node refuses, or it would hold ten times what a village
// keeps in its safe.
func (s *yearSeeder) cashPayLimit() int64 {
	if s.cashLimit == 0 {
		s.cashLimit = math.MaxInt64
		for _, r := range rules.Default().Rules {
			if r.Code == "CASH-PAY" {
				s.cashLimit = r.Params["cash_limit_fen"]
			}
		}
	}
	return s.cashLimit
}

// demoAsset is an asset the village holds when its books open, registered
// in its asset register during the year under the same code.
type demoAsset struct {
	code, name string
	valueFen   int64
}

// demoAssetCode is the register code of the village's i-th asset.
func (s *yearSeeder) demoAssetCode(i int) string { return fmt.Sprintf("ZC-%s-%04d", s.org[9:], i+1) }

// openingDate is the date of the opening balances: the day before the
// year's first business (a voucher of the year is dated after it).
func (s *yearSeeder) openingDate() time.Time { return s.start.AddDate(0, 0, -1) }

// openingBalances is the opening voucher: cash and bank enough that the
// planned payments never drive either negative, counting only the
// planned incomes that come in before each payment (the contracts' rents,
// the assets sold and any payment refused only add to it), plus a margin;
// the assets the register will hold, at their original value; and the
// collective's capital (资本) and reserve (公积公益金) matching them. The
// margins and the split come from the village's own stream of books
// numbers, so the business the year records is the same as without them.
func (s *yearSeeder) openingBalances() *sanziv1.Voucher {
	flows := slices.Clone(s.flows)
	slices.SortStableFunc(flows, func(a, b demoFlow) int { return a.at.Compare(b.at) })
	var cash, bank, lowCash, lowBank int64
	for _, f := range flows {
		cash += f.cash
		bank += f.bank
		lowCash, lowBank = min(lowCash, cash), min(lowBank, bank)
	}
	// Whole hundreds of yuan, as a village's balances rarely are not:
	// the drawdown rounded up, then a margin.
	up := func(fen int64) int64 { return (fen + 100_00 - 1) / 100_00 * 100_00 }
	openCash := up(-lowCash) + int64(20+s.booksRng.IntN(61))*100_00    // 2,000–8,000 yuan over
	openBank := up(-lowBank) + int64(500+s.booksRng.IntN(2501))*100_00 // 50,000–300,000 yuan over
	v := &sanziv1.Voucher{Org: s.org, BusinessDate: s.openingDate().Format(time.DateOnly), Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{
			{Account: chart.Cash, DebitFen: openCash, Summary: "期初余额 库存现金"},
			{Account: chart.Bank, DebitFen: openBank, Summary: "期初余额 银行存款"},
		}}
	total := openCash + openBank
	for _, a := range s.assets {
		v.Lines = append(v.Lines, &sanziv1.VoucherLine{Account: chart.FixedAssets, DebitFen: a.valueFen, Summary: "期初余额 " + a.name, AssetCode: a.code})
		total += a.valueFen
	}
	// 公积公益金 is 15–35 % of the equity, the rest 资本, and at least 40 %
	// of the assets' value: an appraisal books its decrease against it
	// (planAsset appraises at 60–89 % of the value), and 公积公益金 is not
	// to end on the wrong side.
	reserve := total * int64(15+s.booksRng.IntN(21)) / 100
	var assets int64
	for _, a := range s.assets {
		assets += a.valueFen
	}
	reserve = max(reserve, assets*40/100)
	v.Lines = append(v.Lines,
		&sanziv1.VoucherLine{Account: chart.Capital, CreditFen: total - reserve, Summary: "期初余额 资本"},
		&sanziv1.VoucherLine{Account: chart.Reserve, CreditFen: reserve, Summary: "期初余额 公积公益金"})
	return v
}

// planBooks schedules the opening balances before the year's first
// business and the close of every month of the year that is over before
// its end, on the first working day of the next month before work (08:30),
// when the month's business is all recorded.
func (s *yearSeeder) planBooks() {
	opening := s.openingBalances()
	s.stats.OpeningCashFen, s.stats.OpeningBankFen = opening.GetLines()[0].GetDebitFen(), opening.GetLines()[1].GetDebitFen()
	s.at(s.start.Add(-30*time.Minute), func(ctx context.Context) error {
		c, err := s.ctxAs(ctx, demoAuthor)
		if err != nil {
			return err
		}
		if _, err := sanziv1.NewBooksServiceClient(s.conn).RecordVoucher(c, &sanziv1.RecordVoucherRequest{Voucher: opening}); err != nil {
			return fmt.Errorf("record the opening balances: %w", err)
		}
		s.stats.Entries++
		return nil
	})
	od := s.openingDate()
	for m := time.Date(od.Year(), od.Month(), 1, 0, 0, 0, 0, od.Location()); ; m = m.AddDate(0, 1, 0) {
		at := m.AddDate(0, 1, 0)
		for wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday; wd = at.Weekday() {
			at = at.AddDate(0, 0, 1)
		}
		at = at.Add(8*time.Hour + 30*time.Minute)
		if at.After(s.end) {
			return
		}
		month := m.Format("2006-01")
		s.at(at, func(ctx context.Context) error { return s.closeMonth(ctx, month, at) })
	}
}

// closeMonth closes month. A refusal (a check the month fails) is counted
// with the other refusals and in CloseBlocked: the seeding is meant never
// to earn one, and the demo's test says so. A refusal only because a
// village's step about a record of the month is overdue (the demo's late
// villages), or because an earlier month waits for one, is not one: the
// accountant tries again the next working day (CloseDeferred), until the
// step is decided, or until the year's end, when the month is left open
// (CloseWaiting).
func (s *yearSeeder) closeMonth(ctx context.Context, month string, at time.Time) error {
	c, err := s.ctxAs(ctx, demoAuthor)
	if err != nil {
		return err
	}
	books := sanziv1.NewBooksServiceClient(s.conn)
	// The demo village has no safe nor bank outside its books: the cash
	// counted and the bank statement are the balances its trial balance
	// gives at the month's end (科目余额表, 期末).
	trial, err := books.GetStatement(c, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, Org: s.org, Period: month})
	if err != nil {
		return fmt.Errorf("trial balance of %s: %w", month, err)
	}
	cash, bank := closingBalance(trial, chart.Cash), closingBalance(trial, chart.Bank)
	out, err := books.CloseMonth(c, &sanziv1.CloseMonthRequest{Org: s.org, Month: month, BankStatementFen: &bank, CashCountedFen: &cash})
	if refused(err) {
		if waitsForSteps(err) {
			next := nextWorkingDay(at)
			if next.After(s.end) {
				s.stats.CloseWaiting++
				return nil
			}
			s.stats.CloseDeferred++
			s.at(next, func(ctx context.Context) error { return s.closeMonth(ctx, month, next) })
			return nil
		}
		s.refuse(err)
		s.stats.CloseBlocked++
		return nil
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", month, err)
	}
	s.stats.Entries++
	s.stats.Closes++
	s.stats.LastClose = out.GetClose()
	return nil
}

// nextWorkingDay is the same time on the next weekday after t.
func nextWorkingDay(t time.Time) time.Time {
	t = t.AddDate(0, 0, 1)
	for wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday; wd = t.Weekday() {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// waitsForSteps says whether a refused close failed only because a
// village's step is overdue, or an earlier month is not closed yet.
func waitsForSteps(err error) bool {
	n := 0
	for _, d := range status.Convert(err).Details() {
		pf, ok := d.(*errdetails.PreconditionFailure)
		if !ok {
			continue
		}
		for _, v := range pf.GetViolations() {
			if !strings.Contains(v.GetDescription(), " is overdue at step ") && !strings.Contains(v.GetDescription(), "is not closed: close the earlier months first") {
				return false
			}
			n++
		}
	}
	return n > 0
}

// closingBalance is account's balance at the end of the trial balance's
// period, debit side positive (期末借 − 期末贷); 0 when it has no row.
func closingBalance(trial *sanziv1.GetStatementResponse, account string) int64 {
	for _, r := range trial.GetStatement().GetRows() {
		if a := r.GetAmountsFen(); r.GetCode() == account && len(a) == 8 {
			return a[6] - a[7]
		}
	}
	return 0
}
