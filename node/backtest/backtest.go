// Package backtest runs a draft rule set over history a node already holds,
// and reports per rule what it would have raised (DOMAIN.md, "Lessons":
// rule authors backtest a rule against history before it goes live).
//
// Each chain is replayed on its own, in chain order, through the same
// checks a node runs as it records (the CEL rules of package rules, the
// list and stateful rules of package watch): a village's history is judged
// as the village's node would have judged it, whether the chain is read at
// the village, at its town or from the district's replicated state. The
// alerts already in a chain are not fed to the stateful rules, so the draft
// raises afresh what it would have raised. Nothing is written.
//
// Run reads chains a page at a time (one short read transaction each), so
// a backtest over a district's millions of entries never holds the state
// file's read lock for long (a long bbolt read transaction stalls the
// writer that needs to grow the file: Raft's applies), and it stops at
// Limits, saying which bound stopped it, rather than running unbounded on a
// request.
package backtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Result is what one rule would have raised.
type Result struct {
	Code     string
	Name     string
	Severity rules.Severity
	Action   rules.Action
	// Hits counts the entries (or, for a time-driven rule, the findings)
	// it fires on; Reversed those of them that were later reversed anyway.
	Hits, Reversed int
	// Chains counts the chains (orgs) it fired in.
	Chains int
	// Examples are the ids of the first few entries it fires on.
	Examples []string
}

// maxExamples is how many entry ids a Result names: enough to open a few
// and judge the rule, few enough for any answer.
const maxExamples = 5

// Chain replays one origin's chain: feed it every entry in chain order
// (Observe), then Finish. It is what `sanzi rules backtest` and Run share.
type Chain struct {
	e         *rules.Engine
	w         *watch.Watcher
	loc       *time.Location
	fired     []fired
	appraised map[string]int64
	reversed  map[string]bool
	lastDay   string
	last      time.Time
	checked   int
}

// fired is one hit about an entry (or a finding's subject).
type fired struct {
	id  string
	hit rules.Hit
}

// NewChain starts the replay of one chain under e; days are counted in loc
// (the district calendar's zone) for the time-driven rules.
func NewChain(e *rules.Engine, loc *time.Location) (*Chain, error) {
	w, err := watch.New(e, loc)
	if err != nil {
		return nil, err
	}
	return &Chain{e: e, w: w, loc: loc, appraised: map[string]int64{}, reversed: map[string]bool{}}, nil
}

// sweep runs the time-driven rules as of now.
func (c *Chain) sweep(now time.Time) {
	for _, h := range c.w.Sweep(now) {
		c.fired = append(c.fired, fired{cmp.Or(h.Subject, "-"), h})
	}
}

