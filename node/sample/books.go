package sample

import (
	"context"
	"fmt"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// sampleAssets are the fixed assets on the village's books when they open.
var sampleAssets = []string{"村部办公楼", "农机具仓库", "灌溉泵站"}

// bankFloor is the least the bank keeps: an expense that would leave less
// is preceded by a subsidy, and a reversal of an income (at most a few
// thousand yuan) never takes it below zero.
const bankFloor = 50_000_00

// opening records the opening balances (期初余额), dated the day before
// first: cash and bank, a few fixed assets by register code, matched by
// 资本 and 公积公益金; the amounts come from booksRnd.
func (g *gen) opening(ctx context.Context, first time.Time) error {
	cash := int64(2_000+g.booksRnd.IntN(6_001)) * 100
	bank := int64(200_000+g.booksRnd.IntN(400_001)) * 100
	v := &sanziv1.Voucher{Org: g.cfg.Org, BusinessDate: first.AddDate(0, 0, -1).Format(time.DateOnly), Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: cash}, {Account: chart.Bank, DebitFen: bank}}}
	total := cash + bank
	for i, name := range sampleAssets {
		value := int64(30_000+g.booksRnd.IntN(1_470_001)) * 100
		v.Lines = append(v.Lines, &sanziv1.VoucherLine{Account: chart.FixedAssets, DebitFen: value, Summary: name,
			AssetCode: fmt.Sprintf("ZC-%s-%04d", g.cfg.Org[9:], i+1)})
		total += value
	}
	reserve := total * int64(15+g.booksRnd.IntN(21)) / 100
	v.Lines = append(v.Lines, &sanziv1.VoucherLine{Account: chart.Capital, CreditFen: total - reserve},
		&sanziv1.VoucherLine{Account: chart.Reserve, CreditFen: reserve})
	if _, _, _, err := g.b.RecordVoucher(ctx, "accountant", v); err != nil {
		return fmt.Errorf("record the opening balances: %w", err)
	}
	g.bank = bank
	g.res.OpeningCashFen, g.res.OpeningBankFen = cash, bank
	return nil
}

// topUp records a subsidy from the district (补助收入) on date when paying
// amount would leave the bank under bankFloor: a village's spending runs
// on its subsidies, and its bank account never goes negative.
func (g *gen) topUp(ctx context.Context, date string, amount int64) error {
	if g.bank-amount >= bankFloor {
		return nil
	}
	tx := &sanziv1.Transaction{Org: g.cfg.Org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME,
		AmountFen: int64(300_000+g.booksRnd.IntN(500_001)) * 100, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		BusinessDate: date, Summary: "上级补助资金", Category: "补助收入", BudgetLine: "补助收入",
		VoucherNumber: fmt.Sprintf("记-补-%05d", g.res.Subsidies+1), Counterparty: &sanziv1.Counterparty{Name: "区农业农村局"}}
	st, _, err := g.b.RecordTransaction(ctx, "accountant", tx)
	if err != nil {
		return fmt.Errorf("record subsidy %d: %w", g.res.Subsidies+1, err)
	}
	g.bank += tx.AmountFen
	g.res.Subsidies++
	g.res.Transactions++
	// Its FUND-INCOME procedure is decided like the others, after a
	// delay drawn apart from the business's numbers.
	g.open = append(g.open, openProc{id: ledger.EntryID(st.Origin, st.Seq+1), due: g.clk.Now().Add(time.Duration(12+g.booksRnd.IntN(20)) * time.Hour)})
	return nil
}

// closeMonth closes month (结账) with the bank balance the records leave
// as the statement's and the opening cash as counted (every record is paid
// by bank transfer); a check it fails is the generator's mistake, and ends
// the generation. A village's step overdue at the close would block it:
// the accountant first chases every overdue step, decided now.
func (g *gen) closeMonth(ctx context.Context, month string) error {
	now := g.clk.Now()
	for i, op := range g.open {
		p, err := g.sup.Procedure(op.id)
		if err != nil {
			return fmt.Errorf("procedure %s: %w", op.id, err)
		}
		if _, st := p.OpenStep(); st != nil && st.GetDeadline().AsTime().Before(now) {
			g.open[i].due = now
		}
	}
	if err := g.decide(ctx, now); err != nil {
		return err
	}
	_, mc, err := g.b.CloseMonth(ctx, "accountant", g.cfg.Org, month, books.Counted{BankStatementFen: g.bank, CashCountedFen: g.res.OpeningCashFen})
	if err != nil {
		return fmt.Errorf("close %s: %w", month, err)
	}
	g.res.Closes++
	g.res.LastClose = mc
	return nil
}
