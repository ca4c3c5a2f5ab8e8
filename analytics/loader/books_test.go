package loader

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ledgerBooks is a village's vouchers as the test recorded them in its chain,
// kept to compute the expected totals in Go.
type ledgerBooks struct {
	v        *village
	vouchers []*sanziv1.Voucher
	ids      []string
	numbers  map[string]int32 // month → last number
}

func newBooks(v *village) *ledgerBooks { return &ledgerBooks{v: v, numbers: map[string]int32{}} }

// threeVillages are the books of two villages of town 350505100 (a, b)
// and one of town 350505101 (c), so that sums by village, town and
// district all differ.
func threeVillages(t *testing.T) (a, b, c *ledgerBooks) {
	return newBooks(newVillage(t, "350505100201")), newBooks(newVillage(t, "350505100202")), newBooks(newVillage(t, "350505101201"))
}

// line is a voucher line: a positive amount is a debit, a negative one a
// credit of its absolute value.
func line(account string, fen int64) *sanziv1.VoucherLine {
	if fen >= 0 {
		return &sanziv1.VoucherLine{Account: account, DebitFen: fen}
	}
	return &sanziv1.VoucherLine{Account: account, CreditFen: -fen}
}

// record appends a signed ENTRY_TYPE_VOUCHER entry to the village's chain,
// as the village node records one, and returns its entry id.
func (b *ledgerBooks) record(t *testing.T, m *sanziv1.Voucher) string {
	t.Helper()
	var dr, cr int64
	for _, l := range m.GetLines() {
		dr += l.GetDebitFen()
		cr += l.GetCreditFen()
	}
	if dr != cr {
		t.Fatalf("test voucher of %s unbalanced: debits %d, credits %d", m.GetBusinessDate(), dr, cr)
	}
	m.Org = b.v.org
	month := m.GetBusinessDate()[:7]
	b.numbers[month]++
	m.Number = b.numbers[month]
	p, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.v.b.Ledger().Append(context.Background(), ledger.Record{Origin: b.v.org, Author: "accountant", Type: sanziv1.EntryType_ENTRY_TYPE_VOUCHER, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	b.vouchers = append(b.vouchers, m)
	b.ids = append(b.ids, st[0].ID())
	return st[0].ID()
}

// business records n vouchers of everyday business on random days of
// month (YYYY-MM): income into the bank, expenses in cash or from the
// bank, loans out; some on sub-accounts (10201 a bank account, 50101 a
// kind of operating income).
func (b *ledgerBooks) business(t *testing.T, rnd *rand.Rand, month string, n int) {
	for range n {
		day := fmt.Sprintf("%s-%02d", month, 1+rnd.IntN(28))
		fen := int64(100 + rnd.IntN(3_000_000))
		var lines []*sanziv1.VoucherLine
		switch rnd.IntN(5) {
		case 0:
			lines = []*sanziv1.VoucherLine{line("10201", fen), line("50101", -fen)}
		case 1:
			lines = []*sanziv1.VoucherLine{line("10201", fen), line("521", -fen)}
		case 2:
			lines = []*sanziv1.VoucherLine{line("531", fen), line("101", -fen)}
		case 3:
			// One expense over two accounts.
			lines = []*sanziv1.VoucherLine{line("502", fen), line("532", fen/3), line("10201", -fen-fen/3)}
		default:
			lines = []*sanziv1.VoucherLine{line("112", fen), line("10201", -fen)}
		}
		b.record(t, &sanziv1.Voucher{BusinessDate: day, Summary: "业务", Lines: lines})
	}
}

// carryForward closes every profit-and-loss balance of the year up to date
// into 本年收益 (321), as an accountant's 结转 voucher does.
func (b *ledgerBooks) carryForward(t *testing.T, date string) {
	pl := map[string]int64{}
	for _, v := range b.vouchers {
		if v.GetOpening() || v.GetBusinessDate() > date || v.GetBusinessDate()[:4] != date[:4] {
			continue
		}
		for _, l := range v.GetLines() {
			if l.GetAccount()[0] == '5' {
				pl[l.GetAccount()] += l.GetDebitFen() - l.GetCreditFen()
			}
		}
	}
	var lines []*sanziv1.VoucherLine
	var income int64
	for _, acct := range slices.Sorted(maps.Keys(pl)) {
		if bal := pl[acct]; bal != 0 {
			lines = append(lines, line(acct, -bal))
			income += bal
		}
	}
	lines = append(lines, line("321", income))
	b.record(t, &sanziv1.Voucher{BusinessDate: date, Summary: "结转本期收益", Lines: lines})
}

// reverse records the red-ink reversal of voucher i on date.
func (b *ledgerBooks) reverse(t *testing.T, i int, date string) {
	var lines []*sanziv1.VoucherLine
	for _, l := range b.vouchers[i].GetLines() {
		lines = append(lines, &sanziv1.VoucherLine{Account: l.GetAccount(), DebitFen: -l.GetDebitFen(), CreditFen: -l.GetCreditFen()})
	}
	b.record(t, &sanziv1.Voucher{BusinessDate: date, Summary: "冲销", Lines: lines, ReversesVoucherId: b.ids[i]})
}

// wantTotals computes, line by line in Go, what statement.Movement says a
// period's figures are, summed over every village of bs under prefix, and
// how many of them have a voucher dated on or before the period's end.
func wantTotals(t *testing.T, bs []*ledgerBooks, prefix, period string) (statement.Totals, int) {
	t.Helper()
	ch, err := chart.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	profitLoss := func(account string) bool {
		a, ok := ch.Account(account[:3])
		return ok && a.GetClass() == sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS
	}
	first, err := time.Parse("2006-01", period)
	if err != nil {
		t.Fatal(err)
	}
	jan1 := period[:4] + "-01-01"
	start := first.Format(time.DateOnly)
	end := first.AddDate(0, 1, -1).Format(time.DateOnly)
	out := statement.Totals{}
	villages := 0
	for _, b := range bs {
		if !strings.HasPrefix(b.v.org, prefix) {
			continue
		}
		counted := false
		for _, v := range b.vouchers {
			d := v.GetBusinessDate()
			if d > end {
				continue
			}
			counted = true
			carry := false
			for _, l := range v.GetLines() {
				if strings.HasPrefix(l.GetAccount(), "321") {
					carry = true
				}
			}
			for _, l := range v.GetLines() {
				m := out[l.GetAccount()]
				dr, cr := l.GetDebitFen(), l.GetCreditFen()
				switch {
				case v.GetOpening():
					// The balances at the start of its month.
					m.YearOpeningFen += dr - cr
					m.OpeningFen += dr - cr
				default:
					if d < jan1 {
						m.YearOpeningFen += dr - cr
					}
					if d < start {
						m.OpeningFen += dr - cr
					} else {
						m.DebitFen += dr
						m.CreditFen += cr
					}
					if d >= jan1 {
						m.YearDebitFen += dr
						m.YearCreditFen += cr
						if carry && profitLoss(l.GetAccount()) {
							m.CarriedDebitFen += dr
							m.CarriedCreditFen += cr
						}
					}
				}
				out[l.GetAccount()] = m
			}
		}
		if counted {
			villages++
		}
	}
	maps.DeleteFunc(out, func(_ string, m statement.Movement) bool { return m == statement.Movement{} })
	return out, villages
}

// booksChart is the national chart with the sub-accounts the tests'
// vouchers use: a bank account (10201), a kind of operating income
// (50101) and two counterparties of 内部往来 (11301, 11302).
func booksChart(t *testing.T) *chart.Chart {
	t.Helper()
	c := chart.National()
	asset, pl := sanziv1.AccountClass_ACCOUNT_CLASS_ASSET, sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS
	dr, cr := sanziv1.BalanceSide_BALANCE_SIDE_DEBIT, sanziv1.BalanceSide_BALANCE_SIDE_CREDIT
	c.Accounts = append(c.Accounts,
		&sanziv1.LedgerAccount{Code: "10201", Name: "银行存款-农商行", Class: asset, Side: dr, Parent: "102"},
		&sanziv1.LedgerAccount{Code: "50101", Name: "经营收入-发包", Class: pl, Side: cr, Parent: "501"},
		&sanziv1.LedgerAccount{Code: "11301", Name: "内部往来-村民小组", Class: asset, Side: dr, Parent: "113"},
		&sanziv1.LedgerAccount{Code: "11302", Name: "内部往来-合作社", Class: asset, Side: dr, Parent: "113"},
	)
	// Mappings go to leaf accounts: the sub-account of a national one
	// that now has sub-accounts.
	leaf := map[string]string{"102": "10201", "501": "50101", "113": "11301"}
	for _, m := range c.GetMappings() {
		m.DebitAccount = cmp.Or(leaf[m.GetDebitAccount()], m.GetDebitAccount())
		m.CreditAccount = cmp.Or(leaf[m.GetCreditAccount()], m.GetCreditAccount())
	}
	ch, err := chart.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// vouchersUnder is every voucher of the villages of bs under prefix, one
// list: TotalsOf sums them as one org's (totals add up).
func vouchersUnder(bs []*ledgerBooks, prefix string) []*sanziv1.Voucher {
	var out []*sanziv1.Voucher
	for _, b := range bs {
		if strings.HasPrefix(b.v.org, prefix) {
			out = append(out, b.vouchers...)
		}
	}
	return out
}

// TestBooksTotalsAreTheVillagesSums records two years of vouchers in three
// villages (two in one town), loads them through a real FSM into a real
// ClickHouse, and checks BooksTotals for a village, a town and the
// district, for months around an opening voucher, mid-year
// carry-forwards, a year-end carry-forward and a red-ink reversal, against
// the sums computed in Go from the same vouchers; then again after a
// replay (a new leader's loader finding entries and its progress gone,
// voucher_lines whole) and after more vouchers arrive.
func TestBooksTotalsAreTheVillagesSums(t *testing.T) {
	ctx := context.Background()
	s, d := newRig(t)
	rnd := rand.New(rand.NewPCG(19, 19))
	a, b, c := threeVillages(t)

	// A opens its books in 2024, carries forward at the end of 2024, then
	// monthly from March 2025 and reverses an April voucher in May.
	a.record(t, &sanziv1.Voucher{BusinessDate: "2024-01-01", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{line("101", 50_000), line("10201", 2_000_000_00), line("151", 80_000_000), line("211", -30_000_000), line("301", -250_050_000)}})
	for m := 1; m <= 12; m++ {
		a.business(t, rnd, fmt.Sprintf("2024-%02d", m), 6)
	}
	a.carryForward(t, "2024-12-31")
	wrong := 0
	for m := 1; m <= 12; m++ {
		a.business(t, rnd, fmt.Sprintf("2025-%02d", m), 6)
		if m == 4 {
			a.record(t, &sanziv1.Voucher{BusinessDate: "2025-04-15", Summary: "错账", Lines: []*sanziv1.VoucherLine{line("531", 777_700), line("101", -777_700)}})
			wrong = len(a.vouchers) - 1
		}
		if m == 5 {
			a.reverse(t, wrong, "2025-05-20")
		}
		if m >= 3 {
			a.carryForward(t, fmt.Sprintf("2025-%02d-28", m))
		}
	}
	// The last day of June counts in June; the first of July does not.
	a.record(t, &sanziv1.Voucher{BusinessDate: "2025-06-30", Summary: "月末", Lines: []*sanziv1.VoucherLine{line("112", 1_234), line("10201", -1_234)}})
	a.record(t, &sanziv1.Voucher{BusinessDate: "2025-07-01", Summary: "月初", Lines: []*sanziv1.VoucherLine{line("112", 4_321), line("10201", -4_321)}})

	// B opens its books in February 2025 and carries forward in June.
	b.record(t, &sanziv1.Voucher{BusinessDate: "2025-02-01", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{line("101", 12_000), line("10201", 90_000_000), line("301", -90_012_000)}})
	for m := 2; m <= 9; m++ {
		b.business(t, rnd, fmt.Sprintf("2025-%02d", m), 5)
	}
	b.carryForward(t, "2025-06-30")

	// C, in another town, has no opening voucher.
	for m := 3; m <= 8; m++ {
		c.business(t, rnd, fmt.Sprintf("2025-%02d", m), 4)
	}
	all := []*ledgerBooks{a, b, c}
	for _, x := range all {
		d.ship(x.v, 13)
	}
	conn := connect(t, s)
	_, wait := run(t, d, conn)
	wait()

	st := stats.New(conn)
	ch := booksChart(t)
	check := func(when string) {
		t.Helper()
		for _, prefix := range []string{"350505100201", "350505100202", "350505100", "350505", "350505100000", "3505051012"} {
			for _, period := range []string{"2024-12", "2025-01", "2025-02", "2025-03", "2025-05", "2025-06", "2025-12"} {
				got, n, err := st.BooksTotals(ctx, prefix, period)
				if err != nil {
					t.Fatalf("%s: BooksTotals(%s, %s): %v", when, prefix, period, err)
				}
				sel := strings.TrimSuffix(prefix, "000")
				want, wantN := wantTotals(t, all, sel, period)
				if n != wantN || !maps.Equal(got, want) {
					t.Fatalf("%s: BooksTotals(%s, %s): %d villages, %v\nwant %d villages, %v", when, prefix, period, n, got, wantN, want)
				}
				// The village's own computation (node/statement) over the
				// same vouchers gives the same figures: ClickHouse's sums
				// and the village's statements follow one definition.
				village, err := statement.TotalsOf(ch, vouchersUnder(all, sel), period)
				if err != nil {
					t.Fatal(err)
				}
				maps.DeleteFunc(village, func(_ string, m statement.Movement) bool { return m == statement.Movement{} })
				if !maps.Equal(got, village) {
					t.Fatalf("%s: BooksTotals(%s, %s) = %v\nstatement.TotalsOf = %v", when, prefix, period, got, village)
				}
				byOrg, err := st.BooksOrgTotals(ctx, prefix, period)
				if err != nil {
					t.Fatal(err)
				}
				if len(byOrg) != wantN {
					t.Fatalf("%s: BooksOrgTotals(%s, %s) has %d orgs, want %d", when, prefix, period, len(byOrg), wantN)
				}
				for _, b := range all {
					org := b.v.org
					if _, ok := byOrg[org]; !ok {
						continue
					}
					want, err := statement.TotalsOf(ch, b.vouchers, period)
					if err != nil {
						t.Fatal(err)
					}
					maps.DeleteFunc(want, func(_ string, m statement.Movement) bool { return m == statement.Movement{} })
					if !maps.Equal(byOrg[org], want) {
						t.Fatalf("%s: BooksOrgTotals(%s, %s)[%s] = %v\nstatement.TotalsOf = %v", when, prefix, period, org, byOrg[org], want)
					}
				}
			}
		}
		for _, c := range []struct {
			prefix string
			want   int
		}{{"350505", 3}, {"350505100", 2}, {"350505101201", 1}, {"350506", 0}} {
			if n, err := st.BooksVillages(ctx, c.prefix); err != nil || n != c.want {
				t.Fatalf("%s: BooksVillages(%s) = %d, %v; want %d", when, c.prefix, n, err, c.want)
			}
		}
	}
	check("first load")

	// The figures the test relies on are there: June of A has an opening
	// balance, a year opening, carried amounts and a reversal.
	june, _ := wantTotals(t, all[:1], "350505100201", "2025-06")
	if june["10201"].YearOpeningFen == 0 || june["50101"].CarriedDebitFen == 0 || june["321"].OpeningFen == 0 || june["301"].YearOpeningFen != -250_050_000 {
		t.Fatalf("the scenario lacks what it is meant to test: %v", june)
	}
	var reversed uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM voucher_lines WHERE reverses != '' AND debit_fen + credit_fen < 0").Scan(&reversed); err != nil || reversed == 0 {
		t.Fatalf("red-ink lines in voucher_lines: %d, %v", reversed, err)
	}

	lines := func() (want, got uint64) {
		for _, x := range all {
			for _, v := range x.vouchers {
				want += uint64(len(v.GetLines()))
			}
		}
		if err := conn.QueryRow(ctx, "SELECT count() FROM voucher_lines").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return want, got
	}
	if want, got := lines(); got != want {
		t.Fatalf("voucher_lines holds %d rows for %d lines", got, want)
	}

	// A replay: the new leader's loader finds entries and the progress
	// rows gone (an old leader failed after inserting voucher_lines, before
	// the rest), loads everything again from the start, and must skip
	// every voucher line it already holds.
	for _, q := range []string{"TRUNCATE TABLE entries", "TRUNCATE TABLE loader_progress"} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	replay, wait := run(t, d, conn)
	wait()
	var entries uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM entries").Scan(&entries); err != nil {
		t.Fatal(err)
	}
	var heads uint64
	for _, x := range all {
		heads += x.v.b.Ledger().Head(x.v.org).Seq
	}
	if entries != heads || replay.Stats().Rows != entries {
		t.Fatalf("the replay loaded %d rows, entries holds %d: want only the %d entries again", replay.Stats().Rows, entries, heads)
	}
	if want, got := lines(); got != want {
		t.Fatalf("after the replay voucher_lines holds %d rows for %d lines", got, want)
	}
	check("after a replay")

	// More vouchers arrive; the next loader adds only them.
	c.business(t, rnd, "2025-06", 3)
	c.carryForward(t, "2025-06-30")
	d.ship(c.v, 2)
	_, wait = run(t, d, conn)
	wait()
	if want, got := lines(); got != want {
		t.Fatalf("after more vouchers voucher_lines holds %d rows for %d lines", got, want)
	}
	check("after more vouchers")
	got, n, err := st.BooksTotals(ctx, "350505", "2025-06")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("district June 2025: %d villages, %d accounts; 10201 %+v", n, len(got), got["10201"])
}

// TestBooksTotalsRefusesBadInput: a prefix or period it cannot read is
// refused naming the argument, before any query.
func TestBooksTotalsRefusesBadInput(t *testing.T) {
	st := stats.New(nil)
	for _, c := range []struct{ prefix, period, field string }{
		{"35050a", "2025-06", "orgPrefix"},
		{"3505051002011", "2025-06", "orgPrefix"},
		{"350505", "2025-13", "period"},
		{"350505", "2025-6", "period"},
		{"350505", "202506", "period"},
		{"350505", "", "period"},
	} {
		_, _, err := st.BooksTotals(context.Background(), c.prefix, c.period)
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("BooksTotals(%q, %q) = %v; want an error naming %s", c.prefix, c.period, err, c.field)
		}
	}
	if _, err := st.BooksVillages(context.Background(), "x"); err == nil || !strings.HasPrefix(err.Error(), "orgPrefix") {
		t.Errorf("BooksVillages(x) = %v; want an error naming orgPrefix", err)
	}
}
