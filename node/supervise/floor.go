package supervise

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/rules"
)

// floorState is what a village or town keeps of the two rule sets whose
// merge is in force there (rules.MergeFloor): the district's set in force
// (the floor: the built-in set until the district's chain publishes one)
// and the node's own published set, if any.
type floorState struct {
	floor string // version of the district's set in force
	local string // version of the node's own set in force; "" none
}

// floored says whether the district's set is a floor here: at a village or
// a town, not at the district, whose sets are the floor.
func (s *Supervisor) floored() bool {
	home := s.b.HomeOrg()
	return len(home) == 12 && home[6:] != "000000"
}

// fromDistrict says whether origin is the district's chain.
func fromDistrict(origin string) bool { return len(origin) == 12 && origin[6:] == "000000" }

// floorViolations refuses a local set that removes or loosens a rule of the
// district's set in force, naming each rule and param. The caller holds
// s.mu.
func (s *Supervisor) floorViolations(local rules.RuleSet) error {
	if !s.floored() {
		return nil
	}
	floor, err := s.setOf(s.sets.floor)
	if err != nil {
		return err
	}
	vs := rules.CheckFloor(floor, local)
	if len(vs) == 0 {
		return nil
	}
	inv := &books.InvalidError{}
	for _, v := range vs {
		inv.Violations = append(inv.Violations, books.Violation{Field: v.Field, Reason: v.Reason})
	}
	return inv
}

// draftFloorViolations is floorViolations of a draft about to be
// published: the floor may have risen since it was submitted.
func (s *Supervisor) draftFloorViolations(i *ruleSetInfo) error {
	local, err := s.setOf(i.sum.GetVersion())
	if err != nil {
		return err
	}
	return s.floorViolations(local)
}

// setOf is a known version's rule set.
func (s *Supervisor) setOf(version string) (rules.RuleSet, error) {
	i, ok := s.sets.byVer[version]
	if !ok {
		return rules.RuleSet{}, fmt.Errorf("%w: rule set %q", books.ErrNotFound, version)
	}
	var rs rules.RuleSet
	if err := json.Unmarshal([]byte(i.json), &rs); err != nil {
		return rules.RuleSet{}, fmt.Errorf("rule set %s: %w", version, err)
	}
	return rs, nil
}

// publish puts a published version i, read in origin's chain, in force. At
// the district it replaces the set in force. Elsewhere one of the
// district's becomes the floor and the node's own set is merged onto it
// again; one of the node's own is merged onto the floor, unless it weakens
// the floor: then it is ignored, logged and listed as ignored with why.
// The caller holds s.mu.
func (s *Supervisor) publish(origin, id, author string, i *ruleSetInfo) error {
	r := &s.sets
	e, err := ParseRuleSet([]byte(i.json))
	if err != nil {
		return err
	}
	if !s.floored() {
		if err := s.applyRules(e); err != nil {
			return err
		}
		r.status(r.live, rules.RuleSetSuperseded)
		r.live = i.sum.GetVersion()
		r.status(r.live, rules.RuleSetLive)
		i.sum.PublishedBy, i.sum.PublishedId = author, id
		return nil
	}
	i.sum.PublishedBy, i.sum.PublishedId = author, id
	floor, local := r.floor, r.local
	if fromDistrict(origin) {
		floor = i.sum.GetVersion()
	} else {
		local = i.sum.GetVersion()
	}
	fs, err := s.setOf(floor)
	if err != nil {
		return err
	}
	in := e
	if local != "" {
		ls, err := s.setOf(local)
		if err != nil {
			return err
		}
		if !fromDistrict(origin) {
			if err := s.floorViolations(ls); err != nil {
				i.sum.Status, i.sum.IgnoredReason = string(rules.RuleSetIgnored), err.Error()
				slog.Warn("a published local rule set weakens the district's floor; it is ignored", "version", local, "entry", id, "floor", floor, "err", err)
				return nil
			}
		}
		merged, err := json.Marshal(rules.MergeFloor(fs, ls))
		if err == nil {
			in, err = ParseRuleSet(merged)
		}
		if err != nil {
			return fmt.Errorf("merge rule set %s onto the district's %s: %w", local, floor, err)
		}
	}
	if err := s.applyRules(in); err != nil {
		return err
	}
	if floor != r.floor {
		r.status(r.floor, rules.RuleSetSuperseded)
	}
	if local != r.local {
		r.status(r.local, rules.RuleSetSuperseded)
	}
	r.floor, r.local, r.live = floor, local, floor
	if local != "" {
		r.live = local
		r.status(floor, rules.RuleSetFloor)
	}
	r.status(r.live, rules.RuleSetLive)
	return nil
}

// status sets a known version's status.
func (r *ruleSets) status(version string, status rules.RuleSetStatus) {
	if i, ok := r.byVer[version]; ok {
		i.sum.Status = string(status)
	}
}

// applyRules puts e in force: for the stateful rules, a town's
// cross-village rules (its tier) and the books' checks at entry.
func (s *Supervisor) applyRules(e *rules.Engine) error {
	if err := s.watch.SetRules(e); err != nil {
		return err
	}
	if err := s.tier.SetRules(e); err != nil {
		return err
	}
	if s.rebuilding {
		s.rulesAfter = e // put in force once the rebuild has caught up
		return nil
	}
	s.b.SetRules(e)
	return nil
}
