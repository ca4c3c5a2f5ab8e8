package books_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// booksAt opens books whose clock reads 2026-06-15.
func booksAt(t *testing.T) *books.Books {
	t.Helper()
	now := func() time.Time { return time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC) }
	return openBooksAt(t, t.TempDir(), now)
}

func handVoucher(date string, fen int64) *sanziv1.Voucher {
	return &sanziv1.Voucher{Org: benchOrg, BusinessDate: date, Summary: "提现备用",
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: fen}, {Account: chart.Bank, CreditFen: fen}}}
}

func cashExpense(date string, fen int64, category string) *sanziv1.Transaction {
	return &sanziv1.Transaction{Org: benchOrg, Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: fen,
		PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_CASH, Counterparty: &sanziv1.Counterparty{Name: "某文具店"},
		BusinessDate: date, Summary: "办公用品", Category: category}
}

// TestVoucherNumbersUnderConcurrency records vouchers of two months from
// many goroutines at once: each month's numbers are 1..n, none twice.
func TestVoucherNumbersUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			date := "2026-03-10"
			if i%2 == 1 {
				date = "2026-04-10"
			}
			_, _, _, err := b.RecordVoucher(ctx, "t", handVoucher(date, int64(100+i)))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, month := range []string{"2026-03", "2026-04"} {
		recs, _, total, err := b.ListVouchers(benchOrg, month, books.Page{Size: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int32]bool{}
		for _, r := range recs {
			seen[r.GetVoucher().GetNumber()] = true
		}
		for i := int32(1); i <= n; i++ {
			if !seen[i] {
				t.Errorf("%s: number %d missing (total %d, numbers %v)", month, i, total, seen)
			}
		}
		if len(recs) != n || len(seen) != n {
			t.Errorf("%s: %d vouchers, %d distinct numbers; want %d", month, len(recs), len(seen), n)
		}
	}
}

// TestDerivedVoucher: a transaction is appended with its voucher, which
// names it; one the chart cannot book is recorded without.
func TestDerivedVoucher(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	tx, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-03-05", 12000, "管理费用"))
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _, err := b.ListVouchers(benchOrg, "2026-03", books.Page{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("vouchers of 2026-03: %v, %v", recs, err)
	}
	v := recs[0].GetVoucher()
	if v.GetSourceEntryId() != tx.ID() || v.GetNumber() != 1 || recs[0].GetEntry().GetSeq() != tx.Seq+1 {
		t.Fatalf("derived voucher %v (entry %v) does not name transaction %s", v, recs[0].GetEntry(), tx.ID())
	}
	if l := v.GetLines(); l[0].GetAccount() != "531" || l[0].GetDebitFen() != 12000 || l[1].GetAccount() != chart.Cash {
		t.Fatalf("lines %v", l)
	}
	if _, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-03-06", 500, "杂项")); err != nil {
		t.Fatalf("a transaction the chart cannot book is still recorded: %v", err)
	}
	// Reversing a booked transaction reverses its voucher in red ink,
	// dated today, in the same append.
	other, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-04-01", 700, "管理费用"))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: other.ID(), Reason: "重复"})
	if err != nil {
		t.Fatal(err)
	}
	april, _, _, err := b.ListVouchers(benchOrg, "2026-04", books.Page{})
	if err != nil || len(april) != 1 || april[0].GetReversedBy() == "" {
		t.Fatalf("April's voucher after its transaction was reversed: %v, %v", april, err)
	}
	june, _, _, err := b.ListVouchers(benchOrg, "2026-06", books.Page{})
	if err != nil || len(june) != 1 || june[0].GetVoucher().GetReversesVoucherId() != april[0].GetEntry().GetId() ||
		june[0].GetVoucher().GetLines()[0].GetDebitFen() != -700 || june[0].GetEntry().GetSeq() != rev.Seq+1 {
		t.Fatalf("red-ink voucher of the reversal %s: %v, %v", rev.ID(), june, err)
	}
	if recs, _, _, _ := b.ListVouchers(benchOrg, "2026-03", books.Page{}); len(recs) != 1 {
		t.Fatalf("%d vouchers after an unmapped transaction, want 1", len(recs))
	}
	// A hand voucher books it; a second one naming it is refused.
	unbooked := listTx(t, b)[1]
	hv := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-06", Summary: "杂项支出", SourceEntryId: unbooked,
		Lines: []*sanziv1.VoucherLine{{Account: "533", DebitFen: 500}, {Account: chart.Cash, CreditFen: 500}}}
	if _, _, _, err := b.RecordVoucher(ctx, "t", hv); err != nil {
		t.Fatal(err)
	}
	var conflict *books.ConflictError
	if _, _, _, err := b.RecordVoucher(ctx, "t", hv); !errors.As(err, &conflict) || conflict.Field != "voucher.sourceEntryId" {
		t.Fatalf("second voucher naming %s: %v", unbooked, err)
	}
}

