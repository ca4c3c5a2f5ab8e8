package books_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/money"
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

// openVillage opens the books in dir on clk, fsync off; close closes the
// ledger (also done when tb ends).
func openVillage(tb testing.TB, dir string, clk *benchClock) (bk *books.Books, close func()) {
	tb.Helper()
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{benchOrg})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer(), Now: clk.Now, NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	close = func() { once.Do(func() { l.Close() }) }
	tb.Cleanup(close)
	att, err := attach.Open(filepath.Join(dir, "attachments"), l.DB(), 0, clk.Now)
	if err != nil {
		tb.Fatal(err)
	}
	bk, err = books.New(l, att, &books.Validator{Served: []string{benchOrg}, Now: clk.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return bk, close
}

// villageOfYears records years of a village's books from 2016-01-01 in
// dir: an opening voucher, then every day a cash expense of 10.00 (its
// voucher derived), every month closed on the first day of the next, the
// clock following the days and left on the third day after. It returns
// the books, the clock, and the cash at the end.
func villageOfYears(tb testing.TB, dir string, years int) (*books.Books, *benchClock, int64, func()) {
	tb.Helper()
	ctx := context.Background()
	clk := &benchClock{at: time.Date(2016, 1, 1, 10, 0, 0, 0, time.UTC)}
	bk, closeFn := openVillage(tb, dir, clk)
	const openingCash = 100_000_000_00
	if _, _, _, err := bk.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2015-12-31", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: openingCash}, {Account: chart.Capital, CreditFen: openingCash}}}); err != nil {
		tb.Fatal(err)
	}
	cash := int64(openingCash)
	if _, _, err := bk.CloseMonth(ctx, "t", benchOrg, "2015-12", books.Counted{CashCountedFen: cash}); err != nil {
		tb.Fatalf("close the opening month: %v", err)
	}
	start := time.Date(2016, 1, 1, 10, 0, 0, 0, time.UTC)
	end := start.AddDate(years, 0, 0)
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		clk.set(d)
		if d.Day() == 1 && d != start {
			prev := d.AddDate(0, -1, 0).Format("2006-01")
			if _, _, err := bk.CloseMonth(ctx, "t", benchOrg, prev, books.Counted{CashCountedFen: cash}); err != nil {
				tb.Fatalf("close %s: %v", prev, err)
			}
		}
		if _, _, err := bk.RecordTransaction(ctx, "t", cashExpense(clk.day(d), 1000, "管理费用")); err != nil {
			tb.Fatal(err)
		}
		cash -= 1000
	}
	clk.set(end.AddDate(0, 0, 3))
	return bk, clk, cash, closeFn
}

// BenchmarkCloseMonthAfterYears times, after one and eight years of daily
// business every month of which is closed, the checks of closing the
// month just over (CloseMonth refused for a wrong cash count: it computes
// all a close does but the append) and ListMonths of that last year: the
// cost must be the month's, not the history's (issue 17).
func BenchmarkCloseMonthAfterYears(b *testing.B) {
	for _, years := range []int{1, 8} {
		bk, _, cash, _ := villageOfYears(b, b.TempDir(), years)
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

// TestMonthIndexesBuiltAgain: a year of daily business read through the
// month indexes (each month closed with a voucher a day, the refused close
// of December naming the cash the year left), the same after the ledger
// lost its month indexes, as one written before them, and was opened again.
func TestMonthIndexesBuiltAgain(t *testing.T) {
	dir := t.TempDir()
	bk, clk, cash, closeFn := villageOfYears(t, dir, 1)
	read := func(bk *books.Books) ([]*sanziv1.MonthStatus, string) {
		t.Helper()
		ms, err := bk.ListMonths(benchOrg, "2016")
		if err != nil || len(ms) != 12 {
			t.Fatalf("months of 2016: %v, %v", ms, err)
		}
		for i, m := range ms {
			days := time.Date(2016, time.Month(i+2), 0, 0, 0, 0, 0, time.UTC).Day()
			if closed := i < 11; m.GetClosed() != closed || int(m.GetVouchers()) != days {
				t.Errorf("%s: closed %v with %d vouchers, want %v with %d", m.GetMonth(), m.GetClosed(), m.GetVouchers(), closed, days)
			}
		}
		_, _, err = bk.CloseMonth(context.Background(), "t", benchOrg, "2016-12", books.Counted{CashCountedFen: cash + 1})
		want := fmt.Sprintf("库存现金 (101) ends 2016-12 at %s yuan in the books", money.FormatFen(cash))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("close of December with a wrong count: %v; want …%s…", err, want)
		}
		return ms, err.Error()
	}
	months, refusal := read(bk)
	if err := bk.Ledger().DB().Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"idx_month_totals", "idx_month_entries", "idx_month_bankrec", "idx_month_reopen"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("idx_meta")).Delete([]byte("months version"))
	}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	again, _ := openVillage(t, dir, clk)
	months2, refusal2 := read(again)
	for i := range months {
		if !proto.Equal(months[i], months2[i]) {
			t.Errorf("%s after the indexes were built again: %v, was %v", months[i].GetMonth(), months2[i], months[i])
		}
	}
	if refusal2 != refusal {
		t.Errorf("refusal after the indexes were built again:\n%s\nwas\n%s", refusal2, refusal)
	}
}

