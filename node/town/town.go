package town

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
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

// Town is the supervise.Tier of a town: what it knows of its villages, from
// their chains as they arrive: their procedures (without timers: each
// village runs its own), its own decisions not yet applied, and the
// cross-village rules over all of them. Their alerts' statuses are in the
// books' index, which covers the villages' entries too. The Supervisor
// serialises every call (see supervise.Tier).
type Town struct {
	supervise.None
	b       *books.Books
	home    string // the town's own org code
	cross   *watch.Watcher
	flows   *workflow.Flows
	pending map[string]string // procedure/step or alert id → town decision id
	keyOf   map[string]string // town decision id → its pending key
	// drafts and relatives are each village's rule-set drafts (by
	// village/version) and the "relatives" list of the set it published
	// last: the declared relatives of its cadres, which the town checks
	// the other villages' payees against.
	drafts    map[string]villageDraft
	relatives map[string][]rules.ListItem
	// ignored are the villages' published rule sets (by village/version)
	// the town does not use, with why; read outside the Supervisor's lock
	// (IgnoredRuleSets), so under ignoredMu.
	ignoredMu sync.Mutex
	ignored   map[string]string
	// raised are the keys of the town's own cross-village RELATIVE alerts.
	raised map[string]bool
	// complaints are the villagers' complaints addressed to the town
	// (complaints.go).
	complaints complaints
}

var _ supervise.Tier = (*Town)(nil)

// New is the town tier over b, whose first org is the town and whose rules
// must be set (the cross-village rules are the live set's); cat and cal are
// the catalog and calendar the supervision starts with.
func New(b *books.Books, cat *sanziv1.Catalog, cal *calendar.Calendar) (*Town, error) {
	e := b.Rules()
	if e == nil {
		return nil, errors.New("town supervision: set rules first")
	}
	cross, err := crossWatcher(e, cal.Location())
	if err != nil {
		return nil, fmt.Errorf("town supervision: cross-village rules: %w", err)
	}
	return &Town{b: b, home: b.HomeOrg(), cross: cross, flows: workflow.New(cat, cal),
		pending: map[string]string{}, keyOf: map[string]string{},
		drafts: map[string]villageDraft{}, relatives: map[string][]rules.ListItem{},
		ignored: map[string]string{}, raised: map[string]bool{}, complaints: newComplaints()}, nil
}

// villageDraft is a village's rule-set draft and the account whose entry it is.
type villageDraft struct {
	v      *sanziv1.RuleSetVersion
	author string
}

// IgnoredRuleSets are the villages' published rule sets (keyed
// village/version) whose lists the town does not use, with why: each was
// published by an account that drafted it. The village lists its own as
// ignored too (its Supervisor checks the same).
func (t *Town) IgnoredRuleSets() map[string]string {
	t.ignoredMu.Lock()
	defer t.ignoredMu.Unlock()
	return maps.Clone(t.ignored)
}

func stepKey(procedureID, step string) string { return procedureID + "/" + step }

func (t *Town) hold(key, id string) { t.pending[key], t.keyOf[id] = id, key }

func (t *Town) release(id string) {
	if k, ok := t.keyOf[id]; ok {
		delete(t.pending, k)
		delete(t.keyOf, id)
	}
}

// publishedByTwo says why catalog m, observed at entry st, is not one the
// district published as two accounts, or nil.
func publishedByTwo(st *ledger.Stored, m *sanziv1.Catalog) error {
	switch {
	case !strings.HasSuffix(st.Origin, "000000"):
		return fmt.Errorf("catalog %s is in the chain of %s, not a district's", m.GetVersion(), st.Origin)
	case m.GetState() != sanziv1.CatalogState_CATALOG_STATE_PUBLISHED:
		return fmt.Errorf("catalog %s by %s is %s, not a publication of a draft: %w", m.GetVersion(), st.Author, m.GetState(), catalog.ErrOneEntry)
	case m.GetPublishedBy() != st.Author:
		return fmt.Errorf("catalog %s names %q as its publisher; its entry is by %s", m.GetVersion(), m.GetPublishedBy(), st.Author)
	case m.GetDraftedBy() == "":
		return fmt.Errorf("catalog %s names no drafter: %w", m.GetVersion(), entries.ErrFourEyes)
	}
	if err := entries.FourEyes(st.Author, m.GetDraftedBy()); err != nil {
		return fmt.Errorf("catalog %s was drafted by %s and published by %s: %w", m.GetVersion(), m.GetDraftedBy(), st.Author, err)
	}
	return nil
}

