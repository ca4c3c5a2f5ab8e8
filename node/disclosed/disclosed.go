// Package disclosed computes a village's published monthly disclosures
// (财务公开) from its chain (the village's own, the district's replicated
// copy, or the segment a verifier fetched): what each
// GOV-DISCLOSE procedure approved, with every figure traced to the entries
// it comes from. The district's public site (federation/public) shows
// them, and `sanzi verify-public` computes them again, with this same
// code, from the chain segment it fetched, so the page and the proof
// cannot drift apart.
//
// What a disclosure covers is fixed by the chain alone, so a published
// disclosure never changes:
//   - it is published when its procedure's last step is approved (the
//     decision that closes it), and not before;
//   - it covers the financial entries recorded after the previous
//     disclosure's procedure entry and before its own: the previous one
//     being, of those published before it, the one opened last. An entry
//     recorded late (a February receipt booked after February's disclosure
//     was prepared) is in the next disclosure, with its own date, so every
//     entry is disclosed exactly once;
//   - balances are carried: its opening balance is the previous one's
//     closing balance (zero for the first), and its closing balance is the
//     opening plus the cash and bank movements of what it covers.
//
// It is also what the village's committee approves: the village node
// computes the open procedure's disclosure with Prepare (this same code,
// on its own chain), and its approving decision names the SHA-256 of the
// disclosure's canonical bytes (Encode) in StepDecision.disclosure,
// signed, in the chain. Compute gives every disclosure that digest
// (ContentSha256) and what each decision named; Check refuses one whose
// approved digest is not the content the chain gives, so the public site
// can neither show what the committee did not approve nor drift from the
// chain. Months approved before decisions named a digest have none to
// check (Legacy): they are shown as computed, saying so.
package disclosed

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/entries"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Matter is the catalog matter whose procedure publishes a disclosure.
const Matter = "GOV-DISCLOSE"

// DefaultRetentionMonths is how long a disclosure stays on the public site
// when the catalog's matter sets no retention_months: ten years.
const DefaultRetentionMonths = 120

// ContractIncome is the income category of contract payments (rent and
// contracting fees received), which are booked as payments against their
// contract rather than as income transactions.
const ContractIncome = "合同收入"

// Uncategorised is the category of a transaction recorded without one.
const Uncategorised = "未分类"

