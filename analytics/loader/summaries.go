package loader

import (
	"github.com/sanzi/sanzi/analytics/schema"
)

// summaries are the batch's partial sums for the summary tables.
// Keys are structs of the typed values (not strings formatted per row:
// that cost two allocations per transactions row).
type summaries struct {
	monthly map[monthlyKey]*[3]int64 // → amount, count, raft index
	digits  map[digitKey]*[4]int64   // → n, round, just under, raft index
	parties map[partyKey]*[2]int64   // → amount, raft index
}

type monthlyKey struct {
	origin       string
	month        uint32
	kind, method string
}

type digitKey struct {
	origin string
	month  uint32
	digit  uint8
}

type partyKey struct {
	origin string
	month  uint32
	party  string
}

func newSummaries() summaries {
	return summaries{monthly: map[monthlyKey]*[3]int64{}, digits: map[digitKey]*[4]int64{}, parties: map[partyKey]*[2]int64{}}
}

// firstDigit is the leading decimal digit of amount (> 0).
func firstDigit(amount int64) uint8 {
	for amount >= 10 {
		amount /= 10
	}
	return uint8(amount)
}

// add counts one transactions row (sign -1: a reversal's negative copy)
// into each summary that has not loaded its raft index yet; under says the
// amount is just under a threshold of the rule set in force.
func (s summaries) add(index uint64, loaded map[string]uint64, origin string, month uint32, kind, method string, sign, amount int64, party string, under bool) {
	if index > loaded["monthly"] {
		// One map lookup per summary (the key's strings hashed once):
		// this runs for every transactions row, on collect's one goroutine.
		k := monthlyKey{origin, month, kind, method}
		v := s.monthly[k]
		if v == nil {
			v = &[3]int64{}
			s.monthly[k] = v
		}
		v[0] += amount
		v[1] += sign
		v[2] = max(v[2], int64(index))
	}
	if kind != "expense" || sign != 1 || amount <= 0 {
		return
	}
	if index > loaded["expense_digits"] {
		k := digitKey{origin, month, firstDigit(amount)}
		v := s.digits[k]
		if v == nil {
			v = &[4]int64{}
			s.digits[k] = v
		}
		v[0]++
		if amount%schema.RoundFen == 0 {
			v[1]++
		}
		if under {
			v[2]++
		}
		v[3] = max(v[3], int64(index))
	}
	if index > loaded["expense_parties"] {
		k := partyKey{origin, month, party}
		v := s.parties[k]
		if v == nil {
			v = &[2]int64{}
			s.parties[k] = v
		}
		v[0] += amount
		v[1] = max(v[1], int64(index))
	}
}

// rows adds the summaries to the batch's tables; each row carries the
// highest raft index it sums.
func (s summaries) rows(b *batch) {
	for k, v := range s.monthly {
		d, t := orgParts(k.origin)
		b.table("monthly").add(uint64(v[2]), []any{d, t, k.origin, k.month, k.kind, k.method, v[0], v[1]})
	}
	for k, v := range s.digits {
		d, t := orgParts(k.origin)
		b.table("expense_digits").add(uint64(v[3]), []any{d, t, k.origin, k.month, k.digit, uint64(v[0]), uint64(v[1]), uint64(v[2])})
	}
	for k, v := range s.parties {
		d, t := orgParts(k.origin)
		b.table("expense_parties").add(uint64(v[1]), []any{d, t, k.origin, k.month, k.party, v[0]})
	}
}
