package books

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/rules"
	"github.com/sanzi/sanzi/node/watch"
	"github.com/sanzi/sanzi/node/workflow"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Supervisor is what the books ask, as they record, of the supervision that
// follows their chain (node/supervise): the state that needs the chain's
// history (procedures and their timers, the stateful rules, rule-set
// versions, a town's view of its villages). The books hold no such state
// themselves. Without a supervisor (Supervise never called) the books record
// with the rules alone: no procedure opens, no stateful rule runs, and no
// resolution can be verified.
//
// Every method may be called from any recorder at once; none is called with
// a lock of the books held.
type Supervisor interface {
	// CheckLists runs the rules that decide before recording from the lists
	// in force (RELATIVE, OUTSIDER) on m, which is not recorded yet, and
	// returns their hits. It records nothing.
	CheckLists(m proto.Message) []rules.Hit
	// Resolution is the verdict on the resolution procedure t names (none
	// named: not approved, with why).
	Resolution(t *sanziv1.Transaction) workflow.Resolution
	// NewProcedure is the procedure that recording m at org opens, or nil;
	// the books append it in the same atomic append as m, about m.
	NewProcedure(org string, m proto.Message, amountFen int64, summary string) *sanziv1.Procedure
	// Recorded is called after every append by a recorder: it brings the
	// state up to date (recording the alerts the stateful rules raise, in
	// the books) and returns the stateful hits about entry id, to be shown
	// with it. An error means id is recorded but not yet followed.
	Recorded(ctx context.Context, id string) ([]rules.Hit, error)
	// Published is told of every entry the books append, once committed.
	// It must not block.
	Published(stored []*ledger.Stored)
	// Appending is told that a recorder's append starts; the function it
	// returns is called with what the append wrote (nil if it failed) as
	// soon as it returns, before Published. A supervisor following the
	// chain may wait for an entry a recorder is about to hand over rather
	// than read it back (node/supervise). Neither may block.
	Appending() func(stored []*ledger.Stored)
	// Raised says whether an alert of key is in the node's own chain as far
	// as the state has seen it (brought up to date first), and remembers it
	// as raised when mark is set. A supervisor that keeps no such memory
	// answers false, so that the alert is recorded every time.
	Raised(ctx context.Context, key string, mark bool) bool
	// BankReconciled is the entry id of org's bank reconciliation procedure
	// for month (catalog.BankRec, its period) whose reconciliation step
	// (catalog.BankRecStep) is approved; "" when there is none.
	BankReconciled(org, month string) string
	// OverdueSteps lists org's open procedures about one of subjects (entry
	// ids) whose open step, held by a post of the village, was due before
	// now, for the month-end close.
	OverdueSteps(org string, subjects map[string]bool, now time.Time) []OverdueStep
}

// OverdueStep is the open step of a procedure past its deadline.
type OverdueStep struct {
	ProcedureID, Matter, SubjectID string
	// Step is the open step's code, StepName its name, Post who decides it.
	Step, StepName, Post string
	Deadline             time.Time
}

// unsupervised is the Supervisor of books that run without supervision.
type unsupervised struct{}

func (unsupervised) CheckLists(proto.Message) []rules.Hit { return nil }
func (unsupervised) Resolution(t *sanziv1.Transaction) workflow.Resolution {
	return workflow.Resolution{ID: t.GetResolutionProcedureId(), Why: "本节点未启用办理流程（目录和审批），无法核实四议两公开"}
}
func (unsupervised) NewProcedure(string, proto.Message, int64, string) *sanziv1.Procedure { return nil }
func (unsupervised) Recorded(context.Context, string) ([]rules.Hit, error)                { return nil, nil }
func (unsupervised) Published([]*ledger.Stored)                                           {}
func (unsupervised) Appending() func([]*ledger.Stored)                                    { return func([]*ledger.Stored) {} }
func (unsupervised) Raised(context.Context, string, bool) bool                            { return false }
func (unsupervised) BankReconciled(string, string) string                                 { return "" }
func (unsupervised) OverdueSteps(string, map[string]bool, time.Time) []OverdueStep        { return nil }

// Supervise makes s follow the books from now on. Call it once, at start,
// before the books record anything.
func (b *Books) Supervise(s Supervisor) { b.sup = s }

