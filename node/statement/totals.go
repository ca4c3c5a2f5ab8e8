// Package statement computes the collective's ledgers and statements
// (科目余额表, 总账, 明细账, 现金和银行存款日记账, 资产负债表, 收益及收益分配表)
// from its vouchers, or from totals ClickHouse summed over many villages,
// lays them out as the standard prints them, sums them across villages, and
// writes them as XLSX.
package statement

import (
	"fmt"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Movement is one account's figures for a period, every amount in fen.
// Balances are debit-positive whatever the account's side (a credit
// balance of 100 yuan is -10000); statements turn them to the account's
// side when they print them.
type Movement struct {
	// Balance at the start of the year of the period (年初数): every voucher
	// dated before 1 January, and the opening-balances voucher of that year.
	YearOpeningFen int64
	// Balance at the start of the period (期初): every voucher dated before
	// it, the opening-balances voucher included.
	OpeningFen int64
	// Debits and credits within the period.
	DebitFen, CreditFen int64
	// Debits and credits from 1 January to the period's end, the opening
	// voucher not included.
	YearDebitFen, YearCreditFen int64
	// Of YearDebitFen and YearCreditFen, what year-end carry-forward
	// vouchers (结转: a voucher with a line on 本年收益 321) moved on
	// profit-and-loss accounts: the income statement leaves it out.
	CarriedDebitFen, CarriedCreditFen int64
}

// ClosingFen is the balance at the period's end.
func (m Movement) ClosingFen() int64 { return m.OpeningFen + m.DebitFen - m.CreditFen }

// Totals holds the movements of a period by account code. Codes are those
// of the vouchers (leaf accounts); statements roll them up to the national
// accounts (a sub-account's code begins with its parent's).
type Totals map[string]Movement

// add sums two movements field by field.
func (m Movement) add(o Movement) Movement {
	return Movement{
		YearOpeningFen: m.YearOpeningFen + o.YearOpeningFen,
		OpeningFen:     m.OpeningFen + o.OpeningFen,
		DebitFen:       m.DebitFen + o.DebitFen, CreditFen: m.CreditFen + o.CreditFen,
		YearDebitFen: m.YearDebitFen + o.YearDebitFen, YearCreditFen: m.YearCreditFen + o.YearCreditFen,
		CarriedDebitFen: m.CarriedDebitFen + o.CarriedDebitFen, CarriedCreditFen: m.CarriedCreditFen + o.CarriedCreditFen,
	}
}

// Under sums the movements of code and every account under it: a
// sub-account's code extends its parent's, so they are the codes it
// prefixes.
func (t Totals) Under(code string) Movement {
	var m Movement
	for k, v := range t {
		if strings.HasPrefix(k, code) {
			m = m.add(v)
		}
	}
	return m
}

// FieldError names the input at fault and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// checkPeriod validates a YYYY-MM period.
func checkPeriod(period string) error {
	if _, err := time.Parse("2006-01", period); err != nil || len(period) != 7 {
		return &FieldError{Field: "period", Reason: fmt.Sprintf("%q is not a month YYYY-MM", period)}
	}
	return nil
}

// TotalsOf computes the movements of the period (YYYY-MM) from an org's
// vouchers (or several orgs', to check sums), by the definitions of
// Movement: vouchers dated after the period are ignored; the opening
// voucher counts in the balances at the start of its month and of its
// year; a voucher with a line on 本年收益 (321, or a sub-account of it) is a
// carry-forward and its lines on profit-and-loss accounts count in
// CarriedDebitFen and CarriedCreditFen. Every line's account must be one
// of ch.
func TotalsOf(ch *chart.Chart, vouchers []*sanziv1.Voucher, period string) (Totals, error) {
	if err := checkPeriod(period); err != nil {
		return nil, err
	}
	year := period[:4]
	t := Totals{}
	for i, v := range vouchers {
		d := v.GetBusinessDate()
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, &FieldError{Field: fmt.Sprintf("vouchers[%d].business_date", i), Reason: fmt.Sprintf("%q is not a date YYYY-MM-DD", d)}
		}
		month := d[:7]
		if month > period {
			continue
		}
		carry := false
		for j, l := range v.GetLines() {
			if _, ok := ch.Account(l.GetAccount()); !ok {
				return nil, &FieldError{Field: fmt.Sprintf("vouchers[%d].lines[%d].account", i, j), Reason: fmt.Sprintf("%q is no account of the chart", l.GetAccount())}
			}
			if ch.National(l.GetAccount()) == chart.CurrentYearIncome {
				carry = true
			}
		}
		for _, l := range v.GetLines() {
			m := t[l.GetAccount()]
			dr, cr := l.GetDebitFen(), l.GetCreditFen()
			switch {
			case v.GetOpening():
				m.OpeningFen += dr - cr
				m.YearOpeningFen += dr - cr
			case d[:4] < year:
				m.OpeningFen += dr - cr
				m.YearOpeningFen += dr - cr
			default:
				if month < period {
					m.OpeningFen += dr - cr
				} else {
					m.DebitFen += dr
					m.CreditFen += cr
				}
				m.YearDebitFen += dr
				m.YearCreditFen += cr
				if a, _ := ch.Account(ch.National(l.GetAccount())); carry && a.GetClass() == sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS {
					m.CarriedDebitFen += dr
					m.CarriedCreditFen += cr
				}
			}
			t[l.GetAccount()] = m
		}
	}
	return t, nil
}
