package workflow

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

var cst = time.FixedZone("CST", 8*3600)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
	if err != nil {
		panic(err)
	}
	return t
}

func newFlows(t testing.TB) *Flows {
	t.Helper()
	cal, err := calendar.New(calendar.Default2026())
	if err != nil {
		t.Fatal(err)
	}
	return New(catalog.Default("350505"), cal)
}

func expense(fen int64, category string) *sanziv1.Transaction {
	return &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, AmountFen: fen, Category: category}
}

func TestMatterFor(t *testing.T) {
	f := newFlows(t)
	for _, c := range []struct {
		name string
		msg  any
		want string
	}{
		{"small expense", expense(4_999_999, "办公费"), "FUND-REIMB"},
		{"expense at the four-deliberations threshold", expense(5_000_000, "办公费"), "FUND-BIG"},
		{"works under the tender threshold", expense(9_999_999, "工程款"), "FUND-BIG"},
		{"works at the tender threshold", expense(10_000_000, "工程款"), "WORKS-TENDER"},
		{"income", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: 1}, "FUND-INCOME"},
		{"loan out", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, AmountFen: 1}, "FUND-LOAN"},
		{"transfer opens nothing", &sanziv1.Transaction{Kind: sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER, AmountFen: 1}, ""},
		{"lease", &sanziv1.Contract{Kind: sanziv1.ContractKind_CONTRACT_KIND_LEASE}, "CONTRACT-LEASE"},
		{"contracting out", &sanziv1.Contract{Kind: sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT}, "RES-CONTRACT"},
		{"disposal one fen under", &sanziv1.AssetDisposal{PriceFen: 4_999_999}, ""},
		{"disposal at threshold", &sanziv1.AssetDisposal{PriceFen: 5_000_000}, "ASSET-DISPOSE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			switch m := c.msg.(type) {
			case *sanziv1.Transaction:
				got = f.MatterFor(m).GetCode()
			case *sanziv1.Contract:
				got = f.MatterFor(m).GetCode()
			case *sanziv1.AssetDisposal:
				got = f.MatterFor(m).GetCode()
			}
			if got != c.want {
				t.Fatalf("matter %q, want %q", got, c.want)
			}
		})
	}
}

// open records a FUND-REIMB procedure (steps: capture 3 calendar days?, see
// the catalog) opened at opened and returns its id.
func open(t *testing.T, f *Flows, matter string, opened time.Time) string {
	t.Helper()
	id := fmt.Sprintf("350505100201-%d", f.seq+1)
	if err := f.Observe(id, opened, &sanziv1.Procedure{Org: "350505100201", MatterCode: matter, CatalogVersion: "default", Summary: "x"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func decide(t *testing.T, f *Flows, id, step, post string, action sanziv1.StepAction, when time.Time) error {
	t.Helper()
	d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step, Post: post, Action: action, Reason: "r"}, when)
	if err != nil {
		return err
	}
	return f.Observe(id+"-d"+when.Format("150405"), when, d)
}

func TestChainRefusesSkipsOtherPostsAndLockedProcedures(t *testing.T) {
	f := newFlows(t)
	mt, _ := catalog.Find(f.Catalog(), "FUND-BANKREC")
	id := open(t, f, "FUND-BANKREC", at("2026-11-02 09:00"))
	first, second := mt.GetSteps()[0], mt.GetSteps()[1]
	chain := func(err error) bool {
		var r *RefusedError
		return errors.As(err, &r) && r.Rule == "CHAIN"
	}
	if err := decide(t, f, id, second.GetCode(), second.GetPost(), sanziv1.StepAction_STEP_ACTION_APPROVE, at("2026-11-02 10:00")); !chain(err) {
		t.Fatalf("skipping to the second step: %v, want CHAIN", err)
	}
	if err := decide(t, f, id, first.GetCode(), second.GetPost(), sanziv1.StepAction_STEP_ACTION_APPROVE, at("2026-11-02 10:00")); !chain(err) {
		t.Fatalf("another post deciding: %v, want CHAIN", err)
	}
	if err := decide(t, f, id, first.GetCode(), first.GetPost(), sanziv1.StepAction_STEP_ACTION_RETURN, at("2026-11-02 10:00")); err != nil {
		t.Fatalf("returning the first step: %v", err)
	}
	if err := decide(t, f, id, first.GetCode(), first.GetPost(), sanziv1.StepAction_STEP_ACTION_APPROVE, at("2026-11-02 11:00")); err != nil {
		t.Fatal(err)
	}
	d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: second.GetCode(), Post: second.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_APPROVE}, at("2026-11-03 09:00"))
	if err != nil || !d.GetCloses() {
		t.Fatalf("last step: closes=%v err=%v, want closes", d.GetCloses(), err)
	}
	if err := f.Observe(id+"-last", at("2026-11-03 09:00"), d); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.Get(id); p.Status != StatusCompleted {
		t.Fatalf("status %s", p.Status)
	}
	if err := decide(t, f, id, second.GetCode(), second.GetPost(), sanziv1.StepAction_STEP_ACTION_APPROVE, at("2026-11-03 10:00")); !chain(err) {
		t.Fatalf("deciding a completed procedure: %v, want CHAIN (locked)", err)
	}
}

