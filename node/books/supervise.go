package books

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// SupervisionConfig turns on the supervision that needs history: the
// catalog's procedures and their timers, the stateful rules, and rule-set
// versions recorded as entries.
type SupervisionConfig struct {
	Catalog  *sanziv1.Catalog
	Calendar *calendar.Calendar
	// Person names who holds post at org, for the cards; nil names nobody.
	Person func(org, post string) string
	// Notify is told of every alert and card recorded (by a rule at
	// recording, by a stateful rule or by a timer), to tell people; nil
	// tells nobody. It must not block.
	Notify func(stored []*ledger.Stored)
}

// supervision is the state derived from the chain in order: procedures
// (workflow), the stateful rules' history (watch) and rule-set versions. One
// mutex serialises it; recorders only hold it to feed it what they
// committed, so appends still group-commit.
type supervision struct {
	cfg    SupervisionConfig
	mu     sync.Mutex
	flows  *workflow.Flows
	watch  *watch.Watcher
	cross  *watch.Watcher         // a town's, over its villages' chains; nil elsewhere
	town   *townState             // a town's view of its villages; nil elsewhere
	parent *parentState           // a village's inbox of its town's decisions; nil elsewhere
	seen   map[string]uint64      // origin → last seq observed
	hits   map[string][]rules.Hit // entry id → stateful hits about it, until its recorder takes them
	sets   ruleSets
	// replaying collects hits found while rebuilding state at start; those
	// whose alert entry follows in the chain are dropped from it.
	replaying map[string]rules.Hit
}

// EnableSupervision rebuilds the supervision state by replaying the whole
// chain, records the alerts a crash kept from being recorded, and from then
// on follows every append. Rules must be set first: they are the built-in
// set until the chain publishes another.
func (b *Books) EnableSupervision(ctx context.Context, cfg SupervisionConfig) error {
	e := b.Rules()
	if e == nil {
		return errors.New("enable supervision: set rules first")
	}
	if cfg.Person == nil {
		cfg.Person = func(string, string) string { return "" }
	}
	w, err := watch.New(e, cfg.Calendar.Location())
	if err != nil {
		return fmt.Errorf("enable supervision: %w", err)
	}
	s := &supervision{cfg: cfg, flows: workflow.New(cfg.Catalog, cfg.Calendar), watch: w,
		seen: map[string]uint64{}, hits: map[string][]rules.Hit{}, replaying: map[string]rules.Hit{}}
	s.sets.init(e)
	if home := b.homeOrg(); len(home) == 12 && home[9:] == "000" && home[6:] != "000000" {
		if s.cross, err = crossWatcher(e, cfg.Calendar.Location()); err != nil {
			return fmt.Errorf("enable supervision: cross-village rules: %w", err)
		}
		s.town = newTownState(cfg.Catalog, cfg.Calendar)
	} else if len(home) == 12 && home[9:] != "000" {
		s.parent = &parentState{town: home[:9] + "000", applied: map[string]bool{}}
	}
	b.sup = s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return fmt.Errorf("enable supervision: replay: %w", err)
	}
	var missed []rules.Hit
	for _, k := range slices.Sorted(maps.Keys(s.replaying)) {
		missed = append(missed, s.replaying[k])
	}
	s.replaying, s.hits = nil, map[string][]rules.Hit{}
	if len(missed) > 0 {
		if _, err := b.appendFindings(ctx, nil, missed); err != nil {
			return fmt.Errorf("enable supervision: record %d alerts found on replay: %w", len(missed), err)
		}
	}
	if _, err := b.catchUp(ctx); err != nil { // the town's decisions a crash kept from being applied
		return fmt.Errorf("enable supervision: %w", err)
	}
	return nil
}

