package watch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SPLIT (structuring) judges each payment to a payee against the payee's
// other payments within window_days of it. It used to walk every earlier
// payment to the payee in that span, the ones already counted in a window
// that fired and the reversed ones included: a town catching up on its
// villages' thousands of small payments to one supplier on one day spent a
// third of its CPU there (issue 17). The rule only ever counts a payment
// that is neither reversed nor already counted, so that is all it keeps
// (openPayments), summed per business day under the threshold: an entry
// costs the days of its window, and a payment leaves the index once it is
// counted.

// openPayments are one payee's dated expenses that a SPLIT window may still
// count (neither reversed nor counted in a window that fired), by business
// day. Payments at or over the threshold are kept too, uncounted: a district
// may raise the threshold over them.
type openPayments struct {
	days []*openDay // by date
	// thr is the threshold the days' n, sum and odd count under; set is
	// false until split first asks (state.add does not know the rules).
	thr int64
	set bool
}

// openDay is one business day of a payee's open payments.
type openDay struct {
	date day
	recs []*rec // in chain order
	n    int    // of recs, those under thr
	sum  int64  // their amounts
	// odd counts those of the n whose amount is zero or less: a window
	// starting later in the day may then sum more than one starting at
	// its first payment, so split tries each start in the day.
	odd int
}

// under counts r in d when its amount is under thr; sign is 1 or -1.
func (d *openDay) under(r *rec, thr int64, sign int) {
	if a := r.tx.GetAmountFen(); a < thr {
		d.n += sign
		d.sum += int64(sign) * a
		if a <= 0 {
			d.odd += sign
		}
	}
}

// find is the index of the day at or after date.
func (p *openPayments) find(date day) int {
	i, _ := slices.BinarySearchFunc(p.days, date, func(d *openDay, x day) int { return int(d.date - x) })
	return i
}

// add keeps r, an expense neither reversed nor split.
func (p *openPayments) add(r *rec) {
	i := p.find(r.date)
	if i == len(p.days) || p.days[i].date != r.date {
		p.days = slices.Insert(p.days, i, &openDay{date: r.date})
	}
	d := p.days[i]
	if n := len(d.recs); n == 0 || d.recs[n-1].seq < r.seq {
		d.recs = append(d.recs, r) // the usual case: entries come in chain order
	} else {
		j, _ := slices.BinarySearchFunc(d.recs, r, func(a, b *rec) int { return a.seq - b.seq })
		d.recs = slices.Insert(d.recs, j, r)
	}
	if p.set {
		d.under(r, p.thr, 1)
	}
}

// remove drops r (reversed) if it is kept.
func (p *openPayments) remove(r *rec) {
	i := p.find(r.date)
	if i == len(p.days) || p.days[i].date != r.date {
		return
	}
	d := p.days[i]
	j, ok := slices.BinarySearchFunc(d.recs, r, func(a, b *rec) int { return a.seq - b.seq })
	if !ok || d.recs[j] != r {
		return
	}
	d.recs = slices.Delete(d.recs, j, j+1)
	if p.set {
		d.under(r, p.thr, -1)
	}
	if len(d.recs) == 0 {
		p.days = slices.Delete(p.days, i, i+1)
	}
}

// at makes the days' counts be under thr.
func (p *openPayments) at(thr int64) {
	if p.set && p.thr == thr {
		return
	}
	p.thr, p.set = thr, true
	for _, d := range p.days {
		d.n, d.sum, d.odd = 0, 0, 0
		for _, r := range d.recs {
			d.under(r, thr, 1)
		}
	}
}

// splitDay is a day of split's window around the entry observed: an open
// day (nil when only the entry is on it) with the entry counted in when it
// is on that day.
type splitDay struct {
	d    *openDay
	date day
	n    int
	sum  int64
	odd  int
	cur  bool
}

// each calls f on the payments of s under thr in chain order, the entry
// observed (last in chain order) included, while f says go on.
func (s *splitDay) each(thr int64, cur *rec, f func(*rec) bool) {
	if s.d != nil {
		for _, r := range s.d.recs {
			if r.tx.GetAmountFen() < thr && !f(r) {
				return
			}
		}
	}
	if s.cur {
		f(cur)
	}
}

