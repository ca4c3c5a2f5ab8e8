package statement

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ErrNeedsVouchers: the ledgers and journals list voucher lines, so they
// are made from an org's vouchers, never from totals (nor summed across
// villages).
var ErrNeedsVouchers = errors.New("statement: this kind lists voucher lines and needs the org's vouchers")

// FromTotals makes a statement that totals suffice for (trial balance,
// balance sheet, income statement): what GetStatement answers for a town
// or the district from ClickHouse's totals, or for a village. Other kinds
// are ErrNeedsVouchers.
func FromTotals(ch *chart.Chart, kind sanziv1.StatementKind, org, period string, t Totals) (*sanziv1.Statement, error) {
	switch kind {
	case sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE:
		return TrialBalance(ch, org, period, t)
	case sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET:
		return BalanceSheet(ch, org, period, t)
	case sanziv1.StatementKind_STATEMENT_KIND_INCOME:
		return Income(ch, org, period, t)
	case sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER,
		sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL:
		return nil, fmt.Errorf("%s: %w", kind, ErrNeedsVouchers)
	}
	return nil, &FieldError{Field: "kind", Reason: fmt.Sprintf("%s is no statement", kind)}
}

// FromVouchers makes any statement of one org from its vouchers (every
// voucher of the org up to the period's end is enough; later ones are
// ignored): what GetStatement answers for a village. account is the
// subsidiary ledger's and ignored otherwise.
func FromVouchers(ch *chart.Chart, kind sanziv1.StatementKind, org, period, account string, vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	return from(ch, kind, org, period, account, func() (Totals, error) { return TotalsOf(ch, vouchers, period) }, vouchers)
}

// from makes any statement of one org from its totals up to period (what
// totals computes, from vouchers or from month movements) and vouchers
// holding at least those dated in the period's month, which the ledgers
// and journals list.
func from(ch *chart.Chart, kind sanziv1.StatementKind, org, period, account string, totals func() (Totals, error), vouchers []*sanziv1.Voucher) (*sanziv1.Statement, error) {
	switch kind {
	case sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER:
		return generalLedger(ch, org, period, totals)
	case sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER:
		if account == "" {
			return nil, &FieldError{Field: "account", Reason: "required for the subsidiary ledger"}
		}
		return journal(ch, org, period, account, totals, vouchers, kind, TitleSubsidiaryLedger)
	case sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL:
		return journal(ch, org, period, chart.Cash, totals, vouchers, kind, TitleCashJournal)
	case sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL:
		return journal(ch, org, period, chart.Bank, totals, vouchers, kind, TitleBankJournal)
	}
	t, err := totals()
	if err != nil {
		return nil, fmt.Errorf("%s of %s %s: %w", kind, org, period, err)
	}
	return FromTotals(ch, kind, org, period, t)
}

// checkTotals refuses a period that is no month, and totals on codes the
// chart does not hold (the first in code order): totals from ClickHouse
// computed under another chart would be laid out wrong.
func checkTotals(ch *chart.Chart, period string, t Totals) error {
	if err := checkPeriod(period); err != nil {
		return err
	}
	for _, code := range slices.Sorted(maps.Keys(t)) {
		if _, ok := ch.Account(code); !ok {
			return &FieldError{Field: "totals[" + code + "]", Reason: "no account of the chart"}
		}
	}
	return nil
}
