// Package workflow runs the procedures of the district's catalog on a node:
// which matter an entry opens, whose turn each step is, whether a decision
// may be taken (a step cannot be skipped: rule CHAIN; a closed procedure is
// locked), and which warnings and cards the step timers are due to give.
//
// Its state is derived only from ledger entries (procedures, decisions,
// cards, catalog versions) fed in chain order through Observe, so a
// restart rebuilds it by replaying the chain, and a backtest or a scenario
// can drive it with any clock.
package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/calendar"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Status is where a procedure or one of its steps stands, as the API shows
// it (the status fields of Procedure and ProcedureStep).
type Status string

// Statuses of a procedure and of its steps.
const (
	StatusOpen      Status = "open"
	StatusCompleted Status = "completed"
	StatusRejected  Status = "rejected"
	StatusApproved  Status = "approved"
	StatusPending   Status = "pending"
)

// WarnAtProgress is the share of a step's working time used up when the
// warning goes out (20% left).
const WarnAtProgress = 0.8

// RedAfterYellowWorkingDays is how long a yellow card may stay unresolved
// before the step earns a red one.
const RedAfterYellowWorkingDays = 3

// RefusedError is a decision the procedure does not allow. Rule is "CHAIN"
// when the decision would skip or repeat a step, act for another post or
// touch a locked (closed) procedure; empty for other refusals (a missing
// reason, a notice period not yet run).
type RefusedError struct {
	Rule   string
	Field  string
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Rule != "" {
		return "rule " + e.Rule + ": " + e.Reason
	}
	return e.Field + ": " + e.Reason
}

// ErrNotFound: no procedure with that id.
var ErrNotFound = errors.New("workflow: no such procedure")

// Proc is one procedure as it stands.
type Proc struct {
	ID       string
	P        *sanziv1.Procedure
	Matter   *sanziv1.Matter
	Opened   time.Time
	Deadline time.Time
	Status   Status
	// Step is the index of the open step.
	Step      int
	Steps     []*sanziv1.StepState
	Decisions []string
	// packed holds Steps and Decisions as a checkpoint wrote them, for a
	// closed procedure restored and not read since (see unpack).
	packed []byte
	// seq is the procedure's place in the order procedures were opened:
	// the timers go through the open ones oldest first by it.
	seq int
	// batched: closed, and in a Batch a checkpoint writes to the archive
	// (a list reads it from there once the archive holds it).
	batched bool
	// key is ledger.IDKey(ID), the order lists page in; made once.
	key []byte
}

// entryKey is p's entry key (see the function).
func (p *Proc) entryKey() []byte {
	if p.key == nil {
		p.key = ledger.IDKey(p.ID)
	}
	return p.key
}

// OpenStep returns the open step's catalog entry and state, nil when closed.
func (p *Proc) OpenStep() (*sanziv1.Step, *sanziv1.StepState) {
	if p.Status != StatusOpen {
		return nil, nil
	}
	return p.Matter.GetSteps()[p.Step], p.Steps[p.Step]
}

// Record renders the procedure for the API. It fails only for a procedure
// a checkpoint restored whose steps do not decode.
func (p *Proc) Record() (*sanziv1.ProcedureRecord, error) {
	if err := p.unpack(); err != nil {
		return nil, err
	}
	r := &sanziv1.ProcedureRecord{Procedure: p.P, Status: string(p.Status), Deadline: timestamppb.New(p.Deadline),
		DecisionIds: slices.Clone(p.Decisions)}
	for _, s := range p.Steps {
		r.Steps = append(r.Steps, proto.CloneOf(s))
	}
	if s, _ := p.OpenStep(); s != nil {
		r.OpenStep = s.GetCode()
	}
	return r, nil
}

