package member

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/federation/districtchain"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The district's own chain written for people: rule sets, catalogs and
// directives by the signed-in district rules officer, sealed by the leader
// with the district chain's key (cluster.Service.AppendDistrict), so that
// no person holds that key and every entry's author is the account the
// interceptor authenticated. The checks are districtchain's, the same the
// nodes that apply the entries run again: four eyes on account ids, a
// compiling rule set, a valid catalog, a well-addressed directive.

// localChain is districtchain.Local over this member.
type localChain struct{ m *Member }

func (l localChain) Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error {
	return l.m.node.FSM().Range(origin, from, limit, fn)
}

func (l localChain) Head(origin string) ledger.Head { return l.m.node.FSM().Head(origin) }

func (l localChain) AppendDistrict(ctx context.Context, author string, t sanziv1.EntryType, payload []byte) (*ledger.Stored, error) {
	return l.m.svc.AppendDistrict(ctx, author, t, payload)
}

// officerChain is the signed-in account when it may write the district's
// chain — a district rules officer of the district itself (a town's
// account with the publishing permission publishes the town's rules, not
// these) — and the district's chain at this member, read after everything
// the leader had committed when it was called, so the checks see the
// drafts another member wrote a moment ago.
func (m *Member) officerChain(ctx context.Context) (authz.Principal, *districtchain.Chain, error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return p, nil, status.Error(codes.Unauthenticated, "sign in first: the district's chain is written by a signed-in district rules officer")
	}
	if p.Org != m.org || !p.Has(authz.RoleDistrictRulesOfficer) {
		return p, nil, status.Errorf(codes.PermissionDenied, "%s (org %s) is not a district rules officer of %s", p.Account, p.Org, m.org)
	}
	if err := m.fresh(ctx); err != nil {
		return p, nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	return p, districtchain.AtMember(m.org, localChain{m}, 0), nil
}

// chainStatus maps districtchain's refusals to gRPC codes; an invalid or
// existing one names its fields (fieldStatus).
func chainStatus(err error) error {
	var fe *entries.FieldError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, entries.ErrFourEyes):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, districtchain.ErrExists):
		return fieldStatus(codes.AlreadyExists, err)
	case errors.Is(err, districtchain.ErrNoDraft):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, districtchain.ErrPublished):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, cluster.ErrNoChainKey):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.As(err, &fe), errors.Is(err, districtchain.ErrInvalid), errors.Is(err, districtchain.ErrCatalogVersion), errors.Is(err, districtchain.ErrOtherDistrict):
		return fieldStatus(codes.InvalidArgument, err)
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// maxViolations bounds the fields one refusal names (a catalog may have
// hundreds of steps; the message keeps every line).
const maxViolations = 200

// fieldStatus is a status of code with err's text and, as BadRequest
// details, every *entries.FieldError in err's tree (catalog.Validate joins
// one per problem): the console marks each field it names.
func fieldStatus(code codes.Code, err error) error {
	st := status.New(code, err.Error())
	var vs []*errdetails.BadRequest_FieldViolation
	var walk func(error)
	walk = func(e error) {
		if e == nil || len(vs) >= maxViolations {
			return
		}
		if fe, ok := e.(*entries.FieldError); ok {
			vs = append(vs, &errdetails.BadRequest_FieldViolation{Field: fe.Field, Description: fe.Reason})
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	if len(vs) == 0 {
		return st.Err()
	}
	if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: vs}); derr == nil {
		return d.Err()
	}
	return st.Err()
}

// districtAPI is the member's DistrictService: cluster.Service's, with the
// district chain's writes for people.
type districtAPI struct {
	*cluster.Service
	m *Member
}

// DraftCatalog implements DistrictService: a catalog draft by the
// signed-in officer, inert until another publishes it.
func (d districtAPI) DraftCatalog(ctx context.Context, r *sanziv1.DraftCatalogRequest) (*sanziv1.DraftCatalogResponse, error) {
	p, c, err := d.m.officerChain(ctx)
	if err != nil {
		return nil, err
	}
	cat, id, err := c.DraftCatalog(ctx, p.Account, r.GetCatalog(), r.GetVersion())
	if err != nil {
		return nil, chainStatus(err)
	}
	return &sanziv1.DraftCatalogResponse{EntryId: id, Catalog: cat}, nil
}

