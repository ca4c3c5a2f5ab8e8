package rules

import (
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BenchmarkCheck times the default rules on what every recorded expense
// is checked for: the transaction, and the voucher the books derive from
// it (the national chart), neither firing anything, as in the books'
// BenchmarkRecord.
func BenchmarkCheck(b *testing.B) {
	e, err := Compile(Default())
	if err != nil {
		b.Fatal(err)
	}
	ch, err := chart.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	tx := expense(12_345)
	v := derived(KindTransaction, sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, dr(chart.OtherExpense, 12_345), cr(chart.Bank, 12_345))
	v.facts.Chart = ch
	b.Run("transaction", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if hits, err := e.CheckTransaction(tx, TxFacts{}); err != nil || len(hits) != 0 {
				b.Fatalf("hits %v, %v", codes(hits), err)
			}
		}
	})
	b.Run("derived-voucher", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if hits, err := e.CheckVoucher(v.v, v.facts); err != nil || len(hits) != 0 {
				b.Fatalf("hits %v, %v", codes(hits), err)
			}
		}
	})
}
