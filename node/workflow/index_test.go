package workflow

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// observed is an entry as Observe takes it, to replay into another Flows.
type observed struct {
	id string
	at time.Time
	m  proto.Message
}

// history opens n procedures of three orgs over 2026 (bank
// reconciliations and disclosures with a month, a bank reconciliation of
// some months twice, complaints, reimbursements, reopenings) and decides
// most of them (approved to the end, rejected, returned, or left open at
// some step), feeding f and returning the entries in order.
func history(t *testing.T, f *Flows, n int) []observed {
	t.Helper()
	rnd := rand.New(rand.NewPCG(17, 2026))
	orgs := []string{"350505100201", "350505100202", "350505100203"}
	matters := []string{catalog.BankRec, "GOV-DISCLOSE", "GOV-COMPLAINT", "FUND-REIMB", catalog.BooksReopen}
	var log []observed
	feed := func(id string, at time.Time, m proto.Message) {
		t.Helper()
		if err := f.Observe(id, at, m); err != nil {
			t.Fatalf("observe %s: %v", id, err)
		}
		log = append(log, observed{id, at, m})
	}
	start := at("2026-01-05 09:00")
	for i := range n {
		when := start.Add(time.Duration(i) * 7 * time.Hour)
		org, matter := orgs[rnd.IntN(len(orgs))], matters[rnd.IntN(len(matters))]
		p := &sanziv1.Procedure{Org: org, MatterCode: matter, CatalogVersion: "default", Summary: "x"}
		if matter == catalog.BankRec || matter == "GOV-DISCLOSE" || matter == catalog.BooksReopen {
			p.Period = fmt.Sprintf("2026-%02d", 1+rnd.IntN(6))
		}
		id := fmt.Sprintf("%s-%d", org, i+1)
		feed(id, when, p)
		// Decide a few steps of some earlier procedure, later.
		for j := 0; j < 3; j++ {
			q := f.procs[f.order[rnd.IntN(len(f.order))]]
			step, _ := q.OpenStep()
			if step == nil {
				continue
			}
			action := []sanziv1.StepAction{sanziv1.StepAction_STEP_ACTION_APPROVE, sanziv1.StepAction_STEP_ACTION_APPROVE,
				sanziv1.StepAction_STEP_ACTION_APPROVE, sanziv1.StepAction_STEP_ACTION_REJECT, sanziv1.StepAction_STEP_ACTION_RETURN}[rnd.IntN(5)]
			dAt := when.Add(time.Duration(j+1) * time.Hour * 24 * 3)
			d, err := f.Check(&sanziv1.StepDecision{ProcedureId: q.ID, StepCode: step.GetCode(), Post: step.GetPost(), Action: action, Reason: "r"}, dAt)
			if err != nil {
				continue // a minimum period not run yet
			}
			feed(fmt.Sprintf("%s-d%d-%d", q.ID, i, j), dAt, d)
		}
	}
	return log
}

// listByScan is List as it was: every procedure walked, oldest first.
func listByScan(f *Flows, fl Filter) []string {
	var out []string
	for _, id := range f.order {
		p := f.procs[id]
		if (fl.Org != "" && p.P.GetOrg() != fl.Org) || (fl.Status != "" && p.Status != fl.Status) ||
			(fl.Matter != "" && p.P.GetMatterCode() != fl.Matter) || (fl.Period != "" && p.P.GetPeriod() != fl.Period) {
			continue
		}
		if s, _ := p.OpenStep(); fl.Post != "" && s.GetPost() != fl.Post {
			continue
		}
		out = append(out, id)
	}
	return out
}

// dueByScan is Due as it was: every procedure looked at, closed ones too.
func dueByScan(f *Flows, now time.Time, person func(org, post string) string) []*sanziv1.Card {
	var out []*sanziv1.Card
	for _, id := range f.order {
		out = f.dueOf(f.procs[id], now, person, out)
	}
	return out
}

