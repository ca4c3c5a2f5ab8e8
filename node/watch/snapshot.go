package watch

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

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
// owner sets the rule set in force (SetRules) as it does at start. Every
// index and sum is made again from the kept entries by Load.
func (w *Watcher) Save(e *checkpoint.Encoder) {
	e.Set(w.raised)
	s := &w.st
	e.Int(int64(s.seq))
	e.Int(int64(s.first))
	recs := slices.SortedFunc(maps.Values(s.byID), func(a, b *rec) int { return cmp.Compare(a.seq, b.seq) })
	e.Uint(uint64(len(recs)))
	for _, r := range recs {
		e.String(r.id)
		e.Int(int64(r.seq))
		e.Int(int64(r.recorded))
		e.Bool(r.reversed)
		e.Bool(r.split)
		switch {
		case r.tx != nil:
			e.Uint(recTransaction)
			e.Proto(r.tx)
		case r.ct != nil:
			e.Uint(recContract)
			e.Proto(r.ct)
		case r.pay != nil:
			e.Uint(recPayment)
			e.Proto(r.pay)
			e.String(r.contract)
		case r.vch != nil:
			e.Uint(recVoucher)
			e.Proto(r.vch)
		case r.close != nil:
			e.Uint(recClose)
			e.Proto(r.close)
		default:
			// The rules read a procedure's subject, matter and period
			// only; the procedure itself is the workflow's to keep.
			e.Uint(recProcedure)
			e.String(r.proc.GetSubjectId())
			e.String(r.proc.GetMatterCode())
			e.String(r.proc.GetPeriod())
			e.Int(int64(r.closedOn))
			e.Bool(r.approved)
		}
	}
}

// Load reads what Save wrote into w, a Watcher New made with the same zone
// and rule set, replacing its history: the kept entries are indexed and
// summed again in chain order, as Observe did, and those reversed are
// taken out again.
func (w *Watcher) Load(d *checkpoint.Decoder) error {
	raised := d.Set()
	st := newState()
	st.seq, st.first = int(d.Int()), day(d.Int())
	var reversed []string
	n := d.Len()
	// Sized once: growing maps of a few hundred thousand keys is most of
	// the cost of indexing them again.
	st.byID = make(map[string]*rec, n)
	st.invoices, st.subjects = make(map[string][]*rec, n/2), make(map[string][]*rec, n/2)
	for range n {
		r := &rec{id: d.String(), seq: int(d.Int()), recorded: day(d.Int()), date: noDay, closedOn: noDay}
		rev := d.Bool()
		r.split = d.Bool()
		var m proto.Message
		switch kind := d.Uint(); kind {
		case recTransaction:
			r.tx = &sanziv1.Transaction{}
			m = r.tx
		case recContract:
			r.ct = &sanziv1.Contract{}
			m = r.ct
		case recPayment:
			r.pay = &sanziv1.ContractPayment{}
			m = r.pay
		case recProcedure:
			r.proc = &sanziv1.Procedure{SubjectId: d.String(), MatterCode: d.String(), Period: d.String()}
		case recVoucher:
			r.vch = &sanziv1.Voucher{}
			m = r.vch
		case recClose:
			r.close = &sanziv1.MonthClose{}
			m = r.close
		default:
			if d.Err() == nil {
				return fmt.Errorf("watch state: entry %s of unknown kind %d", r.id, kind)
			}
			return fmt.Errorf("watch state: %w", d.Err())
		}
		if m != nil {
			d.Proto(m)
		}
		switch {
		case r.tx != nil:
			r.date = parseDay(r.tx.GetBusinessDate())
		case r.pay != nil:
			r.date, r.contract = parseDay(r.pay.GetBusinessDate()), d.String()
		case r.vch != nil:
			r.date = parseDay(r.vch.GetBusinessDate())
		case r.proc != nil:
			r.closedOn, r.approved = day(d.Int()), d.Bool()
		}
		if d.Err() != nil {
			break
		}
		st.add(r)
		if rev {
			reversed = append(reversed, r.id)
		}
	}
	if err := d.Err(); err != nil {
		return fmt.Errorf("watch state: %w", err)
	}
	for _, id := range reversed {
		st.reverse(id)
	}
	w.raised, w.st = raised, st
	return nil
}
