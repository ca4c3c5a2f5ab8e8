package watch

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/checkpoint"
)

// BenchmarkLoad is what a node's first record or sweep after a start pays
// for the history from the checkpoint (Load, then Err making it): a
// history of every kind the rules keep, as TestLoadEqualsSaved's, of
// 100,000 and 1,000,000 entries.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			w, _ := watcher(b)
			base := bj(b, "2026-01-01 10:00")
			for i, k := 0, 0; k < n; i++ {
				d := base.AddDate(0, 0, i/40%3650)
				date := d.Format(time.DateOnly)
				var ms []proto.Message
				switch i % 10 {
				case 0:
					ms = append(ms, exp(int64(100+i%5000), date, payee("张三", person(b, i%7)), invoice("044", strconv.Itoa(i)), category("会议"), line("会议费")))
				case 1:
					ms = append(ms, exp(int64(100+i%5000), date, account("建材公司", "62220202001"+strconv.Itoa(i%30)), category("办公费")))
				case 2, 3:
					ms = append(ms, inc(int64(1000+i%5000), date, cash, payee("王五", person(b, i%5))), bank(int64(900+i%5000), date))
				case 4:
					ms = append(ms, lease("obj-"+strconv.Itoa(i%400), "2036-12-31", due(date, 700), due(d.AddDate(1, 0, 0).Format(time.DateOnly), 700)))
				case 5:
					ms = append(ms, cpay(k, 700, date, i%20 == 5))
				case 6:
					ms = append(ms, proc("FUND-BANKREC", date[:7], "subj-"+strconv.Itoa(i)), closes(k+1, i%3 == 0))
				case 7, 8:
					ms = append(ms, receive(int64(10_000+i%5000), date), pay(int64(300+i%5000), date))
				case 9:
					ms = append(ms, closeMonth(date[:7]), rev(k-3))
				}
				for _, m := range ms {
					k++
					w.Observe(Event{ID: id(k), RecordedAt: d, Msg: m})
				}
			}
			var enc checkpoint.Encoder
			w.Save(&enc)
			data, err := enc.Data()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(data)), "bytes")
			b.ResetTimer()
			for b.Loop() {
				w2, _ := watcher(b)
				if err := w2.Load(checkpoint.NewDecoder(data)); err != nil {
					b.Fatal(err)
				}
				if err := w2.Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadArchive is BenchmarkLoad on a history with a procedure
// per record, as a village's (archiveHistory), kept all in memory and
// with an archive (the node's way, checkpointed every 50,000 entries as
// supervise does): what the first record or sweep after a start pays for
// the history in each case.
func BenchmarkLoadArchive(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		evs := archiveHistory(b, n)
		for _, kept := range []string{"memory", "archive"} {
			b.Run(fmt.Sprintf("entries=%d/kept=%s", n, kept), func(b *testing.B) {
				var arch *Archive
				if kept == "archive" {
					db, err := bolt.Open(filepath.Join(b.TempDir(), "archive.db"), 0o600, &bolt.Options{NoSync: true})
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					arch = NewArchive(db, "bench")
				}
				w, _ := watcher(b)
				w.UseArchive(arch)
				save := func() []byte {
					var enc checkpoint.Encoder
					w.Save(&enc)
					data, err := enc.Data()
					if err != nil {
						b.Fatal(err)
					}
					if batch := w.Staged(); batch != nil {
						if err := arch.db.Update(batch.Write); err != nil {
							b.Fatal(err)
						}
						batch.Done()
					}
					return data
				}
				for i, ev := range evs {
					w.Observe(ev)
					if i%50_000 == 49_999 {
						save()
					}
				}
				data := save()
				b.ReportMetric(float64(len(data)), "bytes")
				b.ResetTimer()
				for b.Loop() {
					w2, _ := watcher(b)
					if err := w2.Load(checkpoint.NewDecoder(data)); err != nil {
						b.Fatal(err)
					}
					w2.UseArchive(arch)
					if err := w2.Err(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkObserveArchived is BenchmarkFullRuleSet's stateful part with
// the history checkpointed into an archive, as a node keeps it: what an
// expense costs the watcher when its invoice is looked up in bbolt
// (DUP-INVOICE) beside memory. Compare with BenchmarkObserveInMemory, the
// same without the archive.
func BenchmarkObserveArchived(b *testing.B) { benchObserveKept(b, true) }

// BenchmarkObserveInMemory: see BenchmarkObserveArchived.
func BenchmarkObserveInMemory(b *testing.B) { benchObserveKept(b, false) }

func benchObserveKept(b *testing.B, archived bool) {
	w, _ := watcher(b)
	if archived {
		db, err := bolt.Open(filepath.Join(b.TempDir(), "archive.db"), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		w.UseArchive(NewArchive(db, "bench"))
	}
	base := time.Date(2016, 1, 1, 10, 0, 0, 0, cst(b))
	n := 0
	next := func() Event {
		n++
		d := base.AddDate(0, 0, n/30)
		t := exp(int64(n%50)*10_000+1, d.Format(time.DateOnly), payee(fmt.Sprintf("供应商%d", n%1000), ""),
			category([]string{"办公费", "会议费", "差旅费", "工程款"}[n%4]), invoice("035001", strconv.Itoa(n%70_000)))
		return Event{ID: id(n), RecordedAt: d, Msg: t}
	}
	for i := range 100_000 {
		w.Observe(next())
		if i%50_000 == 49_999 && archived {
			var enc checkpoint.Encoder
			w.Save(&enc)
			batch := w.Staged()
			if err := w.st.arch.db.Update(batch.Write); err != nil {
				b.Fatal(err)
			}
			batch.Done()
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		w.Observe(next())
	}
}