func listTx(t *testing.T, b *books.Books) []string {
	t.Helper()
	recs, _, _, err := b.ListTransactions(books.TransactionFilter{Org: benchOrg}, books.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.GetEntry().GetId())
	}
	return ids
}

func TestVoucherRefusals(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	var inv *books.InvalidError
	v := handVoucher("2026-03-10", 120000)
	v.Lines[1].CreditFen = 100000
	if _, _, _, err := b.RecordVoucher(ctx, "t", v); !errors.As(err, &inv) || !strings.Contains(err.Error(), "debits 1,200.00 exceed credits 1,000.00 by 200.00") {
		t.Fatalf("unbalanced voucher: %v", err)
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-10", 100)); err != nil {
		t.Fatal(err)
	}
	var conflict *books.ConflictError
	opening := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-31", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{{Account: chart.Bank, DebitFen: 900000}, {Account: chart.Capital, CreditFen: 900000}}}
	if _, _, _, err := b.RecordVoucher(ctx, "t", opening); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "on or before every other voucher") {
		t.Fatalf("opening after a voucher: %v", err)
	}
	opening.BusinessDate = "2026-01-01"
	if _, _, _, err := b.RecordVoucher(ctx, "t", opening); err != nil {
		t.Fatal(err)
	}
	opening.BusinessDate = "2025-12-31"
	if _, _, _, err := b.RecordVoucher(ctx, "t", opening); !errors.As(err, &conflict) || conflict.Field != "voucher.opening" {
		t.Fatalf("second opening: %v", err)
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2025-12-20", 100)); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "opened its books") {
		t.Fatalf("voucher before the opening: %v", err)
	}
	if v, _, err := b.CheckVoucher(handVoucher("2026-03-11", 100)); err != nil || v.GetNumber() != 2 {
		t.Fatalf("dry run: %v, %v; want number 2", v, err)
	}
}

