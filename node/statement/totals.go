// Package statement computes the collective's ledgers and statements
// (科目余额表, 总账, 明细账, 现金和银行存款日记账, 资产负债表, 收益及收益分配表)
// from its vouchers, or from totals ClickHouse summed over many villages,
// lays them out as the standard prints them, sums them across villages, and
// writes them as XLSX.
package statement

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
