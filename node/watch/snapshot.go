package watch

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sanzi/sanzi/node/checkpoint"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// What a kept entry of the history holds, as Save writes it.
const (
	recTransaction = iota + 1
	recContract
	recPayment
	recProcedure
	recVoucher
	recClose
)

// Save writes the history the rules judge by and the keys raised, for a
// checkpoint (node/checkpoint). The rules themselves are not written: the
// owner sets the rule set in force (SetRules) as it does at start. The
// running sums are written as they are (saveSums); every index is made
// again from the kept entries by Load.
//
// Of each entry it writes only what a rule reads of an entry in the
// history (saveRec), not its whole message: unmarshalling whole messages
// was most of what making the history cost (issue 17). An entry's own
// rules read the whole message, but they ran when it was observed.
//
// All of it is one section, so that Load takes it whole without reading
// it (see Load). A Watcher whose Load failed (Err) has no history to
// write: its owner must not checkpoint it.
func (w *Watcher) Save(e *checkpoint.Encoder) {
	w.wait()
	e.Section(w.save)
}

func (w *Watcher) save(e *checkpoint.Encoder) {
	e.Set(w.raised)
	s := &w.st
	e.Int(int64(s.seq))
	e.Int(int64(s.first))
	saveSums(e, s)
	recs := s.ids.all()
	if s.arch != nil {
		// The others go to the archive, in the checkpoint's transaction
		// (Staged).
		var out []*rec
		recs = slices.DeleteFunc(recs, func(r *rec) bool {
			if s.resident(r) {
				return false
			}
			out = append(out, r)
			return true
		})
		w.staged = s.stage(out)
	}
	e.Uint(uint64(len(recs)))
	for _, r := range recs {
		saveRec(e, r)
	}
}

// saveRec writes what the rules read of r once it is in the history (its
// rules having run when it was observed), field by field; readRec reads it
// back. Add here, and to readRec, any field a rule comes to read of an
// entry in the history: TestLoadEqualsSaved fails until then.
//
//   - a transaction: kind, amount, payment method, category, budget line,
//     invoice code and number, and the counterparty's id number, bank
//     account and name (sums, SPLIT, DUP-INVOICE, ADVANCE, CASH-DEPOSIT);
//   - a contract: its term's end, object and schedule (ARREARS, EXPIRING);
//   - a payment: amount and payment method (the contract is r.contract);
//   - a procedure: subject, matter and period (closedOn and approved are
//     r's own);
//   - a voucher: org and lines; a month close: org and month.
//
// The business date is written as the day it parses to (r.date).
func saveRec(e *checkpoint.Encoder, r *rec) {
	e.String(r.id)
	e.Int(int64(r.seq))
	e.Int(int64(r.recorded))
	e.Int(int64(r.date))
	e.Bool(r.reversed)
	e.Bool(r.split)
	switch {
	case r.tx != nil:
		tx, c := r.tx, r.tx.GetCounterparty()
		e.Uint(recTransaction)
		e.Int(int64(tx.GetKind()))
		e.Int(tx.GetAmountFen())
		e.Int(int64(tx.GetPaymentMethod()))
		e.String(tx.GetCategory())
		e.String(tx.GetBudgetLine())
		e.String(tx.GetInvoiceCode())
		e.String(tx.GetInvoiceNumber())
		e.String(c.GetIdNumber())
		e.String(c.GetBankAccount())
		e.String(c.GetName())
	case r.ct != nil:
		e.Uint(recContract)
		e.String(r.ct.GetTermEnd())
		e.String(r.ct.GetObject().GetObjectId())
		e.Uint(uint64(len(r.ct.GetSchedule())))
		for _, p := range r.ct.GetSchedule() {
			e.String(p.GetDueDate())
			e.Int(p.GetAmountFen())
		}
	case r.pay != nil:
		e.Uint(recPayment)
		e.Int(r.pay.GetAmountFen())
		e.Int(int64(r.pay.GetPaymentMethod()))
		e.String(r.contract)
	case r.vch != nil:
		e.Uint(recVoucher)
		e.String(r.vch.GetOrg())
		e.Uint(uint64(len(r.vch.GetLines())))
		for _, l := range r.vch.GetLines() {
			e.String(l.GetAccount())
			e.Int(l.GetDebitFen())
			e.Int(l.GetCreditFen())
		}
	case r.close != nil:
		e.Uint(recClose)
		e.String(r.close.GetOrg())
		e.String(r.close.GetMonth())
	default:
		e.Uint(recProcedure)
		e.String(r.proc.GetSubjectId())
		e.String(r.proc.GetMatterCode())
		e.String(r.proc.GetPeriod())
		e.Int(int64(r.closedOn))
		e.Bool(r.approved)
	}
}

