package books_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	benchOrg      = "350505100201"
	benchDistrict = "350505000000"
)

// openBooks opens books over a fresh ledger in dir, fsync on. The key
// ring holds the district's key too, so a test can put the district's
// chain in the ledger as a pull would.
func openBooks(tb testing.TB, dir string) *books.Books {
	tb.Helper()
	ring, _, err := keys.Ensure(filepath.Join(dir, "keys"), []string{benchOrg, benchDistrict})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ledger.Open(ledger.Config{Path: filepath.Join(dir, "ledger.db"), Keys: ring, Indexer: books.Indexer()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	att, err := attach.Open(filepath.Join(dir, "attachments"), l.DB(), 0, nil)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := books.New(l, att, &books.Validator{Served: []string{benchOrg}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// supervised turns on bk the default rules and the supervision a village
// node runs (catalog, procedures, stateful rules).
func supervised(tb testing.TB, bk *books.Books) {
	tb.Helper()
	e, err := rules.Compile(rules.Default())
	if err != nil {
		tb.Fatal(err)
	}
	bk.SetRules(e)
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := supervise.New(context.Background(), bk, supervise.Config{Catalog: catalog.Default("350505"), Calendar: cal}); err != nil {
		tb.Fatal(err)
	}
}

// sampleTx is the i-th of a stream of small expenses to 500 suppliers (by
// bank account), as a village pays its many small vendors.
func sampleTx(i int) *sanziv1.Transaction {
	return &sanziv1.Transaction{
		Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(1000 + i%100_000),
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
		Counterparty:  &sanziv1.Counterparty{Name: fmt.Sprintf("供应商%d", i%500), BankAccount: fmt.Sprintf("622202020011%07d", i%500)},
		BusinessDate:  time.Now().Format(time.DateOnly), Summary: fmt.Sprintf("材料费 第%d笔", i), VoucherNumber: fmt.Sprintf("记-%06d", i),
		InvoiceCode: "035001900111", InvoiceNumber: fmt.Sprintf("%08d", i), BudgetLine: "公益事业支出", Category: "公益支出",
	}
}

// BenchmarkRecord records transactions through validation, the ledger (fsync
// on, group commit) and the indexes, with 1 and 16 concurrent recorders, and
// reports entries/s and p50/p99 latency of one record call.
//
// rules=off records with no rules; rules=on with the whole default rule set,
// the catalog's procedures (each expense opens one: two entries per record)
// and the stateful rules, as a village node runs.
func BenchmarkRecord(b *testing.B) {
	for _, cfg := range []struct {
		rules     string
		recorders int
	}{{"off", 1}, {"on", 1}, {"off", 16}, {"on", 16}} {
		recorders := cfg.recorders
		b.Run(fmt.Sprintf("rules=%s/recorders=%d", cfg.rules, recorders), func(b *testing.B) {
			bk := openBooks(b, b.TempDir())
			if cfg.rules == "on" {
				supervised(b, bk)
			}
			lat := make([][]time.Duration, recorders)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for r := 0; r < recorders; r++ {
				n := b.N / recorders
				if r < b.N%recorders {
					n++
				}
				wg.Add(1)
				go func(r, n int) {
					defer wg.Done()
					for i := 0; i < n; i++ {
						t0 := time.Now()
						if _, _, err := bk.RecordTransaction(context.Background(), "bench", sampleTx(r*1_000_000+i)); err != nil {
							b.Error(err)
							return
						}
						lat[r] = append(lat[r], time.Since(t0))
					}
				}(r, n)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				return
			}
			q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "entries/s")
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			st := bk.Ledger().Stats()
			b.ReportMetric(float64(st.Entries)/float64(max(st.Commits, 1)), "entries/commit")
		})
	}
}

// BenchmarkListTransactions times one page of 20 transactions (the
// console's first render of its list) in a village of 20,000, by org
// alone and filtered by kind (both from their indexes, the total from the
// counters).
func BenchmarkListTransactions(b *testing.B) {
	bk := openBooks(b, b.TempDir())
	const entries = 20_000
	ctx := context.Background()
	for i := 0; i < entries; i += 500 {
		rows := make([]books.ImportRow, 0, 500)
		for j := i; j < i+500; j++ {
			rows = append(rows, books.ImportRow{Row: j + 2, Transaction: sampleTx(j)})
		}
		if res, err := bk.ImportTransactions(ctx, "bench", rows, false); err != nil || res.Recorded != 500 {
			b.Fatalf("import: %+v %v", res, err)
		}
	}
	for _, tc := range []struct {
		name string
		f    books.TransactionFilter
	}{{"org", books.TransactionFilter{Org: benchOrg}}, {"kind", books.TransactionFilter{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE}}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				recs, next, total, err := bk.ListTransactions(tc.f, books.Page{Size: 20})
				if err != nil || len(recs) != 20 || total != entries || next == "" {
					b.Fatalf("page: %d rows, total %d, next %q, %v", len(recs), total, next, err)
				}
			}
		})
	}
}
