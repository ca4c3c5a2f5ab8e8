package supervise

import (
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Chart is the chart of accounts of the live catalog (nil when it carries
// none: the books then use the national chart) and the catalog's version,
// which the vouchers recorded under it name (books.SetChart).
func (s *Supervisor) Chart() (*sanziv1.ChartOfAccounts, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.flows.Catalog()
	return c.GetChart(), c.GetVersion()
}

// ApprovesReopen accepts procedure id as the town's approval to reopen
// org's month (a books.ReopenApproval): a BOOKS-REOPEN procedure of org for
// that month (its period) whose step at a town post was approved, as the
// village knows it — a town's decisions come down in the town's chain and
// are applied to the procedure like the village's own.
func (s *Supervisor) ApprovesReopen(id, org, month string) error {
	p, err := s.Procedure(id)
	if err != nil {
		return books.Invalid("procedureId", "%v", err)
	}
	if p.P.GetMatterCode() != catalog.BooksReopen || p.P.GetOrg() != org || p.P.GetPeriod() != month {
		return books.Invalid("procedureId", "%s is a %s procedure of %s for %q, not %s of %s for %s",
			id, p.P.GetMatterCode(), p.P.GetOrg(), p.P.GetPeriod(), catalog.BooksReopen, org, month)
	}
	r, err := s.ProcedureRecord(p)
	if err != nil {
		return err
	}
	for _, st := range r.GetSteps() {
		if strings.HasPrefix(st.GetPost(), "town.") && st.GetStatus() == string(workflow.StatusApproved) {
			return nil
		}
	}
	return books.Conflict("procedureId", "procedure %s (%s): no town step is approved yet; the town approves reopening %s before the month takes vouchers again", id, r.GetStatus(), month)
}

// BankReconciled is the entry id of org's bank reconciliation procedure for
// month whose reconciliation step is approved, "" when there is none (a
// books.Supervisor method, for the month-end close). The step is the
// town's: its decision comes down in the town's chain.
func (s *Supervisor) BankReconciled(org, month string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.flows.List(workflow.Filter{Org: org, Matter: catalog.BankRec, Period: month})
	if err != nil {
		s.log.Warn("bank reconciliations not read; the month is not taken as reconciled", "org", org, "month", month, "err", err)
		return ""
	}
	for _, p := range recs {
		if p.Status == workflow.StatusRejected {
			continue
		}
		r, err := p.Record()
		if err != nil {
			continue // a checkpoint's steps that do not decode approve nothing
		}
		for _, st := range r.GetSteps() {
			if st.GetCode() == catalog.BankRecStep && st.GetStatus() == string(workflow.StatusApproved) {
				return p.ID
			}
		}
	}
	return ""
}

// OverdueSteps lists org's open procedures about one of subjects whose open
// step, held by a village post, was due before now (a books.Supervisor
// method, for the month-end close). A town's step is left out: the village
// can neither take it nor hurry it but through the cards its timers give.
//
// Both read workflow.Flows' indexes (the open procedures; a matter's of
// one period, in memory and in the archive), not every procedure the
// supervision holds (issue 17).
func (s *Supervisor) OverdueSteps(org string, subjects map[string]bool, now time.Time) []books.OverdueStep {
	s.mu.Lock()
	defer s.mu.Unlock()
	village := map[string]bool{}
	for _, p := range s.flows.Catalog().GetPosts() {
		village[p.GetCode()] = p.GetTier() == sanziv1.Tier_TIER_VILLAGE
	}
	var out []books.OverdueStep
	open, _ := s.flows.List(workflow.Filter{Org: org, Status: workflow.StatusOpen}) // in memory: no error
	for _, p := range open {
		if !subjects[p.P.GetSubjectId()] {
			continue
		}
		step, st := p.OpenStep()
		if step == nil || !village[step.GetPost()] || !st.GetDeadline().AsTime().Before(now) {
			continue
		}
		out = append(out, books.OverdueStep{ProcedureID: p.ID, Matter: p.P.GetMatterCode(), SubjectID: p.P.GetSubjectId(),
			Step: step.GetCode(), StepName: step.GetName(), Post: step.GetPost(), Deadline: st.GetDeadline().AsTime()})
	}
	return out
}
