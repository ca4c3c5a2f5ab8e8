package supervise_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestBigSpendChecksTheResolution: BIG-SPEND lets an expense at or above
// its threshold through only when the four-deliberations procedure it names
// stands, as the node's own workflow says; a refusal names the matter and
// the procedure, and records nothing.
func TestBigSpendChecksTheResolution(t *testing.T) {
	ctx := context.Background()
	const otherOrg = "350505100202"
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	dir := t.TempDir()
	orgs := []string{benchOrg, otherOrg}
	b, _ := openOrgBooks(t, dir, filepath.Join(dir, "keys"), orgs, orgs, clock, nil, false)
	resolution, err := b.Attachments().Put([]byte("村民代表会议决议及公示照片"), "决议.pdf", "application/pdf", "")
	if err != nil {
		t.Fatal(err)
	}

	// open opens a procedure of matter; through decides the open steps of
	// every procedure of stop, round by round (a day apart, twelve across a
	// minimum period), until each has its step of stop open.
	open := func(org, matter string, amount int64) string {
		t.Helper()
		p, err := b.OpenProcedure(ctx, "会计", &sanziv1.Procedure{Org: org, MatterCode: matter, AmountFen: amount, Summary: "村道修缮"})
		if err != nil {
			t.Fatalf("open %s: %v", matter, err)
		}
		return p.ID
	}
	decide := func(id string, action sanziv1.StepAction) {
		t.Helper()
		p, err := b.Procedure(id)
		if err != nil {
			t.Fatal(err)
		}
		step, _ := p.OpenStep()
		if _, _, err := b.DecideStep(ctx, "岗位人员", &sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(),
			Action: action, Reason: "不同意", Attachments: []string{resolution.GetSha256()}}); err != nil {
			t.Fatalf("%s %s: %v", action, step.GetCode(), err)
		}
	}
	through := func(stop map[string]string) {
		t.Helper()
		for {
			var due []string
			wait := 24 * time.Hour
			for id, step := range stop {
				p, err := b.Procedure(id)
				if err != nil {
					t.Fatal(err)
				}
				if s, _ := p.OpenStep(); s.GetCode() != step {
					due = append(due, id)
					if s.GetMinDuration() != nil {
						wait = 12 * 24 * time.Hour
					}
				}
			}
			if len(due) == 0 {
				return
			}
			clock.Set(clock.Now().Add(wait))
			for _, id := range due {
				decide(id, sanziv1.StepAction_STEP_ACTION_APPROVE)
			}
		}
	}

	const published = "capture" // FUND-BIG's step after the resolution is published
	approved := open(benchOrg, "FUND-BIG", 6_000_000)
	pending := open(benchOrg, "FUND-BIG", 6_000_000)
	rejected := open(benchOrg, "FUND-BIG", 6_000_000)
	others := open(otherOrg, "FUND-BIG", 6_000_000)
	disposal := open(benchOrg, "ASSET-DISPOSE", 6_000_000) // four deliberations, but of a disposal
	smaller := open(benchOrg, "FUND-BIG", 5_000_000)
	returned := open(benchOrg, "FUND-BIG", 6_000_000)
	decide(rejected, sanziv1.StepAction_STEP_ACTION_REJECT)
	through(map[string]string{approved: published, pending: "deliberate", others: published, disposal: "apply",
		smaller: published, returned: published})
	clock.Set(clock.Now().Add(time.Hour))
	decide(returned, sanziv1.StepAction_STEP_ACTION_RETURN) // back to publishing the resolution
	if _, err := b.OpenProcedure(ctx, "会计", &sanziv1.Procedure{Org: benchOrg, MatterCode: "FUND-BIG", AmountFen: 4_999_999, Summary: "x"}); err == nil {
		t.Error("a four-deliberations procedure opened for less than its matter's threshold")
	}

	n := 0
	for _, c := range []struct {
		name      string
		amount    int64
		procedure string
		// blocked: the BIG-SPEND refusal names these; invalid: the field
		// refused; neither: recorded.
		blocked []string
		invalid string
	}{
		{name: "no procedure", amount: 6_000_000, blocked: []string{"FUND-BIG", "大额支出（四议两公开）", "未注明"}},
		{name: "procedure pending", amount: 6_000_000, procedure: pending, blocked: []string{"FUND-BIG", pending, "党员大会审议"}},
		{name: "procedure rejected", amount: 6_000_000, procedure: rejected, blocked: []string{rejected, "否决"}},
		{name: "resolution returned to be published again", amount: 6_000_000, procedure: returned, blocked: []string{returned, "决议公开"}},
		{name: "another org's procedure", amount: 6_000_000, procedure: others, blocked: []string{others, otherOrg}},
		{name: "wrong kind", amount: 6_000_000, procedure: disposal, blocked: []string{disposal, "ASSET-DISPOSE"}},
		{name: "amount not covered", amount: 6_000_000, procedure: smaller, blocked: []string{smaller, "50,000.00"}},
		{name: "no such procedure", amount: 6_000_000, procedure: benchOrg + "-9999", blocked: []string{benchOrg + "-9999", "没有"}},
		{name: "approved", amount: 6_000_000, procedure: approved},
		{name: "approved, for less than it covers", amount: 5_000_000, procedure: approved},
		{name: "below threshold", amount: 4_999_999},
		{name: "below threshold naming a pending procedure", amount: 4_999_999, procedure: pending, invalid: "transaction.resolutionProcedureId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n++
			tx := plainExpense(c.amount, "9"+strings.Repeat("0", 6)+string(rune('0'+n%10)))
			tx.ResolutionProcedureId = c.procedure
			tx.BusinessDate = clock.Now().In(cst).Format(time.DateOnly)
			head := b.Ledger().Head(benchOrg).Seq
			_, _, before, _ := b.Procedures(workflow.Filter{}, books.Page{Size: 1000})
			s, hits, err := b.RecordTransaction(ctx, "会计", tx)
			var blocked *books.BlockedError
			var inv *books.InvalidError
			switch {
			case c.blocked != nil:
				if !errors.As(err, &blocked) || len(blocked.Hits) != 1 || blocked.Hits[0].Code != "BIG-SPEND" {
					t.Fatalf("recorded %v, %v: want refused by BIG-SPEND", s, err)
				}
				for _, want := range c.blocked {
					if !strings.Contains(blocked.Hits[0].Reason, want) {
						t.Errorf("refusal %q does not name %q", blocked.Hits[0].Reason, want)
					}
				}
			case c.invalid != "":
				if !errors.As(err, &inv) || inv.Violations[0].Field != c.invalid {
					t.Fatalf("recorded %v, %v: want field %s refused", s, err, c.invalid)
				}
			default:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				for _, h := range hits {
					if h.Code == "BIG-SPEND" {
						t.Fatalf("BIG-SPEND hit on a recorded expense: %+v", h)
					}
				}
			}
			if err != nil {
				if h := b.Ledger().Head(benchOrg).Seq; h != head {
					t.Fatalf("a refused expense changed the chain: head %d → %d", head, h)
				}
				return
			}
			// An expense under its approved resolution opens no second
			// procedure: the resolution's carries it on to payment.
			_, _, after, _ := b.Procedures(workflow.Filter{}, books.Page{Size: 1000})
			if opened := after - before; (c.procedure != "") == (opened != 0) {
				t.Errorf("recording opened %d procedures", opened)
			}
		})
	}

	// An import is judged the same way, row by row.
	rows := []books.ImportRow{{Row: 2, Transaction: plainExpense(6_000_000, "80000001")}, {Row: 3, Transaction: plainExpense(6_000_000, "80000002")}}
	rows[0].Transaction.ResolutionProcedureId = approved
	for _, r := range rows {
		r.Transaction.BusinessDate = clock.Now().In(cst).Format(time.DateOnly)
	}
	res, err := b.ImportTransactions(ctx, "会计", rows, true)
	if rejected := res.Rejections; err != nil || len(rejected) != 1 || rejected[0].Row != 3 ||
		!strings.Contains(rejected[0].Reason, "BIG-SPEND") {
		t.Fatalf("import: rejected %+v, %v: want row 3 only, by BIG-SPEND", res.Rejections, err)
	}
}