// TestCloseReverseReopen closes a month, is refused vouchers and the
// reversal dated in it, reverses in an open month once, reopens only with
// approval, then takes vouchers and closes again.
func TestCloseReverseReopen(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	var blocked *books.BlockedMonthError
	// Cash would be negative, and a transaction has no voucher.
	if _, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-03-05", 12000, "管理费用")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-03-06", 500, "杂项")); err != nil {
		t.Fatal(err)
	}
	// The books' cash is -120.00 (the 5.00 is unbooked); none was counted.
	_, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{})
	if !errors.As(err, &blocked) || len(blocked.Blockers) != 3 ||
		!strings.Contains(blocked.Error(), "has no voucher") || !strings.Contains(blocked.Error(), "cash cannot be negative") ||
		!strings.Contains(blocked.Error(), "-120.00 yuan in the books and 0.00 yuan was counted") {
		t.Fatalf("close with blockers: %v", err)
	}
	if _, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-06", books.Counted{}); !errors.As(err, &blocked) || !strings.Contains(err.Error(), "not over yet") {
		t.Fatalf("closing the current month: %v", err)
	}
	ids := listTx(t, b)
	if _, _, _, err := b.RecordVoucher(ctx, "t", &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-06", Summary: "杂项支出", SourceEntryId: ids[1],
		Lines: []*sanziv1.VoucherLine{{Account: "533", DebitFen: 500}, {Account: chart.Cash, CreditFen: 500}}}); err != nil {
		t.Fatal(err)
	}
	draw, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-01", 20000))
	if err != nil {
		t.Fatal(err)
	}
	// February has a voucher and is open: March waits for it.
	_, _, _, err = b.RecordVoucher(ctx, "t", handVoucher("2026-02-01", 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{BankStatementFen: -20100, CashCountedFen: 7600}); !errors.As(err, &blocked) || !strings.Contains(err.Error(), "2026-02 has vouchers") {
		t.Fatalf("close before February: %v", err)
	}
	febClose, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-02", books.Counted{BankStatementFen: -100, CashCountedFen: 100})
	if err != nil {
		t.Fatal(err)
	}
	_, mc, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{BankStatementFen: -20100, CashCountedFen: 7600})
	if err != nil {
		t.Fatal(err)
	}
	if mc.GetVouchers() != 3 || mc.GetCashFen() != 100+20000-12000-500 || mc.GetBankFen() != -20100 ||
		mc.GetCashCountedFen() != 7600 || mc.GetBankStatementFen() != -20100 || mc.BankStatementFen == nil {
		t.Fatalf("close figures %v", mc)
	}
	var conflict *books.ConflictError
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-20", 100)); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "month 2026-03") {
		t.Fatalf("voucher in a closed month: %v", err)
	}
	if _, _, err := b.ReverseVoucher(ctx, "t", draw.ID(), "2026-03-25", "记错"); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("reversal dated in the closed month: %v", err)
	}
	red, rv, err := b.ReverseVoucher(ctx, "t", draw.ID(), "2026-04-02", "记错")
	if err != nil {
		t.Fatal(err)
	}
	if rv.GetReversesVoucherId() != draw.ID() || rv.GetLines()[0].GetDebitFen() != -20000 || rv.GetNumber() != 1 {
		t.Fatalf("reversal %v", rv)
	}
	if _, _, err := b.ReverseVoucher(ctx, "t", draw.ID(), "2026-04-03", "again"); !errors.As(err, &conflict) || !strings.Contains(err.Error(), red.ID()) {
		t.Fatalf("second reversal: %v", err)
	}
	refuse := func(id, org, month string) error {
		return books.Conflict("procedureId", "procedure %s: the town step is not approved", id)
	}
	approve := func(id, org, month string) error { return nil }
	reopen := &sanziv1.MonthReopen{Org: benchOrg, Month: "2026-03", Reason: "补记凭证", ProcedureId: benchOrg + "-99"}
	var invalid *books.InvalidError
	long := &sanziv1.MonthReopen{Org: benchOrg, Month: "2026-03", Reason: strings.Repeat("补", 200), ProcedureId: benchOrg + "-99"}
	if _, err := b.ReopenMonth(ctx, "t", long, approve); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "longer than 500") {
		t.Fatalf("reopen with a 600-byte reason: %v", err)
	}
	if _, err := b.ReopenMonth(ctx, "t", reopen, refuse); !errors.As(err, &conflict) {
		t.Fatalf("reopen without approval: %v", err)
	}
	if _, err := b.ReopenMonth(ctx, "t", &sanziv1.MonthReopen{Org: benchOrg, Month: "2026-04", Reason: "x", ProcedureId: benchOrg + "-99"}, approve); !errors.As(err, &conflict) {
		t.Fatalf("reopening an open month: %v", err)
	}
	if _, err := b.ReopenMonth(ctx, "t", reopen, approve); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-20", 100)); err != nil {
		t.Fatalf("voucher in the reopened month: %v", err)
	}
	months, err := b.ListMonths(benchOrg, "2026")
	if err != nil || len(months) != 6 {
		t.Fatalf("months: %v, %v", months, err)
	}
	if !months[1].GetClosed() || months[1].GetCloseId() != febClose.ID() || months[2].GetClosed() || months[2].GetVouchers() != 4 {
		t.Fatalf("February %v, March %v", months[1], months[2])
	}
	// The voucher of the 20th drew 1.00 more from the bank into cash.
	if _, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{BankStatementFen: -20200, CashCountedFen: 7700}); err != nil {
		t.Fatalf("closing again: %v", err)
	}
	// One approval reopens the month once: closed again, it needs another.
	if _, err := b.ReopenMonth(ctx, "t", reopen, approve); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "reopened") {
		t.Fatalf("reopening twice on one approval: %v", err)
	}
}