// split finds payments to one payee, each under the threshold, within
// window_days of each other and together at or over it (structuring). The
// window is the earliest one holding cur that reaches the threshold; its
// payments then count in no later window, so continued structuring fires
// again only once it adds up to the threshold anew.
//
// The windows are those starting at a payment on a day from window_days
// before cur's to cur's, ending window_days after that start: summed by
// day, one slide over those days; within a day the first payment starts
// the largest window (amounts being positive), unless the day holds a
// payment of zero or less, when each is tried. A negative window_days
// finds nothing.
func split(w *Watcher, r *rule, cur *rec) []finding {
	thr, span := r.Params["split_threshold_fen"], day(r.Params["window_days"])
	tx := expense(cur)
	if tx == nil || tx.GetAmountFen() >= thr || span < 0 {
		return nil
	}
	payee := payeeKey(tx.GetCounterparty())
	if payee == "" {
		return nil
	}
	p := w.st.open[payee]
	if p == nil {
		p = &openPayments{}
	}
	p.at(thr)
	// The days around cur, cur's own day counted in (made when it holds no
	// open payment yet).
	view := w.splitDays[:0]
	defer func() { clear(view); w.splitDays = view[:0] }() // no rec kept alive by the scratch
	amt := tx.GetAmountFen()
	curDay := splitDay{date: cur.date, n: 1, sum: amt, cur: true}
	if amt <= 0 {
		curDay.odd = 1
	}
	placed := false
	for _, d := range p.days[p.find(cur.date-span):p.find(cur.date+span+1)] {
		if !placed && d.date > cur.date {
			view, placed = append(view, curDay), true
		}
		s := splitDay{d: d, date: d.date, n: d.n, sum: d.sum, odd: d.odd}
		if d.date == cur.date {
			s.cur, s.n, s.sum, s.odd, placed = true, s.n+curDay.n, s.sum+curDay.sum, s.odd+curDay.odd, true
		}
		view = append(view, s)
	}
	if !placed {
		view = append(view, curDay)
	}
	// A sliding window over days: b only moves forward.
	var sum int64
	b := 0
	for a := range view {
		start := &view[a]
		if start.date > cur.date {
			break
		}
		for ; b < len(view) && view[b].date <= start.date+span; b++ {
			sum += view[b].sum
		}
		if start.n > 0 {
			var first *rec
			skip, suffix := 0, sum
			start.each(thr, cur, func(o *rec) bool {
				if suffix >= thr {
					first = o
					return false
				}
				suffix -= o.tx.GetAmountFen()
				skip++
				return start.odd > 0
			})
			if first != nil {
				return []finding{take(p, view[a:b], skip, first, suffix, thr, payee, cur)}
			}
		}
		sum -= start.sum
	}
	return nil
}

// take marks split the payments of the window that fired (days, from the
// skip-th payment under thr of its first day on), drops them from p and
// describes them.
func take(p *openPayments, days []splitDay, skip int, first *rec, sum, thr int64, payee string, cur *rec) finding {
	var ids []string
	last := days[0].date
	for i := range days {
		k := 0
		days[i].each(thr, cur, func(o *rec) bool {
			if i > 0 || k >= skip {
				o.split = true
				ids = append(ids, o.id)
				last = days[i].date
			}
			k++
			return true
		})
		if d := days[i].d; d != nil {
			d.recs = slices.DeleteFunc(d.recs, func(o *rec) bool { return o.split })
			d.n, d.sum, d.odd = 0, 0, 0
			for _, o := range d.recs {
				d.under(o, thr, 1)
			}
		}
	}
	p.days = slices.DeleteFunc(p.days, func(d *openDay) bool { return len(d.recs) == 0 })
	return finding{subject: cur.id, key: "SPLIT/" + payee + "/" + first.id,
		detail: fmt.Sprintf("%d笔合计%s分", len(ids), fen(sum)),
		ev: map[string]string{
			"payee": payee, "payments": strings.Join(ids, ","), "count": strconv.Itoa(len(ids)), "sum_fen": fen(sum),
			"first_date": days[0].date.String(), "last_date": last.String(),
		}}
}