// Flows holds the procedures of a node. Not safe for concurrent use: the
// books serialise it with the rest of their supervision state.
//
// It keeps in memory the open procedures and those closed since the last
// checkpoint; with an Archive (UseArchive) the closed ones a checkpoint
// covers are read from the node's bbolt file (archive.go), so that a start
// loads and a list reads what is open, not the closed history (issue 17).
// Without one, every procedure stays in memory. It indexes the open ones
// and those of a period by matter, so that the timers' sweep, the
// month-end close's questions and a period's duplicates cost what is open
// or the period holds.
type Flows struct {
	cal      *calendar.Calendar
	catalogs map[string]*sanziv1.Catalog
	current  *sanziv1.Catalog
	// procs holds the procedures in memory: open, and closed not
	// archived yet (all of them without an archive).
	procs map[string]*Proc
	// seq numbers the procedures as they are opened (Proc.seq).
	seq int
	// given are the cards given, of open procedures only (a closed one
	// is owed none again); cards lists each open procedure's keys in it,
	// to forget them when it closes.
	given map[string]bool
	cards map[string][]string
	// opens holds the procedures whose status is open.
	opens map[string]*Proc
	// ofPeriod holds the procedures in memory with a period, by matter and
	// period (periodKey), oldest first.
	ofPeriod map[string][]*Proc
	// archive keeps the closed procedures a checkpoint covers; nil keeps
	// every procedure in memory.
	archive *Archive
	// staged is what the last Save left to the archive, until Staged.
	staged *Batch
}

// New starts with the catalog in force and the district's calendar.
func New(cat *sanziv1.Catalog, cal *calendar.Calendar) *Flows {
	f := &Flows{cal: cal, catalogs: map[string]*sanziv1.Catalog{}, procs: map[string]*Proc{}, given: map[string]bool{},
		cards: map[string][]string{}, opens: map[string]*Proc{}, ofPeriod: map[string][]*Proc{}}
	f.useCatalog(cat)
	return f
}

// UseArchive keeps the closed procedures a checkpoint covers in a (see
// Archive), from the next Save on. The caller clears a when the state it
// goes with is not the one restored (Archive.Clear).
func (f *Flows) UseArchive(a *Archive) { f.archive = a }

// Archive is where f keeps the closed procedures a checkpoint covers,
// nil when it keeps them in memory.
func (f *Flows) Archive() *Archive { return f.archive }

// Blank is a Flows as New makes it, with f's catalog in force, calendar
// and archive: what a checkpoint is restored into.
func (f *Flows) Blank() *Flows {
	n := New(f.current, f.cal)
	n.archive = f.archive
	return n
}

func periodKey(matter, period string) string { return matter + "/" + period }

// index puts p, just opened or loaded, in the indexes its status and
// period call for.
func (f *Flows) index(p *Proc) {
	if p.Status == StatusOpen {
		f.opens[p.ID] = p
	}
	if period := p.P.GetPeriod(); period != "" {
		k := periodKey(p.P.GetMatterCode(), period)
		f.ofPeriod[k] = append(f.ofPeriod[k], p)
	}
}

// forget drops p from memory once the archive holds it (Batch.Done); a
// procedure replaced since (a Load) is left alone.
func (f *Flows) forget(p *Proc) {
	if f.procs[p.ID] != p || p.Status == StatusOpen {
		return
	}
	delete(f.procs, p.ID)
	if period := p.P.GetPeriod(); period != "" {
		k := periodKey(p.P.GetMatterCode(), period)
		f.ofPeriod[k] = slices.DeleteFunc(f.ofPeriod[k], func(q *Proc) bool { return q == p })
		if len(f.ofPeriod[k]) == 0 {
			delete(f.ofPeriod, k)
		}
	}
}

// inOrder lists ps oldest first.
func inOrder(ps []*Proc) []*Proc {
	slices.SortFunc(ps, func(a, b *Proc) int { return a.seq - b.seq })
	return ps
}

// openInOrder lists the open procedures, oldest first.
func (f *Flows) openInOrder() []*Proc {
	out := make([]*Proc, 0, len(f.opens))
	for _, p := range f.opens {
		out = append(out, p)
	}
	return inOrder(out)
}

func (f *Flows) useCatalog(c *sanziv1.Catalog) {
	f.catalogs[c.GetVersion()] = c
	f.current = c
}

// Catalog is the catalog new procedures follow.
func (f *Flows) Catalog() *sanziv1.Catalog { return f.current }

// Calendar is the working-day calendar deadlines follow.
func (f *Flows) Calendar() *calendar.Calendar { return f.cal }

func (f *Flows) matter(code string) *sanziv1.Matter {
	for _, m := range f.current.GetMatters() {
		if m.GetCode() == code {
			return m
		}
	}
	return nil
}