// RecordFindings records cards and alerts (each about its subject) in one
// append: what the step timers and the stateful rules found.
func (b *Books) RecordFindings(ctx context.Context, cards []*sanziv1.Card, hits []rules.Hit) ([]*ledger.Stored, error) {
	var recs []ledger.Record
	for _, c := range cards {
		p, err := proto.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode card: %w", err)
		}
		recs = append(recs, ledger.Record{Origin: c.GetOrg(), Author: timerAuthor, Type: sanziv1.EntryType_ENTRY_TYPE_CARD, Payload: p, Subject: c.GetProcedureId()})
	}
	for _, h := range hits {
		origin := b.HomeOrg() // a finding about the books as a whole (BANK-REC, CASH-STOCK)
		if h.Subject != "" {
			o, _, err := ledger.ParseEntryID(h.Subject)
			if err != nil {
				return nil, fmt.Errorf("alert %s is about %q: %w", h.Key, h.Subject, err)
			}
			if b.Serves(o) && o[6:] != "000000" {
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

// published hands new entries to the live alert feed and the supervisor.
func (b *Books) published(out []*ledger.Stored) {
	b.feed.publish(out)
	b.sup.Published(out)
}

// procedureFor is the Procedure record that recording m opens, appended
// after m and about it; nil when m opens none.
func (b *Books) procedureFor(author, org string, m proto.Message, amount int64, summary string) (*ledger.Record, error) {
	p := b.sup.NewProcedure(org, m, amount, summary)
	if p == nil {
		return nil, nil
	}
	payload, err := proto.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode procedure: %w", err)
	}
	return &ledger.Record{Origin: org, Author: author, Type: sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, Payload: payload, About: 1}, nil
}

// Now is the clock of the books (the validator's).
func (b *Books) Now() time.Time {
	if b.val != nil && b.val.Now != nil {
		return b.val.Now()
	}
	return time.Now()
}

// Serves says whether the books follow origin's chain: the orgs this node
// records for, and the district's own chain that flows down to it (rule
// sets it publishes apply here).
func (b *Books) Serves(origin string) bool {
	if b.val == nil || len(b.val.Served) == 0 || slices.Contains(b.val.Served, origin) {
		return true
	}
	return len(b.val.Served[0]) == 12 && origin == b.val.Served[0][:6]+"000000"
}

// HomeOrg is the org whose chain records the node's own decisions (rule
// sets): the first org it serves.
func (b *Books) HomeOrg() string {
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
	hits, err := checkTransaction(e, t, b.sup.Resolution(t))
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
	a := &sanziv1.Alert{Org: b.HomeOrg(), RuleCode: "TAMPER", Severity: string(rules.SeverityRed), Evidence: evidence,
		Reason: reason, RuleSetVersion: b.Rules().Version(), Key: tamperKey(origin, seq, evidence["sent_hash"])}
	st, err := b.AppendEntry(ctx, b.HomeOrg(), alertAuthor, sanziv1.EntryType_ENTRY_TYPE_ALERT, a, ledger.EntryID(origin, seq))
	if err != nil {
		return nil, fmt.Errorf("record TAMPER alert: %w", err)
	}
	b.published([]*ledger.Stored{st})
	return st, nil
}

// RecordDelivery stores one notification delivery as an entry.
func (b *Books) RecordDelivery(ctx context.Context, d *sanziv1.NotificationDelivery) (*ledger.Stored, error) {
	st, err := b.AppendEntry(ctx, d.GetOrg(), "notifier", sanziv1.EntryType_ENTRY_TYPE_NOTIFICATION, d, d.GetAboutId())
	if err != nil {
		return nil, fmt.Errorf("record delivery %s: %w", d.GetMessageId(), err)
	}
	return st, nil
}

// AppendEntry encodes m and appends it as one entry of type t to origin's
// chain, about subject (may be empty): a record that needs no validation,
// procedure or alerts of its own, or that the caller has checked (the
// supervision's decisions and rule-set versions).
func (b *Books) AppendEntry(ctx context.Context, origin, author string, t sanziv1.EntryType, m proto.Message, subject string) (*ledger.Stored, error) {
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
	res := b.sup.Resolution(t)
	hits, err := b.screen(t, func(e *rules.Engine) ([]rules.Hit, error) { return checkTransaction(e, t, res) })
	if err != nil {
		return nil, err
	}
	if res.ID != "" && !res.Approved {
		return nil, &InvalidError{Violations: []Violation{{Field: "transaction.resolutionProcedureId", Reason: res.Why}}}
	}
	return hits, nil
}
