package books_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// closeWorkflow is the supervision as the month-end close asks it: the
// month's approved bank reconciliation, and the overdue steps it is given;
// it remembers what it was asked.
type closeWorkflow struct {
	reconciled string
	overdue    []books.OverdueStep
	asked      map[string]bool
	askedAt    time.Time
}

func (w *closeWorkflow) CheckLists(proto.Message) []rules.Hit { return nil }
func (w *closeWorkflow) Resolution(t *sanziv1.Transaction) workflow.Resolution {
	return workflow.Resolution{ID: t.GetResolutionProcedureId()}
}
func (w *closeWorkflow) NewProcedure(string, proto.Message, int64, string) *sanziv1.Procedure {
	return nil
}
func (w *closeWorkflow) Recorded(context.Context, string) ([]rules.Hit, error) { return nil, nil }
func (w *closeWorkflow) Published([]*ledger.Stored)                            {}
func (w *closeWorkflow) Appending() func([]*ledger.Stored)                     { return func([]*ledger.Stored) {} }
func (w *closeWorkflow) Raised(context.Context, string, bool) bool             { return false }
func (w *closeWorkflow) BankReconciled(org, month string) string {
	if org == benchOrg && month == "2026-03" {
		return w.reconciled
	}
	return ""
}
func (w *closeWorkflow) OverdueSteps(org string, subjects map[string]bool, now time.Time) []books.OverdueStep {
	w.asked, w.askedAt = maps.Clone(subjects), now
	var out []books.OverdueStep
	for _, o := range w.overdue {
		if subjects[o.SubjectID] {
			out = append(out, o)
		}
	}
	return out
}

// TestCloseChecksTheCountedFigures: the close compares the books' 101 and
// 102 at the month's end (50.00 drawn from the bank into cash) with the
// cash counted and the bank statement; a cash difference always refuses,
// naming both figures and the difference, a bank difference unless the
// month's reconciliation has its reconciliation step approved, whose id
// the close then records.
func TestCloseChecksTheCountedFigures(t *testing.T) {
	const procID = benchOrg + "-77"
	for _, tc := range []struct {
		name       string
		counted    books.Counted
		opened     bool   // a FUND-BANKREC procedure of March is recorded
		reconciled string // the one whose reconciliation step is approved
		fields     []string
		because    []string
		recID      string
	}{
		{name: "both agree", counted: books.Counted{BankStatementFen: -5000, CashCountedFen: 5000}},
		{name: "both agree, the reconciliation named", counted: books.Counted{BankStatementFen: -5000, CashCountedFen: 5000}, opened: true, recID: "opened"},
		{name: "cash short", counted: books.Counted{BankStatementFen: -5000, CashCountedFen: 4900},
			fields:  []string{"cashCountedFen"},
			because: []string{"库存现金 (101) ends 2026-03 at 50.00 yuan in the books and 49.00 yuan was counted: 1.00 yuan less counted than in the books"}},
		{name: "cash over, even with the bank reconciled", counted: books.Counted{BankStatementFen: -5000, CashCountedFen: 5050}, reconciled: procID,
			fields:  []string{"cashCountedFen"},
			because: []string{"0.50 yuan more counted than in the books"}},
		{name: "bank differs, no reconciliation", counted: books.Counted{BankStatementFen: -4000, CashCountedFen: 5000},
			fields:  []string{"bankStatementFen"},
			because: []string{"银行存款 (102) ends 2026-03 at -50.00 yuan in the books and the bank statement says -40.00 yuan: 10.00 yuan more on the statement than in the books", "no bank reconciliation (FUND-BANKREC) was opened for 2026-03"}},
		{name: "bank differs, reconciliation not approved", counted: books.Counted{BankStatementFen: -4000, CashCountedFen: 5000}, opened: true,
			fields:  []string{"bankStatementFen"},
			because: []string{"has not had its reconciliation step (reconcile) approved"}},
		{name: "bank differs, explained by the approved reconciliation", counted: books.Counted{BankStatementFen: -4000, CashCountedFen: 5000}, opened: true, reconciled: procID,
			recID: procID},
		{name: "both differ", counted: books.Counted{BankStatementFen: 0, CashCountedFen: 0},
			fields:  []string{"cashCountedFen", "bankStatementFen"},
			because: []string{"50.00 yuan less counted", "50.00 yuan more on the statement"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := booksAt(t)
			b.Supervise(&closeWorkflow{reconciled: tc.reconciled})
			if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-02", 5000)); err != nil {
				t.Fatal(err)
			}
			opened := ""
			if tc.opened {
				st, err := b.AppendEntry(ctx, benchOrg, "t", sanziv1.EntryType_ENTRY_TYPE_PROCEDURE,
					&sanziv1.Procedure{Org: benchOrg, MatterCode: "FUND-BANKREC", CatalogVersion: "v1", Summary: "三月银行对账", Period: "2026-03"}, "")
				if err != nil {
					t.Fatal(err)
				}
				opened = st.ID()
			}
			_, mc, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", tc.counted)
			if len(tc.because) == 0 {
				if err != nil {
					t.Fatalf("close: %v", err)
				}
				want := tc.recID
				if want == "opened" {
					want = opened
				}
				if mc.GetBankReconciliationId() != want || mc.GetCashCountedFen() != tc.counted.CashCountedFen ||
					mc.GetBankStatementFen() != tc.counted.BankStatementFen || mc.GetCashFen() != 5000 || mc.GetBankFen() != -5000 {
					t.Fatalf("close %v; want the figures checked and reconciliation %q", mc, want)
				}
				return
			}
			var blocked *books.BlockedMonthError
			if !errors.As(err, &blocked) {
				t.Fatalf("close: %v; want it refused", err)
			}
			for _, w := range tc.because {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\nwants …%s…", err, w)
				}
			}
			var fields []string
			for _, f := range blocked.Fields {
				if f != "" {
					fields = append(fields, f)
				}
			}
			if !slices.Equal(fields, tc.fields) || len(blocked.Fields) != len(blocked.Blockers) {
				t.Fatalf("fields %q of blockers %q; want %q", blocked.Fields, blocked.Blockers, tc.fields)
			}
		})
	}
}