// Ref names the entry a figure comes from.
type Ref struct {
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Party is a counterparty as the public may see it (authz.PublicCounterparty).
type Party struct {
	Name        string `json:"name"`
	IDNumber    string `json:"idNumber,omitempty"`
	BankAccount string `json:"bankAccount,omitempty"`
	Phone       string `json:"phone,omitempty"`
}

// Approval is one decision of the disclosure's procedure.
type Approval struct {
	Ref    Ref       `json:"entry"`
	Step   string    `json:"step"`
	Post   string    `json:"post"`
	Action string    `json:"action"`
	At     time.Time `json:"at"`
	// ContentSha256 is the digest of the public content the decision
	// approved (StepDecision.disclosure; empty in decisions recorded
	// before decisions named one), and ItemizeFromFen the threshold it
	// was computed with.
	ContentSha256  string `json:"contentSha256,omitempty"`
	ItemizeFromFen int64  `json:"itemizeFromFen,omitempty"`
}

// Sum is one category's total.
type Sum struct {
	Category  string `json:"category"`
	AmountFen int64  `json:"amountFen"`
}

// Tx is a transaction listed one by one.
type Tx struct {
	Ref       Ref    `json:"entry"`
	Date      string `json:"date"`
	Kind      string `json:"kind"`
	Category  string `json:"category"`
	AmountFen int64  `json:"amountFen"`
	Method    string `json:"method"`
	Party     Party  `json:"counterparty"`
	Summary   string `json:"summary"`
	Voucher   string `json:"voucher,omitempty"`
	// Reversed: a reversal in the same disclosure cancels it.
	Reversed bool `json:"reversed,omitempty"`
}

// Payment is money received under a contract.
type Payment struct {
	Ref       Ref    `json:"entry"`
	Date      string `json:"date"`
	AmountFen int64  `json:"amountFen"`
	Period    string `json:"period,omitempty"`
	Method    string `json:"method"`
	Reversed  bool   `json:"reversed,omitempty"`
}

// Contract is a contract signed in the disclosure, or one with payments
// received in it.
type Contract struct {
	Ref       Ref       `json:"entry"`
	Number    string    `json:"number"`
	Kind      string    `json:"kind"`
	Party     Party     `json:"counterparty"`
	Object    string    `json:"object"`
	AreaMu    float64   `json:"areaMu,omitempty"`
	TermStart string    `json:"termStart"`
	TermEnd   string    `json:"termEnd"`
	AnnualFen int64     `json:"annualFen"`
	Signed    string    `json:"signed"`
	New       bool      `json:"new"`
	Payments  []Payment `json:"payments,omitempty"`
	PaidFen   int64     `json:"paidFen"`
}

// Asset is an asset put on the books.
type Asset struct {
	Ref      Ref    `json:"entry"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	Category string `json:"category"`
	ValueFen int64  `json:"valueFen"`
	Date     string `json:"date"`
	Location string `json:"location,omitempty"`
}

// Disposal is an asset taken off the books.
type Disposal struct {
	Ref      Ref    `json:"entry"`
	Asset    Ref    `json:"asset"`
	Name     string `json:"name"`
	Method   string `json:"method"`
	PriceFen int64  `json:"priceFen"`
	Date     string `json:"date"`
	Party    Party  `json:"counterparty"`
	Reason   string `json:"reason"`
}

// Reversal cancels an entry of this disclosure or of an earlier one.
type Reversal struct {
	Ref    Ref    `json:"entry"`
	Target Ref    `json:"target"`
	What   string `json:"what"`
	// AmountFen is the cancelled amount (0 for what moves no money).
	AmountFen int64  `json:"amountFen"`
	Reason    string `json:"reason"`
}

// Balances are the collective's cash on hand and money in the bank (bank
// transfers and the village card), in fen.
type Balances struct {
	CashFen int64 `json:"cashFen"`
	BankFen int64 `json:"bankFen"`
}

// Disclosure is one published monthly disclosure: its Content, what the
// village's committee approves, and how it was approved and published.
type Disclosure struct {
	Content
	Approvals   []Approval `json:"approvals"`
	PublishedAt time.Time  `json:"publishedAt"`
	// ContentSha256 is the SHA-256 of Encode's bytes: what an approving
	// decision names (Check).
	ContentSha256 string `json:"contentSha256"`

	// FirstSeq is the lowest seq a figure comes from (the start of the
	// chain segment that proves it), and LastSeq the decision that
	// published it.
	FirstSeq uint64 `json:"firstSeq"`
	LastSeq  uint64 `json:"lastSeq"`
	// Unsure says why what the entries seen decide is not the whole
	// story (computed from a piece of the chain that starts too late):
	// empty when computed from the whole chain. Not served.
	Unsure []string `json:"-"`
	// OpeningKnown: the opening balance came from the previous disclosure
	// (or is zero for the first); false when that was not in the entries.
	OpeningKnown bool `json:"-"`
}

// Content is what a disclosure holds, fixed before its closing decision:
// everything but the decisions themselves and the proof's seqs. Encode
// hashes it, so a field added here is approved with the rest.
type Content struct {
	Village string `json:"village"`
	// Period is the month the procedure names, YYYY-MM.
	Period    string `json:"period"`
	Procedure Ref    `json:"procedure"`
	// AfterSeq..ToSeq (inclusive) are the seqs it covers: after the
	// previous disclosure's procedure (0: the first) up to its own.
	AfterSeq uint64 `json:"afterSeq"`
	ToSeq    uint64 `json:"toSeq"`
	// ItemizeFromFen: transactions at or above it are listed one by one.
	ItemizeFromFen int64      `json:"itemizeFromFen"`
	Income         []Sum      `json:"income"`
	Expense        []Sum      `json:"expense"`
	IncomeFen      int64      `json:"incomeFen"`
	ExpenseFen     int64      `json:"expenseFen"`
	Transactions   []Tx       `json:"transactions"`
	Contracts      []Contract `json:"contracts"`
	Acquired       []Asset    `json:"acquired"`
	Disposed       []Disposal `json:"disposed"`
	Reversals      []Reversal `json:"reversals"`
	Opening        Balances   `json:"opening"`
	Movement       Balances   `json:"movement"`
	Closing        Balances   `json:"closing"`
	// Entries is how many financial entries it covers.
	Entries int `json:"entries"`
}

// Options of Compute.
type Options struct {
	// ItemizeFromFen: the GOV-DISCLOSE matter's threshold_fen.
	ItemizeFromFen int64
}

// ErrNotApproved: a decision approved other content than the chain gives.
var ErrNotApproved = errors.New("the disclosure is not what the village's committee approved")

// ErrNoProcedure: Prepare found no open disclosure procedure of that id.
var ErrNoProcedure = errors.New("no open disclosure procedure")

// Format names the layout of Encode's bytes.
const Format = "sanzi-disclosure/1"

// Encode is d's public content as canonical bytes (compact JSON, fields in
// declaration order, masked as the public sees it) and their SHA-256 in
// hex: what the village's committee approves and a decision names. The
// approvals, publication time and proof seqs are left out: they are
// decided by the approval itself.
func Encode(d *Disclosure) ([]byte, string, error) {
	raw, err := json.Marshal(struct {
		Format string `json:"format"`
		Content
	}{Format, d.Content})
	if err != nil {
		return nil, "", fmt.Errorf("encode the disclosure of %s for %s: %w", d.Village, d.Period, err)
	}
	sum := sha256.Sum256(raw)
	return raw, hex.EncodeToString(sum[:]), nil
}

// Seal sets d.ContentSha256 from d's content; call it again after
// changing a figure (the verifier sets the opening balance from the page).
func (d *Disclosure) Seal() error {
	_, sum, err := Encode(d)
	d.ContentSha256 = sum
	return err
}

// Legacy says no decision of d named the content it approved: it was
// approved before decisions did, and only the chain vouches for it.
func (d *Disclosure) Legacy() bool {
	for _, a := range d.Approvals {
		if a.ContentSha256 != "" {
			return false
		}
	}
	return true
}

// Check refuses d when an approving decision named other content than
// d's (ContentSha256, as Seal set it), naming the decision and both
// digests.
func (d *Disclosure) Check() error {
	for _, a := range d.Approvals {
		if a.ContentSha256 != "" && a.ContentSha256 != d.ContentSha256 {
			return fmt.Errorf("%w: decision %s (%s, %s) approved content with sha256 %s, the chain gives %s for %s %s", ErrNotApproved,
				a.Ref.ID, a.Step, a.Post, a.ContentSha256, d.ContentSha256, d.Village, d.Period)
		}
	}
	return nil
}

// Walker reads a chain in order: federation/fsm's FSM, or the segment a
// verifier fetched.
type Walker interface {
	Range(origin string, from uint64, limit int, fn func(*ledger.Stored) bool) error
}

// rec is one entry Compute keeps: its ref and decoded payload.
type rec struct {
	ref Ref
	typ sanziv1.EntryType
	msg proto.Message
	at  time.Time
}

type pending struct {
	proc      *rec
	period    string
	approvals []Approval
}

// Compute reads origin's chain from seq from on (1: the whole chain) and
// returns every disclosure published in it, in the order of publication.
// A disclosure whose previous one or referenced entries lie before from
// carries its doubts in Unsure.
func Compute(w Walker, origin string, from uint64, opt Options) ([]*Disclosure, error) {
	c, err := walk(w, origin, from, opt)
	if err != nil {
		return nil, err
	}
	return c.out, nil
}

// walk reads origin's chain from seq from on.
func walk(w Walker, origin string, from uint64, opt Options) (*computer, error) {
	c := &computer{opt: opt, origin: origin, from: max(from, 1), bySeq: map[uint64]*rec{}, procs: map[string]*pending{},
		closing: map[uint64]Balances{}}
	var ferr error
	err := w.Range(origin, c.from, 0, func(s *ledger.Stored) bool {
		if s.Origin != origin {
			ferr = fmt.Errorf("entry %s is not of %s", s.ID(), origin)
			return false
		}
		if want := cmp.Or(c.next, c.from); s.Seq != want {
			ferr = fmt.Errorf("chain of %s: seq %d where %d was due", origin, s.Seq, want)
			return false
		}
		c.next = s.Seq + 1
		ferr = c.take(s)
		return ferr == nil
	})
	if err = cmp.Or(err, ferr); err != nil {
		return nil, fmt.Errorf("compute the disclosures of %s: %w", origin, err)
	}
	return c, nil
}

// Approve is what a village's decision approving a step of its open
// disclosure procedure procedureID names (StepDecision.disclosure), and
// the content's canonical bytes, which the node keeps as an attachment of
// the decision. itemizeFromFen is the threshold of the procedure's matter.
func Approve(w Walker, origin, procedureID string, itemizeFromFen int64) (*sanziv1.DisclosureApproval, []byte, error) {
	d, err := Prepare(w, origin, procedureID, Options{ItemizeFromFen: itemizeFromFen})
	if err != nil {
		return nil, nil, err
	}
	raw, sum, err := Encode(d)
	if err != nil {
		return nil, nil, err
	}
	return &sanziv1.DisclosureApproval{ContentSha256: sum, ItemizeFromFen: d.ItemizeFromFen}, raw, nil
}

// Prepare is the disclosure origin's open procedure procedureID will
// publish when its last step is approved, computed from the whole chain
// by the same code as Compute: what the village's committee reads and
// approves. Approvals, PublishedAt and LastSeq are those so far.
func Prepare(w Walker, origin, procedureID string, opt Options) (*Disclosure, error) {
	c, err := walk(w, origin, 1, opt)
	if err != nil {
		return nil, err
	}
	p := c.procs[procedureID]
	if p == nil {
		return nil, fmt.Errorf("prepare the disclosure of %s: %w %s", origin, ErrNoProcedure, procedureID)
	}
	c.publish(p, nil)
	return c.out[len(c.out)-1], nil
}

type computer struct {
	opt    Options
	origin string
	from   uint64
	next   uint64
	order  []uint64
	bySeq  map[uint64]*rec
	procs  map[string]*pending // open GOV-DISCLOSE procedures by entry id
	out    []*Disclosure
	// last is the procedure seq of the disclosure published with the
	// highest one so far (0: none seen); closing its closing balance by
	// procedure seq.
	last    uint64
	closing map[uint64]Balances
}

func ref(s *ledger.Stored) Ref {
	return Ref{ID: s.ID(), Seq: s.Seq, Hash: hex.EncodeToString(s.Hash[:])}
}

// take reads one entry.
func (c *computer) take(s *ledger.Stored) error {
	switch s.Type {
	case sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, sanziv1.EntryType_ENTRY_TYPE_CONTRACT, sanziv1.EntryType_ENTRY_TYPE_CONTRACT_PAYMENT,
		sanziv1.EntryType_ENTRY_TYPE_ASSET_REGISTRATION, sanziv1.EntryType_ENTRY_TYPE_ASSET_DISPOSAL, sanziv1.EntryType_ENTRY_TYPE_REVERSAL,
		sanziv1.EntryType_ENTRY_TYPE_PROCEDURE, sanziv1.EntryType_ENTRY_TYPE_STEP_DECISION:
	default:
		return nil
	}
	m, err := entries.Decode(s.Type, s.Payload)
	if err != nil {
		return fmt.Errorf("entry %s: %w", s.ID(), err)
	}
	// What the public sees is the entry's public part: the whole payload
	// masked as at its recording (ledger.Masker splits it so), or, in a
	// redacted entry (verify-public's), the masked payload as it is, which
	// masking again could change (a masked credit code no longer says a
	// name is a company's).
	if !s.Redacted {
		authz.MaskPublic(m, s.RecordedAt)
	}
	r := &rec{ref: ref(s), typ: s.Type, msg: m, at: s.RecordedAt}
	switch m := m.(type) {
	case *sanziv1.Procedure:
		if m.GetMatterCode() == Matter {
			c.procs[r.ref.ID] = &pending{proc: r, period: m.GetPeriod()}
		}
		return nil
	case *sanziv1.StepDecision:
		p := c.procs[m.GetProcedureId()]
		if p == nil {
			return nil // another matter's, or a procedure before the entries read
		}
		a := Approval{Ref: r.ref, Step: m.GetStepCode(), Post: m.GetPost(), Action: actionName(m.GetAction()), At: s.RecordedAt.UTC()}
		if m.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE {
			a.ContentSha256, a.ItemizeFromFen = m.GetDisclosure().GetContentSha256(), m.GetDisclosure().GetItemizeFromFen()
		}
		p.approvals = append(p.approvals, a)
		if !m.GetCloses() {
			return nil
		}
		delete(c.procs, m.GetProcedureId())
		if m.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE {
			c.publish(p, r)
		}
		return nil
	}
	c.bySeq[s.Seq] = r
	c.order = append(c.order, s.Seq)
	return nil
}

func actionName(a sanziv1.StepAction) string {
	switch a {
	case sanziv1.StepAction_STEP_ACTION_APPROVE:
		return "approve"
	case sanziv1.StepAction_STEP_ACTION_REJECT:
		return "reject"
	case sanziv1.StepAction_STEP_ACTION_RETURN:
		return "return"
	}
	return "unspecified"
}

// publish makes the disclosure p's closing decision publishes (nil:
// Prepare's, not yet closed). Its itemizing threshold is the one the last
// approval naming content recorded, else the catalog's (Options).
func (c *computer) publish(p *pending, closing *rec) {
	itemize := c.opt.ItemizeFromFen
	for _, a := range p.approvals {
		if a.ContentSha256 != "" {
			itemize = a.ItemizeFromFen
		}
	}
	d := &Disclosure{Content: Content{Village: c.origin, Period: p.period, Procedure: p.proc.ref, ItemizeFromFen: itemize,
		Income: []Sum{}, Expense: []Sum{}, Transactions: []Tx{}, Contracts: []Contract{}, Acquired: []Asset{}, Disposed: []Disposal{}, Reversals: []Reversal{}},
		Approvals: p.approvals, FirstSeq: p.proc.ref.Seq}
	if closing != nil {
		d.PublishedAt, d.LastSeq = closing.at.UTC(), closing.ref.Seq
	}
	d.AfterSeq = c.last
	if c.last == 0 && c.from > 1 {
		d.Unsure = append(d.Unsure, fmt.Sprintf("no disclosure published before it from seq %d on; one before seq %d would start it later", c.from, c.from))
	}
	d.ToSeq = p.proc.ref.Seq - 1
	if d.AfterSeq > d.ToSeq {
		d.ToSeq = d.AfterSeq // opened before the previous one but approved after it: covers nothing new
	}
	// The proof starts at the previous disclosure's procedure entry, so a
	// verifier sees where this one starts and why.
	d.FirstSeq = min(d.FirstSeq, max(d.AfterSeq, 1))
	if b, ok := c.closing[d.AfterSeq]; ok {
		d.Opening, d.OpeningKnown = b, true
	} else if d.AfterSeq == 0 {
		d.OpeningKnown = true
	}
	c.fill(d)
	d.Closing = Balances{CashFen: d.Opening.CashFen + d.Movement.CashFen, BankFen: d.Opening.BankFen + d.Movement.BankFen}
	if d.OpeningKnown && len(d.Unsure) == 0 {
		c.closing[p.proc.ref.Seq] = d.Closing // a later one may open with it
	}
	c.last = max(c.last, p.proc.ref.Seq)
	// Encode fails only on a value JSON cannot hold; a float area that is
	// NaN or infinite would be one, and then no digest matches: Check
	// refuses the month rather than show it unchecked.
	_ = d.Seal()
	c.out = append(c.out, d)
}

// lookup is an entry referenced by id, nil (and a doubt noted) when it is
// not among the entries read.
func (c *computer) lookup(d *Disclosure, id string, what string) *rec {
	origin, seq, err := ledger.ParseEntryID(id)
	if err != nil || origin != c.origin {
		d.Unsure = append(d.Unsure, fmt.Sprintf("%s %q is not an entry of %s", what, id, c.origin))
		return nil
	}
	r := c.bySeq[seq]
	if r == nil {
		d.Unsure = append(d.Unsure, fmt.Sprintf("%s %s is not among the entries read (from seq %d)", what, id, c.from))
		return nil
	}
	d.FirstSeq = min(d.FirstSeq, seq)
	return r
}