// catchUp feeds every entry appended since the last call to the
// supervision state, in chain order, and records the alerts the stateful
// rules raise about them. The caller holds s.mu.
func (b *Books) catchUp(ctx context.Context) ([]*ledger.Stored, error) {
	s := b.sup
	var recorded []*ledger.Stored
	for {
		var found []rules.Hit
		n := 0
		for _, origin := range b.l.Origins() {
			observe := b.observe
			if !b.serves(origin) {
				switch {
				case s.cross != nil && strings.HasPrefix(origin, b.homeOrg()[:9]):
					// A town holds its villages' chains verbatim; their
					// own nodes supervise them, and the town looks across
					// them.
					observe = b.observeCross
				case s.parent != nil && origin == s.parent.town:
					// A village holds its town's chain: the town's
					// decisions about it.
					observe = func(st *ledger.Stored) ([]rules.Hit, error) { return nil, b.observeParent(st) }
				default:
					continue
				}
			}
			var ferr error
			err := b.l.Range(origin, s.seen[origin]+1, 0, func(st *ledger.Stored) bool {
				n++
				s.seen[origin] = st.Seq
				hits, err := observe(st)
				if err != nil {
					ferr = err
					return false
				}
				found = append(found, hits...)
				return true
			})
			if err = errors.Join(err, ferr); err != nil {
				return recorded, fmt.Errorf("follow chain %s: %w", origin, err)
			}
		}
		if n == 0 {
			if s.parent == nil || len(s.parent.inbound) == 0 || s.replaying != nil {
				return recorded, nil
			}
			applied, err := b.applyInbound(ctx)
			if err != nil {
				return recorded, err
			}
			if applied == 0 {
				return recorded, nil
			}
			continue // observe what was applied
		}
		if len(found) == 0 || s.replaying != nil {
			continue
		}
		out, err := b.appendFindings(ctx, nil, found)
		recorded = append(recorded, out...)
		if err != nil {
			return recorded, err
		}
	}
}

// crossRules are the stateful rules a town runs over all its villages'
// chains at once: a payee split across villages, an invoice claimed in two.
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

// observeCross feeds a village entry held by a town to the cross-village
// watcher, and keeps only hits that span villages (each village raises its
// own). Alerts in the villages' chains mark their keys as raised.
func (b *Books) observeCross(st *ledger.Stored) ([]rules.Hit, error) {
	s := b.sup
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil || m == nil {
		return nil, err
	}
	if err := b.observeVillage(st, m); err != nil {
		return nil, err
	}
	related := b.crossRelative(st, m)
	for _, h := range related {
		if s.replaying != nil {
			s.replaying[h.Key] = h
		}
	}
	out := related
	for _, h := range s.cross.Observe(watch.Event{ID: st.ID(), RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: m}) {
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
		if s.replaying != nil {
			s.replaying[h.Key] = h
		}
		out = append(out, h)
	}
	return out, nil
}

// observe feeds one committed entry to the state and returns the stateful
// hits it raises.
func (b *Books) observe(st *ledger.Stored) ([]rules.Hit, error) {
	s := b.sup
	m, err := entries.Decode(st.Type, st.Payload)
	if err != nil || m == nil {
		return nil, err
	}
	id := st.ID()
	switch m := m.(type) {
	case *sanziv1.Alert:
		if s.replaying != nil {
			delete(s.replaying, m.GetKey())
		}
		if s.cross != nil { // a town's cross-village alert: never raised twice
			s.cross.Observe(watch.Event{ID: id, RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: m})
			s.town.raised[m.GetKey()] = true
		}
	case *sanziv1.Procedure:
		if m.GetSubjectId() == "" {
			m.SubjectId = st.Subject
		}
	case *sanziv1.RuleSetVersion:
		if err := b.observeRuleSet(id, st.Author, m); err != nil {
			return nil, fmt.Errorf("rule set entry %s: %w", id, err)
		}
	case *sanziv1.Catalog:
		// Only the district publishes catalogs, in its own chain; one
		// that does not validate is passed over (the district's CLI
		// refuses to publish it) rather than wedge supervision.
		if !strings.HasSuffix(st.Origin, "000000") {
			return nil, nil
		}
		if err := catalog.Validate(m); err != nil {
			slog.Warn("a catalog version in the district's chain does not validate; it is not used", "entry", id, "err", err)
			return nil, nil
		}
		if s.town != nil {
			s.town.flows.Observe(id, st.RecordedAt, m)
		}
	case *sanziv1.TownDecision:
		if s.town != nil {
			s.town.observeOwn(id, m)
		}
	case *sanziv1.StepDecision:
		if s.parent != nil && m.GetParentDecisionId() != "" {
			s.parent.applied[m.GetParentDecisionId()] = true
		}
	case *sanziv1.AlertTransition:
		if s.parent != nil && m.GetParentDecisionId() != "" {
			s.parent.applied[m.GetParentDecisionId()] = true
		}
	case *sanziv1.TownDecisionRefused:
		if s.parent != nil {
			s.parent.applied[m.GetDecisionId()] = true
		}
	}
	if err := s.flows.Observe(id, st.RecordedAt, m); err != nil {
		return nil, err
	}
	hits := s.watch.Observe(watch.Event{ID: id, RecordedAt: st.RecordedAt, Subject: st.Subject, Msg: m})
	for i := range hits {
		if hits[i].Subject == "" {
			hits[i].Subject = id
		}
		if s.replaying != nil {
			s.replaying[hits[i].Key] = hits[i]
		}
	}
	if len(hits) > 0 && s.replaying == nil && len(s.hits) < 10_000 {
		s.hits[id] = append(s.hits[id], hits...)
	}
	return hits, nil
}