// observeVillage feeds a village entry held by the town to the town state.
// A catalog in a village's chain is no catalog: only the district's apply.
func (t *Town) observeVillage(st *ledger.Stored, m proto.Message) error {
	switch m := m.(type) {
	case *sanziv1.Catalog:
		slog.Warn("a catalog in a village's chain is not used: catalogs come from the district", "entry", st.ID(), "village", st.Origin)
		return nil
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
			t.drafts[k] = villageDraft{v: m, author: st.Author}
		case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
			d, ok := t.drafts[k]
			if !ok || d.v.GetSha256() != m.GetSha256() {
				break
			}
			// The village checked four eyes when it published; the town
			// does not trust that it did (an older binary, a hand-made
			// entry): a set its drafter published is not taken.
			if err := entries.FourEyes(st.Author, d.v.GetDraftedBy(), d.author); err != nil {
				slog.Warn("a village rule set published by the account that drafted it is not used at the town",
					"entry", st.ID(), "village", st.Origin, "version", m.GetVersion(), "publishedBy", st.Author,
					"draftedBy", d.v.GetDraftedBy(), "err", err)
				t.ignoredMu.Lock()
				t.ignored[k] = "published by its drafter " + st.Author + ": " + err.Error()
				t.ignoredMu.Unlock()
				break
			}
			var rs rules.RuleSet
			if json.Unmarshal([]byte(d.v.GetRulesJson()), &rs) == nil {
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
func (t *Town) crossRelative(st *ledger.Stored, m proto.Message) []rules.Hit {
	e := t.b.Rules()
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

// ObserveOwn implements supervise.Tier: the town's own alerts about its
// villages are not raised twice, a catalog the district published applies
// to the villages' procedures as held here, and the town's decisions are
// pending until their village answers them.
func (t *Town) ObserveOwn(st *ledger.Stored, m proto.Message) {
	id := st.ID()
	t.observeComplaint(st, m)
	switch m := m.(type) {
	case *sanziv1.Alert:
		t.cross.Observe(watch.Event{ID: id, RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: m})
		t.raised[m.GetKey()] = true
	case *sanziv1.Catalog:
		// The Supervisor hands on a catalog of the district's chain once it
		// has checked its publication (catalog.Published); the town checks
		// again what it is handed before its villages' procedures follow
		// it: published, by the publication entry's author, who is not its
		// drafter.
		if err := publishedByTwo(st, m); err != nil {
			slog.Warn("a catalog is not used for the villages' procedures at the town", "entry", id, "version", m.GetVersion(), "err", err)
			return
		}
		t.flows.Observe(id, st.RecordedAt, m)
	case *sanziv1.TownDecision:
		t.observeOwn(id, m)
	}
}

// Raised implements supervise.Tier: the keys of the town's own alerts
// about its villages' chains (cross-village RELATIVE, TAMPER).
func (t *Town) Raised(key string, mark bool) bool {
	if mark {
		t.raised[key] = true
	}
	return t.raised[key]
}

// SetRules implements supervise.Tier: the cross-village rules follow the
// set in force.
func (t *Town) SetRules(e *rules.Engine) error {
	ce, err := crossEngine(e)
	if err != nil {
		return err
	}
	return t.cross.SetRules(ce)
}

// Follows implements supervise.Tier: the town looks across its villages'
// chains (their own nodes supervise them).
func (t *Town) Follows(origin string) bool { return strings.HasPrefix(origin, t.home[:9]) }

// Held implements supervise.Tier: the villages' procedures, for the town's
// reviewers.
func (t *Town) Held() *workflow.Flows { return t.flows }

// HeldHistory implements supervise.Tier: the cross-village watcher, whose
// invoices go to the archive the Supervisor gives it (Restore hands it on
// to the watcher it makes).
func (t *Town) HeldHistory() *watch.Watcher { return t.cross }

// observeOwn marks a decision of the town's own chain pending.
func (t *Town) observeOwn(id string, d *sanziv1.TownDecision) {
	switch {
	case d.GetStep() != nil:
		t.hold(stepKey(d.GetStep().GetProcedureId(), d.GetStep().GetStepCode()), id)
	case d.GetReview() != nil:
		t.hold(d.GetReview().GetAlertId(), id)
	}
}

// DecidesFor implements supervise.Tier: the town decides its villages'
// town steps and reviews their alerts.
func (t *Town) DecidesFor(org string) bool {
	level, err := idcode.OrgCode(org)
	return err == nil && level == idcode.LevelVillage && strings.HasPrefix(org, t.home[:9])
}

// asVillage is the validator for a decision the town takes on village's
// behalf: the same field checks, with the village as the org served.
func (t *Town) asVillage(village string) *books.Validator {
	v := *t.b.Validator()
	v.Served = []string{village}
	return &v
}

// DecideStep implements supervise.Tier: a town post's decision on the open
// step of a village's procedure, in the town's own chain. With a signed-in
// account in ctx, the town checks what the village cannot see: that the
// account holds the post, and that it did not record the matter in the
// village's chain (supervise.CheckDecider, over the villages' chains the
// town holds).
func (t *Town) DecideStep(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	if p, err := t.flows.Get(d.GetProcedureId()); err == nil {
		if d, err = supervise.CheckDecider(ctx, t.b.Ledger(), p, author, d); err != nil {
			return nil, nil, err
		}
	}
	if err := t.asVillage(d.GetOrg()).StepDecision(author, d); err != nil {
		return nil, nil, err
	}
	if !t.townPost(d.GetPost()) {
		return nil, nil, supervise.Refused(&workflow.RefusedError{Rule: "CHAIN", Reason: fmt.Sprintf("岗位 %q 不是镇级岗位，镇里只办理镇级岗位的环节（a town decides only steps of town posts）", d.GetPost())})
	}
	p, err := t.flows.Get(d.GetProcedureId())
	if err != nil {
		return nil, nil, books.Invalid("decision.procedureId", "no procedure %s of village %s has reached the town", d.GetProcedureId(), d.GetOrg())
	}
	if p.P.GetOrg() != d.GetOrg() {
		return nil, nil, books.Invalid("decision.procedureId", "procedure %s belongs to %s, not %s", d.GetProcedureId(), p.P.GetOrg(), d.GetOrg())
	}
	if id, ok := t.pending[stepKey(d.GetProcedureId(), d.GetStepCode())]; ok {
		return nil, nil, books.Conflict("decision.stepCode", "the town already decided step %s of %s (%s); the village has not applied it yet", d.GetStepCode(), d.GetProcedureId(), id)
	}
	dd, err := t.flows.Check(d, t.b.Now())
	if err != nil {
		return nil, nil, supervise.Refused(err)
	}
	st, err := t.b.AppendEntry(ctx, t.home, author, sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: d.GetOrg(), Decision: &sanziv1.TownDecision_Step{Step: dd}}, dd.GetProcedureId())
	if err != nil {
		return nil, nil, err
	}
	return st, p, nil
}

// townPost says whether post is a town-tier post of the catalog in force
// (the district's last, which the villages' procedures follow here too).
func (t *Town) townPost(post string) bool { return townPost(t.flows.Catalog(), post) }

// townPost says whether post is a town-tier post of cat.
func townPost(cat *sanziv1.Catalog, post string) bool {
	for _, p := range cat.GetPosts() {
		if p.GetCode() == post {
			return p.GetTier() == sanziv1.Tier_TIER_TOWN
		}
	}
	return false
}

// ReviewAlert implements supervise.Tier: the town's review of a village
// alert, in the town's own chain, for the village to apply.
func (t *Town) ReviewAlert(ctx context.Context, author string, tr *sanziv1.AlertTransition) (*ledger.Stored, error) {
	if err := t.asVillage(tr.GetOrg()).AlertTransition(author, tr); err != nil {
		return nil, err
	}
	if id, ok := t.pending[tr.GetAlertId()]; ok {
		return nil, books.Conflict("transition.alertId", "the town already reviewed alert %s (%s); the village has not applied it yet", tr.GetAlertId(), id)
	}
	// The same checks as the village's own review: the alert is the
	// village's, and the review follows its current status.
	if err := t.b.CheckReferences(tr.GetOrg(), sanziv1.EntryType_ENTRY_TYPE_ALERT_TRANSITION, tr); err != nil {
		return nil, err
	}
	return t.b.AppendEntry(ctx, t.home, author, sanziv1.EntryType_ENTRY_TYPE_TOWN_DECISION,
		&sanziv1.TownDecision{Village: tr.GetOrg(), Decision: &sanziv1.TownDecision_Review{Review: tr}}, tr.GetAlertId())
}

// crossRules are the stateful rules a town runs over all its villages'
// chains at once: a payee split across villages, an invoice claimed in two.
// Its watcher is fed only what they read (crossReads).
var crossRules = []string{"DUP-INVOICE", "SPLIT"} // and RELATIVE, by crossRelative

// crossEngine is the live set's cross-village rules only.
func crossEngine(e *rules.Engine) (*rules.Engine, error) {
	set := rules.RuleSet{Version: e.Version(), Lists: e.Set().Lists}
	for _, r := range e.Set().Rules {
		if slices.Contains(crossRules, r.Code) {
			set.Rules = append(set.Rules, r)
		}
	}
	return rules.Compile(set)
}

// crossWatcher is the town's watcher over its villages.
func crossWatcher(e *rules.Engine, loc *time.Location) (*watch.Watcher, error) {
	ce, err := crossEngine(e)
	if err != nil {
		return nil, err
	}
	return watch.New(ce, loc)
}

// ObserveHeld implements supervise.Tier: a village entry held by the town
// goes to the town state and the cross-village watcher, which keeps only
// hits that span villages (each village raises its own). Alerts in the
// villages' chains mark their keys as raised.
func (t *Town) ObserveHeld(st *ledger.Stored) ([]rules.Hit, error) {
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil || m == nil {
		return nil, err
	}
	if err := t.observeVillage(st, m); err != nil {
		return nil, err
	}
	return append(t.crossRelative(st, m), t.crossObserve(st, m)...), nil
}

// crossReads says whether the cross-village rules (crossRules) read m, a
// village entry: DUP-INVOICE a transaction with an invoice, SPLIT an
// expense, both a reversal of either. The watcher keeps whatever it is
// fed, and a village records about four other entries for each of those
// (the procedure an expense opens and its decisions, incomes, vouchers,
// contracts): fed all of them, a town kept and checkpointed its villages'
// whole history for two rules, and its start rebuilt it (issue 17).
// Add here what a rule added to crossRules reads.
func crossReads(m proto.Message) bool {
	switch m := m.(type) {
	case *sanziv1.Transaction:
		return m.GetKind() == sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE || strings.TrimSpace(m.GetInvoiceNumber()) != ""
	case *sanziv1.Reversal:
		return true
	}
	return false
}

// crossObserve feeds a village entry, decoded as m, to the cross-village
// watcher, if its rules read it (crossReads), and returns the hits that
// span villages.
func (t *Town) crossObserve(st *ledger.Stored, m proto.Message) []rules.Hit {
	if !crossReads(m) {
		return nil
	}
	return t.crossHits(st, m)
}

// crossHits feeds m to the cross-village watcher and returns the hits that
// span villages.
func (t *Town) crossHits(st *ledger.Stored, m proto.Message) []rules.Hit {
	var out []rules.Hit
	for _, h := range t.cross.Observe(watch.Event{ID: st.ID(), RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: m}) {
		ids := h.Evidence["claimed_by"] + "," + h.Evidence["payments"]
		spans := false
		for _, id := range strings.Split(ids, ",") {
			if o, _, err := ledger.ParseEntryID(id); err == nil && o != st.Origin {
				spans = true
			}
		}
		if !spans {
			continue
		}
		if h.Subject == "" {
			h.Subject = st.ID()
		}
		h.Evidence["across_villages"] = "true"
		h.Reason += "（跨村）"
		out = append(out, h)
	}
	return out
}
