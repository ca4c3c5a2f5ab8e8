package town

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// benchTown is a town of district 350505 as New makes it, without books:
// what Save and Restore touch of the cross-village part.
func benchTown(tb testing.TB, e *rules.Engine) *Town {
	tb.Helper()
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		tb.Fatal(err)
	}
	cross, err := crossWatcher(e, cal.Location())
	if err != nil {
		tb.Fatal(err)
	}
	return &Town{home: "350505100000", cross: cross, flows: workflow.New(catalog.Default("350505"), cal),
		pending: map[string]string{}, keyOf: map[string]string{}, drafts: map[string]villageDraft{},
		relatives: map[string][]rules.ListItem{}, ignored: map[string]string{}, raised: map[string]bool{},
		complaints: newComplaints()}
}

// villageEntries calls f on n entries of villages' chains, round robin
// over villages, in the mix a village records (node/sample): per record an
// expense (with an invoice one in two, to one of a few hundred suppliers
// the villages share) and the procedure it opens, closed by a decision;
// incomes, bank transfers, leases and their payments, vouchers, a
// reversal now and then. The suppliers' amounts are multiplied by scale.
func villageEntries(villages, n int, scale int64, f func(st *ledger.Stored, m proto.Message)) {
	seq := make([]uint64, villages)
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for k := 0; k < n; {
		for v := range villages {
			org := fmt.Sprintf("350505100%03d", 201+v)
			i := int(seq[v])
			at := base.AddDate(0, 0, i/60%3650)
			date := at.Format(time.DateOnly)
			next := func(subject string, m proto.Message) string {
				seq[v]++
				k++
				st := &ledger.Stored{Origin: org, Seq: seq[v], RecordedAt: at, Subject: subject}
				f(st, m)
				return st.ID()
			}
			sup := strconv.Itoa(i % 300)
			switch i / 3 % 6 {
			case 0, 1:
				tx := &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE,
					AmountFen: scale * int64(100+i%4000), BusinessDate: date, Category: "办公费", BudgetLine: "办公费",
					PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
					Counterparty:  &sanziv1.Counterparty{Name: "供应商" + sup, BankAccount: "6222020200" + sup}}
				switch {
				case i%42 == 0: // claimed in another village too
					tx.InvoiceCode, tx.InvoiceNumber = "044", "dup"+strconv.Itoa(i/42%97)
				case i%2 == 0:
					tx.InvoiceCode, tx.InvoiceNumber = "044", org[9:]+strconv.Itoa(i)
				}
				id := next("", tx)
				p := next(id, &sanziv1.Procedure{Org: org, MatterCode: "FUND-EXPENSE", SubjectId: id})
				next(p, &sanziv1.StepDecision{Org: org, ProcedureId: p, StepCode: "S1", Closes: true, Action: sanziv1.StepAction_STEP_ACTION_APPROVE})
			case 2:
				next("", &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: int64(1000 + i%5000),
					BusinessDate: date, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "村民" + sup}})
				next("", &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, AmountFen: int64(900 + i%5000),
					BusinessDate: date, PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH})
				next("", &sanziv1.Voucher{Org: org, BusinessDate: date, Lines: []*sanziv1.VoucherLine{{Account: "1001", DebitFen: 900}, {Account: "1002", CreditFen: 900}}})
			case 3:
				ct := next("", &sanziv1.Contract{Org: org, TermEnd: "2036-12-31", Object: &sanziv1.ContractObject{ObjectId: "obj-" + sup},
					Schedule: []*sanziv1.ScheduledPayment{{DueDate: date, AmountFen: 700}}})
				next(ct, &sanziv1.ContractPayment{Org: org, ContractId: ct, AmountFen: 700, BusinessDate: date})
				next("", &sanziv1.Reversal{Org: org, TargetId: ledger.EntryID(org, seq[v]-3)})
			default:
				next("", &sanziv1.Voucher{Org: org, BusinessDate: date, Lines: []*sanziv1.VoucherLine{{Account: "5001", DebitFen: 300}, {Account: "1002", CreditFen: 300}}})
				next("", &sanziv1.Transaction{Org: org, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: int64(300 + i%5000),
					BusinessDate: date, Category: "会议", PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH,
					Counterparty: &sanziv1.Counterparty{Name: "张" + sup, IdNumber: "3505051980010100" + strconv.Itoa(10+i%80)}})
				next("", &sanziv1.Procedure{Org: org, MatterCode: "FUND-BANKREC", Period: date[:7], SubjectId: "subj-" + org + strconv.Itoa(i)})
			}
			if k >= n {
				return
			}
		}
	}
}

// BenchmarkTownRestore is what a town's start pays for its cross-village
// part (Town.Restore, then the cross-village history made, which the
// first village entry followed needs), over 24 villages' entries of n in
// all, checkpointed every 50,000 entries as the Supervisor does. It
// reports the medians of Restore (restore-ms) and of Restore with the
// history made (ready-ms), the checkpoint's bytes, and the heap the
// restored town holds.
func BenchmarkTownRestore(b *testing.B) {
	for _, n := range []int{100_000, 300_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			e, err := rules.Compile(rules.Default())
			if err != nil {
				b.Fatal(err)
			}
			db, err := bolt.Open(filepath.Join(b.TempDir(), "town.db"), 0o600, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			t := benchTown(b, e)
			useCrossArchive(t, db)
			save := func() []byte {
				var enc checkpoint.Encoder
				t.Save(&enc)
				data, err := enc.Data()
				if err != nil {
					b.Fatal(err)
				}
				if err := writeCrossArchive(t, db); err != nil {
					b.Fatal(err)
				}
				return data
			}
			k := 0
			villageEntries(24, n, 1, func(st *ledger.Stored, m proto.Message) {
				t.crossObserve(st, m)
				if k++; k%50_000 == 0 {
					save()
				}
			})
			data := save()
			var restore, ready []time.Duration
			var heap []float64
			b.ResetTimer()
			for range b.N {
				t2 := benchTown(b, e)
				useCrossArchive(t2, db)
				runtime.GC()
				var m0 runtime.MemStats
				runtime.ReadMemStats(&m0)
				t0 := time.Now()
				put, err := t2.Restore(checkpoint.NewDecoder(data), e)
				if err != nil {
					b.Fatal(err)
				}
				put()
				restore = append(restore, time.Since(t0))
				if err := t2.cross.Err(); err != nil {
					b.Fatal(err)
				}
				ready = append(ready, time.Since(t0))
				b.StopTimer()
				runtime.GC()
				var m1 runtime.MemStats
				runtime.ReadMemStats(&m1)
				heap = append(heap, float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20))
				runtime.KeepAlive(t2)
				b.StartTimer()
			}
			b.StopTimer()
			slices.Sort(restore)
			slices.Sort(ready)
			slices.Sort(heap)
			b.ReportMetric(float64(restore[len(restore)/2].Microseconds())/1000, "restore-ms")
			b.ReportMetric(float64(ready[len(ready)/2].Microseconds())/1000, "ready-ms")
			b.ReportMetric(heap[len(heap)/2], "heap-MB")
			b.ReportMetric(float64(len(data)), "bytes")
		})
	}
}