// PublishCatalog implements DistrictService: the publication of a catalog
// draft by an officer who is not its drafter (four eyes on account ids).
func (d districtAPI) PublishCatalog(ctx context.Context, r *sanziv1.PublishCatalogRequest) (*sanziv1.PublishCatalogResponse, error) {
	p, c, err := d.m.officerChain(ctx)
	if err != nil {
		return nil, err
	}
	cat, id, err := c.PublishCatalog(ctx, p.Account, r.GetVersion())
	if err != nil {
		return nil, chainStatus(err)
	}
	return &sanziv1.PublishCatalogResponse{EntryId: id, Catalog: cat}, nil
}

// IssueDirective implements DistrictService.
func (d districtAPI) IssueDirective(ctx context.Context, r *sanziv1.IssueDirectiveRequest) (*sanziv1.IssueDirectiveResponse, error) {
	p, c, err := d.m.officerChain(ctx)
	if err != nil {
		return nil, err
	}
	id, err := c.IssueDirective(ctx, p.Account, r.GetDirective())
	if err != nil {
		return nil, chainStatus(err)
	}
	return &sanziv1.IssueDirectiveResponse{EntryId: id}, nil
}

// ruleAPI is the member's RuleService: the district's rule sets, drafted
// and published in its chain by two different rules officers, tested on one
// transaction and backtested over the district's chains (backtest.go).
type ruleAPI struct {
	sanziv1.UnimplementedRuleServiceServer
	m *Member
}

func meta(id string) *sanziv1.EntryMeta { return &sanziv1.EntryMeta{Id: id} }

// SubmitRuleSet implements RuleService: a draft by the signed-in officer.
func (a ruleAPI) SubmitRuleSet(ctx context.Context, r *sanziv1.SubmitRuleSetRequest) (*sanziv1.SubmitRuleSetResponse, error) {
	p, c, err := a.m.officerChain(ctx)
	if err != nil {
		return nil, err
	}
	version, id, err := c.SubmitRuleSet(ctx, p.Account, []byte(r.GetRulesJson()))
	if err != nil {
		return nil, chainStatus(err)
	}
	return &sanziv1.SubmitRuleSetResponse{Entry: meta(id), Summary: &sanziv1.RuleSetSummary{Version: version, Status: "draft", DraftedBy: p.Account, DraftId: id}}, nil
}

// PublishRuleSet implements RuleService: the publication of a draft by an
// officer who is not its drafter (four eyes on account ids).
func (a ruleAPI) PublishRuleSet(ctx context.Context, r *sanziv1.PublishRuleSetRequest) (*sanziv1.PublishRuleSetResponse, error) {
	p, c, err := a.m.officerChain(ctx)
	if err != nil {
		return nil, err
	}
	id, err := c.PublishRuleSet(ctx, p.Account, r.GetVersion())
	if err != nil {
		return nil, chainStatus(err)
	}
	return &sanziv1.PublishRuleSetResponse{Entry: meta(id), Summary: &sanziv1.RuleSetSummary{Version: r.GetVersion(), Status: "published", PublishedBy: p.Account, PublishedId: id}}, nil
}

// ListRuleSets implements RuleService: the district's rule sets as its
// chain holds them, oldest first.
func (a ruleAPI) ListRuleSets(ctx context.Context, _ *sanziv1.ListRuleSetsRequest) (*sanziv1.ListRuleSetsResponse, error) {
	if err := a.m.fresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	out := &sanziv1.ListRuleSetsResponse{}
	byVersion := map[string]*sanziv1.RuleSetSummary{}
	err := a.m.node.FSM().Range(a.m.org, 1, 0, func(s *ledger.Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_RULE_SET {
			return true
		}
		msg, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return true
		}
		v := msg.(*sanziv1.RuleSetVersion)
		sum, ok := byVersion[v.GetVersion()]
		if !ok {
			sum = &sanziv1.RuleSetSummary{Version: v.GetVersion(), Status: "draft", DraftedBy: s.Author, DraftId: s.ID(), Sha256: v.GetSha256()}
			byVersion[v.GetVersion()] = sum
			out.RuleSets = append(out.RuleSets, sum)
		}
		if v.GetState() == sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED {
			sum.Status, sum.PublishedBy, sum.PublishedId = "published", s.Author, s.ID()
			out.Live = v.GetVersion()
		}
		return true
	})
	if err != nil {
		return nil, status.Error(codes.Internal, fmt.Sprintf("read the district's chain: %v", err))
	}
	return out, nil
}

