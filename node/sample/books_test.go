package sample

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
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVillageKeepsBooks: a generated village's books open with balances
// before its first voucher, every month over before its last day is
// closed (each close passed the books' checks: every record booked, cash
// not negative), cash and bank are never negative after any day's
// vouchers, and the balance sheet at the last closed month, computed with
// statement.FromVouchers from the vouchers the books list, balances.
func TestVillageKeepsBooks(t *testing.T) {
	cfg := Config{Dir: filepath.Join(t.TempDir(), "v"), Org: "350505100201", Entries: 6000, Days: 120, Seed: 7,
		End: time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := Village(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	ring, _, err := keys.Ensure(filepath.Join(cfg.Dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(cfg.Dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Split: entries.Masker{},
		Logger: cfg.Logger, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := books.New(l, nil, &books.Validator{Served: []string{cfg.Org}})
	if err != nil {
		t.Fatal(err)
	}

	// The business ran from the 16th of February (2026-06-15 in CST less
	// 119 days; the opening balances the day before) for res.Days days,
	// until the entries asked were recorded: each month whose next
	// month's first day came is closed.
	first := time.Date(2026, 2, 16, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	lastDay := first.AddDate(0, 0, res.Days-1)
	var want []string
	for m := time.Date(2026, 2, 1, 0, 0, 0, 0, first.Location()); !m.AddDate(0, 1, 0).After(lastDay); m = m.AddDate(0, 1, 0) {
		want = append(want, m.Format("2006-01"))
	}
	if len(want) < 3 {
		t.Fatalf("%d days of business (to %s) close only %v: want at least three months", res.Days, lastDay.Format(time.DateOnly), want)
	}
	months, err := b.ListMonths(cfg.Org, "2026")
	if err != nil {
		t.Fatal(err)
	}
	var closed []string
	for _, m := range months {
		if m.GetClosed() {
			closed = append(closed, m.GetMonth())
		}
	}
	if !slices.Equal(closed, want) || res.Closes != len(want) || res.LastClose.GetMonth() != want[len(want)-1] {
		t.Errorf("closed %v (%d closes, the last %s), want %v", closed, res.Closes, res.LastClose.GetMonth(), want)
	}

	var vs []*sanziv1.Voucher
	for p := (books.Page{Size: 1000}); ; {
		page, next, _, err := b.ListVouchers(cfg.Org, "", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			vs = append(vs, r.GetVoucher())
		}
		if next == "" {
			break
		}
		p.Token = next
	}
	if len(vs) < res.Transactions || !vs[0].GetOpening() {
		t.Fatalf("%d vouchers for %d transactions, the first opening %v: want the opening balances first, then a voucher per record", len(vs), res.Transactions, vs[0].GetOpening())
	}
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b *sanziv1.Voucher) int { return cmp.Compare(a.GetBusinessDate(), b.GetBusinessDate()) })
	var cash, bank, low int64
	for i, v := range sorted {
		for _, l := range v.GetLines() {
			switch {
			case strings.HasPrefix(l.GetAccount(), chart.Cash):
				cash += l.GetDebitFen() - l.GetCreditFen()
			case strings.HasPrefix(l.GetAccount(), chart.Bank):
				bank += l.GetDebitFen() - l.GetCreditFen()
			}
		}
		if i+1 < len(sorted) && sorted[i+1].GetBusinessDate() == v.GetBusinessDate() {
			continue
		}
		if cash < 0 || bank < 0 {
			t.Fatalf("after %s: 库存现金 %s, 银行存款 %s: want neither negative", v.GetBusinessDate(), money.FormatFen(cash), money.FormatFen(bank))
		}
		if i > 0 && (low == 0 || bank < low) {
			low = bank
		}
	}

	ch, _, err := b.Chart()
	if err != nil {
		t.Fatal(err)
	}
	last := want[len(want)-1]
	bs, err := statement.FromVouchers(ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, cfg.Org, last, "", vs)
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
	t.Logf("opening cash %s bank %s; %d subsidies; lowest bank %s; close of %s: cash %s bank %s; 资产总计 %s",
		money.FormatFen(res.OpeningCashFen), money.FormatFen(res.OpeningBankFen), res.Subsidies, money.FormatFen(low), last,
		money.FormatFen(res.LastClose.GetCashFen()), money.FormatFen(res.LastClose.GetBankFen()), money.FormatFen(assets[1]))
}
