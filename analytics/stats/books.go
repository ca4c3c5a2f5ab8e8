package stats

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The collective's books summed by the district (issue 19): the figures a
// period's statements are computed from (statement.Totals), for every
// village under a town or the district, from the voucher_lines table the
// loader fills. The village computes the same figures from its own
// vouchers; both follow statement.Movement's definitions, read here as:
//
//   - a voucher counts by its business date; the opening-balances voucher
//     (Voucher.opening) stands for the balances at the start of its month,
//     so it counts in YearOpening and Opening of every period it is dated
//     in or before, and never in a period's or the year's debits and
//     credits; a period before it sees none of it;
//   - YearOpening: every other voucher dated before 1 January of the
//     period's year, plus the opening voucher as above;
//   - Opening: every other voucher dated before the period's first day,
//     plus the opening voucher as above;
//   - DebitFen, CreditFen: the other vouchers dated within the period;
//   - YearDebitFen, YearCreditFen: the other vouchers dated from 1 January
//     to the period's last day;
//   - CarriedDebitFen, CarriedCreditFen: of those, the lines on a
//     profit-and-loss account (class 损益 of the national chart) of a
//     voucher with a line on 本年收益 (321 or a sub-account of it).
//
// Red-ink reversals carry negative amounts and are summed as they are.
// An account whose figures are all zero is left out of the Totals.

// profitLoss is the SQL list of the national chart's profit-and-loss
// accounts: a district may add sub-accounts but never change a national
// account's class, so the list is the same for every chart in force.
var profitLoss = func() string {
	var codes []string
	for _, a := range chart.National().GetAccounts() {
		if a.GetClass() == sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS {
			codes = append(codes, "'"+a.GetCode()+"'")
		}
	}
	return strings.Join(codes, ", ")
}()

// booksPrefix checks an org prefix (up to 12 digits; a 12-digit town or
// district code stands for the orgs under it, as in ParentPrefix) and
// returns the LIKE pattern selecting its orgs.
func booksPrefix(orgPrefix string) (string, error) {
	if strings.Trim(orgPrefix, "0123456789") != "" || len(orgPrefix) > 12 {
		return "", fmt.Errorf("orgPrefix %q: up to 12 digits of an org code", orgPrefix)
	}
	return ParentPrefix(orgPrefix) + "%", nil
}

// period is a statement period, a calendar month, as dates.
type period struct {
	yearStart, start, end string // YYYY-MM-DD: 1 January, the first and last day
}