// appendFindings records cards and alerts (each about its subject) in one
// append and tells Notify. The caller holds s.mu.
func (b *Books) appendFindings(ctx context.Context, cards []*sanziv1.Card, hits []rules.Hit) ([]*ledger.Stored, error) {
	var recs []ledger.Record
	for _, c := range cards {
		p, err := proto.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode card: %w", err)
		}
		recs = append(recs, ledger.Record{Origin: c.GetOrg(), Author: timerAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_CARD, Payload: p, Subject: c.GetProcedureId()})
	}
	for _, h := range hits {
		origin := b.homeOrg() // a finding about the books as a whole (BANK-REC, CASH-STOCK)
		if h.Subject != "" {
			o, _, err := ledger.ParseEntryID(h.Subject)
			if err != nil {
				return nil, fmt.Errorf("alert %s is about %q: %w", h.Key, h.Subject, err)
			}
			if b.serves(o) && o[6:] != "000000" {
				origin = o
			} // else: about a chain this node only holds (a town's villages): its own chain records it
		}
		p, err := proto.Marshal(alertOf(origin, h))
		if err != nil {
			return nil, fmt.Errorf("encode alert %s: %w", h.Code, err)
		}
		recs = append(recs, ledger.Record{Origin: origin, Author: alertAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_ALERT, Payload: p, Subject: h.Subject})
	}
	if len(recs) == 0 {
		return nil, nil
	}
	out, err := b.l.Append(ctx, recs...)
	if err != nil {
		return nil, fmt.Errorf("record %d cards and alerts: %w", len(recs), err)
	}
	b.published(out)
	return out, nil
}

// timerAuthor is who records cards: the step timers, not a person.
const timerAuthor = "timer"

func alertOf(origin string, h rules.Hit) *sanziv1.Alert {
	return &sanziv1.Alert{Org: origin, RuleCode: h.Code, Severity: string(h.Severity), Reason: h.Reason,
		RuleSetVersion: h.RuleSetVersion, Evidence: h.Evidence, Key: h.Key}
}

// published hands new entries to the live alert feed and to Notify.
func (b *Books) published(out []*ledger.Stored) {
	b.feed.publish(out)
	if b.sup != nil && b.sup.cfg.Notify != nil {
		b.sup.cfg.Notify(out)
	}
}

// follow is called after every append by a recorder: it brings the
// supervision up to date and returns the stateful hits about id.
func (b *Books) follow(ctx context.Context, id string) ([]rules.Hit, error) {
	s := b.sup
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return nil, err
	}
	hits := s.hits[id]
	delete(s.hits, id)
	return hits, nil
}

// Follow brings the supervision up to date with entries appended outside
// the books (the district's chain a node pulls), so that a rule set
// published there applies from the next entry on.
func (b *Books) Follow(ctx context.Context) error {
	_, err := b.follow(ctx, "")
	return err
}

// checkLists runs the stateful rules that decide before recording (lists:
// RELATIVE, OUTSIDER).
func (b *Books) checkLists(m proto.Message) []rules.Hit {
	s := b.sup
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.watch.Check(m)
}

