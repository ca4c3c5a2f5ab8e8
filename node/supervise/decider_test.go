package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/supervise"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// signedIn is ctx carrying account as the interceptor would put it.
func signedIn(ctx context.Context, account, org string, roles []authz.Role, posts ...string) context.Context {
	return authz.NewContext(ctx, authz.Principal{Account: account, Org: org, Roles: roles, Posts: posts})
}

var deciders = []authz.Role{authz.RoleVillageCommittee}

// openVillageB opens village B's node (holding its town's chain) in dir.
func openVillageB(t *testing.T, dir string, clock *fakeClock) node {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, villageB), 0o750); err != nil {
		t.Fatal(err)
	}
	n, closeFn := openOrgBooks(t, filepath.Join(dir, villageB), filepath.Join(dir, "keys"), []string{townOrg, villageA, villageB}, []string{villageB}, clock, nil, false)
	t.Cleanup(closeFn)
	return n
}

// openTownAndVillageB opens the town and village B, each with its own
// books in a temporary folder and the keys of both, on clock.
func openTownAndVillageB(t *testing.T, clock *fakeClock) (town, b node) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, townOrg), 0o750); err != nil {
		t.Fatal(err)
	}
	town, closeTown := openOrgBooks(t, filepath.Join(dir, townOrg), filepath.Join(dir, "keys"), []string{townOrg, villageA, villageB}, []string{townOrg}, clock, nil, false)
	t.Cleanup(closeTown)
	return town, openVillageB(t, dir, clock)
}

// recordExpense records, as author, an expense of B that opens its
// reimbursement procedure, and returns the procedure's id.
func recordExpense(t *testing.T, n node, author, invoice string) string {
	t.Helper()
	tx := plainExpense(150_000, invoice)
	tx.Org = villageB
	st, _, err := n.RecordTransaction(context.Background(), author, tx)
	if err != nil {
		t.Fatal(err)
	}
	procs, _, _, err := n.Procedures(workflow.Filter{Org: villageB}, books.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.GetProcedure().GetSubjectId() == st.ID() {
			return p.GetEntry().GetId()
		}
	}
	t.Fatalf("recording %s opened no procedure", st.ID())
	return ""
}