// parsePeriod reads YYYY-MM.
func parsePeriod(p string) (period, error) {
	m, err := time.Parse("2006-01", p)
	if err != nil || m.Year() < 2000 || m.Year() > 2099 {
		return period{}, fmt.Errorf("period %q: a month YYYY-MM between 2000 and 2099", p)
	}
	return period{
		yearStart: time.Date(m.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
		start:     m.Format(time.DateOnly),
		end:       m.AddDate(0, 1, -1).Format(time.DateOnly),
	}, nil
}

// BooksTotals sums the vouchers of every org under orgPrefix (a prefix of
// org codes, or a 12-digit town or district code) into the figures of the
// period's statements (period is YYYY-MM), per account code as the
// vouchers name it, and says how many orgs had a voucher dated on or
// before the period's last day: the villages summed. One aggregate query
// over voucher_lines, and one count; no FINAL (the loader writes each line
// once).
func (s *Stats) BooksTotals(ctx context.Context, orgPrefix, period string) (statement.Totals, int, error) {
	like, p, err := booksArgs(orgPrefix, period)
	if err != nil {
		return nil, 0, err
	}
	byOrg, err := s.booksTotals(ctx, like, p, false)
	if err != nil {
		return nil, 0, fmt.Errorf("books totals of %s for %s: %w", orgPrefix, period, err)
	}
	n, err := s.booksOrgs(ctx, like, p.end)
	if err != nil {
		return nil, 0, fmt.Errorf("books totals of %s for %s: %w", orgPrefix, period, err)
	}
	return byOrg[""], n, nil
}

// BooksOrgTotals is BooksTotals org by org: the figures of every org under
// orgPrefix with a voucher dated on or before the period's last day (an
// org whose figures are all zero is there with empty Totals). A town's or
// the district's statement is the sum of its villages' statements, as the
// agency centre adds what each village reports (statement.Sum), and a
// statement is not additive where it splits a balance by its sign (the
// trial balance's debit and credit balances, 内部往来 on the balance sheet):
// the district makes each village's statement from its own figures and
// sums them. One aggregate query over voucher_lines.
func (s *Stats) BooksOrgTotals(ctx context.Context, orgPrefix, period string) (map[string]statement.Totals, error) {
	like, p, err := booksArgs(orgPrefix, period)
	if err != nil {
		return nil, err
	}
	out, err := s.booksTotals(ctx, like, p, true)
	if err != nil {
		return nil, fmt.Errorf("books totals of the orgs under %s for %s: %w", orgPrefix, period, err)
	}
	return out, nil
}

// booksArgs reads BooksTotals' arguments.
func booksArgs(orgPrefix, month string) (string, period, error) {
	like, err := booksPrefix(orgPrefix)
	if err != nil {
		return "", period{}, err
	}
	p, err := parsePeriod(month)
	if err != nil {
		return "", period{}, err
	}
	return like, p, nil
}

// booksTotals runs the aggregate query over the orgs matching like, by
// org when byOrg (else every row under the key "", present even when no
// voucher matched).
func (s *Stats) booksTotals(ctx context.Context, like string, p period, byOrg bool) (map[string]statement.Totals, error) {
	key, group := "''", "account"
	if byOrg {
		key, group = "org", "org, account"
	}
	// Dates are bound as strings inside toDate (CLICKHOUSE.md, trap 2).
	q := `SELECT ` + key + `, account,
		sumIf(debit_fen - credit_fen, opening = 1 OR business_date < toDate(?)),
		sumIf(debit_fen - credit_fen, opening = 1 OR business_date < toDate(?)),
		sumIf(debit_fen, opening = 0 AND business_date >= toDate(?)),
		sumIf(credit_fen, opening = 0 AND business_date >= toDate(?)),
		sumIf(debit_fen, opening = 0 AND business_date >= toDate(?)),
		sumIf(credit_fen, opening = 0 AND business_date >= toDate(?)),
		sumIf(debit_fen, opening = 0 AND business_date >= toDate(?) AND carry_forward = 1 AND national IN (` + profitLoss + `)),
		sumIf(credit_fen, opening = 0 AND business_date >= toDate(?) AND carry_forward = 1 AND national IN (` + profitLoss + `))
		FROM voucher_lines WHERE org LIKE ? AND business_date <= toDate(?)
		GROUP BY ` + group + ` ORDER BY ` + group
	rows, err := s.conn.Query(ctx, q, p.yearStart, p.start, p.start, p.start, p.yearStart, p.yearStart, p.yearStart, p.yearStart, like, p.end)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]statement.Totals{}
	if !byOrg {
		out[""] = statement.Totals{}
	}
	for rows.Next() {
		var org, account string
		var m statement.Movement
		if err := rows.Scan(&org, &account, &m.YearOpeningFen, &m.OpeningFen, &m.DebitFen, &m.CreditFen,
			&m.YearDebitFen, &m.YearCreditFen, &m.CarriedDebitFen, &m.CarriedCreditFen); err != nil {
			return nil, err
		}
		if out[org] == nil {
			out[org] = statement.Totals{}
		}
		if m != (statement.Movement{}) {
			out[org][account] = m
		}
	}
	return out, rows.Err()
}

// BooksVillages counts the orgs under orgPrefix (as in BooksTotals) that
// have recorded at least one voucher, whatever its date.
func (s *Stats) BooksVillages(ctx context.Context, orgPrefix string) (int, error) {
	like, err := booksPrefix(orgPrefix)
	if err != nil {
		return 0, err
	}
	n, err := s.booksOrgs(ctx, like, "")
	if err != nil {
		return 0, fmt.Errorf("villages keeping books under %s: %w", orgPrefix, err)
	}
	return n, nil
}

// booksOrgs counts the orgs matching like with a voucher dated on or
// before through (YYYY-MM-DD; empty: any date).
func (s *Stats) booksOrgs(ctx context.Context, like, through string) (int, error) {
	q, args := "SELECT uniqExact(org) FROM voucher_lines WHERE org LIKE ?", []any{like}
	if through != "" {
		q += " AND business_date <= toDate(?)"
		args = append(args, through)
	}
	var n uint64
	if err := s.conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, err
	}
	return int(n), nil
}
