package api

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/disclosed"
	"github.com/sanzi/sanzi/node/disclosure"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// discloseMatter is the catalog's matter of the monthly disclosure.
const discloseMatter = "GOV-DISCLOSE"

// disclosureOf computes org's disclosure for period from the chain this
// node holds (its own; at a town, its villages' too).
func (s *Service) disclosureOf(ctx context.Context, org, period string, largeFromFen int64) (*sanziv1.Disclosure, []byte, string, error) {
	if largeFromFen < 0 {
		return nil, nil, "", invalidField("largeFromFen", "an amount in fen, 0 or more (0: 500,000 fen)")
	}
	if s.b.Ledger().Head(org).Seq == 0 {
		return nil, nil, "", status.Errorf(codes.NotFound, "this node holds no entries of %s", org)
	}
	d, err := disclosure.Compute(ctx, s.b.Ledger(), org, period, disclosure.Options{LargeFromFen: largeFromFen, Location: s.sup.Location()})
	switch {
	case errors.Is(err, disclosure.ErrPeriod):
		return nil, nil, "", invalidField("period", "a month, YYYY-MM")
	case err != nil:
		return nil, nil, "", toStatus(err)
	}
	raw, sum, err := disclosure.Encode(d)
	if err != nil {
		return nil, nil, "", toStatus(err)
	}
	return d, raw, sum, nil
}

// publicOf is the public content procedure procID of org publishes
// (node/disclosed, the one computation the district's site and
// verify-public use too): while open, what its approval will publish (and
// what supervise.DecideStep names in the approving decision); once
// approved, what it published. Its canonical bytes and their sha256.
func (s *Service) publicOf(org, procID string) ([]byte, string, error) {
	p, err := s.sup.Procedure(procID)
	if err != nil {
		return nil, "", err
	}
	itemize := p.Matter.GetThresholdFen()
	a, raw, err := disclosed.Approve(s.b.Ledger(), org, procID, itemize)
	if errors.Is(err, disclosed.ErrNoProcedure) {
		all, cerr := disclosed.Compute(s.b.Ledger(), org, 1, disclosed.Options{ItemizeFromFen: itemize})
		if cerr != nil {
			return nil, "", cerr
		}
		i := slices.IndexFunc(all, func(x *disclosed.Disclosure) bool { return x.Procedure.ID == procID })
		if i < 0 {
			return nil, "", err
		}
		return disclosed.Encode(all[i])
	}
	if err != nil {
		return nil, "", err
	}
	return raw, a.GetContentSha256(), nil
}

// disclosureProcedure is org's GOV-DISCLOSE procedure for period that is
// open or completed (a rejected one is done with: the month opens again),
// or nil.
func (s *Service) disclosureProcedure(org, period string) (*sanziv1.ProcedureRecord, error) {
	token := ""
	for {
		page, next, _, err := s.sup.Procedures(workflow.Filter{Org: org, Matter: discloseMatter}, books.Page{Size: 1000, Token: token})
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			if p.GetProcedure().GetPeriod() == period && p.GetStatus() != string(workflow.StatusRejected) {
				return p, nil
			}
		}
		if token = next; token == "" {
			return nil, nil
		}
	}
}

// GetDisclosure implements DisclosureService: the month's disclosure as
// the books stand, its digest, and the month's procedure.
func (s *Service) GetDisclosure(ctx context.Context, r *sanziv1.GetDisclosureRequest) (*sanziv1.GetDisclosureResponse, error) {
	d, _, sum, err := s.disclosureOf(ctx, r.GetOrg(), r.GetPeriod(), r.GetLargeFromFen())
	if err != nil {
		return nil, err
	}
	p, err := s.disclosureProcedure(r.GetOrg(), r.GetPeriod())
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.GetDisclosureResponse{Disclosure: d, Sha256: sum, Procedure: p}
	if p != nil && s.b.Serves(r.GetOrg()) {
		raw, psum, err := s.publicOf(r.GetOrg(), p.GetEntry().GetId())
		switch {
		case errors.Is(err, disclosed.ErrNoProcedure):
			// Closed without publishing (rejected at its last step).
		case err != nil:
			return nil, toStatus(err)
		default:
			out.PublicContent, out.PublicSha256 = string(raw), psum
		}
	}
	return out, nil
}