// Observe takes the chain's next entry. Entries of types the rules do not
// look at are skipped; an entry that does not decode is an error (the
// chain was verified when it was stored, so it means a broken file).
func (c *Chain) Observe(s *ledger.Stored) error {
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return fmt.Errorf("backtest: decode %s: %w", s.ID(), err)
	}
	if m == nil {
		return nil
	}
	// The time-driven rules are swept at the end of every day that has
	// entries, as a running node would have swept them by then.
	if d := s.RecordedAt.In(c.loc).Format(time.DateOnly); c.lastDay != "" && d != c.lastDay {
		y, mo, dd := c.last.In(c.loc).Date()
		c.sweep(time.Date(y, mo, dd, 23, 59, 59, 0, c.loc))
	}
	c.lastDay, c.last = s.RecordedAt.In(c.loc).Format(time.DateOnly), s.RecordedAt
	if _, isAlert := m.(*sanziv1.Alert); !isAlert {
		for _, h := range c.w.Observe(watch.Event{ID: s.ID(), RecordedAt: s.RecordedAt, Subject: s.Subject, Msg: m}) {
			c.fired = append(c.fired, fired{s.ID(), h})
		}
	}
	var hits []rules.Hit
	switch m := m.(type) {
	case *sanziv1.Transaction:
		// A recorded expense that names a resolution passed the node's
		// check of it when it was recorded (books refuse one that does
		// not stand), so the backtest takes it as approved.
		hits, err = c.e.CheckTransaction(m, rules.TxFacts{ResolutionApproved: m.GetResolutionProcedureId() != ""})
	case *sanziv1.Contract:
		hits, err = c.e.CheckContract(m)
	case *sanziv1.ContractPayment:
		hits, err = c.e.CheckContractPayment(m)
	case *sanziv1.AssetRegistration:
		hits, err = c.e.CheckAssetRegistration(m)
	case *sanziv1.AssetAppraisal:
		c.appraised[m.GetAssetId()] = m.GetAppraisedValueFen()
		hits, err = c.e.CheckAssetAppraisal(m)
	case *sanziv1.AssetDisposal:
		hits, err = c.e.CheckAssetDisposal(m, c.appraised[m.GetAssetId()])
	case *sanziv1.Reversal:
		c.reversed[m.GetTargetId()] = true
		return nil
	default:
		return nil
	}
	c.checked++
	if err != nil {
		return fmt.Errorf("backtest %s: %w", s.ID(), err)
	}
	// The list rules (RELATIVE, OUTSIDER) run before an entry is
	// committed, beside the CEL ones.
	hits = append(hits, c.w.Check(m)...)
	for _, h := range hits {
		c.fired = append(c.fired, fired{s.ID(), h})
	}
	return nil
}

// Checked is how many entries the rules checked so far.
func (c *Chain) Checked() int { return c.checked }

// finish sweeps at the chain's last entry and returns its hits.
func (c *Chain) finish() []fired {
	if !c.last.IsZero() {
		c.sweep(c.last)
	}
	return c.fired
}

// Tally sums what the chains of one backtest raised, rule by rule.
type Tally struct {
	set     rules.RuleSet
	byCode  map[string]*Result
	checked int
	chains  int
}

// NewTally starts the sums of a backtest of e: every rule of the set is
// listed, those that raise nothing with zero hits.
func NewTally(e *rules.Engine) *Tally {
	t := &Tally{set: e.Set(), byCode: map[string]*Result{}}
	for _, r := range t.set.Rules {
		t.byCode[r.Code] = &Result{Code: r.Code, Name: r.Name, Severity: r.Severity, Action: r.Action}
	}
	return t
}

// Add counts what c raised (c is finished: feed it nothing after).
func (t *Tally) Add(c *Chain) {
	t.chains++
	t.checked += c.checked
	seen := map[string]bool{}
	for _, f := range c.finish() {
		r := t.byCode[f.hit.Code]
		if r == nil { // a code outside the set: a stateful rule's alias
			r = &Result{Code: f.hit.Code, Severity: f.hit.Severity, Action: f.hit.Action}
			t.byCode[f.hit.Code] = r
		}
		r.Hits++
		if c.reversed[f.id] {
			r.Reversed++
		}
		if len(r.Examples) < maxExamples {
			r.Examples = append(r.Examples, f.id)
		}
		if !seen[f.hit.Code] {
			seen[f.hit.Code] = true
			r.Chains++
		}
	}
}