// TestDecidingNeedsThePostAndAnotherPerson: at the village, a signed-in
// account decides a step only with the step's post, at an org it covers,
// and never on a matter it recorded; a decision naming no post takes the
// step's; a call without a signed-in account (the node's own work) is
// checked by the workflow alone, as before.
func TestDecidingNeedsThePostAndAnotherPerson(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	n := openVillageB(t, t.TempDir(), clock)
	pid := recordExpense(t, n, "kuaiji", "00000001")

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		author  string
		d       *sanziv1.StepDecision
		wantIn  []string // a refusal (permission denied) naming these
		wantNot bool
	}{
		{"naming no post without holding the step's", signedIn(ctx, "cunzhang", villageB, deciders, "village.head"), "cunzhang",
			approve(villageB, pid, "capture", ""), []string{"post village.accountant", "holds village.head"}, false},
		{"naming the step's post without holding it", signedIn(ctx, "cunzhang", villageB, deciders, "village.head"), "cunzhang",
			approve(villageB, pid, "capture", "village.accountant"), []string{"does not hold post village.accountant"}, false},
		{"an account holding no post", signedIn(ctx, "jiandu", villageB, deciders), "jiandu",
			approve(villageB, pid, "capture", "village.accountant"), []string{"holds no post"}, false},
		{"an account of another village", signedIn(ctx, "a-kuaiji", villageA, deciders, "village.accountant"), "a-kuaiji",
			approve(villageB, pid, "capture", "village.accountant"), []string{"of " + villageA, "may not decide"}, false},
		{"an author other than the account", signedIn(ctx, "kuaiji2", villageB, deciders, "village.accountant"), "someone",
			approve(villageB, pid, "capture", "village.accountant"), []string{`author "someone"`}, false},
		{"the recorder fills in its own matter's first step, naming no post", signedIn(ctx, "kuaiji", villageB, deciders, "village.accountant"), "kuaiji",
			approve(villageB, pid, "capture", ""), nil, true},
		{"the recorder on the next step, holding its post", signedIn(ctx, "kuaiji", villageB, deciders, "village.finance_group"), "kuaiji",
			approve(villageB, pid, "review", "village.finance_group"), []string{"recorded"}, false},
		{"the recorder returning the next step", signedIn(ctx, "kuaiji", villageB, deciders, "village.finance_group"), "kuaiji",
			&sanziv1.StepDecision{Org: villageB, ProcedureId: pid, StepCode: "review", Post: "village.finance_group",
				Action: sanziv1.StepAction_STEP_ACTION_REJECT, Reason: "不对"}, []string{"recorded"}, false},
		{"the node's own work, no account in the call", ctx, "kuaiji",
			approve(villageB, pid, "review", "village.finance_group"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Ledger().Head(villageB).Seq
			st, _, err := n.DecideStep(tc.ctx, tc.author, tc.d)
			if tc.wantNot {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				m, _ := entries.Decode(st.Type, st.Payload)
				if d := m.(*sanziv1.StepDecision); d.GetPost() == "" || st.Author != tc.author {
					t.Fatalf("recorded post %q by %q, want the step's post by %s", d.GetPost(), st.Author, tc.author)
				}
				return
			}
			if !errors.Is(err, books.ErrPermissionDenied) {
				t.Fatalf("%v, want permission denied", err)
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%v, want it to name %q", err, w)
				}
			}
			if got := n.Ledger().Head(villageB).Seq; got != before {
				t.Fatalf("a refused decision appended %d entries", got-before)
			}
		})
	}
	p, err := n.Procedure(pid)
	if err != nil {
		t.Fatal(err)
	}
	if _, st := p.OpenStep(); st.GetCode() != "signoff" {
		t.Fatalf("procedure at %s, want signoff (capture and review approved once each)", st.GetCode())
	}
}

// TestRecordersFollowTheSubject: the accounts that recorded a matter are
// the procedure's opener and the authors of what it is about.
func TestRecordersFollowTheSubject(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	n := openVillageB(t, t.TempDir(), clock)
	byRecording := recordExpense(t, n, "kuaiji", "00000001")
	tx := plainExpense(20_000, "00000002")
	tx.Org = villageB
	paid, _, err := n.RecordTransaction(ctx, "chuna", tx)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := n.OpenProcedure(ctx, "daili", &sanziv1.Procedure{Org: villageB, MatterCode: "FUND-BANKREC", Period: "2026-10",
		Summary: "十月对账", SubjectId: paid.ID()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pid  string
		want []string
	}{
		{"opened by recording an expense", byRecording, []string{"kuaiji", "kuaiji"}},
		{"opened on its own about another's payment", opened.ID, []string{"daili", "chuna"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := n.Procedure(tc.pid)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := supervise.Recorders(n.Ledger(), p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Author)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("recorders %v (%+v), want %v", got, recs, tc.want)
			}
		})
	}
}