func ids(ps []*Proc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// sameLists compares List from the indexes with the scan over every
// filter of the history's orgs, statuses, matters, periods and a post,
// and the duplicate check of CheckOpen with the scan's; it returns how
// many filters matched something.
func sameLists(t *testing.T, f *Flows, when string) int {
	t.Helper()
	// The index holds the open procedures and no other: a closed one left
	// in it would be filtered out, but cost each sweep as before.
	if got, want := ids(f.openInOrder()), listByScan(f, Filter{Status: StatusOpen}); !slices.Equal(got, want) {
		t.Errorf("%s: open index %v, the scan %v", when, got, want)
	}
	matched := 0
	for _, org := range []string{"", "350505100201", "350505100203"} {
		for _, status := range []Status{"", StatusOpen, StatusCompleted, StatusRejected} {
			for _, matter := range []string{"", catalog.BankRec, "GOV-DISCLOSE"} {
				for _, period := range []string{"", "2026-01", "2026-04", "2026-09"} {
					if period != "" && matter == "" {
						continue
					}
					for _, post := range []string{"", "town.reviewer"} {
						fl := Filter{Org: org, Status: status, Matter: matter, Period: period, Post: post}
						got, want := ids(f.List(fl)), listByScan(f, fl)
						if !slices.Equal(got, want) {
							t.Errorf("%s: List(%+v) = %v, the scan %v", when, fl, got, want)
						}
						if len(want) > 0 {
							matched++
						}
					}
				}
			}
		}
	}
	for _, matter := range []string{catalog.BankRec, "GOV-DISCLOSE"} {
		for m := 1; m <= 9; m++ {
			period := fmt.Sprintf("2026-%02d", m)
			taken := false
			for _, id := range f.order {
				q := f.procs[id]
				taken = taken || (q.P.GetOrg() == "350505100201" && q.P.GetMatterCode() == matter && q.P.GetPeriod() == period && q.Status != StatusRejected)
			}
			err := f.CheckOpen(&sanziv1.Procedure{Org: "350505100201", MatterCode: matter, Period: period, Summary: "x"})
			if (err != nil) != taken {
				t.Errorf("%s: CheckOpen %s %s: %v; the scan finds one not rejected: %v", when, matter, period, err, taken)
			}
		}
	}
	return matched
}

// TestIndexesAnswerAsTheScan: over a history of procedures opened, decided,
// completed, rejected and returned, List (open ones; a matter's of one
// period) and CheckOpen's duplicates read from the indexes are what walking
// every procedure finds, and Due gives the cards the scan of every
// procedure gives, sweep after sweep; so after a checkpoint is loaded.
func TestIndexesAnswerAsTheScan(t *testing.T) {
	f := newFlows(t)
	log := history(t, f, 300)
	if len(f.opens) == 0 || len(f.opens) == len(f.order) {
		t.Fatalf("%d of %d procedures open: the history should close some and leave some open", len(f.opens), len(f.order))
	}
	if n := sameLists(t, f, "as observed"); n < 50 {
		t.Fatalf("only %d filters matched procedures: the comparison shows little", n)
	}

	e := &checkpoint.Encoder{}
	f.Save(e)
	state, err := e.Data()
	if err != nil {
		t.Fatal(err)
	}
	loaded := newFlows(t)
	if err := loaded.Load(checkpoint.NewDecoder(state)); err != nil {
		t.Fatal(err)
	}
	sameLists(t, loaded, "loaded")

	scan := newFlows(t)
	for _, o := range log {
		if err := scan.Observe(o.id, o.at, o.m); err != nil {
			t.Fatal(err)
		}
	}
	person := func(org, post string) string { return org + "/" + post }
	cards := 0
	for _, now := range []string{"2026-02-01 10:00", "2026-03-15 10:00", "2026-06-01 10:00", "2026-06-02 10:00", "2026-12-30 10:00"} {
		want := dueByScan(scan, at(now), person)
		for _, fl := range []*Flows{f, loaded} {
			got := fl.Due(at(now), person)
			if len(got) != len(want) {
				t.Errorf("at %s: %d cards, the scan %d", now, len(got), len(want))
				continue
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Errorf("at %s: card %d %v, the scan %v", now, i, got[i], want[i])
				}
			}
		}
		cards += len(want)
	}
	if cards == 0 {
		t.Fatal("no card was due: the comparison shows nothing")
	}
}

// BenchmarkDueAfterHistory times a timers' sweep (Due) with 20 procedures
// open after 1,000 and after 20,000 closed ones, from the open index
// (index) beside the walk over every procedure Due made before (scan):
// the first must cost what is open, not the history (issue 17).
func BenchmarkDueAfterHistory(b *testing.B) {
	for _, closed := range []int{1_000, 20_000} {
		f := newFlows(b)
		start := at("2026-01-05 09:00")
		for i := range closed + 20 {
			id := fmt.Sprintf("350505100201-%d", i+1)
			if err := f.Observe(id, start, &sanziv1.Procedure{Org: "350505100201", MatterCode: "FUND-REIMB", CatalogVersion: "default", Summary: "x"}); err != nil {
				b.Fatal(err)
			}
			if i >= closed {
				continue // left open
			}
			step, _ := f.procs[id].OpenStep()
			d, err := f.Check(&sanziv1.StepDecision{ProcedureId: id, StepCode: step.GetCode(), Post: step.GetPost(), Action: sanziv1.StepAction_STEP_ACTION_REJECT, Reason: "r"}, start)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.Observe(id+"-d", start, d); err != nil {
				b.Fatal(err)
			}
		}
		now := at("2026-01-06 10:00") // nothing due yet: the sweep's cost alone
		person := func(org, post string) string { return "" }
		for _, way := range []struct {
			name string
			due  func(time.Time, func(string, string) string) []*sanziv1.Card
		}{{"index", f.Due}, {"scan", func(now time.Time, p func(string, string) string) []*sanziv1.Card { return dueByScan(f, now, p) }}} {
			b.Run(fmt.Sprintf("%s/closed=%d", way.name, closed), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if cards := way.due(now, person); len(cards) != 0 {
						b.Fatalf("%d cards due a day after opening", len(cards))
					}
				}
			})
		}
	}
}
