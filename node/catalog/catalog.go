// Package catalog holds the district's catalog of supervised matters
// (职责权限库): every matter with its code, legal basis, conditions, fee, the
// steps of its procedure, the post that handles each step and each step's
// time limit. The district owns the catalog and records each version as a
// ledger entry (ENTRY_TYPE_CATALOG_VERSION); towns and villages receive it by
// sync. This package only holds and checks the data: deadlines are computed
// from the limits by node/calendar (working days with AddWorkingDays, working
// hours with AddWorkingHours).
package catalog

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/entries"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// categories are the values Matter.category may take.
var categories = map[string]bool{"funds": true, "assets": true, "resources": true, "governance": true}

// unitText names limit units for LimitText.
var unitText = map[sanziv1.LimitUnit]string{sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS: "working days",
	sanziv1.LimitUnit_LIMIT_UNIT_WORKING_HOURS: "working hours", sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS: "calendar days"}

// Validate checks a catalog before it is published or used, so that a broken
// version never reaches the nodes: a step routed to an unknown post or
// without a time limit would stall a procedure without anyone being carded.
// The error lists every problem, one per line, each with the path of the
// field at fault (e.g. "matters[3].steps[1].post: unknown post ..."); each
// is an *entries.FieldError in the joined error, so that an API can name
// the fields to the form that sent them.
func Validate(c *sanziv1.Catalog) error {
	if c == nil {
		return errors.New("catalog: nil")
	}
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, &entries.FieldError{Field: path, Reason: fmt.Sprintf(format, a...)})
	}
	if c.GetVersion() == "" {
		bad("version", "empty")
	}
	if d := c.GetDistrict(); !districtCode.MatchString(d) {
		bad("district", "%q is not a 6-digit code", d)
	}
	posts := map[string]bool{}
	for i, p := range c.GetPosts() {
		path := fmt.Sprintf("posts[%d]", i)
		named(path, p.GetCode(), p.GetName(), posts, bad)
		if t := p.GetTier(); t == sanziv1.Tier_TIER_UNSPECIFIED || sanziv1.Tier_name[int32(t)] == "" {
			bad(path+".tier", "unspecified or unknown (%d)", p.GetTier())
		}
	}
	if len(c.GetMatters()) == 0 {
		bad("matters", "none")
	}
	matters := map[string]bool{}
	for i, m := range c.GetMatters() {
		path := fmt.Sprintf("matters[%d]", i)
		named(path, m.GetCode(), m.GetName(), matters, bad)
		if !categories[m.GetCategory()] {
			bad(path+".category", "%q is not funds, assets, resources or governance", m.GetCategory())
		}
		if m.GetThresholdFen() < 0 {
			bad(path+".threshold_fen", "negative (%d)", m.GetThresholdFen())
		}
		if m.GetFeeFen() < 0 {
			bad(path+".fee_fen", "negative (%d)", m.GetFeeFen())
		}
		checkLimit(path+".total_limit", m.GetTotalLimit(), bad)
		if len(m.GetSteps()) == 0 {
			bad(path+".steps", "none")
		}
		steps := map[string]bool{}
		for j, s := range m.GetSteps() {
			sp := fmt.Sprintf("%s.steps[%d]", path, j)
			named(sp, s.GetCode(), s.GetName(), steps, bad)
			switch {
			case s.GetPost() == "":
				bad(sp+".post", "empty")
			case !posts[s.GetPost()]:
				bad(sp+".post", "unknown post %q", s.GetPost())
			}
			checkLimit(sp+".limit", s.GetLimit(), bad)
			if mn := s.GetMinDuration(); mn != nil {
				checkLimit(sp+".min_duration", mn, bad)
				if l := s.GetLimit(); l != nil && l.GetUnit() == mn.GetUnit() && mn.GetAmount() > l.GetAmount() {
					bad(sp+".min_duration", "%s is longer than the limit %s", LimitText(mn), LimitText(l))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// named reports an empty or duplicate code and an empty name: the code is how
// entries refer to the item, the name is what people see.
func named(path, code, name string, seen map[string]bool, bad func(path, format string, a ...any)) {
	switch {
	case code == "":
		bad(path+".code", "empty")
	case seen[code]:
		bad(path+".code", "duplicate %q", code)
	}
	seen[code] = true
	if name == "" {
		bad(path+".name", "empty")
	}
}

// checkLimit reports a time limit that is missing, has no known unit or is not
// positive: a timer could not compute a deadline from it.
func checkLimit(path string, l *sanziv1.TimeLimit, bad func(path, format string, a ...any)) {
	if l == nil {
		bad(path, "missing")
		return
	}
	if u := l.GetUnit(); u == sanziv1.LimitUnit_LIMIT_UNIT_UNSPECIFIED || sanziv1.LimitUnit_name[int32(u)] == "" {
		bad(path+".unit", "unspecified or unknown (%d)", l.GetUnit())
	}
	if l.GetAmount() <= 0 {
		bad(path+".amount", "must be positive, got %d", l.GetAmount())
	}
}

// districtCode is a 6-digit administrative division code (GB/T 2260).
var districtCode = regexp.MustCompile(`^[0-9]{6}$`)

// Hash is the SHA-256 of the catalog's deterministic encoding, so that two
// versions (or the copy a node holds and the one the district published) can
// be compared by a short value. Deterministic encoding is stable for one
// build of the code; compare hashes computed by the same release.
func Hash(c *sanziv1.Catalog) ([32]byte, error) {
	if c == nil {
		return [32]byte{}, errors.New("catalog: nil")
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return [32]byte{}, fmt.Errorf("catalog: encode: %w", err)
	}
	return sha256.Sum256(b), nil
}

// Find returns the matter with code, so that a procedure can be started from
// the code recorded with a transaction or contract.
func Find(c *sanziv1.Catalog, code string) (*sanziv1.Matter, bool) {
	for _, m := range c.GetMatters() {
		if m.GetCode() == code {
			return m, true
		}
	}
	return nil, false
}

// StepIndex is the position of the step with stepCode in m, or -1 when m has
// no such step, so that callers can check the order of steps (a posting must
// not come before its review).
func StepIndex(m *sanziv1.Matter, stepCode string) int {
	for i, s := range m.GetSteps() {
		if s.GetCode() == stepCode {
			return i
		}
	}
	return -1
}

// LimitText writes a time limit for people, e.g. "2 working days", so that
// review lines and error messages read the same everywhere.
func LimitText(l *sanziv1.TimeLimit) string {
	if l == nil {
		return "no limit"
	}
	unit, ok := unitText[l.GetUnit()]
	if !ok {
		unit = l.GetUnit().String()
	}
	return fmt.Sprintf("%d %s", l.GetAmount(), unit)
}

// Diff describes, one line each, what a new version changes against the old
// one: matters added or removed, thresholds, fees and promised times changed,
// steps added or removed, and steps whose limit or post changed. The second
// person who approves publishing reads it instead of two whole catalogs.
func Diff(old, new *sanziv1.Catalog) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if old.GetVersion() != new.GetVersion() {
		add("version %q → %q", old.GetVersion(), new.GetVersion())
	}
	for _, om := range old.GetMatters() {
		nm, ok := Find(new, om.GetCode())
		if !ok {
			add("matter %s (%s) removed", om.GetCode(), om.GetName())
			continue
		}
		code := om.GetCode()
		if a, b := om.GetThresholdFen(), nm.GetThresholdFen(); a != b {
			add("matter %s: threshold %d → %d fen", code, a, b)
		}
		if a, b := om.GetFeeFen(), nm.GetFeeFen(); a != b {
			add("matter %s: fee %d → %d fen", code, a, b)
		}
		if a, b := om.GetTotalLimit(), nm.GetTotalLimit(); !proto.Equal(a, b) {
			add("matter %s: total limit %s → %s", code, LimitText(a), LimitText(b))
		}
		for _, os := range om.GetSteps() {
			i := StepIndex(nm, os.GetCode())
			if i < 0 {
				add("matter %s: step %s (%s) removed", code, os.GetCode(), os.GetName())
				continue
			}
			ns := nm.GetSteps()[i]
			if !proto.Equal(os.GetLimit(), ns.GetLimit()) {
				add("matter %s: step %s limit %s → %s", code, os.GetCode(), LimitText(os.GetLimit()), LimitText(ns.GetLimit()))
			}
			if os.GetPost() != ns.GetPost() {
				add("matter %s: step %s post %s → %s", code, os.GetCode(), os.GetPost(), ns.GetPost())
			}
		}
		for _, ns := range nm.GetSteps() {
			if StepIndex(om, ns.GetCode()) < 0 {
				add("matter %s: step %s (%s) added, post %s, limit %s", code, ns.GetCode(), ns.GetName(), ns.GetPost(), LimitText(ns.GetLimit()))
			}
		}
	}
	for _, nm := range new.GetMatters() {
		if _, ok := Find(old, nm.GetCode()); !ok {
			add("matter %s (%s) added with %d steps", nm.GetCode(), nm.GetName(), len(nm.GetSteps()))
		}
	}
	return out
}