// TestRuleSetsNeedTheRolesAtTheNode: signed in, drafting and publishing a
// village's rule set need the permission at an org covering the village
// and the author to be the account; publishing by the drafter stays
// refused.
func TestRuleSetsNeedTheRolesAtTheNode(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	n := openVillageB(t, t.TempDir(), clock)
	committee := []authz.Role{authz.RoleVillageCommittee}
	accountant := []authz.Role{authz.RoleAccountant}
	rs := withParam("B-1", "CASH-PAY", "cash_limit_fen", 50_000)
	raw := setJSON(t, rs)
	type call func(ctx context.Context, author string) error
	submit := func(ctx context.Context, author string) error {
		_, _, err := n.SubmitRuleSet(ctx, author, raw)
		return err
	}
	publish := func(ctx context.Context, author string) error {
		_, _, err := n.PublishRuleSet(ctx, author, "B-1")
		return err
	}
	for _, tc := range []struct {
		name   string
		do     call
		ctx    context.Context
		author string
		want   string // "" succeeds; else in the refusal
	}{
		{"an accountant drafting", submit, signedIn(ctx, "kuaiji", villageB, accountant), "kuaiji", "may not draft_rules"},
		{"a committee member of another village drafting", submit, signedIn(ctx, "a-wei", villageA, committee), "a-wei", "may not draft_rules for " + villageB},
		{"drafting under another author", submit, signedIn(ctx, "wei1", villageB, committee), "wei2", `author "wei2"`},
		{"a committee member drafting", submit, signedIn(ctx, "wei1", villageB, committee), "wei1", ""},
		{"the drafter publishing", publish, signedIn(ctx, "wei1", villageB, committee), "wei1", "second person"},
		{"a second account without the role publishing", publish, signedIn(ctx, "kuaiji", villageB, accountant), "kuaiji", "may not publish_rules"},
		{"a second account of another village publishing", publish, signedIn(ctx, "a-wei", villageA, committee), "a-wei", "for " + villageB},
		{"a second committee member publishing", publish, signedIn(ctx, "wei2", villageB, committee), "wei2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(tc.ctx, tc.author)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want a refusal naming %q", err, tc.want)
			}
		})
	}
	if _, live, _ := n.RuleSets(); live != "B-1" {
		t.Fatalf("live %q, want B-1", live)
	}
}

// TestTownDecidesWithThePostAndAnotherPerson: the town decides a town step
// of a village's procedure only by an account holding that post at a town
// covering the village, and not by the account that recorded the matter in
// the village's chain.
func TestTownDecidesWithThePostAndAnotherPerson(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	town, b := openTownAndVillageB(t, clock)
	pid := recordExpense(t, b, "kuaiji", "00000001")
	for _, s := range [][2]string{{"capture", "village.accountant"}, {"review", "village.finance_group"}, {"signoff", "village.head"}} {
		if _, _, err := b.DecideStep(ctx, "B村", approve(villageB, pid, s[0], s[1])); err != nil {
			t.Fatalf("B decides %s: %v", s[0], err)
		}
	}
	ship(t, b, town, villageB)
	reviewer := []authz.Role{authz.RoleTownReviewer}
	for _, tc := range []struct {
		name, account, org, post string
		holds                    []string
		want                     []string // "" succeeds; else in the refusal
	}{
		{"the village's recorder, by its account id", "kuaiji", townOrg, "", []string{"town.agency_accountant"}, []string{"recorded", "transaction"}},
		{"a reviewer without the step's post", "zhen1", townOrg, "", []string{"town.reviewer"}, []string{"post town.agency_accountant", "holds town.reviewer"}},
		{"naming a post not held", "zhen1", townOrg, "town.agency_accountant", []string{"town.reviewer"}, []string{"does not hold post town.agency_accountant"}},
		{"an account of another town", "zhen2", "350505110000", "", []string{"town.agency_accountant"}, []string{"of 350505110000", "may not decide"}},
		{"the agency's accountant, naming no post", "zhen3", townOrg, "", []string{"town.agency_accountant"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := town.Ledger().Head(townOrg).Seq
			st, _, err := town.DecideStep(signedIn(ctx, tc.account, tc.org, reviewer, tc.holds...), tc.account, approve(villageB, pid, "town_post", tc.post))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				m, _ := entries.Decode(st.Type, st.Payload)
				if d := m.(*sanziv1.TownDecision).GetStep(); d.GetPost() != "town.agency_accountant" || st.Author != tc.account {
					t.Fatalf("the town recorded post %q by %s", d.GetPost(), st.Author)
				}
				return
			}
			if !errors.Is(err, books.ErrPermissionDenied) {
				t.Fatalf("%v, want permission denied", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%v, want it to name %q", err, w)
				}
			}
			if got := town.Ledger().Head(townOrg).Seq; got != before {
				t.Fatalf("a refused decision appended %d entries at the town", got-before)
			}
		})
	}
}

