package watch

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The time-driven rules: run by Sweep as of today, over the whole history.

// cashStock finds runs of ended days whose closing cash on hand was over the
// limit: yellow for a run, red once it lasts more than red_after_days days.
// A run is keyed by its first day.
func cashStock(w *Watcher, r *rule, today day) []finding {
	limit, redAfter := r.Params["cash_limit_fen"], day(r.Params["red_after_days"])
	var days []day
	for d := range w.st.cash {
		if d < today {
			days = append(days, d)
		}
	}
	slices.Sort(days)
	var out []finding
	var bal, peak int64
	start := noDay
	run := func(end day) { // days start..end all closed over the limit
		n := end - start + 1
		f := finding{detail: fmt.Sprintf("自%s起连续%d天", start, n), ev: map[string]string{
			"run_start": start.String(), "run_end": end.String(), "days": strconv.Itoa(int(n)),
			"peak_balance_fen": fen(peak),
		}}
		out = append(out, w.ladder(r, "CASH-STOCK/"+start.String(), true, n > redAfter, f)...)
	}
	for _, d := range days { // the balance after day d holds until the next change
		bal += w.st.cash[d]
		switch {
		case bal > limit && start == noDay:
			start, peak = d, bal
		case bal > limit:
			peak = max(peak, bal)
		case start != noDay:
			run(d - 1)
			start = noDay
		}
	}
	if start != noDay {
		run(today - 1)
	}
	return out
}

// settle pays debts from credits first in, first out, both taken in
// business-date order: a credit pays only debts dated on or before it, and
// what is left of it is dropped (it settles something older than the books).
// It returns per debt the day it was paid in full (never if not) and what
// is still owed.
func settle(debts, credits []*rec) (on []day, left []int64) {
	slices.SortFunc(debts, byDate)
	slices.SortFunc(credits, byDate)
	on, left = make([]day, len(debts)), make([]int64, len(debts))
	for i, d := range debts {
		on[i], left[i] = never, d.amount()
		if left[i] <= 0 {
			on[i] = d.date
		}
	}
	i := 0
	for _, c := range credits {
		amt := c.amount()
		for ; i < len(debts) && debts[i].date <= c.date; i++ {
			if left[i] > 0 {
				take := min(amt, left[i])
				left[i], amt = left[i]-take, amt-take
				if left[i] > 0 {
					break
				}
				on[i] = c.date
			}
		}
	}
	return on, left
}

// late says whether something due by deadline and settled on the given day
// (never if not) is late as of today.
func late(today, deadline, settled day) bool { return today > deadline && settled > deadline }

// cashDeposit finds cash receipts not paid into the bank within deposit_days
// days and within their month.
func cashDeposit(w *Watcher, r *rule, today day) []finding {
	receipts := live(w.st.receipts)
	on, left := settle(receipts, live(w.st.banked))
	var out []finding
	for i, x := range receipts {
		due := min(x.date+day(r.Params["deposit_days"]), x.date.month().last())
		if late(today, due, on[i]) {
			out = append(out, finding{subject: x.id, key: "CASH-DEPOSIT/" + x.id, detail: "应于" + due.String() + "前存行",
				ev: map[string]string{
					"received": x.date.String(), "amount_fen": fen(x.amount()), "unbanked_fen": fen(left[i]),
					"deadline": due.String(), "banked_on": dayString(on[i]),
				}})
		}
	}
	return out
}

func dayString(d day) string {
	if d == never || d == noDay {
		return ""
	}
	return d.String()
}

// advance finds staff advances (a LOAN_OUT to a person) not settled by
// repayments from the same id number.
func advance(w *Watcher, r *rule, today day) []finding {
	yellow, red := day(r.Params["yellow_days"]), day(r.Params["red_days"])
	var out []finding
	for id, loans := range w.st.loans {
		loans = live(loans)
		on, left := settle(loans, live(w.st.repaid[id]))
		for i, l := range loans {
			f := finding{subject: l.id, detail: "借支日" + l.date.String(), ev: map[string]string{
				"id_number": id, "loaned": l.date.String(), "amount_fen": fen(l.amount()), "unsettled_fen": fen(left[i]),
			}}
			out = append(out, w.ladder(r, "ADVANCE/"+l.id, late(today, l.date+yellow, on[i]), late(today, l.date+red, on[i]), f)...)
		}
	}
	return out
}

// installment is one due date of a contract's schedule.
type installment struct {
	due    day
	amount int64
}

// schedule is c's schedule by due date, amounts falling on one date summed.
func schedule(c *sanziv1.Contract) []installment {
	var out []installment
	for _, p := range c.GetSchedule() {
		d := parseDay(p.GetDueDate())
		if d == noDay {
			continue
		}
		i, ok := slices.BinarySearchFunc(out, d, func(x installment, d day) int { return cmp.Compare(x.due, d) })
		if ok {
			out[i].amount += p.GetAmountFen()
		} else {
			out = slices.Insert(out, i, installment{d, p.GetAmountFen()})
		}
	}
	return out
}

// liveContracts are the contracts not reversed.
func (w *Watcher) liveContracts() []*rec {
	var out []*rec
	for _, c := range w.st.contracts {
		if !c.reversed {
			out = append(out, c)
		}
	}
	return out
}

