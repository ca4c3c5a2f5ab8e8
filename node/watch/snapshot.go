package watch

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"

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
// and rule set, replacing its history. It takes the history's section
// whole without reading it: the history is made from it (build) when
// first needed, by Observe, Sweep, Raised, Save or Err (Check needs none),
// so that a node's start costs the watcher nothing that grows with the
// history; its first entry recorded, or its first sweep (just after the
// start), pays for the build instead (issue 17). Err says whether the
// build failed.
// TODO(issue 17): the build itself still grows with the history (about a
// third of a 100,000-entry open when the start made it); keeping the
// rules' lookups in bbolt beside the entries would end that.
func (w *Watcher) Load(d *checkpoint.Decoder) error {
	hist := d.Section()
	if d.Err() != nil {
		return fmt.Errorf("watch state: %w", d.Err())
	}
	w.pending, w.loadErr = hist, nil
	return nil
}

// wait makes the history Load took, if it is not made yet.
func (w *Watcher) wait() {
	d := w.pending
	if d == nil {
		return
	}
	w.pending = nil
	raised, st, err := build(d)
	if err == nil && d.Done() != nil {
		err = fmt.Errorf("watch state: %w", d.Done())
	}
	if err != nil {
		w.loadErr = err
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

// build makes the history from what save wrote: the kept entries are
// indexed and summed again in chain order, as Observe did, and those
// reversed are taken out again.
//
// It reads in three passes, because unmarshalling the kept messages is a
// third of the cost and needs nothing but their bytes: the entries are
// read one after another (their bytes aliasing d's), their messages are
// unmarshalled side by side on every core, and then they are indexed in
// chain order, which must stay serial.
func build(d *checkpoint.Decoder) (map[string]bool, state, error) {
	raised := d.Set()
	st := newState()
	st.seq, st.first = int(d.Int()), day(d.Int())
	var reversed []string
	n := d.Len()
	if d.Err() != nil {
		return nil, state{}, fmt.Errorf("watch state: %w", d.Err())
	}
	// One block for every entry, and the bytes of each one's message.
	recs, raw := make([]rec, n), make([][]byte, n)
	for i := range recs {
		r := &recs[i]
		*r = rec{id: d.String(), seq: int(d.Int()), recorded: day(d.Int()), date: noDay, closedOn: noDay}
		if d.Bool() {
			reversed = append(reversed, r.id)
		}
		r.split = d.Bool()
		switch kind := d.Uint(); kind {
		case recTransaction:
			r.tx = &sanziv1.Transaction{}
			raw[i], _ = d.ProtoBytes()
		case recContract:
			r.ct = &sanziv1.Contract{}
			raw[i], _ = d.ProtoBytes()
		case recPayment:
			r.pay = &sanziv1.ContractPayment{}
			raw[i], _ = d.ProtoBytes()
			r.contract = d.String()
		case recProcedure:
			r.proc = &sanziv1.Procedure{SubjectId: d.String(), MatterCode: d.String(), Period: d.String()}
			r.closedOn, r.approved = day(d.Int()), d.Bool()
		case recVoucher:
			r.vch = &sanziv1.Voucher{}
			raw[i], _ = d.ProtoBytes()
		case recClose:
			r.close = &sanziv1.MonthClose{}
			raw[i], _ = d.ProtoBytes()
		default:
			if d.Err() == nil {
				return nil, state{}, fmt.Errorf("watch state: entry %s of unknown kind %d", r.id, kind)
			}
			return nil, state{}, fmt.Errorf("watch state: %w", d.Err())
		}
		if d.Err() != nil {
			return nil, state{}, fmt.Errorf("watch state: %w", d.Err())
		}
	}
	if err := unmarshalRecs(recs, raw); err != nil {
		return nil, state{}, fmt.Errorf("watch state: %w", err)
	}
	// Sized once: growing maps of a few hundred thousand keys is most of
	// the cost of indexing them again.
	st.byID = make(map[string]*rec, n)
	st.invoices, st.subjects = make(map[string][]*rec, n/2), make(map[string][]*rec, n/2)
	for i := range recs {
		st.add(&recs[i])
	}
	for _, id := range reversed {
		st.reverse(id)
	}
	return raised, st, nil
}

// unmarshalRecs decodes raw[i] into the message recs[i] holds and sets its
// business date, in as many parts as there are cores. A nil raw[i] (no
// message written, or none kept: a procedure) leaves recs[i] as it is.
func unmarshalRecs(recs []rec, raw [][]byte) error {
	parts := min(runtime.GOMAXPROCS(0), max(1, len(recs)/1024))
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(recs)/parts, (p+1)*len(recs)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if err := unmarshalRec(&recs[i], raw[i]); err != nil {
					errs[p] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func unmarshalRec(r *rec, b []byte) error {
	m := r.message()
	if m == nil {
		return nil
	}
	if b != nil {
		if err := proto.Unmarshal(b, m); err != nil {
			return fmt.Errorf("decode entry %s (%T): %w", r.id, m, err)
		}
	}
	switch {
	case r.tx != nil:
		r.date = parseDay(r.tx.GetBusinessDate())
	case r.pay != nil:
		r.date = parseDay(r.pay.GetBusinessDate())
	case r.vch != nil:
		r.date = parseDay(r.vch.GetBusinessDate())
	}
	return nil
}

// message is the entry's message r keeps whole (a checkpoint holds it
// encoded), nil for a procedure, of which only what the rules read is
// kept.
func (r *rec) message() proto.Message {
	switch {
	case r.tx != nil:
		return r.tx
	case r.ct != nil:
		return r.ct
	case r.pay != nil:
		return r.pay
	case r.vch != nil:
		return r.vch
	case r.close != nil:
		return r.close
	}
	return nil
}
