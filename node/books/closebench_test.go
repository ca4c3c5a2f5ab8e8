package books_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// benchClock stands where the benchmark puts it.
type benchClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *benchClock) Now() time.Time         { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *benchClock) set(t time.Time)        { c.mu.Lock(); c.at = t; c.mu.Unlock() }
func (c *benchClock) day(d time.Time) string { return d.Format(time.DateOnly) }

// villageOfYears records years of a village's books from 2016-01-01: an
// opening voucher, then every day a cash expense (its voucher derived),
// every month closed in the first days of the next, the clock following
// the days. It returns the books, the clock, and the cash at the end.
func villageOfYears(b *testing.B, years int) (*books.Books, *benchClock, int64) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	clk := &benchClock{at: time.Date(2016, 1, 1, 10, 0, 0, 0, time.UTC)}
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{benchOrg})
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Now: clk.Now, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	att, err := attach.Open(filepath.Join(dir, "attachments"), l.DB(), 0, clk.Now)
	if err != nil {
		b.Fatal(err)
	}
	bk, err := books.New(l, att, &books.Validator{Served: []string{benchOrg}, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	const openingCash = 100_000_000_00
	if _, _, _, err := bk.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2015-12-31", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: openingCash}, {Account: chart.Capital, CreditFen: openingCash}}}); err != nil {
		b.Fatal(err)
	}
	cash := int64(openingCash)
	if _, _, err := bk.CloseMonth(ctx, "t", benchOrg, "2015-12", books.Counted{CashCountedFen: cash}); err != nil {
		b.Fatalf("close the opening month: %v", err)
	}
	start := time.Date(2016, 1, 1, 10, 0, 0, 0, time.UTC)
	end := start.AddDate(years, 0, 0)
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		clk.set(d)
		if d.Day() == 1 && d != start {
			prev := d.AddDate(0, -1, 0).Format("2006-01")
			if _, _, err := bk.CloseMonth(ctx, "t", benchOrg, prev, books.Counted{CashCountedFen: cash}); err != nil {
				b.Fatalf("close %s: %v", prev, err)
			}
		}
		if _, _, err := bk.RecordTransaction(ctx, "t", cashExpense(clk.day(d), 1000, "管理费用")); err != nil {
			b.Fatal(err)
		}
		cash -= 1000
	}
	clk.set(end.AddDate(0, 0, 3))
	return bk, clk, cash
}

// BenchmarkCloseMonthAfterYears times, after one and eight years of daily
// business every month of which is closed, the checks of closing the
// month just over (CloseMonth refused for a wrong cash count: it computes
// all a close does but the append) and ListMonths of that last year: the
// cost must be the month's, not the history's (issue 17).
func BenchmarkCloseMonthAfterYears(b *testing.B) {
	for _, years := range []int{1, 8} {
		bk, _, cash := villageOfYears(b, years)
		month := fmt.Sprintf("%d-12", 2016+years-1)
		b.Run(fmt.Sprintf("close/years=%d", years), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, err := bk.CloseMonth(context.Background(), "t", benchOrg, month, books.Counted{CashCountedFen: cash + 1}); err == nil {
					b.Fatal("close with a wrong count went through")
				}
			}
		})
		b.Run(fmt.Sprintf("listMonths/years=%d", years), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ms, err := bk.ListMonths(benchOrg, month[:4])
				if err != nil || len(ms) != 12 || !ms[10].GetClosed() || ms[11].GetClosed() {
					b.Fatalf("months %v: %v", ms, err)
				}
			}
		})
	}
}