// Sweep gives the cards the step timers owe and raises the alerts the
// time-driven rules find at now (ARREARS, EXPIRING, CASH-STOCK, …). The node
// calls it every minute with the wall clock; tests with theirs.
func (b *Books) Sweep(ctx context.Context, now time.Time) ([]*ledger.Stored, error) {
	s := b.sup
	if s == nil {
		return nil, errors.New("sweep: supervision is off")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	cards := s.flows.Due(now, s.cfg.Person)
	hits := s.watch.Sweep(now)
	out, err := b.appendFindings(ctx, cards, hits)
	if err != nil {
		return nil, fmt.Errorf("sweep at %s: %w", now.Format(time.RFC3339), err)
	}
	if _, err := b.catchUp(ctx); err != nil {
		return out, fmt.Errorf("sweep: %w", err)
	}
	return out, nil
}

// procedureFor is the Procedure record that recording m opens, appended
// after m and about it; nil when supervision is off or m opens none.
func (b *Books) procedureFor(author, org string, m proto.Message, amount int64, summary string) (*ledger.Record, error) {
	s := b.sup
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	p := s.flows.NewProcedure(org, m, amount, summary)
	s.mu.Unlock()
	if p == nil {
		return nil, nil
	}
	payload, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode procedure: %w", err)
	}
	return &ledger.Record{Origin: org, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, Payload: payload, About: 1}, nil
}

// ErrSupervisionOff: the node runs without catalog and timers.
var ErrSupervisionOff = errors.New("books: supervision (catalog, workflow, rule versions) is off on this node")

// refused maps a workflow refusal to the books' errors: CHAIN is a rule
// that blocks; others name the field.
func refused(err error) error {
	var r *workflow.RefusedError
	if !errors.As(err, &r) {
		if errors.Is(err, workflow.ErrNotFound) {
			return fmt.Errorf("%w: %v", ErrNotFound, err)
		}
		return err
	}
	if r.Rule != "" {
		return &BlockedError{Hits: []rules.Hit{{Code: r.Rule, Severity: rules.SeverityRed, Action: rules.ActionBlock, Reason: r.Reason}}}
	}
	return &InvalidError{Violations: []Violation{{Field: r.Field, Reason: r.Reason}}}
}

func (b *Books) now() time.Time {
	if b.val != nil && b.val.Now != nil {
		return b.val.Now()
	}
	return time.Now()
}

