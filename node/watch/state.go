package watch

import (
	"cmp"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// day is a calendar day counted from 1970-01-01, so that dates compare and
// subtract as integers.
type day int64

const (
	noDay day = -1 << 40 // no date, or a malformed one: date rules skip it
	never day = 1 << 40  // a debt not settled
)

func parseDay(s string) day {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return noDay
	}
	return day(t.Unix() / 86400)
}

// dayOf is the calendar day of t in loc.
func dayOf(t time.Time, loc *time.Location) day {
	y, m, d := t.In(loc).Date()
	return day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }
func (d day) String() string  { return d.time().Format(time.DateOnly) }
func (d day) year() int       { return d.time().Year() }
func (d day) month() month    { t := d.time(); return month(t.Year()*12 + int(t.Month()) - 1) }

// month counts months as year*12 + month-1, so that the next month is m+1.
type month int

func (m month) first() day {
	return day(time.Date(int(m)/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}
func (m month) last() day      { return (m + 1).first() - 1 }
func (m month) String() string { return fmt.Sprintf("%04d-%02d", int(m)/12, int(m)%12+1) }

// nth is day n of m, or its last day when m is shorter.
func (m month) nth(n int64) day { return min(m.first()+day(n)-1, m.last()) }

// rec is one stored entry of the history.
type rec struct {
	id       string
	seq      int
	recorded day
	date     day // business date; noDay when none
	tx       *sanziv1.Transaction
	ct       *sanziv1.Contract
	pay      *sanziv1.ContractPayment
	contract string // payment: the contract it pays
	proc     *sanziv1.Procedure
	vch      *sanziv1.Voucher
	close    *sanziv1.MonthClose
	closedOn day  // procedure: day its closing decision was recorded, noDay while open
	reversed bool // the flags side by side: 128 bytes, not 136
	approved bool // procedure: that decision approved it
	split    bool // expense: counted in a SPLIT window that fired
	// archived says that r is in the archive (read from it, or written
	// by a checkpoint); gen counts r's changes (touch), saved is the gen
	// the archive holds (see Archive).
	archived   bool
	gen, saved uint32
}

func (r *rec) amount() int64 {
	if r.pay != nil {
		return r.pay.GetAmountFen()
	}
	return r.tx.GetAmountFen()
}

func (r *rec) cash() bool {
	if r.pay != nil {
		return r.pay.GetPaymentMethod() == sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
	}
	return r.tx.GetPaymentMethod() == sanziv1.PaymentMethod_PAYMENT_METHOD_CASH
}

// byDate orders entries by business date, then chain order.
func byDate(a, b *rec) int { return cmp.Or(cmp.Compare(a.date, b.date), cmp.Compare(a.seq, b.seq)) }

// live keeps the dated, non-reversed entries of rs.
func live(rs []*rec) []*rec {
	var out []*rec
	for _, r := range rs {
		if !r.reversed && r.date != noDay {
			out = append(out, r)
		}
	}
	return out
}

// yearTotals are the sums of one business year, kept per category and
// budget line so that the lists that classify them may change.
type yearTotals struct {
	income     int64
	categories map[string]int64 // expenses
	lines      map[string]int64 // expenses
}

// state is the history of one node, indexed for the rules.
type state struct {
	seq       int
	first     day      // day of the first event
	ids       recIndex // every entry kept, by id
	years     map[int]*yearTotals
	cash      map[day]int64            // net cash on hand moved per business day
	open      map[string]*openPayments // by payee: what SPLIT may still count
	invoices  map[string][]*rec        // transactions by invoice (with an archive, those not written to it yet)
	receipts  []*rec                   // cash received
	banked    []*rec                   // cash paid into the bank (TRANSFER in cash)
	loans     map[string][]*rec        // staff advances by id number
	repaid    map[string][]*rec        // LOAN_IN and INCOME by id number
	contracts []*rec
	payments  map[string][]*rec // contract payments by contract id
	paid      map[string]int64  // by contract id
	objects   map[string][]*rec // contracts by object id
	procs     []*rec
	subjects  map[string][]*rec // procedures by subject id
	periods   map[string][]*rec // procedures by matter/period
	orgs      map[string]*orgBooks
	// arch keeps the entries resident does not (nil: none); fetched are
	// those of them read back and changed since a checkpoint wrote them.
	arch    *Archive
	fetched map[string]*rec
	// loading is set while build indexes a checkpoint's entries with an
	// archive: their invoices are the archive's already.
	loading bool
	// summed is set while build indexes a checkpoint's entries: the sums
	// (years, cash, paid, orgs) are the checkpoint's already (readSums),
	// which count the archived entries too.
	summed bool
}

func newState() state {
	return state{
		first: noDay, ids: newRecIndex(), years: map[int]*yearTotals{}, cash: map[day]int64{},
		open: map[string]*openPayments{}, invoices: map[string][]*rec{}, loans: map[string][]*rec{},
		repaid: map[string][]*rec{}, payments: map[string][]*rec{}, paid: map[string]int64{},
		objects: map[string][]*rec{}, subjects: map[string][]*rec{}, periods: map[string][]*rec{},
		orgs: map[string]*orgBooks{},
	}
}

// record makes the rec of an entry the rules keep, nil for others. It does
// not add it: rules judge it against the history before it.
func (s *state) record(ev Event, loc *time.Location) *rec {
	r := &rec{id: ev.ID, recorded: dayOf(ev.RecordedAt, loc), date: noDay, closedOn: noDay}
	switch m := ev.Msg.(type) {
	case *sanziv1.Transaction:
		r.tx, r.date = m, parseDay(m.GetBusinessDate())
	case *sanziv1.Contract:
		r.ct = m
	case *sanziv1.ContractPayment:
		r.pay, r.date, r.contract = m, parseDay(m.GetBusinessDate()), cmp.Or(m.GetContractId(), ev.Subject)
	case *sanziv1.Procedure:
		r.proc = m
	case *sanziv1.Voucher:
		r.vch, r.date = m, parseDay(m.GetBusinessDate())
	case *sanziv1.MonthClose:
		r.close = m
	default:
		return nil
	}
	// Only kept entries are numbered, so that entries of other chains
	// (a catalog the district published) fed in between do not shift
	// the numbers: only the order of kept entries matters.
	s.seq++
	r.seq = s.seq
	return r
}

// add keeps r, indexes it and counts it in the sums.
func (s *state) add(r *rec) {
	s.ids.add(r)
	s.index(r)
}

// index indexes r, kept, and counts it in the sums.
func (s *state) index(r *rec) {
	switch {
	case r.tx != nil:
		tx, id := r.tx, norm(r.tx.GetCounterparty().GetIdNumber())
		switch tx.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			if p := payeeKey(tx.GetCounterparty()); p != "" && r.date != noDay && !r.split && !r.reversed {
				if s.open[p] == nil {
					s.open[p] = &openPayments{}
				}
				s.open[p].add(r)
			}
		case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
			if r.date != noDay && idcode.ResidentID(id, r.date.time()) == nil {
				s.loans[id] = append(s.loans[id], r)
			}
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
			if id != "" {
				s.repaid[id] = append(s.repaid[id], r)
			}
			if r.cash() {
				s.receipts = append(s.receipts, r)
			}
		case sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
			if r.cash() {
				s.banked = append(s.banked, r)
			}
		}
		if !s.loading { // else the archive's already: no key made
			if k := invoiceKey(tx); k != "" {
				s.invoices[k] = append(s.invoices[k], r)
			}
		}
	case r.ct != nil:
		s.contracts = append(s.contracts, r)
		if o := r.ct.GetObject().GetObjectId(); o != "" {
			s.objects[o] = append(s.objects[o], r)
		}
	case r.pay != nil:
		s.payments[r.contract] = append(s.payments[r.contract], r)
		if r.cash() {
			s.receipts = append(s.receipts, r)
		}
	case r.proc != nil:
		if sub := r.proc.GetSubjectId(); sub != "" {
			s.subjects[sub] = append(s.subjects[sub], r)
		}
		if !s.resident(r) {
			break // found by id or subject only, until archived (see resident)
		}
		s.procs = append(s.procs, r)
		k := r.proc.GetMatterCode() + "/" + r.proc.GetPeriod()
		s.periods[k] = append(s.periods[k], r)
	case r.vch != nil && !s.summed:
		s.addVoucher(r)
	case r.close != nil && !s.summed:
		s.addClose(r)
	}
	if !s.summed {
		s.count(r, 1)
	}
}

// count adds r to the running sums (sign -1 takes it out again).
func (s *state) count(r *rec, sign int64) {
	amt := sign * r.amount()
	switch {
	case r.tx != nil && r.date != noDay:
		y := s.year(r.date.year())
		switch r.tx.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME:
			y.income += amt
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			y.categories[r.tx.GetCategory()] += amt
			y.lines[r.tx.GetBudgetLine()] += amt
		}
		if r.cash() {
			s.cash[r.date] += cashSign(r.tx.GetKind()) * amt
		}
	case r.pay != nil:
		s.paid[r.contract] += amt
		if r.cash() && r.date != noDay {
			s.cash[r.date] += amt
		}
	case r.vch != nil:
		s.countVoucher(r, sign)
	}
}

