package supervise_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestReopenNeedsTheTownsApproval: a closed month of village B reopens
// only with a BOOKS-REOPEN procedure for it whose town step the town
// approved, in its own chain, come down to B; then it takes vouchers again.
func TestReopenNeedsTheTownsApproval(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	town, b := openTownAndVillageB(t, clock)
	draw := func(date string) error {
		_, _, _, err := b.RecordVoucher(ctx, "B村会计", &sanziv1.Voucher{Org: villageB, BusinessDate: date, Summary: "提现",
			Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: 5000}, {Account: chart.Bank, CreditFen: 5000}}})
		return err
	}
	if err := draw("2026-10-05"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.CloseMonth(ctx, "B村会计", villageB, "2026-10", books.Counted{BankStatementFen: -5000, CashCountedFen: 5000}); err != nil {
		t.Fatal(err)
	}
	open := func(period string) string {
		p, err := b.OpenProcedure(ctx, "B村会计", &sanziv1.Procedure{Org: villageB, MatterCode: catalog.BooksReopen, Summary: "补记凭证", Period: period})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	pid, other := open("2026-10"), open("2026-09")
	reopen := func(pid string) error {
		_, err := b.ReopenMonth(ctx, "B村会计", &sanziv1.MonthReopen{Org: villageB, Month: "2026-10", Reason: "补记凭证", ProcedureId: pid}, b.ApprovesReopen)
		return err
	}
	var conflict *books.ConflictError
	var invalid *books.InvalidError
	if err := reopen(pid); !errors.As(err, &conflict) || !strings.Contains(err.Error(), "no town step is approved") {
		t.Fatalf("reopen before any approval: %v", err)
	}
	if err := reopen(other); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "2026-09") {
		t.Fatalf("reopen with the procedure of another month: %v", err)
	}
	if _, _, err := b.DecideStep(ctx, "B村会计", approve(villageB, pid, "request", "village.accountant")); err != nil {
		t.Fatal(err)
	}
	if err := reopen(pid); !errors.As(err, &conflict) {
		t.Fatalf("reopen with the village's step alone: %v", err)
	}
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, pid, "approve", "town.agency_accountant")); err != nil {
		t.Fatalf("the town approves: %v", err)
	}
	ship(t, town, b, townOrg)
	if err := draw("2026-10-20"); !errors.As(err, &conflict) {
		t.Fatalf("voucher in the closed month: %v", err)
	}
	if err := reopen(pid); err != nil {
		t.Fatalf("reopen with the town's approval: %v", err)
	}
	if err := draw("2026-10-20"); err != nil {
		t.Fatalf("voucher in the reopened month: %v", err)
	}
}

// TestCloseAsksTheWorkflow: village B's October closes only once the
// reimbursement of an October expense is no longer overdue at a village's
// step (the capture, due three days after recording, blocks on 2 November
// until it is approved; the town's posting, overdue on the 10th, does
// not), and, the bank statement not yet showing the payment, once
// the town has approved the reconciliation step of October's bank
// reconciliation (余额调节表), which the close then names.
func TestCloseAsksTheWorkflow(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-10-20 09:00")}
	town, b := openTownAndVillageB(t, clock)
	if _, _, _, err := b.RecordVoucher(ctx, "B村会计", &sanziv1.Voucher{Org: villageB, BusinessDate: "2026-10-05", Summary: "提现",
		Lines: []*sanziv1.VoucherLine{{Account: chart.Cash, DebitFen: 5000}, {Account: chart.Bank, CreditFen: 5000}}}); err != nil {
		t.Fatal(err)
	}
	tx := plainExpense(150_000, "00000901")
	tx.Org, tx.BusinessDate = villageB, "2026-10-10"
	st, _, err := b.RecordTransaction(ctx, "B村会计", tx)
	if err != nil {
		t.Fatal(err)
	}
	reimb := ledger.EntryID(st.Origin, st.Seq+1)
	if p, err := b.Procedure(reimb); err != nil || p.P.GetSubjectId() != st.ID() {
		t.Fatalf("procedure %s: %v, %v; want the reimbursement of %s", reimb, p, err, st.ID())
	}
	clock.Set(cstTime("2026-11-02 09:00"))
	var blocked *books.BlockedMonthError
	closeOct := func(statement int64) (*sanziv1.MonthClose, error) {
		_, mc, err := b.CloseMonth(ctx, "B村会计", villageB, "2026-10", books.Counted{BankStatementFen: statement, CashCountedFen: 5000})
		return mc, err
	}
	// The books' bank: 50.00 drawn, 1,500.00 paid.
	const books102, statement = -155_000, -5_000
	if _, err := closeOct(books102); !errors.As(err, &blocked) || len(blocked.Blockers) != 1 ||
		!strings.Contains(err.Error(), "procedure "+reimb+" (FUND-REIMB) about "+st.ID()+" is overdue at step capture (填制凭证, post village.accountant, due 2026-10-23 01:00 UTC)") {
		t.Fatalf("close with the capture overdue: %v", err)
	}
	// The village's steps decided, the town's review and posting, due on
	// 5 November, is overdue on the 10th: the town's, it does not block.
	for _, step := range [][2]string{{"capture", "village.accountant"}, {"review", "village.finance_group"}, {"signoff", "village.head"}} {
		if _, _, err := b.DecideStep(ctx, "B村"+step[0], approve(villageB, reimb, step[0], step[1])); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(cstTime("2026-11-10 09:00"))
	if p, err := b.Procedure(reimb); err != nil || p.Steps[3].GetStatus() != "open" || !p.Steps[3].GetDeadline().AsTime().Before(clock.Now()) {
		t.Fatalf("procedure %s: %v; want its town_post open and overdue", reimb, err)
	}
	if _, err := closeOct(statement); !errors.As(err, &blocked) || len(blocked.Blockers) != 1 ||
		!strings.Contains(err.Error(), "the bank statement says -50.00 yuan: 1,500.00 yuan more on the statement than in the books, and no bank reconciliation (FUND-BANKREC) was opened for 2026-10") {
		t.Fatalf("close with the payment not on the statement: %v", err)
	}
	rec, err := b.OpenProcedure(ctx, "B村会计", &sanziv1.Procedure{Org: villageB, MatterCode: catalog.BankRec, Summary: "十月银行对账", Period: "2026-10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := closeOct(statement); !errors.As(err, &blocked) || !strings.Contains(err.Error(), "the bank reconciliation "+rec.ID+" has not had its reconciliation step (reconcile) approved") {
		t.Fatalf("close before the town approves the 余额调节表: %v", err)
	}
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, rec.ID, catalog.BankRecStep, "town.agency_accountant")); err != nil {
		t.Fatalf("the town approves the reconciliation: %v", err)
	}
	ship(t, town, b, townOrg)
	mc, err := closeOct(statement)
	if err != nil {
		t.Fatalf("close with the reconciliation approved: %v", err)
	}
	if mc.GetBankReconciliationId() != rec.ID || mc.GetBankFen() != books102 || mc.GetBankStatementFen() != statement || mc.GetCashCountedFen() != 5000 {
		t.Fatalf("close %v; want the reconciliation %s and the figures checked", mc, rec.ID)
	}
}
