package loader

import (
	"strconv"

	"github.com/sanzi/sanzi/analytics/schema"
)

// summaries are the batch's partial sums for the summary tables.
type summaries struct {
	monthly map[[4]string]*[3]int64 // origin, month, kind, method → amount, count, raft index
	digits  map[[3]string]*[4]int64 // origin, month, digit → n, round, just under, raft index
	parties map[[3]string]*[2]int64 // origin, month, party → amount, raft index
}

func newSummaries() summaries {
	return summaries{monthly: map[[4]string]*[3]int64{}, digits: map[[3]string]*[4]int64{}, parties: map[[3]string]*[2]int64{}}
}

// add counts one transactions row (sign -1: a reversal's negative copy)
// into each summary that has not loaded its raft index yet; under says the
// amount is just under a threshold of the rule set in force.
func (s summaries) add(index uint64, loaded map[string]uint64, origin string, month uint32, kind, method string, sign, amount int64, party string, under bool) {
	m := strconv.FormatUint(uint64(month), 10)
	if index > loaded["monthly"] {
		k := [4]string{origin, m, kind, method}
		if s.monthly[k] == nil {
			s.monthly[k] = &[3]int64{}
		}
		v := s.monthly[k]
		v[0] += amount
		v[1] += sign
		v[2] = max(v[2], int64(index))
	}
	if kind != "expense" || sign != 1 || amount <= 0 {
		return
	}
	if index > loaded["expense_digits"] {
		k := [3]string{origin, m, strconv.FormatInt(amount, 10)[:1]}
		if s.digits[k] == nil {
			s.digits[k] = &[4]int64{}
		}
		v := s.digits[k]
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
		k := [3]string{origin, m, party}
		if s.parties[k] == nil {
			s.parties[k] = &[2]int64{}
		}
		s.parties[k][0] += amount
		s.parties[k][1] = max(s.parties[k][1], int64(index))
	}
}

// rows adds the summaries to the batch's tables; each row carries the
// highest raft index it sums.
func (s summaries) rows(b *batch) {
	month := func(m string) uint32 { v, _ := strconv.ParseUint(m, 10, 32); return uint32(v) }
	for k, v := range s.monthly {
		d, t := orgParts(k[0])
		b.tables["monthly"] = append(b.tables["monthly"], []any{uint64(v[2]), d, t, k[0], month(k[1]), k[2], k[3], v[0], v[1]})
	}
	for k, v := range s.digits {
		d, t := orgParts(k[0])
		digit, _ := strconv.ParseUint(k[2], 10, 8)
		b.tables["expense_digits"] = append(b.tables["expense_digits"], []any{uint64(v[3]), d, t, k[0], month(k[1]), uint8(digit), uint64(v[0]), uint64(v[1]), uint64(v[2])})
	}
	for k, v := range s.parties {
		d, t := orgParts(k[0])
		b.tables["expense_parties"] = append(b.tables["expense_parties"], []any{uint64(v[1]), d, t, k[0], month(k[1]), k[2], v[0]})
	}
}