// cashSign says which way a cash transaction moves the cash on hand; a
// TRANSFER in cash is cash paid into the bank.
func cashSign(k sanziv1.TransactionKind) int64 {
	switch k {
	case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
		return 1
	case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT,
		sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
		return -1
	}
	return 0
}

func (s *state) year(y int) *yearTotals {
	t := s.years[y]
	if t == nil {
		t = &yearTotals{categories: map[string]int64{}, lines: map[string]int64{}}
		s.years[y] = t
	}
	return t
}

// spent sums the year's expenses whose category matches.
func (s *state) spent(y int, match func(category string) bool) int64 {
	var sum int64
	for c, v := range s.year(y).categories {
		if match(c) {
			sum += v
		}
	}
	return sum
}

// reverse takes a reversed entry out of every sum; it still shows in the
// indexes, flagged, for the rules to skip.
func (s *state) reverse(id string) {
	if r := s.lookup(id); r != nil && !r.reversed {
		r.reversed = true
		s.touch(r)
		s.count(r, -1)
		if r.tx.GetKind() == sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE && r.date != noDay && !r.split {
			if p := s.open[payeeKey(r.tx.GetCounterparty())]; p != nil {
				p.remove(r)
			}
		}
	}
}

// decide records a decision that closes a procedure (the first one counts).
func (s *state) decide(id string, d *sanziv1.StepDecision, on day) {
	if p := s.lookup(id); p != nil && p.proc != nil && d.GetCloses() && p.closedOn == noDay {
		p.closedOn, p.approved = on, d.GetAction() == sanziv1.StepAction_STEP_ACTION_APPROVE
		s.touch(p)
	}
}

