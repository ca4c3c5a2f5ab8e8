package books

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// A town decides the steps of its villages' procedures that belong to town
// posts (镇审核记账, 支付, 镇政府审批, …) and reviews its villages' alerts. It
// cannot write in a village's chain, so it records each decision in its own
// chain as a TownDecision; the village pulls the town's chain and applies
// the decision in its own, naming the town's entry (parent_decision_id).
// Until the village has applied it the decision is pending at the town, and
// a second decision on the same step or alert is refused.

// townState is what a town knows of its villages, from their chains as they
// arrive: their procedures (without timers: each village runs its own), and
// its own decisions not yet applied. Their alerts' statuses are in the
// books' index, which covers the villages' entries too.
type townState struct {
	flows   *workflow.Flows
	pending map[string]string // procedure/step or alert id → town decision id
	keyOf   map[string]string // town decision id → its pending key
	// drafts and relatives are each village's rule-set drafts (by
	// village/version) and the "relatives" list of the set it published
	// last: the declared relatives of its cadres, which the town checks
	// the other villages' payees against.
	drafts    map[string]*sanziv1.RuleSetVersion
	relatives map[string][]rules.ListItem
	// raised are the keys of the town's own cross-village RELATIVE alerts.
	raised map[string]bool
}

func newTownState(cat *sanziv1.Catalog, cal *calendar.Calendar) *townState {
	return &townState{flows: workflow.New(cat, cal),
		pending: map[string]string{}, keyOf: map[string]string{},
		drafts: map[string]*sanziv1.RuleSetVersion{}, relatives: map[string][]rules.ListItem{}, raised: map[string]bool{}}
}

func stepKey(procedureID, step string) string { return procedureID + "/" + step }

func (t *townState) hold(key, id string) { t.pending[key], t.keyOf[id] = id, key }

func (t *townState) release(id string) {
	if k, ok := t.keyOf[id]; ok {
		delete(t.pending, k)
		delete(t.keyOf, id)
	}
}

// observeVillage feeds a village entry held by the town to the town state.
func (b *Books) observeVillage(st *ledger.Stored, m proto.Message) error {
	t := b.sup.town
	switch m := m.(type) {
	case *sanziv1.Procedure:
		if m.GetSubjectId() == "" {
			m.SubjectId = st.Subject
		}
	case *sanziv1.StepDecision:
		t.release(m.GetParentDecisionId())
	case *sanziv1.AlertTransition:
		t.release(m.GetParentDecisionId())
	case *sanziv1.TownDecisionRefused:
		t.release(m.GetDecisionId())
	case *sanziv1.RuleSetVersion:
		k := st.Origin + "/" + m.GetVersion()
		switch m.GetState() {
		case sanziv1.RuleSetState_RULE_SET_STATE_DRAFT:
			t.drafts[k] = m
		case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
			var rs rules.RuleSet
			if d := t.drafts[k]; d != nil && d.GetSha256() == m.GetSha256() && json.Unmarshal([]byte(d.GetRulesJson()), &rs) == nil {
				t.relatives[st.Origin] = rs.Lists["relatives"]
			}
		}
	}
	return t.flows.Observe(st.ID(), st.RecordedAt, m)
}

// crossRelative finds a village's payee or counterparty among the declared
// relatives of another village's cadres (a list the paying village does not
// hold, so its own RELATIVE cannot fire): cadres of two villages paying
// each other's families is what only the town can see.
func (b *Books) crossRelative(st *ledger.Stored, m proto.Message) []rules.Hit {
	t := b.sup.town
	e := b.Rules()
	if e == nil {
		return nil
	}
	set := e.Set()
	i := slices.IndexFunc(set.Rules, func(r rules.Rule) bool { return r.Code == "RELATIVE" })
	if i < 0 {
		return nil
	}
	rule := set.Rules[i]
	own, ok := t.relatives[st.Origin]
	if !ok {
		own = set.Lists["relatives"] // the district's list, in force there
	}
	if _, on, _ := watch.Relative(own, m); on != "" {
		return nil // the village's own RELATIVE raised it
	}
	var out []rules.Hit
	for _, other := range slices.Sorted(maps.Keys(t.relatives)) {
		if other == st.Origin {
			continue
		}
		it, on, c := watch.Relative(t.relatives[other], m)
		key := "RELATIVE/" + st.ID() + "/" + other
		if on == "" || t.raised[key] {
			continue
		}
		t.raised[key] = true
		out = append(out, rules.Hit{Code: rule.Code, Severity: rule.Severity, Action: rules.ActionWarn,
			Reason: rule.Reason + "（跨村：" + it.Note + "）", RuleSetVersion: e.Version(), Subject: st.ID(), Key: key,
			Evidence: map[string]string{"counterparty_name": c.GetName(), "matched_on": on, "relative_name": it.Name,
				"relative_note": it.Note, "relative_of": other, "across_villages": "true"}})
	}
	return out
}

