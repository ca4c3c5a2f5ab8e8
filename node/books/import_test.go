package books_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
)

// heapMiB is the live heap after a collection.
func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// samplePeak samples the heap every millisecond until the returned stop,
// which gives the highest figure seen, in MiB.
func samplePeak() (stop func() float64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			top = max(top, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return float64(<-peak) / (1 << 20)
	}
}

// importRows streams n rows into a new import, made one at a time as a
// client sends them (the test holds none), each padded to about 450
// bytes; bad(i) makes row i invalid.
func importRows(t *testing.T, b *books.Books, n int, bad func(int) bool) (*books.Import, float64) {
	t.Helper()
	im, err := b.StartImport("t", false)
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 400)
	before := heapMiB()
	for i := 0; i < n; i++ {
		tx := sampleTx(i)
		tx.Summary += pad
		if bad(i) {
			tx.AmountFen = -1
		}
		if err := im.Add(books.ImportRow{Row: i + 2, Transaction: tx}); err != nil {
			t.Fatalf("row %d: %v", i+2, err)
		}
	}
	return im, heapMiB() - before
}

// TestImportBoundedMemory: 40,000 rows (about 18 MB of transactions) are
// checked and staged with the node's live heap growing by a few MiB, not by
// the size of the sheet; the reply lists the first 1,000 rejections and
// counts them all; nothing is recorded when any row is refused, all rows
// when none is, in one append.
func TestImportBoundedMemory(t *testing.T) {
	ctx := context.Background()
	const rows = 40_000
	// Generous: the rows alone are ~18 MiB; what is held is one row, the
	// listed rejections and buffers.
	const boundMiB = 8
	t.Run("rejections beyond those listed", func(t *testing.T) {
		dir := t.TempDir()
		b := openBooks(t, dir)
		im, grew := importRows(t, b, rows, func(i int) bool { return i%20 == 7 })
		t.Logf("40,000 rows, 2,000 refused: live heap grew %.1f MiB while the import was open", grew)
		if grew > boundMiB {
			t.Errorf("live heap grew %.1f MiB during the import, want under %d", grew, boundMiB)
		}
		res, err := im.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != rows || res.RejectedTotal != 2000 || len(res.Rejections) != books.MaxRejectionsListed || res.Recorded != 0 {
			t.Fatalf("result: rows %d, rejected %d (listed %d), recorded %d", res.Rows, res.RejectedTotal, len(res.Rejections), res.Recorded)
		}
		if r := res.Rejections[0]; r.Row != 9 || r.Field != "transaction.amountFen" {
			t.Fatalf("first rejection: %+v", r)
		}
		if last := res.Rejections[len(res.Rejections)-1]; last.Row != 20*999+9 {
			t.Fatalf("last listed rejection is row %d, want the 1,000th refused row %d", last.Row, 20*999+9)
		}
		if h := b.Ledger().Head(benchOrg); h.Seq != 0 {
			t.Fatalf("head after a refused import: %d", h.Seq)
		}
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "import-staging")); len(left) != 0 {
			t.Fatalf("staging left behind: %v", left)
		}
	})
	t.Run("all recorded", func(t *testing.T) {
		b := openBooks(t, t.TempDir())
		// Fewer rows here: sealing each entry is what takes the time.
		const good = 10_000
		im, grew := importRows(t, b, good, func(int) bool { return false })
		defer im.Close()
		t.Logf("%d good rows: live heap grew %.1f MiB while they were staged", good, grew)
		if grew > boundMiB {
			t.Errorf("live heap grew %.1f MiB during the import, want under %d", grew, boundMiB)
		}
		before := heapMiB()
		stop := samplePeak()
		res, err := im.Finish(ctx)
		peak := stop() - before
		if err != nil {
			t.Fatal(err)
		}
		heapMiB() // a second collection empties sync.Pool's victim cache
		t.Logf("recording %d rows in one transaction: heap peaked %.1f MiB over the start, %+.1f MiB live after", good, peak, heapMiB()-before)
		// Generous: about 7 MB of sealed transactions and 3 MB of the
		// vouchers they book (issue 19: each row's voucher follows it), with
		// what bbolt and the indexes allocate on the way (garbage included).
		// Before the vouchers the bound was 96 MiB for the 7 MB.
		if peak > 136 {
			t.Errorf("heap peaked %.1f MiB over the start while recording, want under 136", peak)
		}
		// The last row's transaction is the entry before its voucher.
		if res.Recorded != good || res.RejectedTotal != 0 || res.FirstID != benchOrg+"-1" || res.LastID != fmt.Sprintf("%s-%d", benchOrg, 2*good-1) {
			t.Fatalf("result: %+v", res)
		}
		if st := b.Ledger().Stats(); st.Commits != 1 || st.Entries != 2*good {
			t.Fatalf("ledger: %d commits, %d entries; want one commit of %d (a voucher for each row)", st.Commits, st.Entries, 2*good)
		}
	})
	t.Run("limits", func(t *testing.T) {
		b := openBooks(t, t.TempDir())
		for _, c := range []struct {
			name string
			lim  books.ImportLimits
			want string
		}{
			{"rows", books.ImportLimits{MaxRows: 10}, "at most 10 rows"},
			{"bytes", books.ImportLimits{MaxBytes: 2000}, "at most 2000 bytes"},
		} {
			t.Run(c.name, func(t *testing.T) {
				b.SetImportLimits(c.lim)
				im, err := b.StartImport("t", false)
				if err != nil {
					t.Fatal(err)
				}
				defer im.Close()
				var inv *books.InvalidError
				for i := 0; i < 20; i++ {
					err = im.Add(books.ImportRow{Row: i + 2, Transaction: sampleTx(i)})
					if err != nil {
						break
					}
				}
				if !errors.As(err, &inv) || inv.Violations[0].Field != "rows" || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("past the limit: %v", err)
				}
			})
		}
	})
	t.Run("dry run", func(t *testing.T) {
		b := openBooks(t, t.TempDir())
		res, err := b.ImportTransactions(ctx, "t", []books.ImportRow{{Row: 2, Transaction: sampleTx(1)}, {Row: 3, Transaction: sampleTx(2)}}, true)
		if err != nil || res.Rows != 2 || res.Recorded != 0 || res.RejectedTotal != 0 || b.Ledger().Head(benchOrg).Seq != 0 {
			t.Fatalf("dry run: %+v %v", res, err)
		}
	})
}