// completed returns a procedure of matter for period m approved and closed
// on or before day by, or nil.
func (s *state) completed(matter string, m month, by day) *rec {
	for _, p := range s.periods[matter+"/"+m.String()] {
		if !p.reversed && p.approved && p.closedOn != noDay && p.closedOn <= by {
			return p
		}
	}
	return nil
}

// norm is an identifier (id number, phone, account) without spaces, upper
// case, so that "…123x" and "…123X" are one person.
//
// An identifier already in that form, the usual one, is returned as it is:
// this runs on every transaction a checkpoint's load indexes again.
func norm(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c <= ' ' || 'a' <= c && c <= 'z' {
			return strings.ToUpper(strings.Join(strings.Fields(s), ""))
		}
	}
	return s
}

// payeeKey identifies a payee by id number, else bank account, else name.
func payeeKey(c *sanziv1.Counterparty) string {
	return cmp.Or(norm(c.GetIdNumber()), norm(c.GetBankAccount()), strings.TrimSpace(c.GetName()))
}

func invoiceKey(tx *sanziv1.Transaction) string {
	n := strings.TrimSpace(tx.GetInvoiceNumber())
	if n == "" {
		return ""
	}
	return strings.TrimSpace(tx.GetInvoiceCode()) + "/" + n
}