// TestTownIgnoresASelfPublishedVillageSet: the town takes a village's
// relatives list only from a set published by a second account; one its
// drafter published (written by a node that did not check) is ignored at
// the town with why, as at the village, and a proper one is used.
func TestTownIgnoresASelfPublishedVillageSet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{townOrg, villageA, villageB}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func(org string) node {
		if err := os.MkdirAll(filepath.Join(dir, org), 0o750); err != nil {
			t.Fatal(err)
		}
		n, closeFn := openOrgBooks(t, filepath.Join(dir, org), keysDir, orgs, []string{org}, clock, nil, false)
		t.Cleanup(closeFn)
		return n
	}
	town, a, b := open(townOrg), open(villageA), open(villageB)
	relativeID := person("35010219900307123")
	listed := func(version string) rules.RuleSet {
		rs := rules.Default()
		rs.Version = version
		rs.Lists = map[string][]rules.ListItem{"relatives": {{Name: "张小明", IDNumber: relativeID, Note: "A村主任张三之子"}}}
		return rs
	}
	invoice := 0
	crossRelatives := func(t *testing.T) int {
		t.Helper()
		invoice++
		tx := plainExpense(20_000, fmt.Sprintf("%08d", invoice))
		tx.Org, tx.Counterparty = villageB, payee("张小明", relativeID)
		if _, _, err := b.RecordTransaction(ctx, "B村会计", tx); err != nil {
			t.Fatal(err)
		}
		ship(t, a, town, villageA)
		ship(t, b, town, villageB)
		recs, _, _, err := town.ListAlerts(books.AlertFilter{Org: townOrg, RuleCode: "RELATIVE"}, books.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}

	raw := setJSON(t, listed("A-self"))
	for _, step := range []*sanziv1.RuleSetVersion{
		{Org: villageA, Version: "A-self", State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT, RulesJson: raw, DraftedBy: "甲", Sha256: sha256hex(raw)},
		{Org: villageA, Version: "A-self", State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED, DraftedBy: "甲", Sha256: sha256hex(raw)},
	} {
		if _, err := a.AppendEntry(ctx, villageA, "甲", sanziv1.EntryType_ENTRY_TYPE_RULE_SET, step, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("published by its drafter", func(t *testing.T) {
		if sum, _, err := a.RuleSet("A-self"); err != nil || sum.GetStatus() != "ignored" || !strings.Contains(sum.GetIgnoredReason(), "four eyes") {
			t.Fatalf("at the village A-self is %v, %v; want ignored, four eyes", sum, err)
		}
		if n := crossRelatives(t); n != 0 {
			t.Fatalf("the town raised %d cross-village RELATIVE alerts from a self-published list", n)
		}
		why := town.tier.(interface{ IgnoredRuleSets() map[string]string }).IgnoredRuleSets()[villageA+"/A-self"]
		if !strings.Contains(why, "甲") || !strings.Contains(why, "four eyes") {
			t.Fatalf("the town lists A-self as ignored with %q, want published by its drafter 甲, four eyes", why)
		}
	})
	t.Run("published by a second account", func(t *testing.T) {
		if _, _, err := a.SubmitRuleSet(ctx, "甲", setJSON(t, listed("A-2"))); err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.PublishRuleSet(ctx, "乙", "A-2"); err != nil {
			t.Fatal(err)
		}
		if n := crossRelatives(t); n != 1 {
			t.Fatalf("the town raised %d cross-village RELATIVE alerts from A's list published by a second account, want 1", n)
		}
	})
}