// DecideDisclosure implements DisclosureService: a decision on the open
// step of the month's procedure (supervise.DecideStep checks the post, the
// scope and that the decider recorded none of it), on the content the
// decider read. At the village the content is kept as an attachment,
// locked by its hash, and named in the decision, so it travels up with the
// chain; a town's decision on its village's step names none (the village
// applies it without the town's attachments).
func (s *Service) DecideDisclosure(ctx context.Context, r *sanziv1.DecideDisclosureRequest) (*sanziv1.DecideDisclosureResponse, error) {
	if err := signedIn(ctx, "decide on a disclosure"); err != nil {
		return nil, err
	}
	approve := r.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE
	if approve && r.GetSha256() == "" {
		return nil, invalidField("sha256", "required to approve: the sha256 of the disclosure read (GET /v1/disclosures/{org}/{period})")
	}
	p, err := s.disclosureProcedure(r.GetOrg(), r.GetPeriod())
	if err != nil {
		return nil, toStatus(err)
	}
	if p == nil || p.GetStatus() != string(workflow.StatusOpen) {
		return nil, status.Errorf(codes.FailedPrecondition, "no open %s procedure of %s for %s", discloseMatter, r.GetOrg(), r.GetPeriod())
	}
	_, raw, sum, err := s.disclosureOf(ctx, r.GetOrg(), r.GetPeriod(), r.GetLargeFromFen())
	if err != nil {
		return nil, err
	}
	if approve && sum != r.GetSha256() {
		return nil, status.Errorf(codes.FailedPrecondition, "the books of %s for %s changed since the disclosure was read (sha256 %s, now %s): read it again before approving", r.GetOrg(), r.GetPeriod(), r.GetSha256(), sum)
	}
	d := &sanziv1.StepDecision{Org: r.GetOrg(), ProcedureId: p.GetEntry().GetId(), StepCode: p.GetOpenStep(), Action: r.GetAction(), Reason: r.GetReason()}
	if s.b.Serves(r.GetOrg()) {
		if _, err := s.b.Attachments().Put(raw, fmt.Sprintf("disclosure-%s-%s.json", r.GetOrg(), r.GetPeriod()), "application/json", sum); err != nil {
			return nil, toStatus(fmt.Errorf("keep the disclosure's content: %w", err))
		}
		d.Attachments = []string{sum}
		if approve {
			// The public content this approval publishes, kept with the
			// decision; supervise.DecideStep names its digest in the
			// decision, signed, which the district's site and
			// verify-public check the content they compute against.
			praw, s256, err := s.publicOf(r.GetOrg(), p.GetEntry().GetId())
			if err != nil {
				return nil, toStatus(fmt.Errorf("prepare the public disclosure: %w", err))
			}
			if r.GetPublicSha256() != "" && r.GetPublicSha256() != s256 {
				return nil, status.Errorf(codes.FailedPrecondition, "the public disclosure of %s for %s is not the one read (public sha256 %s, now %s): read it again before approving", r.GetOrg(), r.GetPeriod(), r.GetPublicSha256(), s256)
			}
			if _, err := s.b.Attachments().Put(praw, fmt.Sprintf("disclosure-public-%s-%s.json", r.GetOrg(), r.GetPeriod()), "application/json", s256); err != nil {
				return nil, toStatus(fmt.Errorf("keep the public disclosure's content: %w", err))
			}
			d.Attachments = append(d.Attachments, s256)
		}
	}
	e, proc, err := s.sup.DecideStep(ctx, r.GetAuthor(), d)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.DecideDisclosureResponse{Entry: e.Meta(), ContentSha256: sum}
	if m, err := entries.Decode(e.Type, e.Payload); err == nil {
		if sd, ok := m.(*sanziv1.StepDecision); ok {
			out.PublicSha256 = sd.GetDisclosure().GetContentSha256()
		}
	}
	if proc != nil {
		if out.Procedure, err = s.sup.ProcedureRecord(proc); err != nil {
			return nil, toStatus(err)
		}
	}
	return out, nil
}