// TestMonthIndexesAfterARestore: after the village's chain was restored
// from a copy holding its first half, the months read through the month
// indexes the restore left are those read through indexes built afresh
// from the restored chain.
func TestMonthIndexesAfterARestore(t *testing.T) {
	dir := t.TempDir()
	bk, clk, cash, closeFn := villageOfYears(t, dir, 1)
	restoreFromHalf(t, bk, dir, closeFn)
	read := func(bk *books.Books) ([]*sanziv1.MonthStatus, []string) {
		t.Helper()
		ms, err := bk.ListMonths(benchOrg, "2016")
		if err != nil || len(ms) != 12 {
			t.Fatalf("months of 2016: %v, %v", ms, err)
		}
		var refusals []string
		for _, m := range ms {
			_, _, err := bk.CloseMonth(context.Background(), "t", benchOrg, m.GetMonth(), books.Counted{CashCountedFen: cash})
			refusals = append(refusals, fmt.Sprint(err))
		}
		return ms, refusals
	}
	bk, closeFn = openVillage(t, dir, clk)
	months, refusals := read(bk)
	if months[0].GetVouchers() != 31 || !months[0].GetClosed() || months[11].GetVouchers() != 0 {
		t.Fatalf("months after the restore: %v", months)
	}
	if err := bk.Ledger().DB().Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("idx_meta")).Delete([]byte("months version"))
	}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	bk, _ = openVillage(t, dir, clk)
	afresh, refusals2 := read(bk)
	for i := range months {
		if !proto.Equal(months[i], afresh[i]) || refusals[i] != refusals2[i] {
			t.Errorf("%s after the restore: %v, refused %s; built afresh: %v, refused %s", months[i].GetMonth(), months[i], refusals[i], afresh[i], refusals2[i])
		}
	}
}

// BenchmarkStatementAfterYears times a village's statements of the last
// month after one and eight years of daily business, made as GetStatement
// makes them from the month indexes (months: the accounts' movements up to
// the period, and the month's vouchers for a journal) beside the way it
// made them from every voucher of the village (vouchers): the first must
// cost the months', not the vouchers' (issue 17).
func BenchmarkStatementAfterYears(b *testing.B) {
	for _, years := range []int{1, 8} {
		bk, _, cash, _ := villageOfYears(b, b.TempDir(), years)
		ch, _, err := bk.Chart()
		if err != nil {
			b.Fatal(err)
		}
		period := fmt.Sprintf("%d-12", 2016+years-1)
		for _, k := range []struct {
			name string
			kind sanziv1.StatementKind
		}{{"balanceSheet", sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET}, {"cashJournal", sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL}} {
			for _, way := range []struct {
				name string
				make func(*books.Books, *chart.Chart, sanziv1.StatementKind, string, string) (*sanziv1.Statement, error)
			}{{"vouchers", fromVouchers}, {"months", fromMonths}} {
				b.Run(fmt.Sprintf("%s/%s/years=%d", k.name, way.name, years), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						st, err := way.make(bk, ch, k.kind, period, "")
						if err != nil {
							b.Fatal(err)
						}
						if k.kind == sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL {
							if got := st.GetRows()[len(st.GetRows())-1].GetAmountsFen()[2]; got != cash {
								b.Fatalf("cash journal ends at %d fen, want %d", got, cash)
							}
						}
					}
				})
			}
		}
	}
}

// restoreFromHalf closes the village bk on dir (closeFn) and restores its
// ledger from a parent's copy of the first half of its chain, as a node
// restored after its file was lost: the second half must be lost.
func restoreFromHalf(t *testing.T, bk *books.Books, dir string, closeFn func()) {
	t.Helper()
	var parent [][]byte
	if err := bk.Ledger().Range(benchOrg, 1, int(bk.Ledger().Head(benchOrg).Seq/2), func(s *ledger.Stored) bool {
		parent = append(parent, s.Raw)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{benchOrg})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ring.Public(benchOrg)
	res, err := ledger.Restore(filepath.Join(dir, "ledger.db"), benchOrg, pub, parent, books.Indexer(), func(uint64, []byte, bool) error { return nil })
	if err != nil || len(res.Lost) == 0 {
		t.Fatalf("restore: %+v %v", res, err)
	}
}
