package supervise

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ruleSets is what the chain says of rule-set versions; the built-in set is
// live until a version is published.
type ruleSets struct {
	order []string
	byVer map[string]*ruleSetInfo
	live  string
	floorState
}

type ruleSetInfo struct {
	sum  *sanziv1.RuleSetSummary
	json string
	// author is the account whose entry the draft is; the publication
	// must name another (four eyes), as must its drafted_by.
	author string
}

func (r *ruleSets) init(e *rules.Engine) {
	r.byVer = map[string]*ruleSetInfo{}
	raw, _ := json.Marshal(e.Set())
	r.add(&ruleSetInfo{sum: &sanziv1.RuleSetSummary{Version: e.Version(), Status: string(rules.RuleSetLive), DraftedBy: "(built in)",
		RuleCount: int32(len(e.Set().Rules)), Sha256: sha(raw)}, json: string(raw)})
	r.live, r.floor = e.Version(), e.Version()
}

func (r *ruleSets) add(i *ruleSetInfo) {
	r.order = append(r.order, i.sum.GetVersion())
	r.byVer[i.sum.GetVersion()] = i
}

func sha(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// ParseRuleSet is watch.ParseRuleSet with its refusal as the books'
// InvalidError on field rulesJson, which the API maps to InvalidArgument.
func ParseRuleSet(raw []byte) (*rules.Engine, error) {
	e, err := watch.ParseRuleSet(raw)
	if err != nil {
		return nil, &books.InvalidError{Violations: []books.Violation{{Field: "rulesJson", Reason: err.Error()}}}
	}
	return e, nil
}

func (s *Supervisor) observeRuleSet(origin, id, author string, v *sanziv1.RuleSetVersion) error {
	r := &s.sets
	switch v.GetState() {
	case sanziv1.RuleSetState_RULE_SET_STATE_DRAFT:
		e, err := ParseRuleSet([]byte(v.GetRulesJson()))
		n := 0
		if err == nil {
			n = len(e.Set().Rules)
		}
		r.add(&ruleSetInfo{sum: &sanziv1.RuleSetSummary{Version: v.GetVersion(), Status: string(rules.RuleSetDraft), DraftedBy: v.GetDraftedBy(),
			DraftId: id, RuleCount: int32(n), Sha256: v.GetSha256()}, json: v.GetRulesJson(), author: author})
	case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
		i, ok := r.byVer[v.GetVersion()]
		if !ok || i.sum.GetSha256() != v.GetSha256() {
			return fmt.Errorf("publishes %s (sha256 %s), which no draft holds", v.GetVersion(), v.GetSha256())
		}
		// The writer checked four eyes (PublishRuleSet here, the
		// district's writer for the district's chain); the node does not
		// trust that it did: a set published by its drafter is not put in
		// force, is listed as ignored with the reason, and the chain goes on.
		if err := entries.FourEyes(author, i.sum.GetDraftedBy(), i.author); err != nil {
			slog.Warn("a rule set published by the account that drafted it is not applied", "entry", id, "version", v.GetVersion(),
				"publishedBy", author, "draftedBy", i.sum.GetDraftedBy(), "draft", i.sum.GetDraftId(), "err", err)
			i.sum.Status, i.sum.IgnoredReason = string(rules.RuleSetIgnored), err.Error()
			return nil
		}
		return s.publish(origin, id, author, i)
	}
	return nil
}

// Catalogs lists the catalog versions of the district's chain the node
// knows, with what it made of each: draft, live, superseded, or ignored
// with the reason (published by its drafter, written in one entry, a draft
// that does not validate).
func (s *Supervisor) Catalogs() []catalog.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cats.Versions()
}

// CatalogVersion is the version of the catalog new procedures follow.
func (s *Supervisor) CatalogVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows.Catalog().GetVersion()
}

// RuleSets lists the versions the node knows and names the live one.
func (s *Supervisor) RuleSets() ([]*sanziv1.RuleSetSummary, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sanziv1.RuleSetSummary
	for _, v := range s.sets.order {
		out = append(out, proto.CloneOf(s.sets.byVer[v].sum))
	}
	return out, s.sets.live, nil
}

// RuleSet returns one version (empty: the live one) and its JSON.
func (s *Supervisor) RuleSet(version string) (*sanziv1.RuleSetSummary, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if version == "" {
		version = s.sets.live
	}
	i, ok := s.sets.byVer[version]
	if !ok {
		return nil, "", fmt.Errorf("%w: rule set %q", books.ErrNotFound, version)
	}
	return proto.CloneOf(i.sum), i.json, nil
}