// Load reads what Save wrote into w, a Watcher New made with the same zone
// and rule set, replacing its history. It takes the history's section
// whole without reading it: the history is made from it (build) when
// first needed, by Observe, Sweep, Raised, Save or Err (Check needs none),
// so that a node's start costs the watcher nothing that grows with the
// history; its first entry recorded, or its first sweep (just after the
// start), pays for the build instead (issue 17). Err says whether the
// build failed.
//
// With an archive (UseArchive) the procedures a record opens and the
// index of transactions by invoice are not in the section: on a sample
// village of 1,000,000 entries (BenchmarkStartup) the build's CPU went
// from about 370 ms to 190 ms. The sums are in the section too
// (saveSums), so that only the entries a rule's list holds (listed) are
// in it: vouchers, month closes, expenses SPLIT counted, payments and
// incomes in no list, reversed entries are the archive's (read by id).
// TODO(issue 17): the build still grows with the history: the entries
// still listed (expenses SPLIT may count, receipts and bankings settled
// first in, first out over the whole history, loans and repayments,
// contracts, procedures of a period) are decoded and indexed again.
// SPLIT's open payments per payee could be a range scan of payee and day
// in bbolt; the sweeps' lists could be cut to what can still fire with a
// settled prefix kept as a sum. A town's cross-village watcher archives
// procedures only (ProceduresOnly).
func (w *Watcher) Load(d *checkpoint.Decoder) error {
	hist := d.Bytes()
	if d.Err() != nil {
		return fmt.Errorf("watch state: %w", d.Err())
	}
	w.pending, w.loadErr = hist, nil
	return nil
}

// wait makes the history Load took, if it is not made yet.
func (w *Watcher) wait() {
	b := w.pending
	if b == nil {
		return
	}
	w.pending = nil
	raised, st, err := build(b, w.st.arch)
	if err != nil {
		w.loadErr = fmt.Errorf("watch state: %w", err)
		return
	}
	w.raised, w.st = raised, st
}

// Err makes the history Load took, if it is not made yet, and says
// whether that failed: a Watcher whose history did not decode judges
// nothing (rather than judge against no history) and must be dropped,
// and the state rebuilt by a replay.
func (w *Watcher) Err() error {
	w.wait()
	return w.loadErr
}

// build makes the history from what save wrote: the sums are taken as
// saved (readSums), and the kept entries indexed again in chain order,
// as Observe did, those reversed flagged as they were.
//
// The section is copied once into a string of which every string of the
// history is a part, and the entries' messages (only what saveRec keeps)
// are taken from blocks of a few hundred: a history of 100,000 entries
// allocates some thousand times, not some million.
func build(b []byte, arch *Archive) (map[string]bool, state, error) {
	d := &histReader{s: string(b)}
	raised := make(map[string]bool)
	for range d.len() {
		raised[d.string()] = true
	}
	st := newState()
	st.arch = arch // UseArchive came before the history was made
	st.seq, st.first = int(d.int()), day(d.int())
	if err := readSums(d, &st); err != nil {
		return nil, state{}, err
	}
	n := d.len()
	if d.err != nil {
		return nil, state{}, d.err
	}
	recs := make([]rec, n)
	var a allocs
	invoiced, about := 0, 0 // upper bounds of the keys of invoices and subjects
	for i := range recs {
		r := &recs[i]
		if err := d.rec(r, &a); err != nil {
			return nil, state{}, err
		}
		if r.tx != nil && r.tx.GetInvoiceNumber() != "" && arch == nil {
			invoiced++
		}
		if r.proc.GetSubjectId() != "" {
			about++
		}
	}
	if err := d.done(); err != nil {
		return nil, state{}, err
	}
	// Sized once: growing maps of a few hundred thousand keys is most of
	// the cost of indexing them again. Sized by what they may hold, not
	// by the entries: with an archive, few procedures are left here.
	st.ids.load(recs)
	st.invoices, st.subjects = make(map[string][]*rec, invoiced), make(map[string][]*rec, about)
	// The sums are the section's (readSums): the entries are indexed
	// only, the reversed ones flagged as they were (index leaves them out
	// of what SPLIT may count).
	st.loading, st.summed = arch != nil, true
	for i := range recs {
		st.index(&recs[i])
	}
	st.loading, st.summed = false, false
	return raised, st, nil
}