func TestRejectAndReturnNeedAReason(t *testing.T) {
	f := newFlows(t)
	id := open(t, f, "GOV-COMPLAINT", at("2026-11-02 09:00"))
	for _, a := range []sanziv1.StepAction{sanziv1.StepAction_STEP_ACTION_REJECT, sanziv1.StepAction_STEP_ACTION_RETURN} {
		_, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: "register", Post: "town.reviewer", Action: a}, at("2026-11-02 10:00"))
		var r *RefusedError
		if !errors.As(err, &r) || r.Field != "decision.reason" {
			t.Fatalf("%s without reason: %v", a, err)
		}
	}
}

func TestMinimumDurationHoldsAStepOpen(t *testing.T) {
	f := newFlows(t)
	id := open(t, f, "FUND-BIG", at("2026-11-02 09:00"))
	p, _ := f.Get(id)
	// Walk to the first step with a minimum duration, approving each step
	// (with a resolution) as soon as it opens.
	when := at("2026-11-02 09:00")
	for {
		step, _ := p.OpenStep()
		if step.GetMinDuration() != nil {
			break
		}
		when = when.Add(time.Minute)
		d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(),
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Attachments: []string{"h"}}, when)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Observe(fmt.Sprintf("d%d", p.Step), when, d); err != nil {
			t.Fatal(err)
		}
	}
	step, st := p.OpenStep()
	earliest, err := f.add(st.GetOpenedAt().AsTime(), step.GetMinDuration())
	if err != nil {
		t.Fatal(err)
	}
	try := func(when time.Time) error {
		_, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(),
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Attachments: []string{"h"}}, when)
		return err
	}
	if err := try(earliest.Add(-time.Second)); err == nil {
		t.Fatalf("step %s closed a second before its minimum period ends (%s)", step.GetCode(), earliest)
	}
	if err := try(earliest); err != nil {
		t.Fatalf("at the end of the minimum period: %v", err)
	}
}