// OpenProcedure opens a procedure not opened by recording an entry: a
// complaint, a monthly disclosure, a bank reconciliation.
func (b *Books) OpenProcedure(ctx context.Context, author string, p *sanziv1.Procedure) (*workflow.Proc, error) {
	s := b.sup
	if s == nil {
		return nil, ErrSupervisionOff
	}
	if err := b.val.Procedure(author, p); err != nil {
		return nil, err
	}
	p = proto.CloneOf(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flows.CheckOpen(p); err != nil {
		return nil, refused(err)
	}
	st, err := b.appendOne(ctx, p.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, p, p.GetSubjectId())
	if err != nil {
		return nil, err
	}
	if _, err := b.catchUp(ctx); err != nil {
		return nil, err
	}
	return s.flows.Get(st.ID())
}

// DecideStep records a decision on a procedure's open step. A decision on
// any other step, by another post or on a closed procedure is blocked by
// rule CHAIN. The procedure is held locked from check to record, so two
// people approving at once cannot both pass.
func (b *Books) DecideStep(ctx context.Context, author string, d *sanziv1.StepDecision) (*ledger.Stored, *workflow.Proc, error) {
	s := b.sup
	if s == nil {
		return nil, nil, ErrSupervisionOff
	}
	if b.villageOf(d.GetOrg()) {
		return b.decideForVillage(ctx, author, d)
	}
	if err := b.val.StepDecision(author, d); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := b.catchUp(ctx); err != nil {
		return nil, nil, err
	}
	dd, err := s.flows.Check(d, b.now())
	if err != nil {
		return nil, nil, refused(err)
	}
	st, err := b.appendOne(ctx, dd.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION, dd, dd.GetProcedureId())
	if err != nil {
		return nil, nil, err
	}
	if _, err := b.catchUp(ctx); err != nil {
		return st, nil, err
	}
	p, err := s.flows.Get(dd.GetProcedureId())
	return st, p, err
}

// Procedure returns one procedure as it stands.
func (b *Books) Procedure(id string) (*workflow.Proc, error) {
	s := b.sup
	if s == nil {
		return nil, ErrSupervisionOff
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.flows.Get(id)
	if err != nil && s.town != nil {
		p, err = s.town.flows.Get(id) // a village's, as the town holds it
	}
	if err != nil {
		return nil, refused(err)
	}
	return p, nil
}

// ProcedureRecord renders p with its entry for the API.
func (b *Books) ProcedureRecord(p *workflow.Proc) (*sanziv1.ProcedureRecord, error) {
	b.sup.mu.Lock()
	r := p.Record()
	b.sup.mu.Unlock()
	o, seq, err := ledger.ParseEntryID(p.ID)
	if err != nil {
		return nil, err
	}
	st, err := b.l.Get(o, seq)
	if err != nil {
		return nil, err
	}
	r.Entry = st.Meta()
	return r, nil
}

// Procedures lists procedures matching f, oldest first, one page.
func (b *Books) Procedures(f workflow.Filter, p Page) ([]*sanziv1.ProcedureRecord, string, int64, error) {
	s := b.sup
	if s == nil {
		return nil, "", 0, ErrSupervisionOff
	}
	size, after, err := p.bounds()
	if err != nil {
		return nil, "", 0, err
	}
	s.mu.Lock()
	all := s.flows.List(f)
	if s.town != nil { // and its villages', for the town's reviewers
		all = append(all, s.town.flows.List(f)...)
		slices.SortStableFunc(all, func(a, b *workflow.Proc) int { return bytes.Compare(mustKey(a.ID), mustKey(b.ID)) })
	}
	s.mu.Unlock()
	var out []*sanziv1.ProcedureRecord
	next := ""
	for _, pr := range all {
		k, err := keyOf(pr.ID)
		if err != nil {
			return nil, "", 0, err
		}
		if after != nil && string(k) <= string(after) {
			continue
		}
		if len(out) == size {
			next = hex.EncodeToString(mustKey(out[len(out)-1].GetEntry().GetId()))
			break
		}
		r, err := b.ProcedureRecord(pr)
		if err != nil {
			return nil, "", 0, err
		}
		out = append(out, r)
	}
	return out, next, int64(len(all)), nil
}

func mustKey(id string) []byte {
	k, _ := keyOf(id)
	return k
}

// CardFilter selects cards; empty fields match all.
type CardFilter struct {
	Org, Post, ProcedureID string
	Level                  sanziv1.CardLevel
}

// ListCards lists the cards given, oldest first.
func (b *Books) ListCards(f CardFilter, p Page) ([]*sanziv1.CardRecord, string, int64, error) {
	var out []*sanziv1.CardRecord
	var card *sanziv1.Card
	next, total, err := b.list(sanziv1.EntryType_ENTRY_TYPE_CARD, p, func(_ *bolt.Tx, s *ledger.Stored) (bool, error) {
		if !orgMatches(f.Org, s.Origin) {
			return false, nil
		}
		card = &sanziv1.Card{}
		if err := proto.Unmarshal(s.Payload, card); err != nil {
			return false, err
		}
		return (f.Post == "" || card.GetPost() == f.Post) && (f.ProcedureID == "" || card.GetProcedureId() == f.ProcedureID) &&
			(f.Level == 0 || card.GetLevel() == f.Level), nil
	}, func(_ *bolt.Tx, s *ledger.Stored) error {
		out = append(out, &sanziv1.CardRecord{Entry: s.Meta(), Card: card})
		return nil
	})
	return out, next, total, err
}

// ruleSets is what the chain says of rule-set versions; the built-in set is
// live until a version is published.
type ruleSets struct {
	order []string
	byVer map[string]*ruleSetInfo
	live  string
}

type ruleSetInfo struct {
	sum  *sanziv1.RuleSetSummary
	json string
}

func (r *ruleSets) init(e *rules.Engine) {
	r.byVer = map[string]*ruleSetInfo{}
	raw, _ := json.Marshal(e.Set())
	r.add(&ruleSetInfo{sum: &sanziv1.RuleSetSummary{Version: e.Version(), Status: "live", DraftedBy: "(built in)",
		RuleCount: int32(len(e.Set().Rules)), Sha256: sha(raw)}, json: string(raw)})
	r.live = e.Version()
}

func (r *ruleSets) add(i *ruleSetInfo) {
	r.order = append(r.order, i.sum.GetVersion())
	r.byVer[i.sum.GetVersion()] = i
}

func sha(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// ParseRuleSet reads a rule set from JSON, refusing unknown fields so a
// misspelt "parms" is not silently dropped, and compiles it with its
// stateful rules, so a draft that could not run is never recorded.
func ParseRuleSet(raw []byte) (*rules.Engine, error) {
	var rs rules.RuleSet
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return nil, &InvalidError{Violations: []Violation{{Field: "rulesJson", Reason: "not a rule set: " + err.Error()}}}
	}
	e, err := rules.Compile(rs)
	if err == nil {
		_, err = watch.New(e, time.UTC)
	}
	if err != nil {
		return nil, &InvalidError{Violations: []Violation{{Field: "rulesJson", Reason: err.Error()}}}
	}
	return e, nil
}

func (b *Books) observeRuleSet(id, author string, v *sanziv1.RuleSetVersion) error {
	r := &b.sup.sets
	switch v.GetState() {
	case sanziv1.RuleSetState_RULE_SET_STATE_DRAFT:
		e, err := ParseRuleSet([]byte(v.GetRulesJson()))
		n := 0
		if err == nil {
			n = len(e.Set().Rules)
		}
		r.add(&ruleSetInfo{sum: &sanziv1.RuleSetSummary{Version: v.GetVersion(), Status: "draft", DraftedBy: v.GetDraftedBy(),
			DraftId: id, RuleCount: int32(n), Sha256: v.GetSha256()}, json: v.GetRulesJson()})
	case sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED:
		i, ok := r.byVer[v.GetVersion()]
		if !ok || i.sum.GetSha256() != v.GetSha256() {
			return fmt.Errorf("publishes %s (sha256 %s), which no draft holds", v.GetVersion(), v.GetSha256())
		}
		e, err := ParseRuleSet([]byte(i.json))
		if err != nil {
			return err
		}
		if err := b.sup.watch.SetRules(e); err != nil {
			return err
		}
		if b.sup.cross != nil {
			ce, err := crossEngine(e)
			if err == nil {
				err = b.sup.cross.SetRules(ce)
			}
			if err != nil {
				return err
			}
		}
		b.SetRules(e)
		if old, ok := r.byVer[r.live]; ok {
			old.sum.Status = "superseded"
		}
		i.sum.Status, i.sum.PublishedBy, i.sum.PublishedId = "live", author, id
		r.live = v.GetVersion()
	}
	return nil
}

// RuleSets lists the versions the node knows and names the live one.
func (b *Books) RuleSets() ([]*sanziv1.RuleSetSummary, string, error) {
	s := b.sup
	if s == nil {
		return nil, "", ErrSupervisionOff
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sanziv1.RuleSetSummary
	for _, v := range s.sets.order {
		out = append(out, proto.CloneOf(s.sets.byVer[v].sum))
	}
	return out, s.sets.live, nil
}

// RuleSet returns one version (empty: the live one) and its JSON.
func (b *Books) RuleSet(version string) (*sanziv1.RuleSetSummary, string, error) {
	s := b.sup
	if s == nil {
		return nil, "", ErrSupervisionOff
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if version == "" {
		version = s.sets.live
	}
	i, ok := s.sets.byVer[version]
	if !ok {
		return nil, "", fmt.Errorf("%w: rule set %q", ErrNotFound, version)
	}
	return proto.CloneOf(i.sum), i.json, nil
}

// SubmitRuleSet records a draft rule set after compiling it.
func (b *Books) SubmitRuleSet(ctx context.Context, author, rulesJSON string) (*ledger.Stored, *sanziv1.RuleSetSummary, error) {
	s := b.sup
	if s == nil {
		return nil, nil, ErrSupervisionOff
	}
	if err := b.val.Author(author); err != nil {
		return nil, nil, err
	}
	e, err := ParseRuleSet([]byte(rulesJSON))
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sets.byVer[e.Version()]; dup {
		return nil, nil, conflict("rulesJson.version", "version %s already exists: give the draft a new version", e.Version())
	}
	v := &sanziv1.RuleSetVersion{Org: b.homeOrg(), Version: e.Version(), State: sanziv1.RuleSetState_RULE_SET_STATE_DRAFT,
		RulesJson: rulesJSON, DraftedBy: author, Sha256: sha([]byte(rulesJSON))}
	st, err := b.appendRuleSet(ctx, author, v)
	if err != nil {
		return nil, nil, err
	}
	return st, proto.CloneOf(s.sets.byVer[v.Version].sum), nil
}

// PublishRuleSet makes a draft live from the next entry on. The publisher
// must be someone other than the drafter (four eyes).
func (b *Books) PublishRuleSet(ctx context.Context, author, version string) (*ledger.Stored, *sanziv1.RuleSetSummary, error) {
	s := b.sup
	if s == nil {
		return nil, nil, ErrSupervisionOff
	}
	if err := b.val.Author(author); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.sets.byVer[version]
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("%w: rule set %q", ErrNotFound, version)
	case i.sum.GetStatus() != "draft":
		return nil, nil, conflict("version", "rule set %s is %s, not a draft", version, i.sum.GetStatus())
	case i.sum.GetDraftedBy() == author:
		return nil, nil, conflict("author", "%s drafted rule set %s; publishing needs a second person (four eyes)", author, version)
	}
	v := &sanziv1.RuleSetVersion{Org: b.homeOrg(), Version: version, State: sanziv1.RuleSetState_RULE_SET_STATE_PUBLISHED,
		DraftedBy: i.sum.GetDraftedBy(), Sha256: i.sum.GetSha256()}
	st, err := b.appendRuleSet(ctx, author, v)
	if err != nil {
		return nil, nil, err
	}
	return st, proto.CloneOf(i.sum), nil
}

func (b *Books) appendRuleSet(ctx context.Context, author string, v *sanziv1.RuleSetVersion) (*ledger.Stored, error) {
	st, err := b.appendOne(ctx, v.GetOrg(), author, sanziv1.EntryType_ENTRY_TYPE_RULE_SET, v, "")
	if err != nil {
		return nil, err
	}
	if _, err := b.catchUp(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// serves says whether the books follow origin's chain: the orgs this node
// records for, and the district's own chain that flows down to it (rule
// sets it publishes apply here).
func (b *Books) serves(origin string) bool {
	if b.val == nil || len(b.val.Served) == 0 || slices.Contains(b.val.Served, origin) {
		return true
	}
	return len(b.val.Served[0]) == 12 && origin == b.val.Served[0][:6]+"000000"
}

// homeOrg is the org whose chain records the node's own decisions (rule
// sets): the first org it serves.
func (b *Books) homeOrg() string {
	if len(b.val.Served) > 0 {
		return b.val.Served[0]
	}
	return ""
}

// TestRules runs e (nil: the live rules) over a transaction that is not
// recorded, including the list rules, and returns what it would raise.
func (b *Books) TestRules(e *rules.Engine, t *sanziv1.Transaction) ([]rules.Hit, string, error) {
	if e == nil {
		e = b.Rules()
	}
	if e == nil {
		return nil, "", errors.New("rules are off on this node")
	}
	hits, err := checkTransaction(e, t, b.resolution(t))
	if err != nil {
		return nil, "", err
	}
	w, err := watch.New(e, time.UTC)
	if err != nil {
		return nil, "", err
	}
	return append(hits, w.Check(t)...), e.Version(), nil
}

// RecordTamper records a critical TAMPER alert in the node's own chain
// about an entry of another chain it holds (a village's entry that came
// back different at a seq already held); the alert travels up with the
// node's chain.
func (b *Books) RecordTamper(ctx context.Context, origin string, seq uint64, evidence map[string]string) (*ledger.Stored, error) {
	return b.recordTamper(ctx, origin, seq, fmt.Sprintf("篡改：%s 第 %d 条记账与已收到的不一致（分叉），已拒收，请核查", origin, seq), evidence)
}

// recordTamper records one TAMPER alert about origin's entry at seq, keyed
// by the sent hash in evidence.
func (b *Books) recordTamper(ctx context.Context, origin string, seq uint64, reason string, evidence map[string]string) (*ledger.Stored, error) {
	a := &sanziv1.Alert{Org: b.homeOrg(), RuleCode: "TAMPER", Severity: string(rules.SeverityRed), Evidence: evidence,
		Reason: reason, RuleSetVersion: b.Rules().Version(), Key: tamperKey(origin, seq, evidence["sent_hash"])}
	st, err := b.appendOne(ctx, b.homeOrg(), alertAuthor, sanziv1.EntryType_ENTRY_TYPE_ALERT, a, ledger.EntryID(origin, seq))
	if err != nil {
		return nil, fmt.Errorf("record TAMPER alert: %w", err)
	}
	b.published([]*ledger.Stored{st})
	return st, nil
}

// RecordDelivery stores one notification delivery as an entry.
func (b *Books) RecordDelivery(ctx context.Context, d *sanziv1.NotificationDelivery) (*ledger.Stored, error) {
	st, err := b.appendOne(ctx, d.GetOrg(), "notifier", sanziv1.EntryType_ENTRY_TYPE_NOTIFICATION, d, d.GetAboutId())
	if err != nil {
		return nil, fmt.Errorf("record delivery %s: %w", d.GetMessageId(), err)
	}
	return st, nil
}

// appendOne encodes m and appends it as one entry of type t to origin's
// chain, about subject (may be empty): the books' own records that need no
// validation, procedure or alerts of their own.
func (b *Books) appendOne(ctx context.Context, origin, author string, t sanziv1.EntryType, m proto.Message, subject string) (*ledger.Stored, error) {
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	out, err := b.l.Append(ctx, ledger.Record{Origin: origin, Author: author, Type: t, Payload: payload, Subject: subject})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// bigSpend is the rule whose refusal names the four-deliberations procedure.
const bigSpend = "BIG-SPEND"

// resolution is the workflow's verdict on the resolution t names; without
// supervision nothing can be verified, so nothing is approved.
func (b *Books) resolution(t *sanziv1.Transaction) workflow.Resolution {
	s := b.sup
	if s == nil {
		return workflow.Resolution{ID: t.GetResolutionProcedureId(),
			Why: "本节点未启用办理流程（目录和审批），无法核实四议两公开"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flows.Resolution(t)
}

// checkTransaction runs e's transaction rules with what the node knows of
// t's resolution, and makes a BIG-SPEND hit name the matter whose procedure
// is needed and what is wrong with the one named.
func checkTransaction(e *rules.Engine, t *sanziv1.Transaction, res workflow.Resolution) ([]rules.Hit, error) {
	hits, err := e.CheckTransaction(t, rules.TxFacts{ResolutionApproved: res.Approved})
	for i, h := range hits {
		if h.Code != bigSpend {
			continue
		}
		hits[i].Reason += "（" + res.Refusal() + "）"
		hits[i].Evidence["resolution_matter"] = res.Matter.GetCode()
		hits[i].Evidence["resolution_problem"] = res.Why
	}
	return hits, err
}

// screenTransaction screens t like screen does, with the resolution it
// names judged by the node. A resolution named that does not stand is
// refused below BIG-SPEND's threshold too (as a field), so that a recorded
// reference always names an approved resolution.
func (b *Books) screenTransaction(t *sanziv1.Transaction) ([]rules.Hit, error) {
	res := b.resolution(t)
	hits, err := b.screen(t, func(e *rules.Engine) ([]rules.Hit, error) { return checkTransaction(e, t, res) })
	if err != nil {
		return nil, err
	}
	if res.ID != "" && !res.Approved {
		return nil, &InvalidError{Violations: []Violation{{Field: "transaction.resolutionProcedureId", Reason: res.Why}}}
	}
	return hits, nil
}