// SubmitRuleSet records a draft rule set after compiling it. A signed-in
// account in ctx must be the author, hold the drafting permission and cover
// the node's org (checkRulesRole).
func (s *Supervisor) SubmitRuleSet(ctx context.Context, author, rulesJSON string) (*ledger.Stored, *sanziv1.RuleSetSummary, error) {
	if err := s.b.Validator().Author(author); err != nil {
		return nil, nil, err
	}
	if err := s.checkRulesRole(ctx, author, authz.PermDraftRules); err != nil {
		return nil, nil, err
	}
	e, err := ParseRuleSet([]byte(rulesJSON))
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.floorViolations(e.Set()); err != nil {
		return nil, nil, err
	}
	if _, dup := s.sets.byVer[e.Version()]; dup {
		return nil, nil, books.Conflict("rulesJson.version", "version %s already exists: give the draft a new version", e.Version())
	}
	v := &sanziv1.RuleSetVersion{Org: s.b.HomeOrg(), Version: e.Version(), State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
		RulesJson: rulesJSON, DraftedBy: author, Sha256: sha([]byte(rulesJSON))}
	st, err := s.appendRuleSet(ctx, author, v)
	if err != nil {
		return nil, nil, err
	}
	return st, proto.CloneOf(s.sets.byVer[v.Version].sum), nil
}

// PublishRuleSet makes a draft live from the next entry on. The publisher
// must be someone other than the drafter (four eyes) and, signed in, hold
// the publishing permission at this node's org (checkRulesRole): a second
// account without the role is no second pair of eyes.
func (s *Supervisor) PublishRuleSet(ctx context.Context, author, version string) (*ledger.Stored, *sanziv1.RuleSetSummary, error) {
	if err := s.b.Validator().Author(author); err != nil {
		return nil, nil, err
	}
	if err := s.checkRulesRole(ctx, author, authz.PermPublishRules); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.sets.byVer[version]
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%w: rule set %q", books.ErrNotFound, version)
	case rules.RuleSetStatus(i.sum.GetStatus()) != rules.RuleSetDraft:
		return nil, nil, books.Conflict("version", "rule set %s is %s, not a draft", version, i.sum.GetStatus())
	case entries.FourEyes(author, i.sum.GetDraftedBy(), i.author) != nil:
		return nil, nil, books.Conflict("author", "%s drafted rule set %s; publishing needs a second person (four eyes)", author, version)
	}
	if err := s.draftFloorViolations(i); err != nil {
		return nil, nil, err
	}
	v := &sanziv1.RuleSetVersion{Org: s.b.HomeOrg(), Version: version, State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
		DraftedBy: i.sum.GetDraftedBy(), Sha256: i.sum.GetSha256()}
	st, err := s.appendRuleSet(ctx, author, v)
	if err != nil {
		return nil, nil, err
	}
	return st, proto.CloneOf(i.sum), nil
}

// checkRulesRole refuses the signed-in account in ctx, if any, when it is
// not author, lacks perm (drafting or publishing rules) or does not cover
// the node's home org, whose chain records the set. The refusal wraps
// books.ErrPermissionDenied. Without one (the node's own work) it passes:
// node/api refuses rule-set calls that carry none.
func (s *Supervisor) checkRulesRole(ctx context.Context, author string, perm authz.Permission) error {
	who, ok := authz.FromContext(ctx)
	if !ok {
		return nil
	}
	if err := checkAuthor(who, author); err != nil {
		return err
	}
	if !who.May(perm) {
		return fmt.Errorf("%w: account %s may not %s here: none of its roles (%v) grants it", books.ErrPermissionDenied, who.Account, perm, who.Roles)
	}
	if home := s.b.HomeOrg(); !who.Covers(home) {
		return fmt.Errorf("%w: account %s of %s may not %s for %s", books.ErrPermissionDenied, who.Account, who.Org, perm, home)
	}
	return nil
}

func (s *Supervisor) appendRuleSet(ctx context.Context, author string, v *sanziv1.RuleSetVersion) (*ledger.Stored, error) {
	st, err := s.b.AppendEntry(ctx, v.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, v, "")
	if err != nil {
		return nil, err
	}
	if _, err := s.catchUp(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// Location is the zone of the node's calendar: days of the time-driven
// rules are counted in it, in a backtest too.
func (s *Supervisor) Location() *time.Location { return s.cfg.Calendar.Location() }
