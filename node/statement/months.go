package statement

import (
	"fmt"
	"strings"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// MonthMovement is what one org's vouchers dated in one month moved on one
// account (a voucher line's code): what the books keep, by org, month and
// account, in the write transaction of each voucher, so that a statement
// is made from the months up to its period and not from every voucher the
// org ever recorded (issue 17). TotalsOfMonths turns them into the Totals
// TotalsOf computes from the vouchers themselves.
type MonthMovement struct {
	// Month is the YYYY-MM of the vouchers' business date, or YYYY for
	// the whole of a year before the period's (the sum of its months).
	Month   string
	Account string
	// OpeningNetFen is the debit less the credit of the opening-balances
	// voucher's lines.
	OpeningNetFen int64
	// DebitFen and CreditFen are the lines of the other vouchers.
	DebitFen, CreditFen int64
	// CarryDebitFen and CarryCreditFen are those of DebitFen and CreditFen
	// on carry-forward vouchers (Carries); the income statement leaves out
	// what they moved on profit-and-loss accounts.
	CarryDebitFen, CarryCreditFen int64
}

// Add counts one voucher line of debit dr and credit cr, on the opening
// voucher or not, on a carry-forward voucher or not.
func (m *MonthMovement) Add(opening, carry bool, dr, cr int64) {
	switch {
	case opening:
		m.OpeningNetFen += dr - cr
	default:
		m.DebitFen += dr
		m.CreditFen += cr
		if carry {
			m.CarryDebitFen += dr
			m.CarryCreditFen += cr
		}
	}
}

// Carries reports whether v is a carry-forward voucher (结转): one with a
// line on 本年收益 (321) or a sub-account of it. It reads the codes alone,
// so the books can tell when they index a voucher, without the chart: a
// valid chart's sub-accounts extend their parent's code (chart.Validate),
// so for every code of a chart, ch.National(code) is 321 exactly when the
// code begins with 321, which is what TotalsOf asks of the chart.
func Carries(v *sanziv1.Voucher) bool {
	for _, l := range v.GetLines() {
		if strings.HasPrefix(l.GetAccount(), chart.CurrentYearIncome) {
			return true
		}
	}
	return false
}

// TotalsOfMonths computes the movements of the period (YYYY-MM) from an
// org's month movements (each account's in a month, or in a whole year
// before the period's: the books sum the years so that a statement reads a
// row per year of history, not per month), as TotalsOf computes them from
// its vouchers: months after the period are ignored; the opening voucher counts in the
// balances at the start of its month and of its year; a month of an
// earlier year counts in both; a month of the period's year before it in
// the balance at the start of the period and in the year's debits and
// credits, the period's own month in the period's debits and credits too.
// Every account must be one of ch.
func TotalsOfMonths(ch *chart.Chart, period string, months []MonthMovement) (Totals, error) {
	if err := checkPeriod(period); err != nil {
		return nil, err
	}
	year := period[:4]
	t := Totals{}
	for i, mm := range months {
		switch {
		case len(mm.Month) == 4 && mm.Month >= year:
			return nil, &FieldError{Field: fmt.Sprintf("months[%d].month", i), Reason: fmt.Sprintf("year %s is not before the period's %s: its months are needed", mm.Month, year)}
		case len(mm.Month) != 7 && len(mm.Month) != 4:
			return nil, &FieldError{Field: fmt.Sprintf("months[%d].month", i), Reason: fmt.Sprintf("%q is not a month YYYY-MM nor a year YYYY", mm.Month)}
		}
		if mm.Month > period {
			continue
		}
		if _, ok := ch.Account(mm.Account); !ok {
			return nil, &FieldError{Field: fmt.Sprintf("months[%d].account", i), Reason: fmt.Sprintf("%q is no account of the chart", mm.Account)}
		}
		m := t[mm.Account]
		m.OpeningFen += mm.OpeningNetFen
		m.YearOpeningFen += mm.OpeningNetFen
		switch {
		case mm.Month[:4] < year:
			m.OpeningFen += mm.DebitFen - mm.CreditFen
			m.YearOpeningFen += mm.DebitFen - mm.CreditFen
		default:
			if mm.Month < period {
				m.OpeningFen += mm.DebitFen - mm.CreditFen
			} else {
				m.DebitFen += mm.DebitFen
				m.CreditFen += mm.CreditFen
			}
			m.YearDebitFen += mm.DebitFen
			m.YearCreditFen += mm.CreditFen
			if a, _ := ch.Account(ch.National(mm.Account)); a.GetClass() == sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS {
				m.CarriedDebitFen += mm.CarryDebitFen
				m.CarriedCreditFen += mm.CarryCreditFen
			}
		}
		t[mm.Account] = m
	}
	return t, nil
}

// FromMonths makes any statement of one org from its month movements up
// to the period (TotalsOfMonths) and the vouchers dated in the period's
// month (the ledgers and journals list their lines; the other kinds do not
// read them): the statement FromVouchers makes from all the org's
// vouchers, at the cost of the org's months rather than of its vouchers.
func FromMonths(ch *chart.Chart, kind sanziv1.StatementKind, org, period, account string, months []MonthMovement, ofMonth []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return from(ch, kind, org, period, account, func() (Totals, error) { return TotalsOfMonths(ch, period, months) }, ofMonth)
}

// ListsLines reports whether statements of kind list the lines of the
// period's vouchers (the subsidiary ledger and the journals), so that
// FromMonths needs them; the others are made from the movements alone.
func ListsLines(kind sanziv1.StatementKind) bool {
	switch kind {
	case sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER, sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL:
		return true
	}
	return false
}