// MatterFor returns the matter whose procedure recording m opens, nil when
// m opens none: expenses by size and purpose, income, loans, contracts by
// kind, disposals at or above their matter's threshold.
func (f *Flows) MatterFor(m proto.Message) *sanziv1.Matter {
	over := func(code string, amount int64) *sanziv1.Matter {
		if mt := f.matter(code); mt != nil && amount >= mt.GetThresholdFen() {
			return mt
		}
		return nil
	}
	switch m := m.(type) {
	case *sanziv1.Transaction:
		switch m.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			works := strings.Contains(m.GetCategory(), "工程") || strings.Contains(m.GetBudgetLine(), "工程")
			if mt := over("WORKS-TENDER", m.GetAmountFen()); works && mt != nil {
				return mt
			}
			if mt := over("FUND-BIG", m.GetAmountFen()); mt != nil {
				return mt
			}
			return f.matter("FUND-REIMB")
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME:
			return f.matter("FUND-INCOME")
		case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
			return f.matter("FUND-LOAN")
		}
	case *sanziv1.Contract:
		if m.GetKind() == sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT {
			return f.matter("RES-CONTRACT")
		}
		return f.matter("CONTRACT-LEASE")
	case *sanziv1.AssetDisposal:
		return over("ASSET-DISPOSE", m.GetPriceFen())
	}
	return nil
}

// NewProcedure is the Procedure entry recording m opens (nil if none), to
// be appended with m; subjectID is filled in by the ledger's About. An
// expense that names its approved four-deliberations procedure opens none:
// that procedure, opened before the spending, carries it on to payment.
func (f *Flows) NewProcedure(org string, m proto.Message, amountFen int64, summary string) *sanziv1.Procedure {
	mt := f.MatterFor(m)
	if mt == nil {
		return nil
	}
	if t, ok := m.(*sanziv1.Transaction); ok && t.GetResolutionProcedureId() != "" && f.Resolution(t).Approved {
		return nil
	}
	return &sanziv1.Procedure{Org: org, MatterCode: mt.GetCode(), CatalogVersion: f.current.GetVersion(),
		AmountFen: amountFen, Summary: summary}
}

// CheckOpen validates a procedure opened on its own (a complaint, a
// disclosure, a bank reconciliation) and fills in the catalog version.
func (f *Flows) CheckOpen(p *sanziv1.Procedure) error {
	mt := f.matter(p.GetMatterCode())
	switch {
	case mt == nil:
		return &RefusedError{Field: "procedure.matterCode", Reason: fmt.Sprintf("no matter %q in catalog %s", p.GetMatterCode(), f.current.GetVersion())}
	case p.GetPeriod() != "":
		if _, err := time.Parse("2006-01", p.GetPeriod()); err != nil {
			return &RefusedError{Field: "procedure.period", Reason: "a month in the form YYYY-MM"}
		}
	}
	if p.GetMatterCode() == "FUND-BANKREC" || p.GetMatterCode() == "GOV-DISCLOSE" {
		if p.GetPeriod() == "" {
			return &RefusedError{Field: "procedure.period", Reason: "the month this " + mt.GetName() + " covers, YYYY-MM"}
		}
		// One per village and month: another village's on the same node
		// (a town's, or a node serving several orgs) is its own.
		same, err := f.List(Filter{Org: p.GetOrg(), Matter: p.GetMatterCode(), Period: p.GetPeriod()})
		if err != nil {
			return err
		}
		for _, q := range same {
			if q.Status != StatusRejected {
				return &RefusedError{Field: "procedure.period", Reason: fmt.Sprintf("%s for %s is already %s (%s)", mt.GetName(), p.GetPeriod(), q.Status, q.ID)}
			}
		}
	}
	if strings.TrimSpace(p.GetSummary()) == "" {
		return &RefusedError{Field: "procedure.summary", Reason: "required: say what the procedure is about"}
	}
	if deliberates(mt) && mt.GetThresholdFen() > 0 && p.GetAmountFen() < mt.GetThresholdFen() {
		// The resolution covers the spending up to this amount (Resolution).
		return &RefusedError{Field: "procedure.amountFen", Reason: fmt.Sprintf("%s applies from %d fen: give the amount the resolution is to cover", mt.GetName(), mt.GetThresholdFen())}
	}
	p.CatalogVersion = f.current.GetVersion()
	return nil
}