// GetRuleSet implements RuleService: one rule set of the district's chain
// (version empty: the one published last) with its JSON, as the draft
// holds it. A publication counts only as the nodes count it: of a draft
// with the same sha256, by another account than its drafter.
func (a ruleAPI) GetRuleSet(ctx context.Context, r *sanziv1.GetRuleSetRequest) (*sanziv1.GetRuleSetResponse, error) {
	if err := a.m.fresh(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	type found struct {
		sum    *sanziv1.RuleSetSummary
		json   string
		author string
	}
	byVersion := map[string]*found{}
	live := ""
	err := a.m.node.FSM().Range(a.m.org, 1, 0, func(s *ledger.Stored) bool {
		if s.Type != sanziv1.EntryType_ENTRY_TYPE_RULE_SET {
			return true
		}
		msg, err := entries.Decode(s.Type, s.Payload)
		if err != nil {
			return true
		}
		v := msg.(*sanziv1.RuleSetVersion)
		f, ok := byVersion[v.GetVersion()]
		switch v.GetState() {
		case sanziv1.RuleSetState_RULE_SET_STATE_DRAFT:
			if !ok {
				byVersion[v.GetVersion()] = &found{sum: &sanziv1.RuleSetSummary{Version: v.GetVersion(), Status: "draft", DraftedBy: s.Author,
					DraftId: s.ID(), Sha256: v.GetSha256()}, json: v.GetRulesJson(), author: s.Author}
			}
		case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
			if ok && f.sum.GetSha256() == v.GetSha256() && entries.FourEyes(s.Author, f.author, v.GetDraftedBy()) == nil && f.sum.GetStatus() == "draft" {
				f.sum.Status, f.sum.PublishedBy, f.sum.PublishedId = "published", s.Author, s.ID()
				live = v.GetVersion()
			}
		}
		return true
	})
	if err != nil {
		return nil, status.Error(codes.Internal, fmt.Sprintf("read the district's chain: %v", err))
	}
	version := r.GetVersion()
	if version == "" {
		version = live
	}
	f, ok := byVersion[version]
	if !ok {
		if version == "" {
			return nil, status.Error(codes.NotFound, "the district has published no rule set yet")
		}
		return nil, status.Errorf(codes.NotFound, "rule set %q is not in the district's chain", version)
	}
	return &sanziv1.GetRuleSetResponse{Summary: f.sum, RulesJson: f.json}, nil
}

// ListHeads implements DistrictService: for a person, only the chains in
// the account's scope (a node's list is trimmed by cluster.Authorize).
func (d districtAPI) ListHeads(ctx context.Context, r *sanziv1.ListHeadsRequest) (*sanziv1.ListHeadsResponse, error) {
	resp, err := d.Service.ListHeads(ctx, r)
	if p, ok := authz.FromContext(ctx); ok && err == nil {
		resp.Heads = slices.DeleteFunc(resp.Heads, func(a *sanziv1.OriginAck) bool { return !p.Covers(a.GetOrigin()) })
	}
	return resp, err
}

// ListForks implements DistrictService: for a person, only the forks of
// chains in the account's scope.
func (d districtAPI) ListForks(ctx context.Context, r *sanziv1.ListForksRequest) (*sanziv1.ListForksResponse, error) {
	resp, err := d.Service.ListForks(ctx, r)
	if p, ok := authz.FromContext(ctx); ok && err == nil {
		resp.Forks = slices.DeleteFunc(resp.Forks, func(f *sanziv1.ForkRecord) bool { return !p.Covers(f.GetOrigin()) })
	}
	return resp, err
}