// TestVoucherRules: with rules on, a hand voucher paying out cash above
// the limit is refused by CASH-PAY as the transaction would be, a warning
// on a hand voucher is recorded as an alert about it and answered, and a
// derived voucher booking an expense to an income account warns
// WRONG-ACCOUNT about the voucher, not the transaction.
func TestVoucherRules(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	engine, err := rules.Compile(rules.Default())
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(engine)
	pay := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-06-01", Summary: "现金支付工程款",
		Lines: []*sanziv1.VoucherLine{{Account: "531", DebitFen: 100_001}, {Account: chart.Cash, CreditFen: 100_001}}}
	var blocked *books.BlockedError
	if _, _, _, err := b.RecordVoucher(ctx, "t", pay); !errors.As(err, &blocked) || blocked.Hits[0].Code != "CASH-PAY" {
		t.Fatalf("cash over the limit on a hand voucher: %v", err)
	}
	if _, _, err := b.CheckVoucher(pay); !errors.As(err, &blocked) {
		t.Fatalf("the dry run let it through: %v", err)
	}
	refund := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-06-02", Summary: "退还多收租金",
		Lines: []*sanziv1.VoucherLine{{Account: "501", DebitFen: 5000}, {Account: chart.Bank, CreditFen: 5000}}}
	st, _, hits, err := b.RecordVoucher(ctx, "t", refund)
	if err != nil || !hasHit(hits, "WRONG-ACCOUNT") {
		t.Fatalf("money out debiting an income account: hits %v, err %v", hits, err)
	}
	if about := alertsAbout(t, b, st.ID()); !slices.Contains(about, "WRONG-ACCOUNT") {
		t.Fatalf("no WRONG-ACCOUNT alert about the hand voucher %s: %v", st.ID(), about)
	}
	tx := cashExpense("2026-06-03", 3000, "经营收入") // spending booked as income
	tx.InvoiceCode, tx.InvoiceNumber = "035001900111", "00000001"
	s, _, err := b.RecordTransaction(ctx, "t", tx)
	if err != nil {
		t.Fatal(err)
	}
	vid := ledger.EntryID(s.Origin, s.Seq+1)
	if v, err := b.GetVoucher(vid); err != nil || v.GetVoucher().GetSourceEntryId() != s.ID() {
		t.Fatalf("derived voucher %s: %v %v", vid, v, err)
	}
	if about := alertsAbout(t, b, vid); !slices.Contains(about, "WRONG-ACCOUNT") {
		t.Fatalf("no WRONG-ACCOUNT alert about the derived voucher %s: %v", vid, about)
	}
	if about := alertsAbout(t, b, s.ID()); slices.Contains(about, "WRONG-ACCOUNT") {
		t.Fatalf("WRONG-ACCOUNT raised about the transaction itself: %v", about)
	}
}

func hasHit(hits []rules.Hit, code string) bool {
	return slices.ContainsFunc(hits, func(h rules.Hit) bool { return h.Code == code })
}