// Results are the sums by rule code.
func (t *Tally) Results() []Result {
	out := make([]Result, 0, len(t.byCode))
	for _, r := range t.byCode {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// Checked is how many entries the rules checked in the chains added.
func (t *Tally) Checked() int { return t.checked }

// Source is where Run reads chains: a node's ledger (ledger.Ledger) or the
// district's replicated state (federation/fsm.FSM) both serve it.
type Source interface {
	// Range calls fn for origin's entries from seq from on, in order, until
	// fn returns false or limit entries were read; each call is one read
	// transaction, and fn must not call back into the source.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
}

// Limits bound one Run. Zero fields take the defaults.
type Limits struct {
	// MaxEntries stops the run once this many entries were read (default
	// 200,000, about a minute of CPU at worst on the machines we measured;
	// the answer says where it stopped).
	MaxEntries int
	// MaxDuration stops the run once this much time passed (default 30 s,
	// under the gateway's and the console's patience).
	MaxDuration time.Duration
	// PageSize is how many entries one read transaction takes (default 512).
	PageSize int
	// Now is the clock the duration is measured by (default time.Now).
	Now func() time.Time
}

// Defaults and ceilings of Limits.
const (
	DefaultMaxEntries  = 200_000
	CeilingMaxEntries  = 2_000_000
	DefaultMaxDuration = 30 * time.Second
	defaultPageSize    = 512
)

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	l.MaxEntries = min(l.MaxEntries, CeilingMaxEntries)
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	if l.PageSize <= 0 {
		l.PageSize = defaultPageSize
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

// Stop says which bound ended a run early.
type Stop string

// The bounds.
const (
	StopNone     Stop = ""
	StopEntries  Stop = "entries"
	StopDuration Stop = "duration"
)

// Report is a backtest's answer.
type Report struct {
	Version string
	Results []Result
	// Checked counts the entries the rules checked (transactions,
	// contracts, payments, assets); Read every entry read.
	Checked, Read int
	// Chains counts the chains read (the last one perhaps in part), of
	// Total chains asked for.
	Chains, Total int
	// Stopped names the bound that ended the run before every chain was
	// read whole; the results then cover what was read.
	Stopped Stop
	// Limits are the bounds the run had (defaults filled in).
	Limits Limits
}

// Run backtests e over the chains of origins in src, each replayed on its
// own in chain order, in the order given, within lim. A cancelled ctx ends
// it with ctx's error; a bound ends it with what was read so far and
// Report.Stopped set.
func Run(ctx context.Context, src Source, origins []string, e *rules.Engine, loc *time.Location, lim Limits) (*Report, error) {
	if e == nil {
		return nil, errors.New("backtest: no rule set")
	}
	lim = lim.withDefaults()
	start := lim.Now()
	rep := &Report{Version: e.Version(), Total: len(origins), Limits: lim}
	tally := NewTally(e)
	defer func() { rep.Results, rep.Checked = tally.Results(), tally.Checked() }()
	for _, origin := range slices.Clone(origins) {
		c, err := NewChain(e, loc)
		if err != nil {
			return nil, err
		}
		rep.Chains++
		next := uint64(1)
		for {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if lim.Now().Sub(start) >= lim.MaxDuration {
				rep.Stopped = StopDuration
			} else if rep.Read >= lim.MaxEntries {
				rep.Stopped = StopEntries
			}
			if rep.Stopped != StopNone {
				tally.Add(c)
				return rep, nil
			}
			want, n := min(lim.PageSize, lim.MaxEntries-rep.Read), 0
			var obsErr error
			err := src.Range(origin, next, want, func(s *ledger.Stored) bool {
				n++
				next = s.Seq + 1
				obsErr = c.Observe(s)
				return obsErr == nil
			})
			if err == nil {
				err = obsErr
			}
			if err != nil {
				return nil, fmt.Errorf("backtest the chain of %s: %w", origin, err)
			}
			rep.Read += n
			if n < want {
				break // the chain's end
			}
		}
		tally.Add(c)
	}
	return rep, nil
}

// Gate lets one backtest run at a time on a node: each holds a core for up
// to Limits.MaxDuration, and the machines we run on have two. Its zero
// value is ready.
type Gate struct{ busy atomic.Bool }

// ErrBusy: another backtest is running here; the caller may try again
// once it ends.
var ErrBusy = errors.New("backtest: another backtest is running on this node; try again when it ends")

// Enter takes the gate, or answers ErrBusy; call the release it returns
// when the backtest ends.
func (g *Gate) Enter() (release func(), err error) {
	if !g.busy.CompareAndSwap(false, true) {
		return nil, ErrBusy
	}
	return func() { g.busy.Store(false) }, nil
}
