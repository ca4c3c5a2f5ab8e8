package supervise_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const (
	townOrg  = "350505100000"
	villageA = "350505100201"
	villageB = "350505100202"
)

// ship copies what to holds of origin's chain from from, verbatim, as sync
// does (the signatures were checked by the inbox; here both sides trust
// one key directory).
func ship(t *testing.T, from, to node, origin string) {
	t.Helper()
	var recs []ledger.Record
	err := from.Ledger().Range(origin, to.Ledger().Head(origin).Seq+1, 0, func(s *ledger.Stored) bool {
		recs = append(recs, ledger.Record{Raw: s.Raw})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) > 0 {
		if _, err := to.Ledger().Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := to.Follow(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func payee(name, id string) *sanziv1.Counterparty {
	return &sanziv1.Counterparty{Name: name, IdNumber: id, BankAccount: "6222020200999988887"}
}

// TestTownAcrossVillages: a town sees what no village sees, and decides
// what belongs to it:
//   - village A declares its cadres' relatives; village B pays one of them:
//     RELATIVE fires at the town (across villages), once, and not again
//     after a restart;
//   - the town approves the town's step of B's procedure; a second approval
//     before B applied it is refused; B applies it in its own chain, once,
//     also across a restart;
//   - the town acknowledges an alert B had already acknowledged itself: B
//     cannot apply it and records why, once; the town may then review the
//     alert again.
func TestTownAcrossVillages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{townOrg, villageA, villageB}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func(org string) (node, func()) {
		if err := os.MkdirAll(filepath.Join(dir, org), 0o750); err != nil {
			t.Fatal(err)
		}
		return openOrgBooks(t, filepath.Join(dir, org), keysDir, orgs, []string{org}, clock, nil, false)
	}
	relativeID := person("35010219900307123")
	town, closeTown := open(townOrg)
	a, _ := open(villageA)
	b, closeB := open(villageB)

	// Village A's own rule set: the default one plus its relatives list.
	set := rules.Default()
	set.Version = "A-2026-11"
	set.Lists = map[string][]rules.ListItem{"relatives": {{Name: "张小明", IDNumber: relativeID, Note: "A村主任张三之子"}}}
	raw, _ := json.Marshal(set)
	if _, _, err := a.SubmitRuleSet(ctx, "A村会计", string(raw)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.PublishRuleSet(ctx, "A村主任", "A-2026-11"); err != nil {
		t.Fatal(err)
	}
	// Village B pays him 1,500 yuan by bank transfer (an expense that also
	// opens B's reimbursement procedure and raises B's PRIVATE-ACCT).
	tx := plainExpense(150_000, "00000001")
	tx.Org, tx.Counterparty = villageB, payee("张小明", relativeID)
	paid, hits, err := b.RecordTransaction(ctx, "B村会计", tx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if h.Code == "RELATIVE" {
			t.Fatalf("village B raised RELATIVE itself: it does not hold A's list")
		}
	}
	ship(t, a, town, villageA)
	ship(t, b, town, villageB)
	relatives := func() []*sanziv1.AlertRecord {
		recs, _, _, err := town.ListAlerts(books.AlertFilter{Org: townOrg, RuleCode: "RELATIVE"}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	got := relatives()
	if len(got) != 1 || got[0].GetSubjectId() != paid.ID() || got[0].GetAlert().GetEvidence()["relative_of"] != villageA ||
		got[0].GetAlert().GetEvidence()["across_villages"] != "true" {
		t.Fatalf("cross-village RELATIVE at the town: %v", got)
	}

	// B's village steps, then the town's.
	procs, _, _, err := b.Procedures(workflow.Filter{Org: villageB}, books.Page{})
	if err != nil || len(procs) != 1 {
		t.Fatalf("B's procedures: %v %v", procs, err)
	}
	pid := procs[0].GetEntry().GetId()
	for _, s := range [][2]string{{"capture", "village.accountant"}, {"review", "village.finance_group"}, {"signoff", "village.head"}} {
		if _, _, err := b.DecideStep(ctx, "B村", approve(villageB, pid, s[0], s[1])); err != nil {
			t.Fatalf("B decides %s: %v", s[0], err)
		}
	}
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, pid, "town_post", "village.head")); err == nil {
		t.Fatal("the town decided a village post's step")
	}
	dec, _, err := town.DecideStep(ctx, "镇代理会计", approve(villageB, pid, "town_post", "town.agency_accountant"))
	if err != nil {
		t.Fatalf("the town decides town_post: %v", err)
	}
	if _, _, err := town.DecideStep(ctx, "镇代理会计2", approve(villageB, pid, "town_post", "town.agency_accountant")); err == nil {
		t.Fatal("the town decided the same step twice before the village applied it")
	}
	// An alert B acknowledges itself while the town acknowledges it too.
	alerts, _, _, err := b.ListAlerts(books.AlertFilter{Org: villageB, RuleCode: "PRIVATE-ACCT"}, books.Page{})
	if err != nil || len(alerts) != 1 {
		t.Fatalf("B's PRIVATE-ACCT alert: %v %v", alerts, err)
	}
	aid := alerts[0].GetEntry().GetId()
	ack := &sanziv1.AlertTransition{Org: villageB, AlertId: aid, Status: sanziv1.AlertStatus_ALERT_STATUS_ACKNOWLEDGED}
	if _, err := town.UpdateAlertStatus(ctx, "镇审核员", ack); err != nil {
		t.Fatalf("the town reviews B's alert: %v", err)
	}
	if _, err := b.UpdateAlertStatus(ctx, "B村主任", ack); err != nil {
		t.Fatal(err)
	}

	headBefore := b.Ledger().Head(villageB).Seq
	ship(t, town, b, townOrg)
	if got := b.Ledger().Head(villageB).Seq; got != headBefore+2 {
		t.Fatalf("B answered the town's decisions with %d entries, want 2 (the step applied, the review refused)", got-headBefore)
	}
	refusal, err := b.Ledger().Get(villageB, headBefore+2)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := entries.Decode(refusal.Type, refusal.Payload); m == nil || m.(*sanziv1.TownDecisionRefused).GetDecisionId() == "" {
		t.Fatalf("B's second answer: %s %v", refusal.Type, m)
	}
	if n := b.TownDecisionsRefused(); n != 1 {
		t.Fatalf("B refused %d town decisions, want 1", n)
	}
	p, err := b.Procedure(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, st := p.OpenStep(); st.GetCode() != "pay" {
		t.Fatalf("B's procedure after the town's decision is at %s, want pay", st.GetCode())
	}
	applied, err := b.Ledger().Get(villageB, headBefore+1)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := entries.Decode(applied.Type, applied.Payload)
	if d, ok := m.(*sanziv1.StepDecision); !ok || d.GetParentDecisionId() != dec.ID() || applied.Author != "镇代理会计" {
		t.Fatalf("the applied entry: %s by %s %v", applied.Type, applied.Author, m)
	}

	// Restarts: B answers nothing twice; the town raises nothing twice, and
	// once B's chain arrives neither the step nor the alert is pending.
	closeB()
	b, _ = open(villageB)
	if got, n := b.Ledger().Head(villageB).Seq, b.TownDecisionsRefused(); got != headBefore+2 || n != 0 {
		t.Fatalf("after a restart B holds %d entries and refused %d decisions again, want %d and 0", got, n, headBefore+2)
	}
	closeTown()
	town, _ = open(townOrg)
	if got := relatives(); len(got) != 1 {
		t.Fatalf("after a restart the town holds %d RELATIVE alerts, want 1", len(got))
	}
	ship(t, b, town, villageB)
	if _, _, err := town.DecideStep(ctx, "镇出纳", approve(villageB, pid, "pay", "town.agency_cashier")); err != nil {
		t.Fatalf("the town decides the next step once B applied town_post: %v", err)
	}
	confirm := &sanziv1.AlertTransition{Org: villageB, AlertId: aid, Status: sanziv1.AlertStatus_ALERT_STATUS_CONFIRMED}
	if _, err := town.UpdateAlertStatus(ctx, "镇审核员", confirm); err != nil {
		t.Fatalf("the town reviews the alert again once B refused its first review: %v", err)
	}
}

func approve(org, pid, step, post string) *sanziv1.StepDecision {
	return &sanziv1.StepDecision{Org: org, ProcedureId: pid, StepCode: step, Action: sanziv1.StepAction_STEP_ACTION_APPROVE, Post: post}
}

// TestTownCrossHistoryFromCheckpoint: a town restored from its checkpoint
// judges its villages' next entries by the cross-village history it
// wrote, its invoices read from the archive written with it: an invoice
// village A claimed before the checkpoint, claimed again by village B
// after, raises DUP-INVOICE across villages once. When that history,
// made at the first entry followed, does not decode, the town rebuilds
// its state in place by replaying every chain, and finds the same.
func TestTownCrossHistoryFromCheckpoint(t *testing.T) {
	for _, damaged := range []bool{false, true} {
		t.Run(map[bool]string{false: "restored", true: "damaged"}[damaged], func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			keysDir := filepath.Join(dir, "keys")
			orgs := []string{townOrg, villageA, villageB}
			clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
			var log bytes.Buffer
			open := func(org string, opts ...func(*books.Books, *supervise.Config)) (node, func()) {
				if err := os.MkdirAll(filepath.Join(dir, org), 0o750); err != nil {
					t.Fatal(err)
				}
				return openOrgBooks(t, filepath.Join(dir, org), keysDir, orgs, []string{org}, clock, nil, false, opts...)
			}
			town, closeTown := open(townOrg, withCheckpoints(&log))
			a, _ := open(villageA)
			b, _ := open(villageB)
			for _, v := range []struct {
				n   node
				org string
			}{{a, villageA}, {b, villageB}} {
				tx := plainExpense(80_000, "77000001")
				tx.Org = v.org
				if _, _, err := v.n.RecordTransaction(ctx, v.org[9:]+"村会计", tx); err != nil {
					t.Fatal(err)
				}
			}
			ship(t, a, town, villageA)
			if err := town.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			closeTown()
			log.Reset()
			town, _ = open(townOrg, withCheckpoints(&log))
			if !strings.Contains(log.String(), "restored from its checkpoint") {
				t.Fatalf("the town did not restore its checkpoint:\n%s", log.String())
			}
			if damaged {
				if err := supervise.DamageHeldHistory(town.Supervisor); err != nil {
					t.Fatal(err)
				}
			}
			ship(t, b, town, villageB)
			if rebuilt := strings.Contains(log.String(), "rebuilding the supervision state"); rebuilt != damaged {
				t.Fatalf("rebuilt in place %t, want %t:\n%s", rebuilt, damaged, log.String())
			}
			recs, _, _, err := town.ListAlerts(books.AlertFilter{Org: townOrg, RuleCode: "DUP-INVOICE"}, books.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].GetAlert().GetEvidence()["across_villages"] != "true" ||
				!strings.HasPrefix(recs[0].GetAlert().GetEvidence()["claimed_by"], villageA+"-") {
				t.Fatalf("the town's DUP-INVOICE alerts: %v", recs)
			}
		})
	}
}