// observeOwn marks a decision of the town's own chain pending.
func (t *townState) observeOwn(id string, d *sanziv1.TownDecision) {
	switch {
	case d.GetStep() != nil:
		t.hold(stepKey(d.GetStep().GetProcedureId(), d.GetStep().GetStepCode()), id)
	case d.GetReview() != nil:
		t.hold(d.GetReview().GetAlertId(), id)
	}
}

// villageOf says whether org is a village of the town this node serves.
func (b *Books) villageOf(org string) bool {
	s := b.sup
	home := b.homeOrg()
	return s != nil && s.town != nil && len(org) == 12 && org[9:] != "000" && strings.HasPrefix(org, home[:9])
}

// asVillage is the validator for a decision the town takes on village's
// behalf: the same field checks, with the village as the org served.
func (b *Books) asVillage(village string) *Validator {
	v := *b.val
	v.Served = []string{village}
	return &v
}

// decideForVillage records a town post's decision on the open step of a
// village's procedure, in the town's own chain.
func (b *Books) decideForVillage(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	if err := b.asVillage(d.GetOrg()).StepDecision(author, d); err != nil {
		return nil, nil, err
	}
	s := b.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return nil, nil, err
	}
	if !b.townPost(d.GetPost()) {
		return nil, nil, refused(&workflow.RefusedError{Rule: "CHAIN", Reason: fmt.Sprintf("岗位 %q 不是镇级岗位，镇里只办理镇级岗位的环节（a town decides only steps of town posts）", d.GetPost())})
	}
	p, err := s.town.flows.Get(d.GetProcedureId())
	if err != nil {
		return nil, nil, invalid("decision.procedureId", "no procedure %s of village %s has reached the town", d.GetProcedureId(), d.GetOrg())
	}
	if p.P.GetOrg() != d.GetOrg() {
		return nil, nil, invalid("decision.procedureId", "procedure %s belongs to %s, not %s", d.GetProcedureId(), p.P.GetOrg(), d.GetOrg())
	}
	if id, ok := s.town.pending[stepKey(d.GetProcedureId(), d.GetStepCode())]; ok {
		return nil, nil, conflict("decision.stepCode", "the town already decided step %s of %s (%s); the village has not applied it yet", d.GetStepCode(), d.GetProcedureId(), id)
	}
	dd, err := s.town.flows.Check(d, b.now())
	if err != nil {
		return nil, nil, refused(err)
	}
	st, err := b.appendOne(ctx, b.homeOrg(), author, sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: d.GetOrg(), Decision: &sanziv1.TownDecision_Step{Step: dd}}, dd.GetProcedureId())
	if err != nil {
		return nil, nil, err
	}
	if _, err := b.catchUp(ctx); err != nil {
		return st, nil, err
	}
	return st, p, nil
}

// townPost says whether post is a town-tier post of the catalog in force.
func (b *Books) townPost(post string) bool {
	for _, p := range b.sup.flows.Catalog().GetPosts() {
		if p.GetCode() == post {
			return p.GetTier() == sanziv1.Tier_TIER_TOWN
		}
	}
	return false
}