// Check decides whether d may be recorded at time at, and returns it with
// Closes set. d is not changed.
func (f *Flows) Check(d *sanziv1.StepDecision, at time.Time) (*sanziv1.StepDecision, error) {
	p, err := f.Get(d.GetProcedureId())
	if err != nil {
		return nil, err
	}
	if p.Status != StatusOpen {
		return nil, &RefusedError{Rule: "CHAIN", Reason: fmt.Sprintf("办理流程 %s 已%s并锁定，不能再审批（procedure is %s and locked）", p.ID, statusZH(p.Status), p.Status)}
	}
	step, st := p.OpenStep()
	if d.GetStepCode() != step.GetCode() {
		return nil, &RefusedError{Rule: "CHAIN", Reason: fmt.Sprintf("不得越级审批：当前环节是“%s”(%s)，不能办理环节 %q（the open step is %s）", step.GetName(), step.GetCode(), d.GetStepCode(), step.GetCode())}
	}
	if d.GetPost() != step.GetPost() {
		return nil, &RefusedError{Rule: "CHAIN", Reason: fmt.Sprintf("环节“%s”由岗位 %s 办理，%q 无权办理（step %s belongs to post %s）", step.GetName(), step.GetPost(), d.GetPost(), step.GetCode(), step.GetPost())}
	}
	switch d.GetAction() {
	case sanziv1.StepAction_STEP_ACTION_APPROVE:
		if step.GetRequiresResolution() && len(d.GetAttachments()) == 0 {
			return nil, &RefusedError{Field: "decision.attachments", Reason: "环节“" + step.GetName() + "”须附决议或表决记录 (this step needs its resolution attached)"}
		}
		if mn := step.GetMinDuration(); mn != nil {
			earliest, err := f.add(st.GetOpenedAt().AsTime(), mn)
			if err != nil {
				return nil, err
			}
			if at.Before(earliest) {
				return nil, &RefusedError{Field: "decision", Reason: fmt.Sprintf("环节“%s”须至少持续%s，%s 之前不能办结 (minimum period not over)", step.GetName(), limitText(mn), earliest.In(f.cal.Location()).Format("2006-01-02 15:04"))}
			}
		}
	case sanziv1.StepAction_STEP_ACTION_REJECT, sanziv1.StepAction_STEP_ACTION_RETURN:
		if strings.TrimSpace(d.GetReason()) == "" {
			return nil, &RefusedError{Field: "decision.reason", Reason: "required to reject or return: say why"}
		}
	default:
		return nil, &RefusedError{Field: "decision.action", Reason: "approve, reject or return"}
	}
	out := proto.CloneOf(d)
	out.Org = p.P.GetOrg()
	out.StepOpenedAt, out.StepDeadline = st.GetOpenedAt(), st.GetDeadline()
	out.Closes = d.GetAction() == sanziv1.StepAction_STEP_ACTION_REJECT ||
		(d.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE && p.Step == len(p.Steps)-1)
	return out, nil
}

func statusZH(s Status) string {
	switch s {
	case StatusCompleted:
		return "办结"
	case StatusRejected:
		return "退回终止"
	}
	return string(s)
}

func limitText(l *sanziv1.TimeLimit) string {
	switch l.GetUnit() {
	case sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS:
		return strconv.Itoa(int(l.GetAmount())) + "个工作日"
	case sanziv1.LimitUnit_LIMIT_UNIT_WORKING_HOURS:
		return strconv.Itoa(int(l.GetAmount())) + "个工作小时"
	}
	return strconv.Itoa(int(l.GetAmount())) + "日"
}

// add is t plus a time limit on the district calendar.
func (f *Flows) add(t time.Time, l *sanziv1.TimeLimit) (time.Time, error) {
	switch l.GetUnit() {
	case sanziv1.LimitUnit_LIMIT_UNIT_WORKING_DAYS:
		return f.cal.AddWorkingDays(t, int(l.GetAmount()))
	case sanziv1.LimitUnit_LIMIT_UNIT_WORKING_HOURS:
		return f.cal.AddWorkingHours(t, time.Duration(l.GetAmount())*time.Hour)
	case sanziv1.LimitUnit_LIMIT_UNIT_CALENDAR_DAYS:
		return t.In(f.cal.Location()).AddDate(0, 0, int(l.GetAmount())), nil
	}
	return time.Time{}, fmt.Errorf("workflow: time limit unit %s", l.GetUnit())
}

