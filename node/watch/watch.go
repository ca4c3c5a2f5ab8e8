// Package watch runs the stateful supervision rules: the ones a single entry
// cannot decide (package rules decides those) because they need the village's
// history (SPLIT, ARREARS, CASH-STOCK, …) or the lists the district keeps
// (RELATIVE, OUTSIDER). Each is Go code registered under its rule code; the
// rule set still says whether it runs and sets its severity, action, reason
// and params, so a district can drop or retune one without a release.
//
// A Watcher is fed the node's committed entries in chain order (Observe) and
// asked about the clock (Sweep); both return each finding once, under a Key,
// and an Alert entry carrying that key marks it raised, so a node replaying
// its chain after a restart raises nothing twice. Check runs the list rules
// before an entry is committed, since OUTSIDER may refuse it.
//
// One finding climbs one ladder (DOMAIN.md "Escalation ladder"): the same
// underlying fact (one unpaid instalment, one run of days over the cash
// limit) is raised by one rule, under keys that share the finding's base and
// end in its rung (warning, yellow, red); each rung is raised once and never
// after a higher one, so the finding's severity only rises. ARREARS owns an
// unpaid contract instalment from its warning rung on; OFF-BOOK, which
// raised the same instalment red beside it, is retired into that rung.
//
// Days are calendar days in the node's zone. "Within N days of D" and "N days
// after D" both mean day D+N is still in time and the rule fires from D+N+1;
// a deadline "by day N of the month" is missed from day N+1. A reversed entry
// no longer counts in any sum, schedule or settlement.
package watch

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Event is one committed entry as the stateful rules see it: the node
// decodes each entry once and passes only what the rules read.
type Event struct {
	ID         string    // "<origin>-<seq>", e.g. "350505100201-17"
	RecordedAt time.Time // when the entry was committed
	Subject    string    // EntryBody.subject (entry id it is about), may be ""
	// Msg is the decoded payload: *sanziv1.Transaction, *Contract,
	// *ContractPayment, *Reversal, *Alert, *Procedure, *StepDecision,
	// *Voucher, *MonthClose; others are ignored.
	Msg proto.Message
}

// Watcher holds the history state and the stateful rules of one node. It is
// not safe for concurrent use: the caller serialises, as it does commits.
type Watcher struct {
	loc     *time.Location
	version string
	rules   []*rule
	lists   map[string][]rules.ListItem
	raised  map[string]bool
	st      state
	sides   map[string]*sanziv1.LedgerAccount // national accounts by code (BOOKS-WRONG-SIDE)
	// splitDays is split's scratch list of the days around the entry
	// observed, kept between calls so that an entry allocates none.
	splitDays []splitDay
	// pending is the history Load took and wait has not made yet;
	// loadErr is why making it failed, if it did (see Load).
	pending []byte
	loadErr error
	// staged is what the last Save left to the archive (Staged).
	staged *Batch
}

// impl is the Go side of one stateful rule. Exactly one of the functions is
// set: it says when the rule runs.
type impl struct {
	params   []string                                             // params it reads: New refuses a rule lacking one
	positive []string                                             // of those, the ones that must be above zero
	observe  func(w *Watcher, r *rule, cur *rec) []finding        // after commit, about cur
	sweep    func(w *Watcher, r *rule, today day) []finding       // on the clock
	check    func(w *Watcher, r *rule, m proto.Message) []finding // before commit
}

// registry maps each rule code to its Go implementation.
var registry = map[string]impl{
	"SPLIT":               {params: []string{"window_days", "split_threshold_fen"}, observe: split},
	"DUP-INVOICE":         {observe: dupInvoice},
	"HOSPITALITY":         {params: []string{"hospitality_cap_fen"}, observe: hospitality},
	"NON-PROD":            {params: []string{"non_prod_percent", "non_prod_min_fen"}, observe: nonProd},
	"OFF-BUDGET":          {params: []string{"over_budget_red_percent"}, observe: offBudget},
	"TAMPER":              {observe: tamper},
	"CASH-STOCK":          {params: []string{"cash_limit_fen", "red_after_days"}, sweep: cashStock},
	"CASH-DEPOSIT":        {params: []string{"deposit_days"}, sweep: cashDeposit},
	"ADVANCE":             {params: []string{"yellow_days", "red_days"}, sweep: advance},
	"ARREARS":             {params: []string{"yellow_days", "red_days", "red_amount_fen"}, sweep: arrears},
	"EXPIRING":            {params: []string{"yellow_days", "red_days"}, sweep: expiring},
	"BANK-REC":            {params: []string{"due_day"}, positive: []string{"due_day"}, sweep: bankRec},
	"DISCLOSE-LATE":       {params: []string{"due_day", "red_after_days"}, positive: []string{"due_day"}, sweep: discloseLate},
	"COMPLAINT-LATE":      {params: []string{"reply_days"}, sweep: complaintLate},
	"BOOKS-CASH-NEGATIVE": {observe: cashNegative},
	"BOOKS-WRONG-SIDE":    {params: []string{"tolerance_fen"}, observe: wrongSide},
	"BOOKS-CLOSE-LATE":    {params: []string{"due_day"}, positive: []string{"due_day"}, sweep: closeLate},
	"RELATIVE":            {check: relative},
	"OUTSIDER":            {params: []string{"min_attachments"}, check: outsider},
}