// reviewForVillage records the town's review of a village alert, in the
// town's own chain.
func (b *Books) reviewForVillage(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error) {
	if err := b.asVillage(tr.GetOrg()).AlertTransition(author, tr); err != nil {
		return nil, err
	}
	s := b.sup
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return nil, err
	}
	if id, ok := s.town.pending[tr.GetAlertId()]; ok {
		return nil, conflict("transition.alertId", "the town already reviewed alert %s (%s); the village has not applied it yet", tr.GetAlertId(), id)
	}
	// The same checks as the village's own review: the alert is the
	// village's, and the review follows its current status.
	if err := b.l.DB().View(func(tx *bolt.Tx) error {
		return checkRefs(tx, tr.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr)
	}); err != nil {
		return nil, err
	}
	st, err := b.appendOne(ctx, b.homeOrg(), author, sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: tr.GetOrg(), Decision: &sanziv1.TownDecision_Review{Review: tr}}, tr.GetAlertId())
	if err != nil {
		return nil, err
	}
	_, err = b.catchUp(ctx)
	return st, err
}

// parentState is what a village takes from its town's chain: the town's
// decisions about it, until it has applied them in its own chain, or
// recorded there why it could not (TownDecisionRefused): either way the
// village's chain answers every decision once, and the town learns it.
type parentState struct {
	town    string
	applied map[string]bool // town decision ids answered in this chain
	inbound []inbound
	// Refused counts town decisions the village could not apply since it
	// started (the step had moved on, the alert had been reviewed here
	// meanwhile).
	refused int
}

type inbound struct {
	id, author string
	d          *sanziv1.TownDecision
}

// observeParent queues the town's decisions about this village.
func (b *Books) observeParent(st *ledger.Stored) error {
	if st.Type != sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION {
		return nil
	}
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil {
		return err
	}
	d := m.(*sanziv1.TownDecision)
	if !b.serves(d.GetVillage()) || b.sup.parent.applied[st.ID()] {
		return nil
	}
	b.sup.parent.inbound = append(b.sup.parent.inbound, inbound{id: st.ID(), author: st.Author, d: d})
	return nil
}

// applyInbound records, in the village's own chain, the town's decisions
// queued by observeParent; it returns how many entries it appended. The
// caller holds s.mu and has observed the whole chain, so what was applied
// before a restart is known and not applied twice.
func (b *Books) applyInbound(ctx context.Context) (int, error) {
	ps := b.sup.parent
	queue := ps.inbound
	ps.inbound = nil
	n := 0
	for i, in := range queue {
		if ps.applied[in.id] {
			continue
		}
		ps.applied[in.id] = true
		var err error
		switch {
		case in.d.GetStep() != nil:
			d := proto.CloneOf(in.d.GetStep())
			d.Org, d.ParentDecisionId = in.d.GetVillage(), in.id
			var dd *sanziv1.StepDecision
			if dd, err = b.sup.flows.Check(d, b.now()); err == nil {
				_, err = b.appendOne(ctx, d.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, dd, dd.GetProcedureId())
			}
		case in.d.GetReview() != nil:
			tr := proto.CloneOf(in.d.GetReview())
			tr.Org, tr.ParentDecisionId = in.d.GetVillage(), in.id
			_, err = b.appendOne(ctx, tr.GetOrg(), in.author, sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr, tr.GetAlertId())
		}
		var refusedErr *workflow.RefusedError
		var conf *ConflictError
		var inv *InvalidError
		switch {
		case err == nil:
			n++
		case errors.As(err, &refusedErr), errors.As(err, &conf), errors.As(err, &inv):
			ps.refused++
			slog.Warn("a town decision cannot apply here; recording why", "decision", in.id, "err", err)
			if _, err := b.appendOne(ctx, in.d.GetVillage(), "system", sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION_REFUSED,
				&sanziv1.TownDecisionRefused{Org: in.d.GetVillage(), DecisionId: in.id, Reason: err.Error()}, in.id); err != nil {
				ps.applied[in.id] = false // not answered: try again at the next catch-up
				ps.inbound = append(ps.inbound, queue[i:]...)
				return n, fmt.Errorf("record the refusal of town decision %s: %w", in.id, err)
			}
			n++
		default:
			ps.applied[in.id] = false // not recorded: try again at the next catch-up
			ps.inbound = append(ps.inbound, queue[i:]...)
			return n, fmt.Errorf("apply town decision %s: %w", in.id, err)
		}
	}
	return n, nil
}

// TownDecisionsRefused is how many of its town's decisions this village
// could not apply since it started (each is logged with why).
func (b *Books) TownDecisionsRefused() int {
	s := b.sup
	if s == nil || s.parent == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parent.refused
}