// Observe applies one committed entry, in chain order; entries of other
// types are ignored. id is the entry's id, at its recorded_at.
func (f *Flows) Observe(id string, at time.Time, m proto.Message) error {
	switch m := m.(type) {
	case *sanziv1.Catalog:
		f.useCatalog(m)
	case *sanziv1.Procedure:
		return f.open(id, at, m)
	case *sanziv1.StepDecision:
		return f.decide(id, at, m)
	case *sanziv1.Card:
		if f.opens[m.GetProcedureId()] != nil { // a closed procedure is owed no card again
			f.give(m.GetProcedureId(), cardKey(m))
		}
	}
	return nil
}

func (f *Flows) open(id string, at time.Time, p *sanziv1.Procedure) error {
	cat, ok := f.catalogs[p.GetCatalogVersion()]
	if !ok {
		cat = f.current
	}
	var mt *sanziv1.Matter
	for _, m := range cat.GetMatters() {
		if m.GetCode() == p.GetMatterCode() {
			mt = m
		}
	}
	if mt == nil || len(mt.GetSteps()) == 0 {
		return fmt.Errorf("workflow: procedure %s: matter %q not in catalog %s", id, p.GetMatterCode(), cat.GetVersion())
	}
	deadline, err := f.add(at, mt.GetTotalLimit())
	if err != nil {
		return fmt.Errorf("workflow: procedure %s: %w", id, err)
	}
	pr := &Proc{ID: id, P: p, Matter: mt, Opened: at, Deadline: deadline, Status: StatusOpen}
	for _, s := range mt.GetSteps() {
		pr.Steps = append(pr.Steps, &sanziv1.StepState{Code: s.GetCode(), Name: s.GetName(), Post: s.GetPost(), Status: string(StatusPending)})
	}
	pr.seq = f.seq
	f.seq++
	f.procs[id] = pr
	f.index(pr)
	return f.openStep(pr, 0, at)
}

func (f *Flows) openStep(p *Proc, i int, at time.Time) error {
	deadline, err := f.add(at, p.Matter.GetSteps()[i].GetLimit())
	if err != nil {
		return fmt.Errorf("workflow: procedure %s step %d: %w", p.ID, i, err)
	}
	p.Step = i
	p.Steps[i].Status, p.Steps[i].OpenedAt, p.Steps[i].Deadline = string(StatusOpen), timestamppb.New(at), timestamppb.New(deadline)
	p.Steps[i].ClosedAt, p.Steps[i].By = nil, ""
	return nil
}

func (f *Flows) decide(id string, at time.Time, d *sanziv1.StepDecision) error {
	p, ok := f.procs[d.GetProcedureId()]
	if !ok || p.Status != StatusOpen {
		return nil // refused when recorded; a replay of someone else's history just skips it
	}
	p.Decisions = append(p.Decisions, id)
	st := p.Steps[p.Step]
	switch d.GetAction() {
	case sanziv1.StepAction_STEP_ACTION_APPROVE:
		st.Status, st.ClosedAt, st.By = string(StatusApproved), timestamppb.New(at), d.GetPost()
		if p.Step == len(p.Steps)-1 {
			p.Status = StatusCompleted
			f.closed(p)
			return nil
		}
		return f.openStep(p, p.Step+1, at)
	case sanziv1.StepAction_STEP_ACTION_REJECT:
		st.ClosedAt, st.By = timestamppb.New(at), d.GetPost()
		p.Status = StatusRejected
		f.closed(p)
	case sanziv1.StepAction_STEP_ACTION_RETURN:
		st.Status, st.OpenedAt, st.Deadline = string(StatusPending), nil, nil
		return f.openStep(p, max(p.Step-1, 0), at)
	}
	return nil
}

// closed takes p, just closed, out of what only open procedures need.
func (f *Flows) closed(p *Proc) {
	delete(f.opens, p.ID)
	for _, k := range f.cards[p.ID] {
		delete(f.given, k)
	}
	delete(f.cards, p.ID)
}

// give marks the card of key, about procedure id, given.
func (f *Flows) give(id, key string) {
	if !f.given[key] {
		f.given[key] = true
		f.cards[id] = append(f.cards[id], key)
	}
}