// retired are codes a published rule set may still name that no longer
// raise alerts of their own, with what took their place: a chain replayed
// from before must still load its rule sets, and a rule that raised the same
// finding as another in a second colour must not come back.
var retired = map[string]string{
	// An unpaid lease instalment is one finding (DOMAIN.md "One finding,
	// one ladder"): it used to raise OFF-BOOK red after grace_days next to
	// ARREARS yellow; it is now the warning rung of ARREARS (warning_days).
	"OFF-BOOK": "ARREARS",
}

// Registered returns the sorted codes that have a Go implementation, so that
// a district drafting a rule set can tell which stateful rules it may name.
func Registered() []string { return slices.Sorted(maps.Keys(registry)) }

// rule is a stateful rule of the set joined to its code.
type rule struct {
	rules.Rule
	reason string // Reason with params substituted
	impl
}

// low is the lower rung of a two-rung rule: yellow, unless the district
// made the whole rule milder than that.
func (r *rule) low() rules.Severity {
	if r.Severity == rules.SeverityInfo {
		return r.Severity
	}
	return rules.SeverityYellow
}

// finding is what a rule found, before it becomes a Hit.
type finding struct {
	sev     rules.Severity // "" = the rule's own
	subject string
	key     string
	detail  string // appended to the reason
	ev      map[string]string
}

// New builds the watcher of one node from the stateful rules and the lists
// of e; loc gives the day boundaries (China Standard Time, see calendar).
// It refuses, naming the code, a rule it has no Go code for or that lacks a
// param its code reads: a rule that silently never fires would look like a
// clean village.
func New(e *rules.Engine, loc *time.Location) (*Watcher, error) {
	if loc == nil {
		return nil, errors.New("watch: a time zone is required: days are counted in it")
	}
	w := &Watcher{loc: loc, raised: map[string]bool{}, st: newState(), sides: nationalSides()}
	if err := w.SetRules(e); err != nil {
		return nil, err
	}
	return w, nil
}

// SetRules switches to a newly published rule set with the same checks as
// New. History and raised keys are kept, so the new rules judge the same
// books and a finding already raised under the old version stays raised.
func (w *Watcher) SetRules(e *rules.Engine) error {
	if e == nil {
		return errors.New("watch: no rule engine")
	}
	var rs []*rule
	var errs []error
	for _, r := range e.Stateful() {
		if _, ok := retired[r.Code]; ok {
			continue
		}
		im, ok := registry[r.Code]
		if !ok {
			errs = append(errs, fmt.Errorf("rule %s: no Go implementation (registered: %s)", r.Code, strings.Join(Registered(), ", ")))
			continue
		}
		for _, p := range im.params {
			if _, ok := r.Params[p]; !ok {
				errs = append(errs, fmt.Errorf("rule %s: param %s is required", r.Code, p))
			}
		}
		for _, p := range im.positive {
			if v, ok := r.Params[p]; ok && v <= 0 {
				errs = append(errs, fmt.Errorf("rule %s: param %s = %d must be at least 1", r.Code, p, v))
			}
		}
		reason, err := rules.Reason(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", r.Code, err))
		}
		rs = append(rs, &rule{Rule: r, reason: reason, impl: im})
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("watch: rule set %q: %w", e.Version(), err)
	}
	w.rules, w.version, w.lists = rs, e.Version(), e.Set().Lists
	return nil
}

// Check runs the list rules (RELATIVE, OUTSIDER) on an entry about to be
// committed, so that a blocking hit can refuse it. It changes no state; its
// hits have no Subject or Key, the entry having no id yet.
func (w *Watcher) Check(m proto.Message) []rules.Hit {
	var out []rules.Hit
	for _, r := range w.rules {
		if r.check != nil {
			for _, f := range r.check(w, r, m) {
				out = append(out, w.hit(r, f))
			}
		}
	}
	return out
}