// arrears finds installments unpaid, paying the schedule in order from all
// the contract's payments: each unpaid instalment is one finding that climbs
// one ladder (DOMAIN.md "One finding, one ladder"): a warning more than
// warning_days after it fell due with nothing booked for it (what OFF-BOOK
// raised as red before; a rule set without warning_days has no warning
// rung), yellow after yellow_days, red after red_days, or at the yellow point
// already when the contract's overdue amount is over red_amount_fen. Paid in
// full, it climbs no further.
func arrears(w *Watcher, r *rule, today day) []finding {
	warn, hasWarn := r.Params["warning_days"]
	yellow, red := day(r.Params["yellow_days"]), day(r.Params["red_days"])
	var out []finding
	for _, c := range w.liveContracts() {
		paid, cum := w.st.paid[c.id], int64(0)
		for _, in := range schedule(c.ct) {
			cum += in.amount
			if paid >= cum {
				continue
			}
			owed := cum - paid
			y := today > in.due+yellow
			f := finding{subject: c.id, detail: fmt.Sprintf("%s到期，欠%s分", in.due, fen(owed)), ev: map[string]string{
				"due_date": in.due.String(), "installment_fen": fen(in.amount), "unpaid_fen": fen(min(owed, in.amount)),
				"outstanding_fen": fen(owed), "paid_fen": fen(paid), "overdue_days": strconv.Itoa(int(today - in.due)),
			}}
			rd := today > in.due+red || (y && owed > r.Params["red_amount_fen"])
			wn := hasWarn && today > in.due+day(warn)
			out = append(out, w.climb(r, "ARREARS/"+c.id+"/"+in.due.String(), top(wn, y, rd), f)...)
		}
	}
	return out
}

// expiring finds contracts ending within yellow_days (red within red_days)
// or expired, unless a renewal started: a later contract for the same
// object, or a procedure about this contract.
func expiring(w *Watcher, r *rule, today day) []finding {
	var out []finding
	for _, c := range w.liveContracts() {
		end := parseDay(c.ct.GetTermEnd())
		left := end - today
		// Renewal is asked only of a contract that would raise
		// something (it may read the archive).
		if end == noDay || left > day(r.Params["yellow_days"]) && left >= 0 || w.renewed(c) {
			continue
		}
		f := finding{subject: c.id, ev: map[string]string{
			"term_end": end.String(), "days_left": strconv.Itoa(int(left)), "object_id": c.ct.GetObject().GetObjectId(),
		}}
		switch {
		case left < 0:
			f.key, f.detail = "EXPIRING/"+c.id+"/expired", "已于"+end.String()+"到期"
			out = append(out, f)
		case left <= day(r.Params["yellow_days"]):
			f.detail = end.String() + "到期"
			out = append(out, w.ladder(r, "EXPIRING/"+c.id, true, left <= day(r.Params["red_days"]), f)...)
		}
	}
	return out
}

func (w *Watcher) renewed(c *rec) bool {
	for _, o := range w.st.objects[c.ct.GetObject().GetObjectId()] {
		if o.seq > c.seq && !o.reversed {
			return true
		}
	}
	// The signing procedure that recording the contract opened (the same
	// day) is not a renewal; any other procedure about it is (a re-tender,
	// a termination), and so is a signing procedure started on a later day.
	renews := func(p *rec) bool {
		m := p.proc.GetMatterCode()
		return !p.reversed && (p.recorded > c.recorded || (m != "CONTRACT-LEASE" && m != "RES-CONTRACT"))
	}
	if slices.ContainsFunc(w.st.subjects[c.id], renews) {
		return true
	}
	found := false
	w.st.bySubject(c.id, func(p *rec) bool { found = renews(p); return !found })
	return found
}

// missed lists the months from the node's first event to last month whose
// matter was not completed by deadline(month), once that day has ended.
func (w *Watcher) missed(matter string, today day, deadline func(month) day) []month {
	if w.st.first == noDay {
		return nil
	}
	var out []month
	for m := w.st.first.month(); m < today.month(); m++ {
		if d := deadline(m); today > d && w.st.completed(matter, m, d) == nil {
			out = append(out, m)
		}
	}
	return out
}

// bankRec finds months whose bank reconciliation was not completed by day
// due_day of the next month.
func bankRec(w *Watcher, r *rule, today day) []finding {
	due := func(m month) day { return (m + 1).nth(r.Params["due_day"]) }
	var out []finding
	for _, m := range w.missed("FUND-BANKREC", today, due) {
		out = append(out, finding{key: "BANK-REC/" + m.String(), detail: m.String() + "未对账",
			ev: map[string]string{"period": m.String(), "deadline": due(m).String()}})
	}
	return out
}

// discloseLate finds months whose finance disclosure was not completed by
// day due_day of the next month (yellow), or red_after_days after that (red).
func discloseLate(w *Watcher, r *rule, today day) []finding {
	due := func(m month) day { return (m + 1).nth(r.Params["due_day"]) }
	redDue := func(m month) day { return due(m) + day(r.Params["red_after_days"]) }
	var out []finding
	for _, m := range w.missed("GOV-DISCLOSE", today, due) {
		f := finding{detail: m.String() + "未公开", ev: map[string]string{"period": m.String(), "deadline": due(m).String()}}
		red := today > redDue(m) && w.st.completed("GOV-DISCLOSE", m, redDue(m)) == nil
		out = append(out, w.ladder(r, "DISCLOSE-LATE/"+m.String(), true, red, f)...)
	}
	return out
}

// complaintLate finds complaints not closed within reply_days days of being
// recorded.
func complaintLate(w *Watcher, r *rule, today day) []finding {
	var out []finding
	for _, p := range w.st.procs {
		if p.reversed || p.proc.GetMatterCode() != "GOV-COMPLAINT" {
			continue
		}
		due, closed := p.recorded+day(r.Params["reply_days"]), p.closedOn
		if closed == noDay {
			closed = never
		}
		if late(today, due, closed) {
			out = append(out, finding{subject: p.id, key: "COMPLAINT-LATE/" + p.id, detail: "应于" + due.String() + "前答复",
				ev: map[string]string{"recorded": p.recorded.String(), "deadline": due.String(), "closed_on": dayString(closed)}})
		}
	}
	return out
}
