package api

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ListProcedures implements WorkflowService.
func (s *Service) ListProcedures(ctx context.Context, r *sanziv1.ListProceduresRequest) (*sanziv1.ListProceduresResponse, error) {
	out, next, total, err := s.sup.Procedures(workflow.Filter{Org: r.GetOrg(), Status: workflow.Status(r.GetStatus()), Matter: r.GetMatterCode(), Post: r.GetPost()},
		books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListProceduresResponse{Procedures: out, NextPageToken: next, TotalSize: total}, nil
}

// GetProcedure implements WorkflowService.
func (s *Service) GetProcedure(ctx context.Context, r *sanziv1.GetProcedureRequest) (*sanziv1.GetProcedureResponse, error) {
	p, err := s.sup.Procedure(r.GetId())
	if err != nil {
		return nil, toStatus(err)
	}
	rec, err := s.sup.ProcedureRecord(p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetProcedureResponse{Procedure: rec}, nil
}

// OpenProcedure implements WorkflowService.
func (s *Service) OpenProcedure(ctx context.Context, r *sanziv1.OpenProcedureRequest) (*sanziv1.OpenProcedureResponse, error) {
	p, err := s.sup.OpenProcedure(ctx, r.GetAuthor(), r.GetProcedure())
	if err != nil {
		return nil, toStatus(err)
	}
	rec, err := s.sup.ProcedureRecord(p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.OpenProcedureResponse{Procedure: rec}, nil
}

// DecideStep implements WorkflowService: the signed-in account decides,
// with a post it holds (the step's, when the request names none), and not
// on a matter it recorded (supervise.CheckDecider).
func (s *Service) DecideStep(ctx context.Context, r *sanziv1.DecideStepRequest) (*sanziv1.DecideStepResponse, error) {
	if err := signedIn(ctx, "decide a step"); err != nil {
		return nil, err
	}
	e, p, err := s.sup.DecideStep(ctx, r.GetAuthor(), r.GetDecision())
	if err != nil {
		return nil, toStatus(err)
	}
	rec, err := s.sup.ProcedureRecord(p)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.DecideStepResponse{Entry: e.Meta(), Procedure: rec}, nil
}

// ListCards implements CardService.
func (s *Service) ListCards(ctx context.Context, r *sanziv1.ListCardsRequest) (*sanziv1.ListCardsResponse, error) {
	out, next, total, err := s.b.ListCards(books.CardFilter{Org: r.GetOrg(), Post: r.GetPost(), ProcedureID: r.GetProcedureId(), Level: r.GetLevel()},
		books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListCardsResponse{Cards: out, NextPageToken: next, TotalSize: total}, nil
}

// ListRuleSets implements RuleService.
func (s *Service) ListRuleSets(ctx context.Context, r *sanziv1.ListRuleSetsRequest) (*sanziv1.ListRuleSetsResponse, error) {
	out, live, err := s.sup.RuleSets()
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListRuleSetsResponse{RuleSets: out, Live: live}, nil
}

// GetRuleSet implements RuleService.
func (s *Service) GetRuleSet(ctx context.Context, r *sanziv1.GetRuleSetRequest) (*sanziv1.GetRuleSetResponse, error) {
	sum, js, err := s.sup.RuleSet(r.GetVersion())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetRuleSetResponse{Summary: sum, RulesJson: js}, nil
}

// SubmitRuleSet implements RuleService.
func (s *Service) SubmitRuleSet(ctx context.Context, r *sanziv1.SubmitRuleSetRequest) (*sanziv1.SubmitRuleSetResponse, error) {
	if err := signedIn(ctx, "draft a rule set"); err != nil {
		return nil, err
	}
	e, sum, err := s.sup.SubmitRuleSet(ctx, r.GetAuthor(), r.GetRulesJson())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.SubmitRuleSetResponse{Entry: e.Meta(), Summary: sum}, nil
}

// PublishRuleSet implements RuleService: a second account holding the
// publishing permission at this node's org.
func (s *Service) PublishRuleSet(ctx context.Context, r *sanziv1.PublishRuleSetRequest) (*sanziv1.PublishRuleSetResponse, error) {
	if err := signedIn(ctx, "publish a rule set"); err != nil {
		return nil, err
	}
	e, sum, err := s.sup.PublishRuleSet(ctx, r.GetAuthor(), r.GetVersion())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.PublishRuleSetResponse{Entry: e.Meta(), Summary: sum}, nil
}

// TestRules implements RuleService.
func (s *Service) TestRules(ctx context.Context, r *sanziv1.TestRulesRequest) (*sanziv1.TestRulesResponse, error) {
	if r.GetTransaction() == nil {
		return nil, invalidField("transaction", "required: the transaction to run the rules on")
	}
	var e *rules.Engine
	if r.GetRulesJson() != "" {
		var err error
		if e, err = supervise.ParseRuleSet([]byte(r.GetRulesJson())); err != nil {
			return nil, toStatus(err)
		}
	}
	hits, version, err := s.b.TestRules(e, r.GetTransaction())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.TestRulesResponse{Hits: HitsProto(hits), RuleSetVersion: version}, nil
}

// ListDirectives implements DirectiveService.
func (s *Service) ListDirectives(ctx context.Context, r *sanziv1.ListDirectivesRequest) (*sanziv1.ListDirectivesResponse, error) {
	out, err := s.b.Directives()
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListDirectivesResponse{Directives: out}, nil
}

// ReportDirective implements DirectiveService.
func (s *Service) ReportDirective(ctx context.Context, r *sanziv1.ReportDirectiveRequest) (*sanziv1.ReportDirectiveResponse, error) {
	e, err := s.b.ReportDirective(ctx, r.GetAuthor(), r.GetReport())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ReportDirectiveResponse{Entry: e.Meta()}, nil
}

// signedIn refuses a call that reached a handler without a signed-in
// account. The interceptor puts one in every person's call; the domain
// packages treat a call without one as the node's own work (the demo
// seeder) and skip the checks of the person, so a call from the network
// without one must never reach them (a server wired without the
// interceptor would otherwise open that door).
func signedIn(ctx context.Context, what string) error {
	if _, ok := authz.FromContext(ctx); !ok {
		return status.Errorf(codes.Unauthenticated, "sign in to %s: this call carries no signed-in account", what)
	}
	return nil
}
