package supervise

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Refused maps a workflow refusal to the books' errors: CHAIN is a rule
// that blocks; others name the field.
func Refused(err error) error {
	var r *workflow.RefusedError
	if !errors.As(err, &r) {
		if errors.Is(err, workflow.ErrNotFound) {
			return fmt.Errorf("%w: %v", books.ErrNotFound, err)
		}
		return err
	}
	if r.Rule != "" {
		return &books.BlockedError{Hits: []rules.Hit{{Code: r.Rule, Severity: rules.SeverityRed, Action: rules.ActionBlock, Reason: r.Reason}}}
	}
	return &books.InvalidError{Violations: []books.Violation{{Field: r.Field, Reason: r.Reason}}}
}

// OpenProcedure opens a procedure not opened by recording an entry: a
// complaint, a monthly disclosure, a bank reconciliation.
func (s *Supervisor) OpenProcedure(ctx context.Context, author string, p *sanziv1.Procedure) (*workflow.Proc, error) {
	if err := s.b.Validator().Procedure(author, p); err != nil {
		return nil, err
	}
	p = proto.CloneOf(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flows.CheckOpen(p); err != nil {
		return nil, Refused(err)
	}
	st, err := s.b.AppendEntry(ctx, p.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, p, p.GetSubjectId())
	if err != nil {
		return nil, err
	}
	if _, err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.flows.Get(st.ID())
}

// DecideStep records a decision on a procedure's open step. A decision on
// any other step, by another post or on a closed procedure is blocked by
// rule CHAIN. The procedure is held locked from check to record, so two
// people approving at once cannot both pass. With a signed-in account in
// ctx, the account must hold the post and not have recorded the matter
// (CheckDecider); a decision naming no post takes the step's.
func (s *Supervisor) DecideStep(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	if s.tier.DecidesFor(d.GetOrg()) {
		return s.decideFor(ctx, author, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUp(ctx); err != nil {
		return nil, nil, err
	}
	p, err := s.flows.Get(d.GetProcedureId())
	if err == nil {
		if d, err = CheckDecider(ctx, s.b.Ledger(), p, author, d); err != nil {
			return nil, nil, err
		}
	}
	if err := s.b.Validator().StepDecision(author, d); err != nil {
		return nil, nil, err
	}
	dd, err := s.flows.Check(d, s.b.Now())
	if err != nil {
		return nil, nil, Refused(err)
	}
	if err := s.tier.RefuseOwnDecision(s.flows.Catalog(), dd); err != nil {
		return nil, nil, err
	}
	if p != nil && p.P.GetMatterCode() == disclosed.Matter && dd.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE {
		// Whatever route it comes by, an approval of a disclosure names
		// the public content it approves, computed here from the chain by
		// the code the district's site and verify-public use.
		if dd.Disclosure, _, err = disclosed.Approve(s.b.Ledger(), dd.GetOrg(), dd.GetProcedureId(), p.Matter.GetThresholdFen()); err != nil {
			return nil, nil, fmt.Errorf("prepare the public disclosure %s approves: %w", dd.GetProcedureId(), err)
		}
	}
	st, err := s.b.AppendEntry(ctx, dd.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, dd, dd.GetProcedureId())
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.catchUp(ctx); err != nil {
		return st, nil, err
	}
	p, err = s.flows.Get(dd.GetProcedureId())
	return st, p, err
}

// decideFor records the tier's decision on a step of another org's
// procedure (a town's, on its village's), in the node's own chain.
func (s *Supervisor) decideFor(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUp(ctx); err != nil {
		return nil, nil, err
	}
	st, p, err := s.tier.DecideStep(ctx, author, d)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.catchUp(ctx); err != nil {
		return st, nil, err
	}
	return st, p, nil
}

// UpdateAlertStatus records one step of an alert's review: the review of an
// alert of an org the tier decides for (a town's village) is the tier's
// decision, recorded in the node's own chain for that org to apply; any
// other is the books' own review.
func (s *Supervisor) UpdateAlertStatus(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error) {
	if !s.tier.DecidesFor(tr.GetOrg()) {
		return s.b.UpdateAlertStatus(ctx, author, tr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.catchUp(ctx); err != nil {
		return nil, err
	}
	st, err := s.tier.ReviewAlert(ctx, author, tr)
	if err != nil {
		return nil, err
	}
	_, err = s.catchUp(ctx)
	return st, err
}

// Procedure returns one procedure as it stands.
func (s *Supervisor) Procedure(id string) (*workflow.Proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.flows.Get(id)
	if held := s.tier.Held(); err != nil && held != nil {
		p, err = held.Get(id) // a village's, as the town holds it
	}
	if err != nil {
		return nil, Refused(err)
	}
	return p, nil
}

// ProcedureRecord renders p with its entry for the API.
func (s *Supervisor) ProcedureRecord(p *workflow.Proc) (*sanziv1.ProcedureRecord, error) {
	s.mu.Lock()
	r, err := p.Record()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	o, seq, err := ledger.ParseEntryID(p.ID)
	if err != nil {
		return nil, err
	}
	st, err := s.b.Ledger().Get(o, seq)
	if err != nil {
		return nil, err
	}
	r.Entry = st.Meta()
	return r, nil
}

// Procedures lists procedures matching f, oldest first (by entry key),
// one page, and how many match in all. The node's own procedures and a
// town's villages' (the tier's Held) are each read a page at a time from
// what is open in memory and from the archive of the closed ones, whose
// counters give the total: the closed history is not walked (issue 17).
func (s *Supervisor) Procedures(f workflow.Filter, p books.Page) ([]*sanziv1.ProcedureRecord, string, int64, error) {
	size, after, err := p.Bounds()
	if err != nil {
		return nil, "", 0, err
	}
	s.mu.Lock()
	all, total, err := s.flows.Page(f, after, size+1)
	if held := s.tier.Held(); held != nil && err == nil { // and a town's villages', for its reviewers
		var theirs []*workflow.Proc
		var n int
		theirs, n, err = held.Page(f, after, size+1)
		all, total = append(all, theirs...), total+n
		slices.SortStableFunc(all, func(a, b *workflow.Proc) int { return bytes.Compare(mustKey(a.ID), mustKey(b.ID)) })
	}
	s.mu.Unlock()
	if err != nil {
		return nil, "", 0, err
	}
	next := ""
	if len(all) > size {
		all = all[:size]
		next = hex.EncodeToString(mustKey(all[size-1].ID))
	}
	out := make([]*sanziv1.ProcedureRecord, 0, len(all))
	for _, pr := range all {
		r, err := s.ProcedureRecord(pr)
		if err != nil {
			return nil, "", 0, err
		}
		out = append(out, r)
	}
	return out, next, int64(total), nil
}

func mustKey(id string) []byte {
	k, _ := books.EntryKey(id)
	return k
}
