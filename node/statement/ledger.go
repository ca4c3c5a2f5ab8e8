package statement

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Titles of the ledgers and journals.
const (
	TitleGeneralLedger    = "总账"
	TitleSubsidiaryLedger = "明细账"
	TitleCashJournal      = "现金日记账"
	TitleBankJournal      = "银行存款日记账"
)

// Labels of a ledger's summary rows, as account books print them.
const (
	LabelOpening = "期初余额"
	LabelMonth   = "本月合计"
	LabelYear    = "本年累计"
)

// direction is the side a balance sits on as books print it: 借, 贷 or 平
// for zero, with the balance made positive.
func direction(bal int64) (string, int64) {
	switch {
	case bal > 0:
		return "借", bal
	case bal < 0:
		return "贷", -bal
	}
	return "平", 0
}

// GeneralLedger is the 总账 of period (YYYY-MM) computed from the org's
// vouchers: for each national account, three rows as the book prints its
// month, 期初余额, 本月合计 and 本年累计, each with its balance and its
// side. Ledgers are not summed across villages.
func GeneralLedger(ch *chart.Chart, org, period string, vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return generalLedger(ch, org, period, func() (Totals, error) { return TotalsOf(ch, vouchers, period) })
}

func generalLedger(ch *chart.Chart, org, period string, totals func() (Totals, error)) (*sanziv1.Statement, error) {
	t, err := totals()
	if err != nil {
		return nil, fmt.Errorf("general ledger of %s %s: %w", org, period, err)
	}
	s := newStatement(sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, TitleGeneralLedger, org, period,
		[]string{"科目", "摘要", "方向"}, []string{"借方", "贷方", "余额"})
	for _, a := range ch.Accounts() {
		if a.GetParent() != "" {
			continue
		}
		m := t.Under(a.GetCode())
		name := a.GetCode() + " " + a.GetName()
		od, ob := direction(m.OpeningFen)
		cd, cb := direction(m.ClosingFen())
		s.Rows = append(s.Rows,
			&sanziv1.StatementRow{Code: a.GetCode(), Label: a.GetName(), Level: 1, Texts: []string{name, LabelOpening, od}, AmountsFen: []int64{0, 0, ob}},
			&sanziv1.StatementRow{Code: a.GetCode(), Label: a.GetName(), Level: 1, Texts: []string{name, LabelMonth, cd}, AmountsFen: []int64{m.DebitFen, m.CreditFen, cb}},
			&sanziv1.StatementRow{Code: a.GetCode(), Label: a.GetName(), Level: 1, Texts: []string{name, LabelYear, cd}, AmountsFen: []int64{m.YearDebitFen, m.YearCreditFen, cb}},
		)
	}
	return s, nil
}

// SubsidiaryLedger is the 明细账 of one account (and its sub-accounts) for
// period (YYYY-MM): 期初余额, then one row per voucher line on it in date
// and number order (date, 记-n, summary, debit, credit, running balance
// and its side), then 本月合计 and 本年累计. The opening voucher's lines
// are in 期初余额, not listed.
func SubsidiaryLedger(ch *chart.Chart, org, period, account string, vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return journal(ch, org, period, account, totalsOf(ch, vouchers, period), vouchers, sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, TitleSubsidiaryLedger)
}

// CashJournal is the 现金日记账: the subsidiary ledger of 库存现金 (101).
func CashJournal(ch *chart.Chart, org, period string, vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return journal(ch, org, period, chart.Cash, totalsOf(ch, vouchers, period), vouchers, sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, TitleCashJournal)
}

// BankJournal is the 银行存款日记账: the subsidiary ledger of 银行存款 (102).
func BankJournal(ch *chart.Chart, org, period string, vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return journal(ch, org, period, chart.Bank, totalsOf(ch, vouchers, period), vouchers, sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL, TitleBankJournal)
}

// totalsOf is TotalsOf, computed when asked.
func totalsOf(ch *chart.Chart, vouchers []*sanziv1.Voucher, period string) func() (Totals, error) {
	return func() (Totals, error) { return TotalsOf(ch, vouchers, period) }
}

// journal lists the lines on account of the vouchers dated in period (the
// opening voucher's left out), between the balances totals gives.
func journal(ch *chart.Chart, org, period, account string, totals func() (Totals, error), vouchers []*sanziv1.Voucher, kind sanziv1.StatementKind, title string) (*sanziv1.Statement, error) {
	a, ok := ch.Account(account)
	if !ok {
		return nil, &FieldError{Field: "account", Reason: fmt.Sprintf("%q is no account of the chart", account)}
	}
	t, err := totals()
	if err != nil {
		return nil, fmt.Errorf("%s of %s %s: %w", title, org, period, err)
	}
	s := newStatement(kind, title, org, period, []string{"日期", "凭证号", "摘要", "方向"}, []string{"借方", "贷方", "余额"})
	s.Title = title
	if kind == sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER {
		s.Title = title + "（" + a.GetCode() + " " + a.GetName() + "）"
	}
	m := t.Under(account)
	bal := m.OpeningFen
	d, b := direction(bal)
	s.Rows = append(s.Rows, &sanziv1.StatementRow{Code: account, Label: LabelOpening, Texts: []string{period + "-01", "", LabelOpening, d}, AmountsFen: []int64{0, 0, b}})
	var month []*sanziv1.Voucher
	for _, v := range vouchers {
		if !v.GetOpening() && strings.HasPrefix(v.GetBusinessDate(), period) {
			month = append(month, v)
		}
	}
	slices.SortStableFunc(month, func(x, y *sanziv1.Voucher) int {
		if c := strings.Compare(x.GetBusinessDate(), y.GetBusinessDate()); c != 0 {
			return c
		}
		return int(x.GetNumber() - y.GetNumber())
	})
	for _, v := range month {
		for _, l := range v.GetLines() {
			if !strings.HasPrefix(l.GetAccount(), account) {
				continue
			}
			bal += l.GetDebitFen() - l.GetCreditFen()
			summary := l.GetSummary()
			if summary == "" {
				summary = v.GetSummary()
			}
			d, b := direction(bal)
			s.Rows = append(s.Rows, &sanziv1.StatementRow{Code: l.GetAccount(), Label: summary, Level: 1,
				Texts:      []string{v.GetBusinessDate(), fmt.Sprintf("记-%d", v.GetNumber()), summary, d},
				AmountsFen: []int64{l.GetDebitFen(), l.GetCreditFen(), b}})
		}
	}
	if bal != m.ClosingFen() {
		return nil, fmt.Errorf("%s of %s %s: lines end at %d fen, totals at %d", title, org, period, bal, m.ClosingFen())
	}
	d, b = direction(bal)
	s.Rows = append(s.Rows,
		&sanziv1.StatementRow{Code: account, Label: LabelMonth, Texts: []string{"", "", LabelMonth, d}, AmountsFen: []int64{m.DebitFen, m.CreditFen, b}},
		&sanziv1.StatementRow{Code: account, Label: LabelYear, Texts: []string{"", "", LabelYear, d}, AmountsFen: []int64{m.YearDebitFen, m.YearCreditFen, b}})
	return s, nil
}
