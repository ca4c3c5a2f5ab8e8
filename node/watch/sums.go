package watch

import (
	"maps"
	"slices"

	"github.com/sanzi/sanzi/node/checkpoint"
	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// listed says whether a list or an index in memory that a rule walks
// holds r (state.index), by rule:
//
//   - an expense, while SPLIT may count it (open: dated, to a payee,
//     not split);
//   - a staff advance (loans: ADVANCE), a receipt or a repayment from a
//     person (receipts: CASH-DEPOSIT; repaid: ADVANCE), cash paid into
//     the bank (banked: CASH-DEPOSIT), a contract payment in cash
//     (receipts);
//   - a contract (contracts and objects: ARREARS, EXPIRING);
//   - a procedure of a period (periods: BANK-REC, DISCLOSE-LATE) or a
//     complaint (procs: COMPLAINT-LATE).
//
// A reversed entry is in none: every rule skips it. The rest (other
// transactions, payments not in cash, procedures a record opens,
// vouchers, month closes) are read only through the sums (saveSums),
// by id, by subject (renewed) or by invoice (claimed), all of which the
// archive serves. payments (by contract) is written but read by no
// rule.
func listed(r *rec) bool {
	if r.reversed {
		return false
	}
	switch {
	case r.tx != nil:
		id := norm(r.tx.GetCounterparty().GetIdNumber())
		switch r.tx.GetKind() {
		case sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE:
			return r.date != noDay && !r.split && payeeKey(r.tx.GetCounterparty()) != ""
		case sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT:
			return r.date != noDay && idcode.ResidentID(id, r.date.time()) == nil
		case sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN:
			return id != "" || r.cash()
		case sanziv1.TransactionKind_TRANSACTION_KIND_TRANSFER:
			return r.cash()
		}
		return false
	case r.ct != nil:
		return true
	case r.pay != nil:
		return r.cash()
	case r.proc != nil:
		return r.proc.GetPeriod() != "" || r.proc.GetMatterCode() == "GOV-COMPLAINT"
	}
	return false
}

// saveSums writes the running sums of s (the years' totals, cash on hand
// by day, what each contract was paid, the books' balances and closes),
// so that build takes them as they are rather than count every entry
// again: an entry that no list of the rules holds (resident) is then
// in the archive only, read back by id when a reversal names it, and
// its share of the sums is in the checkpoint (issue 17). Keys go in
// order, so that one state writes one section; a key whose sum came
// back to zero is written too (a Watcher read back is the one saved).
func saveSums(e *checkpoint.Encoder, s *state) {
	e.Uint(uint64(len(s.years)))
	for _, y := range slices.Sorted(maps.Keys(s.years)) {
		t := s.years[y]
		e.Int(int64(y))
		e.Int(t.income)
		saveAmounts(e, t.categories)
		saveAmounts(e, t.lines)
	}
	saveDays(e, s.cash)
	saveAmounts(e, s.paid)
	e.Uint(uint64(len(s.orgs)))
	for _, org := range slices.Sorted(maps.Keys(s.orgs)) {
		b := s.orgs[org]
		e.String(org)
		e.Uint(uint64(len(b.moves)))
		for _, a := range slices.Sorted(maps.Keys(b.moves)) {
			e.String(a)
			saveDays(e, b.moves[a])
		}
		saveDays(e, b.cash) // b.days are its keys
		e.Int(b.total)
		e.Int(int64(b.first))
		e.Uint(uint64(len(b.closed)))
		for _, m := range slices.Sorted(maps.Keys(b.closed)) {
			e.Int(int64(m))
			e.Int(int64(b.closed[m]))
		}
	}
}

func saveAmounts(e *checkpoint.Encoder, m map[string]int64) {
	e.Uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.String(k)
		e.Int(m[k])
	}
}

func saveDays(e *checkpoint.Encoder, m map[day]int64) {
	e.Uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.Int(int64(k))
		e.Int(m[k])
	}
}

// readSums reads what saveSums wrote into s, made by newState.
func readSums(d *histReader, s *state) error {
	for range d.len() {
		t := s.year(int(d.int()))
		t.income = d.int()
		readAmounts(d, t.categories)
		readAmounts(d, t.lines)
	}
	readDays(d, s.cash)
	readAmounts(d, s.paid)
	for range d.len() {
		b := s.books(d.string())
		for range d.len() {
			a := d.string()
			b.moves[a] = map[day]int64{}
			readDays(d, b.moves[a])
		}
		readDays(d, b.cash)
		b.days = slices.Sorted(maps.Keys(b.cash))
		b.total, b.first = d.int(), month(d.int())
		for range d.len() {
			m := month(d.int())
			b.closed[m] = day(d.int())
		}
	}
	return d.err
}

func readAmounts(d *histReader, m map[string]int64) {
	for range d.len() {
		k := d.string()
		m[k] = d.int()
	}
}

func readDays(d *histReader, m map[day]int64) {
	for range d.len() {
		k := day(d.int())
		m[k] = d.int()
	}
}
