package supervise_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const districtOrg = "350505000000"

// withParam is the default set as version, with param of rule code set to
// v (when code is not empty).
func withParam(version, code, param string, v int64) rules.RuleSet {
	rs := rules.Default()
	rs.Version = version
	for i := range rs.Rules {
		if rs.Rules[i].Code == code {
			rs.Rules[i].Params[param] = v
		}
	}
	return rs
}

func setJSON(t *testing.T, rs rules.RuleSet) string {
	t.Helper()
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestDistrictRulesAreAFloor: a village's own rule set may add to the
// district's set in force, never take away from it.
//   - a set emptying the rules, or raising CASH-PAY's limit, is refused at
//     submission naming the rule and param;
//   - one adding a relatives list and lowering the cash limit applies: a
//     cash payment between the two limits is refused, a payee on the list
//     raises RELATIVE;
//   - the district's stricter new floor wins over the village's limit, a
//     looser one leaves the village's, and the list stays in force;
//   - a weakening set that reaches the chain anyway is ignored and listed
//     with why.
func TestDistrictRulesAreAFloor(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	orgs := []string{districtOrg, villageA}
	clock := &fakeClock{t: cstTime("2026-11-02 09:00")}
	open := func(org string) node {
		if err := os.MkdirAll(filepath.Join(dir, org), 0o750); err != nil {
			t.Fatal(err)
		}
		n, _ := openOrgBooks(t, filepath.Join(dir, org), keysDir, orgs, []string{org}, clock, nil, false)
		return n
	}
	district, v := open(districtOrg), open(villageA)
	relativeID := person("35010219900307123")
	invoice := 0
	cash := func(amount int64, to *sanziv1.Counterparty) ([]rules.Hit, error) {
		invoice++
		tx := plainExpense(amount, fmt.Sprintf("%08d", invoice))
		tx.Org, tx.PaymentMethod = villageA, sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
		if to != nil {
			tx.Counterparty = to
		}
		_, hits, err := v.RecordTransaction(ctx, "A村会计", tx)
		return hits, err
	}
	refusedBy := func(err error, code string) bool {
		var blocked *books.BlockedError
		return errors.As(err, &blocked) && slices.ContainsFunc(blocked.Hits, func(h rules.Hit) bool { return h.Code == code })
	}
	publish := func(n node, rs rules.RuleSet) error {
		if _, _, err := n.SubmitRuleSet(ctx, "起草人", setJSON(t, rs)); err != nil {
			return err
		}
		_, _, err := n.PublishRuleSet(ctx, "发布人", rs.Version)
		return err
	}

	t.Run("a set that removes or loosens a district rule is refused naming it", func(t *testing.T) {
		for _, tc := range []struct {
			name, json, field, reason string
		}{
			{"empty", `{"version":"evil-1","rules":[]}`, "rules[CASH-PAY]", "removes the district's rule CASH-PAY"},
			{"raised", setJSON(t, withParam("evil-2", "CASH-PAY", "cash_limit_fen", 500_000)),
				"rules[CASH-PAY].params.cash_limit_fen", "raises the district's limit 100000 to 500000"},
		} {
			_, _, err := v.SubmitRuleSet(ctx, "A村会计", tc.json)
			var inv *books.InvalidError
			if !errors.As(err, &inv) || !slices.ContainsFunc(inv.Violations, func(x books.Violation) bool {
				return x.Field == tc.field && strings.Contains(x.Reason, tc.reason)
			}) {
				t.Fatalf("%s: %v, want a violation of %s: %s", tc.name, err, tc.field, tc.reason)
			}
		}
		if _, err := cash(500_000, nil); !refusedBy(err, "CASH-PAY") {
			t.Fatalf("a 5,000-yuan cash payment after the refusals: %v, want CASH-PAY", err)
		}
	})

	t.Run("a set adding a list and lowering the cash limit applies", func(t *testing.T) {
		rs := withParam("A-1", "CASH-PAY", "cash_limit_fen", 50_000)
		rs.Lists = map[string][]rules.ListItem{"relatives": {{Name: "张小明", IDNumber: relativeID, Note: "A村主任张三之子"}}}
		if err := publish(v, rs); err != nil {
			t.Fatal(err)
		}
		if _, err := cash(80_000, nil); !refusedBy(err, "CASH-PAY") {
			t.Fatalf("800 yuan in cash under the village's 500: %v, want CASH-PAY", err)
		}
		hits, err := cash(40_000, payee("张小明", relativeID))
		if err != nil || !slices.ContainsFunc(hits, func(h rules.Hit) bool { return h.Code == "RELATIVE" }) {
			t.Fatalf("paying a listed relative: hits %v, err %v, want RELATIVE", hits, err)
		}
	})

	t.Run("a new district floor is merged under the village's set", func(t *testing.T) {
		if err := publish(district, withParam("district-2", "CASH-PAY", "cash_limit_fen", 30_000)); err != nil {
			t.Fatal(err)
		}
		ship(t, district, v, districtOrg)
		if _, err := cash(40_000, nil); !refusedBy(err, "CASH-PAY") {
			t.Fatalf("400 yuan under the district's new 300: %v, want CASH-PAY", err)
		}
		if got := v.Rules().Version(); got != "A-1+district-2" {
			t.Fatalf("version in force %q, want A-1+district-2", got)
		}
		if err := publish(district, withParam("district-3", "CASH-PAY", "cash_limit_fen", 200_000)); err != nil {
			t.Fatal(err)
		}
		ship(t, district, v, districtOrg)
		if _, err := cash(80_000, nil); !refusedBy(err, "CASH-PAY") {
			t.Fatalf("800 yuan after the district loosened to 2,000: %v, want the village's own 500", err)
		}
		hits, err := cash(20_000, payee("张小明", relativeID))
		if err != nil || !slices.ContainsFunc(hits, func(h rules.Hit) bool { return h.Code == "RELATIVE" }) {
			t.Fatalf("the village's list under the new floor: hits %v, err %v, want RELATIVE", hits, err)
		}
		sets, live, err := v.RuleSets()
		if err != nil || live != "A-1" {
			t.Fatalf("live %q, %v", live, err)
		}
		status := map[string]string{}
		for _, s := range sets {
			status[s.GetVersion()] = s.GetStatus()
		}
		if status["district-3"] != "floor" || status["district-2"] != "superseded" || status["A-1"] != "live" {
			t.Fatalf("statuses %v", status)
		}
	})

	t.Run("a weakening set that reaches the chain anyway is ignored", func(t *testing.T) {
		// As a node without the check would record it: straight into the chain.
		raw := `{"version":"evil-3","rules":[]}`
		draft := &sanziv1.RuleSetVersion{Org: villageA, Version: "evil-3", State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
			RulesJson: raw, DraftedBy: "甲", Sha256: sha256hex(raw)}
		pub := &sanziv1.RuleSetVersion{Org: villageA, Version: "evil-3", State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
			DraftedBy: "甲", Sha256: draft.GetSha256()}
		// Drafted by 甲 and published by 乙, so that four eyes hold and
		// only the floor is in question.
		for _, step := range []struct {
			author string
			m      *sanziv1.RuleSetVersion
		}{{"甲", draft}, {"乙", pub}} {
			if _, err := v.AppendEntry(ctx, villageA, step.author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, step.m, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.Follow(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := cash(80_000, nil); !refusedBy(err, "CASH-PAY") {
			t.Fatalf("800 yuan after an empty set reached the chain: %v, want CASH-PAY", err)
		}
		sum, _, err := v.RuleSet("evil-3")
		if err != nil || sum.GetStatus() != "ignored" || !strings.Contains(sum.GetIgnoredReason(), "rules[CASH-PAY]") {
			t.Fatalf("evil-3 listed as %v, %v; want ignored naming CASH-PAY", sum, err)
		}
		if _, live, _ := v.RuleSets(); live != "A-1" {
			t.Fatalf("live %q, want A-1", live)
		}
	})
}

func sha256hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
