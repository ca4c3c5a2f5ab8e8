package main

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/server"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDemoYearKeepsBooks seeds one demo village's year (an ordinary one
// and a misbehaving one, in process, without a town) as `sanzi demo`
// does and reads its books back: the opening balances come first, every
// transaction and contract payment recorded has its voucher, every month
// over before the year's end is closed in order and none was refused (the
// last ones may wait for a village's step of theirs that is overdue, put
// off a working day at a time: they are open, saying so),
// 库存现金 and 银行存款 are never negative after any day's vouchers, and
// the balance sheet at the last closed month (statement.FromVouchers over
// the village's vouchers as the books list them) balances, its cash and
// bank the last close's.
func TestDemoYearKeepsBooks(t *testing.T) {
	for _, tc := range []struct {
		org     string
		profile villageProfile
	}{
		{demoVillageOrg(0, 0), profileOrdinary},
		{demoVillageOrg(0, 1), profileMisbehaving},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := filepath.Join(t.TempDir(), tc.org)
			clock := &demoClock{}
			start := demoYearStart(time.Now())
			clock.Set(start.Add(-time.Hour))
			admin, err := demoAdminFile(dir)
			if err != nil {
				t.Fatal(err)
			}
			n, err := server.Open(ctx, server.Config{DataDir: dir, Orgs: []string{tc.org}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
				NoSync: true, Now: clock.Now, AdminPasswordFile: admin, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if err := seedDemoAccounts(ctx, n.Accounts(), tc.org, demoVillagePeople); err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- n.Serve(ctx) }()
			defer func() { cancel(); <-served }()
			for !n.Serving() {
				time.Sleep(10 * time.Millisecond)
			}
			began := time.Now()
			st, err := seedVillageYear(ctx, n, "", "", tc.org, tc.profile, 16, clock, start, nil)
			if err != nil {
				t.Fatal(err)
			}
			clock.Release()
			t.Logf("seeded in %s: %d entries, %d refused %v; opening cash %s bank %s; %d months closed, %d blocked; last %s cash %s bank %s",
				time.Since(began).Round(time.Millisecond), st.Entries, st.Refused, st.Reasons, money.FormatFen(st.OpeningCashFen), money.FormatFen(st.OpeningBankFen),
				st.Closes, st.CloseBlocked, st.LastClose.GetMonth(), money.FormatFen(st.LastClose.GetCashFen()), money.FormatFen(st.LastClose.GetBankFen()))
			checkDemoBooks(t, n.Books(), tc.org, start, st)
		})
	}
}

