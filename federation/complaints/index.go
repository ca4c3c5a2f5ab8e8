// Package complaints is the district's side of the villagers' complaints
// (issue 15): the arithmetic challenge a complaint form carries
// (challenge.go), and the index of the complaints in the district's chain
// with what their towns did about them (this file), which the public site
// reads for a complaint's status page and a village's list. Filing itself
// (the form, its limits, the entry through Raft) is the public site's
// (federation/public) and the member's (federation/member).
package complaints

import (
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/complaint"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Chains is the member's replicated state the index reads (federation/fsm).
type Chains interface {
	// Range calls fn for origin's entries from seq from on, in order.
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
	// Head is origin's head.
	Head(origin string) ledger.Head
}

// Status is where a complaint stands, as the public pages say it.
type Status string

// Statuses: filed and in the district's chain; the town opened its
// procedure; the procedure completed (answered) or was rejected.
const (
	StatusReceived Status = "received"
	StatusOpen     Status = "open"
	StatusAnswered Status = "answered"
	StatusRejected Status = "rejected"
)

// Name is the status in Chinese.
func (s Status) Name() string {
	switch s {
	case StatusReceived:
		return "已受理，待转镇办理"
	case StatusOpen:
		return "镇里正在办理"
	case StatusAnswered:
		return "已答复办结"
	case StatusRejected:
		return "不予受理（已终结）"
	}
	return string(s)
}

// Reply is one of the town's replies.
type Reply struct {
	Text     string
	At       time.Time
	StepName string
}

// Step is a step of the complaint's procedure the town decided.
type Step struct {
	Name, Action, Reason string
	At                   time.Time
}

// Complaint is one complaint as the public pages show it: never the
// contact (which only the town can open anyway).
type Complaint struct {
	ID       string // the entry in the district's chain
	FiledAt  time.Time
	C        *sanziv1.Complaint
	Status   Status
	Proc     string // the town's procedure's entry id
	Steps    []Step
	Replies  []Reply
	Answered time.Time // when the procedure closed
}

// Index follows the district's chain for complaints and the chains of the
// towns they went to for their procedures, decisions and replies, from
// where it stopped at the last call: every lookup first reads what was
// appended since (cheap when nothing was). Safe for concurrent use.
type Index struct {
	chains   Chains
	district string // the district chain's origin

	mu       sync.Mutex
	seen     map[string]uint64 // origin → last seq read
	byNumber map[string]*Complaint
	byID     map[string]*Complaint
	byProc   map[string]*Complaint
	villages map[string][]*Complaint // by village, in filing order
	towns    []string
	nonces   map[string]bool
	steps    map[string]string // GOV-COMPLAINT's step names by code
}

// NewIndex follows the chains of district (its 12-digit org code).
func NewIndex(chains Chains, district string) *Index {
	steps := map[string]string{}
	for _, m := range catalog.Default(district[:6]).GetMatters() {
		if m.GetCode() == complaint.Matter {
			for _, s := range m.GetSteps() {
				steps[s.GetCode()] = s.GetName()
			}
		}
	}
	return &Index{chains: chains, district: district, seen: map[string]uint64{}, byNumber: map[string]*Complaint{}, byID: map[string]*Complaint{},
		byProc: map[string]*Complaint{}, villages: map[string][]*Complaint{}, nonces: map[string]bool{}, steps: steps}
}

// refresh reads what was appended since the last call. The caller holds mu.
func (x *Index) refresh() error {
	if err := x.read(x.district, x.district); err != nil {
		return err
	}
	for _, t := range x.towns {
		if err := x.read(t, x.district); err != nil {
			return err
		}
	}
	return nil
}

// read takes origin's entries after the last one read.
func (x *Index) read(origin, district string) error {
	if x.chains.Head(origin).Seq <= x.seen[origin] {
		return nil
	}
	return x.chains.Range(origin, x.seen[origin]+1, 0, func(s *ledger.Stored) bool {
		x.seen[origin] = s.Seq
		if origin == district {
			x.takeComplaint(s)
		} else {
			x.takeTown(s)
		}
		return true
	})
}

func (x *Index) takeComplaint(s *ledger.Stored) {
	if s.Type != sanziv1.EntryType_ENTRY_TYPE_COMPLAINT {
		return
	}
	c := &sanziv1.Complaint{}
	// The posts were checked against the catalog when it was filed.
	if proto.Unmarshal(s.Payload, c) != nil || complaint.Check(c, x.district, c.GetPosts()) != nil {
		return
	}
	if x.byNumber[c.GetNumber()] != nil {
		return // a number taken twice: the first is the one
	}
	c.ContactSealed = nil
	it := &Complaint{ID: s.ID(), FiledAt: s.RecordedAt, C: c, Status: StatusReceived}
	x.byNumber[c.GetNumber()], x.byID[it.ID] = it, it
	x.villages[c.GetVillage()] = append(x.villages[c.GetVillage()], it)
	if c.GetChallengeNonce() != "" {
		x.nonces[c.GetChallengeNonce()] = true
	}
	if !slices.Contains(x.towns, c.GetTown()) {
		x.towns = append(x.towns, c.GetTown())
		// A town new to the index is read from its start at the next
		// refresh (the procedure follows the complaint).
	}
}

func (x *Index) takeTown(s *ledger.Stored) {
	switch s.Type {
	case sanziv1.EntryType_ENTRY_TYPE_PROCEDURE:
		p := &sanziv1.Procedure{}
		if proto.Unmarshal(s.Payload, p) != nil || p.GetMatterCode() != complaint.Matter {
			return
		}
		if it := x.byID[p.GetSubjectId()]; it != nil && it.Proc == "" && it.C.GetTown() == s.Origin {
			it.Proc, it.Status = s.ID(), StatusOpen
			x.byProc[s.ID()] = it
		}
	case sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION:
		d := &sanziv1.StepDecision{}
		if proto.Unmarshal(s.Payload, d) != nil {
			return
		}
		it := x.byProc[d.GetProcedureId()]
		if it == nil || it.Status != StatusOpen {
			return
		}
		step := Step{Name: x.stepName(d.GetStepCode()), Reason: d.GetReason(), At: s.RecordedAt}
		switch d.GetAction() {
		case sanziv1.StepAction_STEP_ACTION_APPROVE:
			step.Action = "办结"
			if d.GetCloses() {
				it.Status, it.Answered = StatusAnswered, s.RecordedAt
			}
		case sanziv1.StepAction_STEP_ACTION_REJECT:
			step.Action = "不予受理"
			it.Status, it.Answered = StatusRejected, s.RecordedAt
		case sanziv1.StepAction_STEP_ACTION_RETURN:
			step.Action = "退回重办"
		}
		it.Steps = append(it.Steps, step)
	case sanziv1.EntryType_ENTRY_TYPE_COMPLAINT_REPLY:
		r := &sanziv1.ComplaintReply{}
		if proto.Unmarshal(s.Payload, r) != nil {
			return
		}
		if it := x.byID[r.GetComplaintId()]; it != nil && it.C.GetTown() == s.Origin && strings.TrimSpace(r.GetText()) != "" {
			it.Replies = append(it.Replies, Reply{Text: r.GetText(), At: s.RecordedAt, StepName: x.stepName(r.GetStepCode())})
		}
	}
}

func (x *Index) stepName(code string) string {
	if n := x.steps[code]; n != "" {
		return n
	}
	return code
}

// Lookup is the complaint with number, if its secret is secret; false for
// an unknown number and a wrong secret alike, so the answer tells nothing
// about which numbers exist.
func (x *Index) Lookup(number, secret string) (Complaint, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(); err != nil {
		return Complaint{}, false, err
	}
	it := x.byNumber[number]
	if it == nil {
		complaint.SecretMatches(&sanziv1.Complaint{Number: number}, secret) // the same work either way
		return Complaint{}, false, nil
	}
	if !complaint.SecretMatches(it.C, secret) {
		return Complaint{}, false, nil
	}
	return it.copy(), true, nil
}

// Village is the village's complaints, newest first.
func (x *Index) Village(village string) ([]Complaint, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(); err != nil {
		return nil, err
	}
	list := x.villages[village]
	out := make([]Complaint, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i].copy())
	}
	return out, nil
}

// Filed is when the village's complaints were recorded in the district's
// chain, in filing order, from its from-th complaint on (from 0): the
// public site counts the village's complaints against its limit, across
// every member, asking only for those it has not counted yet.
func (x *Index) Filed(village string, from int) ([]time.Time, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(); err != nil {
		return nil, err
	}
	list := x.villages[village]
	if from >= len(list) {
		return nil, nil
	}
	out := make([]time.Time, 0, len(list)-max(from, 0))
	for _, c := range list[max(from, 0):] {
		out = append(out, c.FiledAt)
	}
	return out, nil
}

// Taken says whether number is a complaint's already.
func (x *Index) Taken(number string) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(); err != nil {
		return false, err
	}
	return x.byNumber[number] != nil, nil
}

// NonceUsed says whether a complaint in the district's chain answered the
// challenge of nonce.
func (x *Index) NonceUsed(nonce string) (bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(); err != nil {
		return false, err
	}
	return x.nonces[nonce], nil
}

func (c *Complaint) copy() Complaint {
	out := *c
	out.Steps, out.Replies = slices.Clone(c.Steps), slices.Clone(c.Replies)
	return out
}