// TestCloseWaitsForOverdueSteps: a procedure about a transaction of the
// month whose open step is past its deadline blocks the close, naming the
// procedure, the step and the post; one about a record of another month,
// or none overdue, does not. The workflow is asked about the month's
// records, reversed ones left out, at the books' clock.
func TestCloseWaitsForOverdueSteps(t *testing.T) {
	due := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		about   int // which transaction the overdue step is about: 0 none, 1 March's, 2 April's
		because string
	}{
		{name: "none overdue"},
		{name: "overdue about March's expense", about: 1,
			because: "procedure PROC (FUND-REIMB) about SUBJ is overdue at step review (审核, post village.finance, due 2026-03-10 09:00 UTC)"},
		{name: "overdue about April's expense", about: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := booksAt(t)
			w := &closeWorkflow{}
			b.Supervise(w)
			if _, _, _, err := b.RecordVoucher(ctx, "t", handVoucher("2026-03-02", 5000)); err != nil {
				t.Fatal(err)
			}
			for _, date := range []string{"2026-03-05", "2026-04-05", "2026-03-06"} {
				if _, _, err := b.RecordTransaction(ctx, "t", cashExpense(date, 1000, "管理费用")); err != nil {
					t.Fatal(err)
				}
			}
			ids := listTx(t, b)
			if _, err := b.RecordReversal(ctx, "t", &sanziv1.Reversal{Org: benchOrg, TargetId: ids[2], Reason: "录入错误"}); err != nil {
				t.Fatal(err)
			}
			if tc.about > 0 {
				w.overdue = []books.OverdueStep{{ProcedureID: benchOrg + "-90", Matter: "FUND-REIMB", SubjectID: ids[tc.about-1],
					Step: "review", StepName: "审核", Post: "village.finance", Deadline: due}}
			}
			// The reversal of the 6th is dated today (June): March's cash
			// keeps its 10.00 out, and its red-ink voucher is in June.
			_, _, err := b.CloseMonth(ctx, "t", benchOrg, "2026-03", books.Counted{BankStatementFen: -5000, CashCountedFen: 3000})
			if !slices.Equal(slices.Sorted(maps.Keys(w.asked)), []string{ids[0]}) || !w.askedAt.Equal(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)) {
				t.Fatalf("asked about %v at %s; want March's unreversed expense %s at the books' clock", w.asked, w.askedAt, ids[0])
			}
			if tc.because == "" {
				if err != nil {
					t.Fatalf("close: %v", err)
				}
				return
			}
			var blocked *books.BlockedMonthError
			want := strings.NewReplacer("PROC", benchOrg+"-90", "SUBJ", ids[tc.about-1]).Replace(tc.because)
			if !errors.As(err, &blocked) || len(blocked.Blockers) != 1 || !strings.Contains(blocked.Blockers[0], want) {
				t.Fatalf("close: %v\nwant one blocker …%s…", err, want)
			}
			months, err := b.ListMonths(benchOrg, "2026")
			if err != nil || !slices.ContainsFunc(months[2].GetBlockers(), func(s string) bool { return strings.Contains(s, want) }) {
				t.Fatalf("March as listed: %v, %v; want the overdue step among its blockers", months[2], err)
			}
		})
	}
}
