package books_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTransactionSearch lists the transactions of two villages held by
// one node with every filter of the accountant's list, alone and
// together, one to a page (each match once, in order, the total on every
// page), and refuses the filters that cannot mean anything.
func TestTransactionSearch(t *testing.T) {
	ctx := context.Background()
	b, _, _ := openTwoOrgs(t, t.TempDir())
	expense, income := sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	bank, cash := sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	record := func(org, voucher string, kind sanziv1.TransactionKind, method sanziv1.PaymentMethod, fen int64, date, party, summary, category string) {
		t.Helper()
		_, _, err := b.RecordTransaction(ctx, "t", &sanziv1.Transaction{
			Org: org, Kind: kind, AmountFen: fen, PaymentMethod: method, BusinessDate: date, VoucherNumber: voucher,
			Counterparty: &sanziv1.Counterparty{Name: party, BankAccount: "6222020200112233445"}, Summary: summary, Category: category,
		})
		if err != nil {
			t.Fatalf("record %s: %v", voucher, err)
		}
	}
	record(benchOrg, "A-1", expense, bank, 120_000, "2026-03-02", "福州某建材有限公司", "村部屋顶修缮材料", "管理费用")
	record(benchOrg, "A-2", expense, cash, 8_000, "2026-03-15", "林某某", "保洁劳务费", "管理费用")
	record(benchOrg, "A-3", income, bank, 500_000, "2026-04-01", "Fuzhou Seed Co.", "鱼塘承包费", "经营收入")
	record(benchOrg, "A-4", expense, bank, 45_000, "2026-04-30", "福州某建材有限公司", "水渠维修", "公益支出")
	record(benchOrg, "A-5", expense, cash, 45_000, "2026-05-01", "陈某", "<script>alert(1)</script>", "管理费用")
	// The other village: the same counterparty, dates and amounts, never
	// listed for an account of the first.
	record(otherOrg, "B-1", expense, bank, 120_000, "2026-03-02", "福州某建材有限公司", "村部屋顶修缮材料", "管理费用")
	record(otherOrg, "B-2", expense, bank, 45_000, "2026-04-30", "福州某建材有限公司", "水渠维修", "公益支出")
	first := func(o string) bool { return o == benchOrg }

	for _, tc := range []struct {
		name string
		f    books.TransactionFilter
		want []string
	}{
		{"every org", books.TransactionFilter{}, []string{"A-1", "A-2", "A-3", "A-4", "A-5", "B-1", "B-2"}},
		{"by counterparty", books.TransactionFilter{Org: benchOrg, Query: "建材"}, []string{"A-1", "A-4"}},
		{"by counterparty, case folded", books.TransactionFilter{Org: benchOrg, Query: "fuzhou seed"}, []string{"A-3"}},
		{"by summary", books.TransactionFilter{Org: benchOrg, Query: "劳务"}, []string{"A-2"}},
		{"by category", books.TransactionFilter{Org: benchOrg, Query: "经营收入"}, []string{"A-3"}},
		{"by voucher", books.TransactionFilter{Org: benchOrg, Query: "a-4"}, []string{"A-4"}},
		{"markup is text", books.TransactionFilter{Org: benchOrg, Query: "<script>"}, []string{"A-5"}},
		{"not by bank account", books.TransactionFilter{Org: benchOrg, Query: "6222020200"}, nil},
		{"nothing", books.TransactionFilter{Org: benchOrg, Query: "无此单位"}, nil},
		{"from a day", books.TransactionFilter{Org: benchOrg, FromDate: "2026-04-01"}, []string{"A-3", "A-4", "A-5"}},
		{"to a day", books.TransactionFilter{Org: benchOrg, ToDate: "2026-03-15"}, []string{"A-1", "A-2"}},
		{"a window, both days in", books.TransactionFilter{Org: benchOrg, FromDate: "2026-03-15", ToDate: "2026-04-30"}, []string{"A-2", "A-3", "A-4"}},
		{"one day", books.TransactionFilter{Org: benchOrg, FromDate: "2026-05-01", ToDate: "2026-05-01"}, []string{"A-5"}},
		{"at least", books.TransactionFilter{Org: benchOrg, MinFen: 45_000}, []string{"A-1", "A-3", "A-4", "A-5"}},
		{"at most", books.TransactionFilter{Org: benchOrg, MaxFen: 45_000}, []string{"A-2", "A-4", "A-5"}},
		{"a range, both ends in", books.TransactionFilter{Org: benchOrg, MinFen: 45_000, MaxFen: 120_000}, []string{"A-1", "A-4", "A-5"}},
		{"by method", books.TransactionFilter{Org: benchOrg, Method: cash}, []string{"A-2", "A-5"}},
		{"kind and query", books.TransactionFilter{Org: benchOrg, Kind: expense, Query: "某"}, []string{"A-1", "A-2", "A-4", "A-5"}},
		{"kind, window and range", books.TransactionFilter{Org: benchOrg, Kind: expense, FromDate: "2026-03-10", MinFen: 10_000}, []string{"A-4", "A-5"}},
		{"everything at once", books.TransactionFilter{Org: benchOrg, Kind: expense, Query: "建材", FromDate: "2026-04-01", ToDate: "2026-04-30", MinFen: 1, MaxFen: 50_000, Method: bank}, []string{"A-4"}},
		{"in scope, by counterparty", books.TransactionFilter{InScope: first, Query: "建材"}, []string{"A-1", "A-4"}},
		{"in scope, a window and a range", books.TransactionFilter{InScope: first, FromDate: "2026-03-01", ToDate: "2026-04-30", MinFen: 45_000, MaxFen: 120_000}, []string{"A-1", "A-4"}},
		{"in scope, kind and query", books.TransactionFilter{InScope: first, Kind: expense, Query: "水渠"}, []string{"A-4"}},
		{"the other org", books.TransactionFilter{Org: otherOrg, Query: "建材"}, []string{"B-1", "B-2"}},
		{"an org out of scope", books.TransactionFilter{Org: otherOrg, InScope: first, Query: "建材"}, nil},
		{"nothing in scope", books.TransactionFilter{InScope: func(string) bool { return false }, Query: "建材"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pageAll(t, 1, len(tc.want), func(p books.Page) ([]*sanziv1.TransactionRecord, string, int64, error) {
				return b.ListTransactions(tc.f, p)
			})
			var vouchers []string
			for _, r := range got {
				vouchers = append(vouchers, r.GetTransaction().GetVoucherNumber())
			}
			if !slices.Equal(vouchers, tc.want) {
				t.Fatalf("listed %v, want %v", vouchers, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		f      books.TransactionFilter
		fields []string
	}{
		{"a query too long", books.TransactionFilter{Query: strings.Repeat("林", books.MaxQuery+1)}, []string{"query"}},
		{"a query not text", books.TransactionFilter{Query: "\xff"}, []string{"query"}},
		{"a day that is not one", books.TransactionFilter{FromDate: "2026-02-30"}, []string{"fromDate"}},
		{"a day in another form", books.TransactionFilter{ToDate: "2026/03/01"}, []string{"toDate"}},
		{"from after to", books.TransactionFilter{FromDate: "2026-05-01", ToDate: "2026-04-30"}, []string{"toDate"}},
		{"a negative bound", books.TransactionFilter{MinFen: -1}, []string{"minAmountFen"}},
		{"min above max", books.TransactionFilter{MinFen: 50_000, MaxFen: 49_999}, []string{"maxAmountFen"}},
		{"no such method", books.TransactionFilter{Method: 99}, []string{"paymentMethod"}},
		{"every fault named", books.TransactionFilter{Query: strings.Repeat("x", 65), FromDate: "2026-05-01", ToDate: "2026-01-01", MinFen: 2, MaxFen: 1},
			[]string{"query", "toDate", "maxAmountFen"}},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			recs, _, _, err := b.ListTransactions(tc.f, books.Page{})
			var inv *books.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("listed %d, err %v: want an InvalidError", len(recs), err)
			}
			var fields []string
			for _, v := range inv.Violations {
				fields = append(fields, v.Field)
			}
			if !slices.Equal(fields, tc.fields) {
				t.Fatalf("refused %v (%v), want the fields %v", fields, err, tc.fields)
			}
		})
	}
}
