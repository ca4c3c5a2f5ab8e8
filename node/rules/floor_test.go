package rules

import (
	"slices"
	"testing"
)

func TestCheckFloorByDirection(t *testing.T) {
	for _, tc := range []struct {
		name        string
		code, param string
		v           int64
		action      Action
		want        string // violating field; "" none
	}{
		{"lower cash limit", "CASH-PAY", "cash_limit_fen", 50_000, "", ""},
		{"higher cash limit", "CASH-PAY", "cash_limit_fen", 500_000, "", "rules[CASH-PAY].params.cash_limit_fen"},
		{"higher reserve percent", "UNDERPRICE", "reserve_percent", 110, "", ""},
		{"lower reserve percent", "UNDERPRICE", "reserve_percent", 90, "", "rules[UNDERPRICE].params.reserve_percent"},
		{"longer split window", "SPLIT", "window_days", 60, "", ""},
		{"shorter split window", "SPLIT", "window_days", 10, "", "rules[SPLIT].params.window_days"},
		{"earlier close deadline", "BOOKS-CLOSE-LATE", "due_day", 5, "", ""},
		{"later close deadline", "BOOKS-CLOSE-LATE", "due_day", 15, "", "rules[BOOKS-CLOSE-LATE].params.due_day"},
		{"smaller wrong-side tolerance", "BOOKS-WRONG-SIDE", "tolerance_fen", 0, "", ""},
		{"larger wrong-side tolerance", "BOOKS-WRONG-SIDE", "tolerance_fen", 100, "", "rules[BOOKS-WRONG-SIDE].params.tolerance_fen"},
		{"wrong account to block", "WRONG-ACCOUNT", "", 0, ActionBlock, ""},
		{"cash negative to warn is the floor", "BOOKS-CASH-NEGATIVE", "", 0, ActionWarn, ""},
		{"block to warn", "CASH-PAY", "", 0, ActionWarn, "rules[CASH-PAY].action"},
		{"warn to block", "PRIVATE-ACCT", "", 0, ActionBlock, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := Default()
			for i := range local.Rules {
				if r := &local.Rules[i]; r.Code == tc.code {
					if tc.param != "" {
						r.Params[tc.param] = tc.v
					}
					if tc.action != "" {
						r.Action = tc.action
					}
				}
			}
			vs := CheckFloor(Default(), local)
			got := ""
			if len(vs) > 0 {
				got = vs[0].Field
			}
			if got != tc.want || len(vs) > 1 {
				t.Fatalf("violations %v, want %q", vs, tc.want)
			}
			if _, err := Compile(MergeFloor(Default(), local)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every param of the default set has a direction, so that a village or
// town can tighten it; a param without one could only be repeated.
func TestEveryDefaultParamHasADirection(t *testing.T) {
	dir := Strictness()
	for _, r := range Default().Rules {
		for p := range r.Params {
			if d, ok := dir[r.Code][p]; !ok || d == Fixed {
				t.Errorf("rule %s param %s has no stricter direction in Strictness()", r.Code, p)
			}
		}
	}
}

func TestMergeFloorKeepsTheStricter(t *testing.T) {
	floor, local := Default(), Default()
	floor.Version, local.Version = "district-2", "village-1"
	param := func(rs RuleSet, code, p string) *int64 {
		i := slices.IndexFunc(rs.Rules, func(r Rule) bool { return r.Code == code })
		v := rs.Rules[i].Params[p]
		return &v
	}
	set := func(rs RuleSet, code, p string, v int64) {
		rs.Rules[slices.IndexFunc(rs.Rules, func(r Rule) bool { return r.Code == code })].Params[p] = v
	}
	set(local, "CASH-PAY", "cash_limit_fen", 50_000)    // the village's stricter limit
	set(floor, "BIG-SPEND", "big_spend_fen", 1_000_000) // the district's new stricter one
	local.Rules = local.Rules[1:]                       // and a rule the village left out
	local.Lists = map[string][]ListItem{"relatives": {{Name: "张小明"}}}
	m := MergeFloor(floor, local)
	if *param(m, "CASH-PAY", "cash_limit_fen") != 100_000 || *param(m, "BIG-SPEND", "big_spend_fen") != 1_000_000 {
		t.Fatalf("merged: CASH-PAY kept from the floor (the village left it out), BIG-SPEND the district's: %+v", m.Rules[:3])
	}
	local = Default()
	local.Version = "village-1"
	set(local, "CASH-PAY", "cash_limit_fen", 50_000)
	m = MergeFloor(floor, local)
	if *param(m, "CASH-PAY", "cash_limit_fen") != 50_000 || m.Version != "village-1+district-2" || len(m.Rules) != len(floor.Rules) {
		t.Fatalf("merged %s with %d rules, CASH-PAY %d", m.Version, len(m.Rules), *param(m, "CASH-PAY", "cash_limit_fen"))
	}
	if m := MergeFloor(Default(), local); m.Version != "village-1" {
		t.Fatalf("a local set the floor leaves as it is keeps its version: %s", m.Version)
	}
}