// rec reads one entry saveRec wrote into r.
func (d *histReader) rec(r *rec, a *allocs) error {
	*r = rec{id: d.string(), seq: int(d.int()), recorded: day(d.int()), date: day(d.int()), closedOn: noDay}
	r.reversed, r.split = d.bool(), d.bool()
	switch kind := d.uint(); kind {
	case recTransaction:
		tx, c := a.tx.new(), a.cp.new()
		tx.Kind, tx.AmountFen, tx.PaymentMethod = sanziv1.TransactionKind(d.int()), d.int(), sanziv1.PaymentMethod(d.int())
		tx.Category, tx.BudgetLine, tx.InvoiceCode, tx.InvoiceNumber = d.string(), d.string(), d.string(), d.string()
		c.IdNumber, c.BankAccount, c.Name = d.string(), d.string(), d.string()
		tx.Counterparty, r.tx = c, tx
	case recContract:
		ct, o := a.ct.new(), a.obj.new()
		ct.TermEnd, o.ObjectId = d.string(), d.string()
		ct.Object = o
		if n := d.len(); n > 0 {
			ct.Schedule = make([]*sanziv1.ScheduledPayment, n)
			for i := range ct.Schedule {
				p := a.sched.new()
				p.DueDate, p.AmountFen = d.string(), d.int()
				ct.Schedule[i] = p
			}
		}
		r.ct = ct
	case recPayment:
		p := a.pay.new()
		p.AmountFen, p.PaymentMethod = d.int(), sanziv1.PaymentMethod(d.int())
		r.pay, r.contract = p, d.string()
	case recVoucher:
		v := a.vch.new()
		v.Org = d.string()
		if n := d.len(); n > 0 {
			v.Lines = make([]*sanziv1.VoucherLine, n)
			for i := range v.Lines {
				l := a.line.new()
				l.Account, l.DebitFen, l.CreditFen = d.string(), d.int(), d.int()
				v.Lines[i] = l
			}
		}
		r.vch = v
	case recClose:
		r.close = &sanziv1.MonthClose{Org: d.string(), Month: d.string()}
	case recProcedure:
		r.proc = &sanziv1.Procedure{SubjectId: d.string(), MatterCode: d.string(), Period: d.string()}
		r.closedOn, r.approved = day(d.int()), d.bool()
	default:
		if d.err == nil {
			return fmt.Errorf("entry %s of unknown kind %d", r.id, kind)
		}
	}
	if d.err != nil {
		return fmt.Errorf("entry %s: %w", r.id, d.err)
	}
	return nil
}

// allocs hands out the messages build makes, from blocks.
type allocs struct {
	tx    block[sanziv1.Transaction]
	cp    block[sanziv1.Counterparty]
	ct    block[sanziv1.Contract]
	obj   block[sanziv1.ContractObject]
	sched block[sanziv1.ScheduledPayment]
	pay   block[sanziv1.ContractPayment]
	vch   block[sanziv1.Voucher]
	line  block[sanziv1.VoucherLine]
}

// block hands out values of T from slices of blockSize, allocated when the
// last one is used up.
type block[T any] struct{ free []T }

const blockSize = 256

func (b *block[T]) new() *T {
	if len(b.free) == 0 {
		b.free = make([]T, blockSize)
	}
	p := &b.free[0]
	b.free = b.free[1:]
	return p
}

// histReader reads what a checkpoint.Encoder wrote from a string, so that
// each string read is a part of it rather than a copy.
type histReader struct {
	s   string
	err error
}

var errShort = errors.New("history cut short")

func (d *histReader) uint() uint64 {
	var v uint64
	for i, shift := 0, uint(0); i < len(d.s) && i < 10; i, shift = i+1, shift+7 {
		c := d.s[i]
		if c < 0x80 {
			d.s = d.s[i+1:]
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
	}
	if d.err == nil {
		d.err = errShort
	}
	d.s = ""
	return 0
}

func (d *histReader) int() int64 {
	u := d.uint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *histReader) bool() bool { return d.uint() == 1 }

// len reads a count or a length, failing one longer than what is left.
func (d *histReader) len() int {
	n := d.uint()
	if n > uint64(len(d.s)) {
		if d.err == nil {
			d.err = fmt.Errorf("a length of %d with %d bytes left", n, len(d.s))
		}
		d.s = ""
		return 0
	}
	return int(n)
}

func (d *histReader) string() string {
	n := d.len()
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

// done fails unless every byte was read.
func (d *histReader) done() error {
	if d.err == nil && len(d.s) > 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.s))
	}
	return d.err
}