// alertsAbout lists the rule codes of the alerts raised about entry id.
func alertsAbout(t *testing.T, b *books.Books, id string) []string {
	t.Helper()
	alerts, _, _, err := b.ListAlerts(books.AlertFilter{}, books.Page{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, a := range alerts {
		if a.GetSubjectId() == id {
			codes = append(codes, a.GetAlert().GetRuleCode())
		}
	}
	return codes
}

// TestImportedRowsBookTheirVouchers: transactions imported from a sheet
// book their vouchers in the same append, right after each, numbered after
// the vouchers already in their month; one the chart cannot book books
// none; the alerts of each row still name their own transaction though
// vouchers were streamed between the rows.
func TestImportedRowsBookTheirVouchers(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	set := rules.RuleSet{Version: "t", Rules: []rules.Rule{{Code: "ANY", Name: "每笔支出", Severity: rules.SeverityYellow, Action: rules.ActionWarn,
		Applies: []string{rules.KindTransaction}, Expr: `tx.amount_fen > 0`, Reason: "支出"}}}
	e, err := rules.Compile(set)
	if err != nil {
		t.Fatal(err)
	}
	b.SetRules(e)
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-02", 1000)); err != nil {
		t.Fatal(err)
	}
	rows := []books.ImportRow{
		{Row: 2, Transaction: cashExpense("2026-03-05", 12000, "管理费用")},
		{Row: 3, Transaction: cashExpense("2026-03-06", 500, "杂项")}, // the chart maps 杂项 to no account
		{Row: 4, Transaction: cashExpense("2026-04-02", 300, "管理费用")},
		{Row: 5, Transaction: cashExpense("2026-03-09", 800, "公益支出")},
	}
	res, err := b.ImportTransactions(ctx, "t", rows, false)
	if err != nil || res.Recorded != 4 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	type want struct {
		source string
		number int32
		fen    int64
	}
	var ids []string // the transactions in the order recorded
	seqOf := map[string]uint64{}
	alerts := 0
	if err := b.Ledger().Range(benchOrg, 1, 0, func(s *ledger.Stored) bool {
		seqOf[s.ID()] = s.Seq
		switch s.Type {
		case sanziv1.EntryType_ENTRY_TYPE_TRANSACTION:
			ids = append(ids, s.ID())
		case sanziv1.EntryType_ENTRY_TYPE_ALERT:
			alerts++
			if len(ids) == 0 || s.Subject != ids[len(ids)-1] {
				t.Errorf("alert %s is about %q, not the transaction of its row %v", s.ID(), s.Subject, ids)
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 4 || alerts != 4 {
		t.Fatalf("%d transactions and %d alerts recorded, want 4 and 4", len(ids), alerts)
	}
	for month, ws := range map[string][]want{
		"2026-03": {{"", 1, 1000}, {ids[0], 2, 12000}, {ids[3], 3, 800}},
		"2026-04": {{ids[2], 1, 300}},
	} {
		recs, _, _, err := b.ListVouchers(benchOrg, month, books.Page{})
		if err != nil || len(recs) != len(ws) {
			t.Fatalf("vouchers of %s: %v, %v", month, recs, err)
		}
		for i, w := range ws {
			v := recs[i].GetVoucher()
			if v.GetSourceEntryId() != w.source || v.GetNumber() != w.number || v.GetLines()[0].GetDebitFen() != w.fen {
				t.Errorf("%s voucher %d: %v, want 记字第%d号 of %d fen naming %q", month, i, v, w.number, w.fen, w.source)
			}
			if w.source != "" && recs[i].GetEntry().GetSeq() != seqOf[w.source]+1 {
				t.Errorf("%s voucher %d at seq %d, right after its transaction at %d", month, i, recs[i].GetEntry().GetSeq(), seqOf[w.source])
			}
		}
	}
	months, err := b.ListMonths(benchOrg, "2026")
	if err != nil {
		t.Fatal(err)
	}
	if bl := strings.Join(months[2].GetBlockers(), "; "); !strings.Contains(bl, ids[1]) || strings.Contains(bl, ids[0]+" ") {
		t.Fatalf("March's blockers name only the unbooked row %s: %s", ids[1], bl)
	}
}

// TestRedInkMirrorsSubsidiary: a red-ink voucher entered by hand must
// reverse the original's subsidiary detail too, or the counterparty's
// ledger would keep the amount the general ledger took back.
func TestRedInkMirrorsSubsidiary(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	lend := &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-02", Summary: "借款给张三",
		Lines: []*sanziv1.VoucherLine{{Account: chart.Receivable, DebitFen: 5000, Counterparty: "张三"}, {Account: chart.Cash, CreditFen: 5000}}}
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-01", 5000)); err != nil {
		t.Fatal(err)
	}
	orig, _, _, err := b.RecordVoucher(ctx, "t", lend)
	if err != nil {
		t.Fatal(err)
	}
	red := func(party string) *sanziv1.Voucher {
		return &sanziv1.Voucher{Org: benchOrg, BusinessDate: "2026-03-03", Summary: "冲销", ReversesVoucherId: orig.ID(),
			Lines: []*sanziv1.VoucherLine{{Account: chart.Receivable, DebitFen: -5000, Counterparty: party}, {Account: chart.Cash, CreditFen: -5000}}}
	}
	var invalid *books.InvalidError
	if _, _, _, err := b.RecordVoucher(ctx, "t", red("李四")); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "negated") {
		t.Fatalf("red ink on another counterparty: %v, want refused", err)
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", red("张三")); err != nil {
		t.Fatalf("red ink mirroring the original: %v", err)
	}
}

// TestImportOpeningRulesWithinTheSheet: the opening-balance rules hold
// among the vouchers of one import too, not only against those already
// recorded (the append checks each voucher before any is indexed): one
// opening, dated on or before every other voucher.
func TestImportOpeningRulesWithinTheSheet(t *testing.T) {
	ctx := context.Background()
	opening := func(date string) *sanziv1.Voucher {
		return &sanziv1.Voucher{BusinessDate: date, Summary: "期初余额", Opening: true,
			Lines: []*sanziv1.VoucherLine{{Account: chart.Bank, DebitFen: 100000}, {Account: chart.Capital, CreditFen: 100000}}}
	}
	for _, tc := range []struct {
		name    string
		vs      []*sanziv1.Voucher
		bad     int
		because string
	}{
		{"opening after a voucher", []*sanziv1.Voucher{handVoucher("2026-03-05", 100), opening("2026-03-10")}, 1, "on or before every other voucher"},
		{"two openings", []*sanziv1.Voucher{opening("2026-03-01"), opening("2026-03-01")}, 1, "opening balances already"},
		{"voucher before the opening", []*sanziv1.Voucher{opening("2026-03-10"), handVoucher("2026-03-05", 100)}, 1, "may not be dated before"},
		{"opening first", []*sanziv1.Voucher{opening("2026-03-01"), handVoucher("2026-03-05", 100)}, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := booksAt(t)
			out, bad, err := b.ImportVouchers(ctx, "t", benchOrg, tc.vs, false)
			if err != nil {
				t.Fatal(err)
			}
			if tc.bad < 0 {
				if len(bad) > 0 || len(out) != len(tc.vs) {
					t.Fatalf("refused %v, recorded %d", bad, len(out))
				}
				return
			}
			if len(out) != 0 || len(bad) != 1 || bad[0].Index != tc.bad || !strings.Contains(bad[0].Reason, tc.because) {
				t.Fatalf("recorded %d, refused %+v; want voucher %d refused: …%s…", len(out), bad, tc.bad, tc.because)
			}
		})
	}
}

// TestNoVoucherBeforeAClosedMonth: closing March took February's empty
// books as final, so a voucher dated in February, by hand or booked by a
// transaction, would change closed March's balances: refused (the
// transaction is recorded without one) until the town approves reopening
// March.
func TestNoVoucherBeforeAClosedMonth(t *testing.T) {
	ctx := context.Background()
	b := booksAt(t)
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-02", 5000)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{BankStatementFen: -5000, CashCountedFen: 5000}); err != nil {
		t.Fatal(err)
	}
	var conflict *books.ConflictError
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-02-20", 100)); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "never closed") {
		t.Fatalf("a voucher in February under closed March: %v", err)
	}
	if _, _, err := b.RecordTransaction(ctx, "t", cashExpense("2026-02-21", 300, "管理费用")); err != nil {
		t.Fatalf("the transaction itself: %v", err)
	}
	if ids := listTx(t, b); len(ids) != 1 {
		t.Fatalf("transactions %v", ids)
	}
	if vs, _, _, err := b.ListVouchers(benchOrg, "2026-02", books.Page{}); err != nil || len(vs) != 0 {
		t.Fatalf("February's vouchers: %v, %v; want none", vs, err)
	}
	approve := func(id, org, month string) error { return nil }
	if _, err := b.ReopenMonth(ctx, "t", &sanziv1.MonthReopen{Org: benchOrg, Month: "2026-03", Reason: "补记二月凭证", ProcedureId: benchOrg + "-98"}, approve); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-02-20", 100)); err != nil {
		t.Fatalf("a voucher in February once March is reopened: %v", err)
	}
}
