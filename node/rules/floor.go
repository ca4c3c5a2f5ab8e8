package rules

import (
	"fmt"
	"maps"
	"slices"
)

// The district's set in force is a floor under every village's and town's
// own set: a local set may add rules, add list entries, raise a rule's
// severity or action and move a parameter the stricter way (Strictness),
// never remove, reword or loosen a rule of the district's. CheckFloor says
// what a local set does wrong; MergeFloor builds the set in force from the
// two, again whenever either changes.

// FloorViolation is one way a local set weakens the district's floor. Field
// is in the form of the API's field violations, e.g.
// "rules[CASH-PAY].params.cash_limit_fen".
type FloorViolation struct {
	Field  string
	Reason string
}

// CheckFloor lists what local removes or loosens of floor, in floor's rule
// order; none means local may be published over floor. Lists are never a
// violation: MergeFloor keeps the district's entries whatever local holds.
func CheckFloor(floor, local RuleSet) []FloorViolation {
	dir := Strictness()
	byCode := map[string]Rule{}
	for _, r := range local.Rules {
		byCode[r.Code] = r
	}
	var out []FloorViolation
	add := func(field, format string, a ...any) {
		out = append(out, FloorViolation{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	for _, f := range floor.Rules {
		field := "rules[" + f.Code + "]"
		l, ok := byCode[f.Code]
		if !ok {
			add(field, "removes the district's rule %s (%s): a local set may add rules, never remove one", f.Code, f.Name)
			continue
		}
		if severityRank(l.Severity) < severityRank(f.Severity) {
			add(field+".severity", "lowers the district's severity %s to %s", f.Severity, l.Severity)
		}
		if actionRank(l.Action) < actionRank(f.Action) {
			add(field+".action", "weakens the district's action %s to %s", f.Action, l.Action)
		}
		for _, k := range f.Applies {
			if fa, la := f.ActionFor(k), l.ActionFor(k); actionRank(la) < actionRank(fa) && (f.Actions[k] != "" || l.Actions[k] != "") {
				add(field+".actions."+k, "weakens the district's action on %s %s to %s", k, fa, la)
			}
		}
		switch {
		case l.Expr != f.Expr || !maps.Equal(l.Exprs, f.Exprs):
			add(field+".expr", "changes the district's expression: a local set may only make its params stricter")
		case !slices.Equal(l.Applies, f.Applies):
			add(field+".applies", "changes the entry kinds the district's rule applies to, %v to %v", f.Applies, l.Applies)
		case l.Stateful != f.Stateful:
			add(field+".stateful", "changes whether the district's rule is stateful")
		case l.Reason != f.Reason:
			add(field+".reason", "rewords the district's reason: a local set may only make its params stricter")
		}
		for _, p := range slices.Sorted(maps.Keys(f.Params)) {
			fv := f.Params[p]
			lv, ok := l.Params[p]
			pf := field + ".params." + p
			switch d := dir[f.Code][p]; {
			case !ok:
				add(pf, "drops the district's param %s = %d", p, fv)
			case d == LowerStricter && lv > fv:
				add(pf, "raises the district's limit %d to %d", fv, lv)
			case d == HigherStricter && lv < fv:
				add(pf, "lowers the district's %s %d to %d", p, fv, lv)
			case d == Fixed && lv != fv:
				add(pf, "changes the district's %s %d to %d; it has no stricter direction, so only the district sets it", p, fv, lv)
			}
		}
		for _, p := range slices.Sorted(maps.Keys(l.Params)) {
			if _, ok := f.Params[p]; !ok {
				add(field+".params."+p, "the district's rule %s has no param %s", f.Code, p)
			}
		}
	}
	return out
}

// MergeFloor is the set in force at a village or town: floor's rules, each
// with local's stricter severity, action and params where local holds the
// rule (a local value looser than the floor yields to it, as when the
// district raises its floor past a village's own), then local's own rules;
// lists are floor's entries followed by local's others. Its version is
// local's when the merge leaves local as it was, else
// "<local>+<floor>", so every hit names both.
func MergeFloor(floor, local RuleSet) RuleSet {
	dir := Strictness()
	byCode := map[string]Rule{}
	for _, r := range local.Rules {
		byCode[r.Code] = r
	}
	out := RuleSet{Version: local.Version}
	same := len(floor.Rules) <= len(local.Rules)
	for _, f := range floor.Rules {
		m := f
		m.Params, m.Exprs = maps.Clone(f.Params), maps.Clone(f.Exprs)
		l, ok := byCode[f.Code]
		delete(byCode, f.Code)
		if !ok {
			out.Rules, same = append(out.Rules, m), false
			continue
		}
		if severityRank(l.Severity) > severityRank(m.Severity) {
			m.Severity = l.Severity
		}
		kindActions := map[string]Action{}
		for _, k := range f.Applies {
			kindActions[k] = f.ActionFor(k)
			if la := l.ActionFor(k); actionRank(la) > actionRank(kindActions[k]) {
				kindActions[k] = la
			}
		}
		if actionRank(l.Action) > actionRank(m.Action) {
			m.Action = l.Action
		}
		m.Actions = nil
		for _, k := range f.Applies {
			if kindActions[k] != m.Action {
				if m.Actions == nil {
					m.Actions = map[string]Action{}
				}
				m.Actions[k] = kindActions[k]
			}
		}
		for p, fv := range f.Params {
			lv, ok := l.Params[p]
			switch d := dir[f.Code][p]; {
			case !ok:
			case d == LowerStricter && lv < fv, d == HigherStricter && lv > fv:
				m.Params[p] = lv
			}
		}
		same = same && ruleEqual(m, l)
		out.Rules = append(out.Rules, m)
	}
	for _, l := range local.Rules {
		if _, own := byCode[l.Code]; own {
			out.Rules = append(out.Rules, l)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(floor.Lists)) {
		for _, it := range floor.Lists[name] {
			if !slices.Contains(local.Lists[name], it) {
				same = false
			}
		}
	}
	out.Lists = mergeLists(floor.Lists, local.Lists)
	if !same {
		out.Version = local.Version + "+" + floor.Version
	}
	return out
}

// mergeLists is a's lists with b's entries a does not hold appended.
func mergeLists(a, b map[string][]ListItem) map[string][]ListItem {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := map[string][]ListItem{}
	for name, items := range a {
		out[name] = slices.Clone(items)
	}
	for name, items := range b {
		for _, it := range items {
			if !slices.Contains(out[name], it) {
				out[name] = append(out[name], it)
			}
		}
	}
	return out
}

func ruleEqual(a, b Rule) bool {
	return a.Code == b.Code && a.Name == b.Name && a.Severity == b.Severity && a.Action == b.Action &&
		maps.Equal(a.Actions, b.Actions) && slices.Equal(a.Applies, b.Applies) && a.Expr == b.Expr && maps.Equal(a.Exprs, b.Exprs) && a.Reason == b.Reason &&
		maps.Equal(a.Params, b.Params) && a.Basis == b.Basis && a.Stateful == b.Stateful
}