// checkDemoBooks reads org's books and checks them as TestDemoYearKeepsBooks says.
func checkDemoBooks(t *testing.T, b *books.Books, org string, start time.Time, st seedStats) {
	t.Helper()
	if st.CloseBlocked > 0 {
		t.Errorf("%d closes were refused: %v", st.CloseBlocked, st.Reasons)
	}
	// Every month from the opening balances' to the last one over before
	// the year's end (its first working day's morning, when the seeder
	// closes it) is closed.
	var want []string
	end := start.AddDate(0, 0, 365)
	od := start.AddDate(0, 0, -1) // the opening balances' date
	for m := time.Date(od.Year(), od.Month(), 1, 0, 0, 0, 0, od.Location()); ; {
		next := m.AddDate(0, 1, 0)
		for next.Weekday() == time.Saturday || next.Weekday() == time.Sunday {
			next = next.AddDate(0, 0, 1)
		}
		if next.Add(8*time.Hour + 30*time.Minute).After(end) {
			break
		}
		want = append(want, m.Format("2006-01"))
		m = m.AddDate(0, 1, 0)
	}
	if len(want) < 11 {
		t.Fatalf("only %d months to close in a year: %v", len(want), want)
	}
	// A closed month passed the check that every business record has its
	// voucher; the months still open must not fail it either.
	var closed []string
	for _, y := range []string{want[0][:4], want[len(want)-1][:4]} {
		months, err := b.ListMonths(org, y)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range months {
			if m.GetClosed() && !slices.Contains(closed, m.GetMonth()) {
				closed = append(closed, m.GetMonth())
			}
			for _, why := range m.GetBlockers() {
				if strings.Contains(why, "has no voucher") {
					t.Errorf("%s: %s", m.GetMonth(), why)
				}
			}
		}
	}
	// The last months may wait, at the year's end, for a village's step
	// of theirs that is overdue (a misbehaving village's): open, saying so.
	waiting := want[len(want)-st.CloseWaiting:]
	want = want[:len(want)-st.CloseWaiting]
	if !slices.Equal(closed, want) || st.Closes != len(want) || len(want) < 10 {
		t.Errorf("closed months %v (%d closes), want %v", closed, st.Closes, want)
	}
	for _, m := range waiting {
		months, err := b.ListMonths(org, m[:4])
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(months, func(s *sanziv1.MonthStatus) bool { return s.GetMonth() == m })
		if i < 0 {
			t.Errorf("%s left open at the year's end is not listed", m)
		} else if months[i].GetClosed() || !slices.ContainsFunc(months[i].GetBlockers(), func(why string) bool { return strings.Contains(why, " is overdue at step ") }) {
			t.Errorf("%s left open at the year's end: want it open with a village's overdue step among its blockers, got %v", m, months[i])
		}
	}

	// The vouchers, the opening balances first.
	var vs []*sanziv1.VoucherRecord
	for p := (books.Page{Size: 1000}); ; {
		page, next, _, err := b.ListVouchers(org, "", p)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, page...)
		if next == "" {
			break
		}
		p.Token = next
	}
	if len(vs) < 100 || !vs[0].GetVoucher().GetOpening() {
		t.Fatalf("%d vouchers, the first opening %v: want the opening balances first and a year's business", len(vs), vs[0].GetVoucher().GetOpening())
	}
	// Cash and bank after each day's vouchers, in date order.
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b *sanziv1.VoucherRecord) int {
		return cmp.Compare(a.GetVoucher().GetBusinessDate(), b.GetVoucher().GetBusinessDate())
	})
	var cash, bank int64
	for i, v := range sorted {
		for _, l := range v.GetVoucher().GetLines() {
			switch {
			case strings.HasPrefix(l.GetAccount(), chart.Cash):
				cash += l.GetDebitFen() - l.GetCreditFen()
			case strings.HasPrefix(l.GetAccount(), chart.Bank):
				bank += l.GetDebitFen() - l.GetCreditFen()
			}
		}
		if i+1 < len(sorted) && sorted[i+1].GetVoucher().GetBusinessDate() == v.GetVoucher().GetBusinessDate() {
			continue
		}
		if cash < 0 || bank < 0 {
			t.Fatalf("after %s: 库存现金 %s, 银行存款 %s: want neither negative", v.GetVoucher().GetBusinessDate(), money.FormatFen(cash), money.FormatFen(bank))
		}
	}

	// The balance sheet at the last closed month.
	ch, _, err := b.Chart()
	if err != nil {
		t.Fatal(err)
	}
	last := want[len(want)-1]
	var upTo []*sanziv1.Voucher
	for _, v := range vs {
		upTo = append(upTo, v.GetVoucher())
	}
	bs, err := statement.FromVouchers(ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, org, last, "", upTo)
	if err != nil {
		t.Fatalf("balance sheet at %s: %v", last, err)
	}
	rows := map[string][]int64{}
	for _, r := range bs.GetRows() {
		rows[r.GetCode()] = r.GetAmountsFen()
	}
	assets, equity := rows[statement.LineTotalAssets], rows[statement.LineTotalLiabilitiesEquity]
	if len(assets) != 2 || !slices.Equal(assets, equity) || assets[1] <= 0 {
		t.Errorf("balance sheet at %s: 资产总计 %v, 负债和所有者权益总计 %v: want equal and positive", last, assets, equity)
	}
	if st.LastClose.GetMonth() != last || st.LastClose.GetCashFen() < 0 || st.LastClose.GetBankFen() < 0 {
		t.Errorf("last close %v, want %s with cash and bank not negative", st.LastClose, last)
	}
	t.Logf("balance sheet %s: 资产总计 %s (年初 %s); close: cash %s bank %s", last, money.FormatFen(assets[1]), money.FormatFen(assets[0]),
		money.FormatFen(st.LastClose.GetCashFen()), money.FormatFen(st.LastClose.GetBankFen()))
}