// TestTimers checks the escalation ladder on FUND-BANKREC's review step
// (2 working days) across the National Day holiday and a swapped Saturday.
func TestTimers(t *testing.T) {
	type want struct {
		now    string
		levels []sanziv1.CardLevel
	}
	w, y, r := sanziv1.CardLevel_CARD_LEVEL_WARNING, sanziv1.CardLevel_CARD_LEVEL_YELLOW, sanziv1.CardLevel_CARD_LEVEL_RED
	cases := []struct {
		name   string
		review string // when the review step opens
		steps  []want
	}{
		{
			// Opened Monday 2 Nov 09:00: due Wednesday 4 Nov 17:30 (two
			// working days, the day itself not counted), 26.5 working hours
			// (08:30–17:30). 80% (21.2 h) is used at Wednesday 12:12; yellow
			// after 17:30; red once it is overdue by as much working time
			// again (Monday 9 Nov 17:00), before three more working days
			// (Monday 17:30) would make it red anyway.
			name: "plain week", review: "2026-11-02 09:00",
			steps: []want{
				{"2026-11-04 12:11", nil},
				{"2026-11-04 12:13", []sanziv1.CardLevel{w}},
				{"2026-11-04 17:30", nil},
				{"2026-11-04 17:31", []sanziv1.CardLevel{y}},
				{"2026-11-09 16:59", nil},
				{"2026-11-09 17:01", []sanziv1.CardLevel{r}},
				{"2026-11-20 09:00", nil},
			},
		},
		{
			// Opened Wednesday 30 Sep: 1 Oct–7 Oct are off, Saturday 10 Oct
			// is a swapped working day. Due Friday 9 Oct 17:30; the step
			// is not late during the holiday.
			name: "across national day", review: "2026-09-30 09:00",
			steps: []want{
				{"2026-10-07 23:00", nil},
				{"2026-10-09 17:30", []sanziv1.CardLevel{w}},
				{"2026-10-09 17:31", []sanziv1.CardLevel{y}},
				// Overdue by the step's 26.5 working hours again: 10 Oct (a
				// swapped Saturday), 12 Oct and 13 Oct until 17:00.
				{"2026-10-13 16:59", nil},
				{"2026-10-13 17:01", []sanziv1.CardLevel{r}},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFlows(t)
			// Open a bank reconciliation and approve its first step at
			// c.review, so the 2-working-day review step opens then. The
			// procedure's own 10-day limit is moved far out so its red card
			// does not mix in.
			id := open(t, f, "FUND-BANKREC", at(c.review))
			p, _ := f.Get(id)
			p.Deadline = at("2027-01-01 00:00")
			if err := decide(t, f, id, "reconcile", "town.agency_accountant", sanziv1.StepAction_STEP_ACTION_APPROVE, at(c.review)); err != nil {
				t.Fatal(err)
			}
			for _, s := range c.steps {
				got := f.Due(at(s.now), func(org, post string) string { return "王五" })
				var levels []sanziv1.CardLevel
				for _, card := range got {
					levels = append(levels, card.GetLevel())
					if card.GetStepCode() != "review" || card.GetPost() != "town.reviewer" || card.GetPerson() != "王五" || card.GetReason() == "" {
						t.Fatalf("card %v does not name the step, post and person", card)
					}
				}
				if fmt.Sprint(levels) != fmt.Sprint(s.levels) {
					t.Fatalf("at %s: cards %v, want %v", s.now, levels, s.levels)
				}
			}
		})
	}
}

func TestProcedureOverrunIsRedEvenWhenStepsAreOnTime(t *testing.T) {
	f := newFlows(t)
	// GOV-COMPLAINT promises 10 calendar days in all.
	id := open(t, f, "GOV-COMPLAINT", at("2026-11-02 09:00"))
	got := f.Due(at("2026-11-12 09:01"), func(string, string) string { return "" })
	var red bool
	for _, c := range got {
		if c.GetLevel() == sanziv1.CardLevel_CARD_LEVEL_RED && c.GetDeadline().AsTime().Equal(at("2026-11-12 09:00")) {
			red = true
		}
	}
	if !red {
		t.Fatalf("cards %v: want a red card for the 10-day procedure limit of %s", got, id)
	}
	// Given cards are not given again, also after a replay marks them.
	if again := f.Due(at("2026-11-12 09:02"), func(string, string) string { return "" }); len(again) != 0 {
		t.Fatalf("cards given twice: %v", again)
	}
	g := newFlows(t)
	open(t, g, "GOV-COMPLAINT", at("2026-11-02 09:00"))
	for i, c := range got {
		if err := g.Observe(fmt.Sprint("card", i), at("2026-11-12 09:01"), c); err != nil {
			t.Fatal(err)
		}
	}
	if again := g.Due(at("2026-11-12 09:02"), func(string, string) string { return "" }); len(again) != 0 {
		t.Fatalf("cards given again after replay: %v", again)
	}
}

// TestOneReconciliationPerVillageAndMonth: a month's bank reconciliation
// or disclosure is one per village; a second village served by the same
// node opens its own for the same month.
func TestOneReconciliationPerVillageAndMonth(t *testing.T) {
	f := newFlows(t)
	if err := f.Observe("350505100201-1", at("2026-11-02 09:00"), &sanziv1.Procedure{Org: "350505100201", MatterCode: "FUND-BANKREC", Period: "2026-10", CatalogVersion: "default", Summary: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		org, matter, period string
		refused             bool
	}{
		{"350505100201", "FUND-BANKREC", "2026-10", true},
		{"350505100202", "FUND-BANKREC", "2026-10", false},
		{"350505100201", "FUND-BANKREC", "2026-09", false},
		{"350505100201", "GOV-DISCLOSE", "2026-10", false},
	} {
		err := f.CheckOpen(&sanziv1.Procedure{Org: c.org, MatterCode: c.matter, Period: c.period, Summary: "x"})
		if (err != nil) != c.refused {
			t.Errorf("%s %s %s: refused=%v, want %v (%v)", c.org, c.matter, c.period, err != nil, c.refused, err)
		}
	}
}