// Get returns the procedure with id, from memory or the archive. An
// archived one is decoded anew at each call: the caller may keep it.
func (f *Flows) Get(id string) (*Proc, error) {
	if p, ok := f.procs[id]; ok {
		return p, nil
	}
	if f.archive != nil {
		var p *Proc
		err := f.archive.db.View(func(tx *bolt.Tx) (err error) {
			p, err = f.archivedGet(tx, ledger.IDKey(id))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read procedure %s: %w", id, err)
		}
		if p != nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Filter selects procedures; empty fields match all.
type Filter struct {
	Org, Matter, Post string
	// Status: only procedures in this status; "" for all.
	Status Status
	// Period: only procedures for this month (YYYY-MM); with Matter.
	Period string
}

// List returns every procedure matching fl, oldest first (in entry-key
// order: origin, then seq). Open ones, and a matter's of one period, are
// read from their indexes; other filters walk the procedures in memory,
// and the archive's index of fl's org, status and matter. For a list of
// any length, Page reads one page.
func (f *Flows) List(fl Filter) ([]*Proc, error) {
	out, _, err := f.Page(fl, nil, -1)
	return out, err
}

// Page returns the first limit procedures matching fl whose entry key is
// after after (nil: from the first), in entry-key order, and how many
// match in all; limit < 0 returns every one. It costs what is in memory
// (open, or closed since the last checkpoint) and, for the archive, the
// page read and a counter: not the closed history (issue 17).
func (f *Flows) Page(fl Filter, after []byte, limit int) ([]*Proc, int, error) {
	// From memory: how many match, and the first limit after after, kept
	// in order as they are found (a page is short; the procedures in
	// memory may be a few thousand closed since the last checkpoint).
	total := 0
	var mem, batched []*Proc
	keep := func(p *Proc) {
		total++
		k := p.entryKey()
		if after != nil && bytes.Compare(k, after) <= 0 {
			return
		}
		if limit >= 0 && len(mem) == limit {
			if limit == 0 || bytes.Compare(k, mem[limit-1].entryKey()) >= 0 {
				return
			}
			mem = mem[:limit-1]
		}
		i, _ := slices.BinarySearchFunc(mem, k, func(q *Proc, k []byte) int { return bytes.Compare(q.entryKey(), k) })
		mem = slices.Insert(mem, i, p)
	}
	consider := func(p *Proc) {
		switch {
		case !fl.matches(p):
		case p.batched:
			batched = append(batched, p)
		default:
			keep(p)
		}
	}
	switch {
	case fl.Matter != "" && fl.Period != "":
		for _, p := range f.ofPeriod[periodKey(fl.Matter, fl.Period)] {
			consider(p)
		}
	case fl.Status == StatusOpen:
		for _, p := range f.opens {
			consider(p)
		}
	default:
		for _, p := range f.procs {
			consider(p)
		}
	}
	var stored []*Proc
	var storedKeys [][]byte
	// Every match from the first (List): the archive's are all read, and
	// counted as they are, not by its counters too.
	all := limit < 0 && after == nil
	read := func(tx *bolt.Tx) error {
		// A procedure of a batch its checkpoint committed is the archive's
		// until Done drops it here: counted and listed once.
		for _, p := range batched {
			if tx == nil || !f.archivedHas(tx, p.entryKey()) {
				keep(p)
			}
		}
		if tx == nil {
			return nil
		}
		if !all {
			n, err := f.archivedCount(tx, fl)
			if err != nil {
				return err
			}
			total += n
		}
		return f.archivedScan(tx, fl, after, func(key []byte, p *Proc) bool {
			stored, storedKeys = append(stored, p), append(storedKeys, bytes.Clone(key))
			return limit < 0 || len(stored) < limit
		})
	}
	var err error
	if f.archive != nil && (fl.canBeClosed() || len(batched) > 0) {
		err = f.archive.db.View(read)
	} else {
		err = read(nil)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list procedures: %w", err)
	}
	// Both in key order: merged.
	out := make([]*Proc, 0, len(mem)+len(stored))
	i, j := 0, 0
	for limit < 0 || len(out) < limit {
		switch {
		case i < len(mem) && (j == len(stored) || bytes.Compare(mem[i].entryKey(), storedKeys[j]) < 0):
			out = append(out, mem[i])
			i++
		case j < len(stored):
			out = append(out, stored[j])
			j++
		default:
			if all {
				total = len(out)
			}
			return out, total, nil
		}
	}
	return out, total, nil
}

// matches says whether p is one fl selects.
func (fl Filter) matches(p *Proc) bool {
	if (fl.Org != "" && p.P.GetOrg() != fl.Org) || (fl.Status != "" && p.Status != fl.Status) ||
		(fl.Matter != "" && p.P.GetMatterCode() != fl.Matter) || (fl.Period != "" && p.P.GetPeriod() != fl.Period) {
		return false
	}
	if s, _ := p.OpenStep(); fl.Post != "" && s.GetPost() != fl.Post {
		return false
	}
	return true
}

// cardKey identifies a card so it is given once: a step reopened after a
// return has a new deadline and so earns its own cards.
func cardKey(c *sanziv1.Card) string {
	return fmt.Sprintf("%s/%s/%s/%d", c.GetProcedureId(), c.GetStepCode(), c.GetLevel(), c.GetDeadline().AsTime().Unix())
}

// Due returns the cards the timers owe at now, not given before, oldest
// procedure first; person names who holds each post (may return ""). The
// caller records them, and Observe of their entries marks them given. It
// looks at the open procedures only (their index): a closed one owes none.
func (f *Flows) Due(now time.Time, person func(org, post string) string) []*sanziv1.Card {
	var out []*sanziv1.Card
	for _, p := range f.openInOrder() {
		out = f.dueOf(p, now, person, out)
	}
	return out
}

// dueOf appends to out the cards p owes at now, not given before.
func (f *Flows) dueOf(p *Proc, now time.Time, person func(org, post string) string, out []*sanziv1.Card) []*sanziv1.Card {
	step, st := p.OpenStep()
	if step == nil {
		return out
	}
	opened, deadline := st.GetOpenedAt().AsTime(), st.GetDeadline().AsTime()
	mk := func(level sanziv1.CardLevel, deadline time.Time, why string) {
		c := &sanziv1.Card{Org: p.P.GetOrg(), Level: level, ProcedureId: p.ID, MatterCode: p.P.GetMatterCode(),
			StepCode: step.GetCode(), Post: step.GetPost(), Deadline: timestamppb.New(deadline)}
		if f.given[cardKey(c)] {
			return
		}
		f.give(p.ID, cardKey(c))
		c.Person = person(c.Org, c.Post)
		c.Reason = fmt.Sprintf("%s：事项“%s”（%s）环节“%s”由%s办理，时限%s，截止%s。%s", levelZH(level), p.Matter.GetName(),
			p.ID, step.GetName(), step.GetPost(), limitText(step.GetLimit()), deadline.In(f.cal.Location()).Format("2006-01-02 15:04"), why)
		out = append(out, c)
	}
	overdue := now.After(deadline)
	redStep, err := f.cal.AddWorkingDays(deadline, RedAfterYellowWorkingDays)
	if err != nil {
		redStep = deadline.Add(24 * time.Hour * RedAfterYellowWorkingDays)
	}
	// Overdue twice as long, counted in working time like the limit.
	twice := f.cal.WorkingTimeBetween(deadline, now) > f.cal.WorkingTimeBetween(opened, deadline)
	switch {
	case overdue && (now.After(redStep) || twice):
		mk(sanziv1.CardLevel_CARD_LEVEL_YELLOW, deadline, "环节已超期。")
		mk(sanziv1.CardLevel_CARD_LEVEL_RED, deadline, "黄牌后仍未办结（超期3个工作日或超过时限一倍），请书面说明情况。")
	case overdue:
		mk(sanziv1.CardLevel_CARD_LEVEL_YELLOW, deadline, "环节已超期，请立即办理。")
	case f.cal.Progress(opened, deadline, now) >= WarnAtProgress:
		mk(sanziv1.CardLevel_CARD_LEVEL_WARNING, deadline, "剩余时间不足20%，请抓紧办理。")
	}
	if now.After(p.Deadline) {
		mk(sanziv1.CardLevel_CARD_LEVEL_RED, p.Deadline, "整个事项已超过承诺办结时限"+limitText(p.Matter.GetTotalLimit())+"，请书面说明情况。")
	}
	return out
}

func levelZH(l sanziv1.CardLevel) string {
	switch l {
	case sanziv1.CardLevel_CARD_LEVEL_WARNING:
		return "预警"
	case sanziv1.CardLevel_CARD_LEVEL_YELLOW:
		return "黄牌"
	}
	return "红牌"
}