// Observe takes the next committed entry in chain order. It returns the hits
// about ev judged on the history before it, then adds ev to the history. An
// Alert marks its key raised: that is how a replay learns what was raised.
// An entry's own Alerts come after it in the chain, so a node replaying
// entries it already processed discards what Observe returns for them.
func (w *Watcher) Observe(ev Event) []rules.Hit {
	if w.Err() != nil {
		return nil // no history to judge by (see Err)
	}
	s := &w.st
	// The earliest day of any event, not the first one fed: a restart
	// feeds the chains one after another, a running node as they arrive,
	// and both must agree on when the books began.
	if d := dayOf(ev.RecordedAt, w.loc); !ev.RecordedAt.IsZero() && (s.first == noDay || d < s.first) {
		s.first = d
	}
	switch m := ev.Msg.(type) {
	case *sanziv1.Alert:
		if m.GetKey() != "" {
			w.raised[m.GetKey()] = true
		}
	case *sanziv1.Reversal:
		s.reverse(cmp.Or(m.GetTargetId(), ev.Subject))
	case *sanziv1.StepDecision:
		s.decide(cmp.Or(m.GetProcedureId(), ev.Subject), m, dayOf(ev.RecordedAt, w.loc))
	default:
		cur := s.record(ev, w.loc)
		if cur == nil {
			return nil
		}
		var fs []found
		for _, r := range w.rules {
			if r.observe != nil {
				for _, f := range r.observe(w, r, cur) {
					fs = append(fs, found{r, f})
				}
			}
		}
		s.add(cur)
		return w.emit(fs)
	}
	return nil
}

// Sweep runs the time-driven rules as of now and returns, sorted by key,
// the hits whose key was not raised before; it marks them raised.
func (w *Watcher) Sweep(now time.Time) []rules.Hit {
	if w.Err() != nil {
		return nil // no history to judge by (see Err)
	}
	today := dayOf(now, w.loc)
	var fs []found
	for _, r := range w.rules {
		if r.sweep != nil {
			for _, f := range r.sweep(w, r, today) {
				fs = append(fs, found{r, f})
			}
		}
	}
	slices.SortStableFunc(fs, func(a, b found) int { return strings.Compare(a.f.key, b.f.key) })
	return w.emit(fs)
}

// Raised reports whether a hit with key was returned or seen in an Alert.
func (w *Watcher) Raised(key string) bool { w.wait(); return w.raised[key] }

// found is a finding of one rule.
type found struct {
	r *rule
	f finding
}

// emit turns findings into hits, dropping and marking raised keys.
func (w *Watcher) emit(fs []found) []rules.Hit {
	var out []rules.Hit
	for _, x := range fs {
		if w.raised[x.f.key] {
			continue
		}
		w.raised[x.f.key] = true
		out = append(out, w.hit(x.r, x.f))
	}
	return out
}

// hit dresses a finding as the rule's hit, with the params in its evidence.
func (w *Watcher) hit(r *rule, f finding) rules.Hit {
	ev := make(map[string]string, len(f.ev)+len(r.Params))
	maps.Copy(ev, f.ev)
	for k, v := range r.Params {
		if _, clash := ev[k]; clash {
			k = "params." + k // never hide a figure of the finding
		}
		ev[k] = strconv.FormatInt(v, 10)
	}
	reason := r.reason
	if f.detail != "" {
		reason += "（" + f.detail + "）"
	}
	return rules.Hit{
		Code: r.Code, Severity: cmp.Or(f.sev, r.Severity), Action: r.Action, Reason: reason,
		RuleSetVersion: w.version, Evidence: ev, Subject: f.subject, Key: f.key,
	}
}

// rung is a step of the escalation ladder of one finding (DOMAIN.md,
// "Escalation ladder"): warning (预警), yellow card, red card.
type rung int

const (
	rungNone rung = iota
	rungWarning
	rungYellow
	rungRed
)

// rungNames are the key suffixes of the rungs, so that the keys of one
// finding share its base and differ only in the rung.
var rungNames = [...]string{rungWarning: "warning", rungYellow: "yellow", rungRed: "red"}

// climb makes the finding about base at rung at: one finding is one alert
// whose severity rises, so each rung is raised once, under base/<rung>, and
// never after a higher rung of the same base (a red alert is never followed
// by a milder one). A finding first seen high raises only that rung. The
// warning rung is info, the yellow rung yellow (unless the district made the
// rule milder), the red rung the rule's own severity.
func (w *Watcher) climb(r *rule, base string, at rung, f finding) []finding {
	if at == rungNone {
		return nil
	}
	for higher := at + 1; higher <= rungRed; higher++ {
		if w.raised[base+"/"+rungNames[higher]] {
			return nil
		}
	}
	switch at {
	case rungRed:
		f.sev = r.Severity
	case rungYellow:
		f.sev = r.low()
	default:
		f.sev = rules.SeverityInfo
	}
	f.key = base + "/" + rungNames[at]
	return []finding{f}
}

// top is the highest rung whose condition holds.
func top(warning, yellow, red bool) rung {
	switch {
	case red:
		return rungRed
	case yellow:
		return rungYellow
	case warning:
		return rungWarning
	}
	return rungNone
}

// ladder makes the finding of a two-rung rule about base: the top rung when
// red holds, else the yellow rung (see climb).
func (w *Watcher) ladder(r *rule, base string, yellow, red bool, f finding) []finding {
	return w.climb(r, base, top(false, yellow, red), f)
}
