package watch

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The rules on the collective's books (vouchers and month-end closes). The
// watcher keeps its own balances from the vouchers it observes, per org,
// account and business day, so that they need nothing from the books'
// indexes and a replay or a checkpoint gives the same figures. Vouchers are
// corrected by red-ink vouchers, which are vouchers like any other and
// move the balances back; a Reversal entry naming a voucher takes it out
// too. Codes roll up by prefix: a district's sub-account's code begins
// with its national account's three digits (package chart).

// orgBooks are the balances of one org's books.
type orgBooks struct {
	moves  map[string]map[day]int64 // account → business day → debit-positive movement
	cash   map[day]int64            // the same for 库存现金 (101 and its sub-accounts)
	days   []day                    // the days of cash, sorted
	total  int64                    // cash at the end of the last of them
	first  month                    // month of the earliest voucher; noMonth while none
	closed map[month]day            // day each month was first closed
}

// noMonth: no voucher yet, or a malformed month.
const noMonth month = -1

func parseMonth(s string) month {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return noMonth
	}
	return month(t.Year()*12 + int(t.Month()) - 1)
}

func (s *state) books(org string) *orgBooks {
	b := s.orgs[org]
	if b == nil {
		b = &orgBooks{moves: map[string]map[day]int64{}, cash: map[day]int64{}, first: noMonth, closed: map[month]day{}}
		s.orgs[org] = b
	}
	return b
}

// isCash says whether account is 库存现金 or one of its sub-accounts.
func isCash(account string) bool { return strings.HasPrefix(account, chart.Cash) }

// cashMoved is the debit-positive movement of a voucher on cash.
func cashMoved(v *sanziv1.Voucher) int64 {
	var sum int64
	for _, l := range v.GetLines() {
		if isCash(l.GetAccount()) {
			sum += l.GetDebitFen() - l.GetCreditFen()
		}
	}
	return sum
}

// addVoucher indexes a voucher's month; countVoucher moves its balances.
func (s *state) addVoucher(r *rec) {
	if r.date == noDay {
		return
	}
	b := s.books(r.vch.GetOrg())
	if m := r.date.month(); b.first == noMonth || m < b.first {
		b.first = m
	}
}

func (s *state) countVoucher(r *rec, sign int64) {
	if r.date == noDay {
		return
	}
	b := s.books(r.vch.GetOrg())
	for _, l := range r.vch.GetLines() {
		mv := sign * (l.GetDebitFen() - l.GetCreditFen())
		a := l.GetAccount()
		if b.moves[a] == nil {
			b.moves[a] = map[day]int64{}
		}
		b.moves[a][r.date] += mv
		if isCash(a) {
			if _, ok := b.cash[r.date]; !ok {
				i, _ := slices.BinarySearch(b.days, r.date)
				b.days = slices.Insert(b.days, i, r.date)
			}
			b.cash[r.date] += mv
			b.total += mv
		}
	}
}

// addClose records the day a month was first closed; a reopened month
// closed again keeps its first close, which is what was on time or not.
func (s *state) addClose(r *rec) {
	m := parseMonth(r.close.GetMonth())
	if m == noMonth {
		return
	}
	b := s.books(r.close.GetOrg())
	if _, ok := b.closed[m]; !ok {
		b.closed[m] = r.recorded
	}
}

// cashNegative fires on a voucher that takes cash out when, with it, cash
// on hand at the end of its business day, or of any later day the books
// hold, is below zero. The later days count because a back-dated payment
// lowers every balance after it.
func cashNegative(w *Watcher, _ *rule, cur *rec) []finding {
	if cur.vch == nil || cur.date == noDay {
		return nil
	}
	moved := cashMoved(cur.vch)
	if moved >= 0 {
		return nil
	}
	b := w.st.books(cur.vch.GetOrg())
	low, lowOn := b.total+moved, cur.date
	if n := len(b.days); n > 0 && b.days[n-1] > cur.date {
		// Back-dated: every day from cur's on, in one pass. A voucher
		// dated on or after the last day (the usual one) needs none.
		var bal int64
		lowOn = noDay
		from, _ := slices.BinarySearch(b.days, cur.date)
		for _, d := range b.days[:from] {
			bal += b.cash[d]
		}
		days := b.days[from:]
		if len(days) == 0 || days[0] != cur.date {
			days = append([]day{cur.date}, days...)
		}
		for i, d := range days {
			bal += b.cash[d]
			if i == 0 {
				bal += moved
			}
			if lowOn == noDay || bal < low {
				low, lowOn = bal, d
			}
		}
	}
	if low >= 0 {
		return nil
	}
	return []finding{{subject: cur.id, key: "BOOKS-CASH-NEGATIVE/" + cur.id,
		detail: fmt.Sprintf("%s日终余额%s分", lowOn, fen(low)),
		ev: map[string]string{
			"org": cur.vch.GetOrg(), "business_date": cur.date.String(), "cash_moved_fen": fen(moved),
			"lowest_balance_fen": fen(low), "lowest_on": lowOn.String(),
		}}}
}

// wrongSideExempt are the national accounts whose balance may normally sit
// on either side, with why; their sub-accounts follow them, and so does
// every profit-and-loss account (损益类: a refund or a correction may leave
// one on its other side within the year, and all are carried to 本年收益
// at year end). Contra accounts (133 生产性生物资产累计折旧, 152 累计折旧,
// 162 累计摊销) are not exempt: the chart gives them their credit side, and
// a debit balance on one is an error.
var wrongSideExempt = map[string]string{
	"113": "内部往来：借方为应收、贷方为应付",
	"154": "固定资产清理：借方为清理净损失、贷方为净收益",
	"181": "待处理财产损溢：借方为待处理损失、贷方为待处理溢余",
	"221": "应交税费：借方为多交或尚未抵扣的税金",
	"321": "本年收益：借方为本年亏损",
	"322": "收益分配：借方为未弥补亏损",
}

// WrongSideExempt returns the exempt national accounts with why, for the
// rule's documentation and the console.
func WrongSideExempt() map[string]string { return maps.Clone(wrongSideExempt) }

// nationalSides are the national accounts' normal sides and classes.
func nationalSides() map[string]*sanziv1.LedgerAccount {
	out := map[string]*sanziv1.LedgerAccount{}
	for _, a := range chart.National().GetAccounts() {
		out[a.GetCode()] = a
	}
	return out
}

// wrongSide fires, at a month's close, once for each account whose balance
// at the month's end is on the other side from its normal side by more than
// tolerance_fen. 库存现金 is left out: cash below zero is one finding, and
// BOOKS-CASH-NEGATIVE raises it on the voucher that caused it (DOMAIN.md,
// "One finding, one ladder").
func wrongSide(w *Watcher, r *rule, cur *rec) []finding {
	if cur.close == nil {
		return nil
	}
	m := parseMonth(cur.close.GetMonth())
	if m == noMonth {
		return nil
	}
	org, end, tol := cur.close.GetOrg(), m.last(), r.Params["tolerance_fen"]
	b := w.st.books(org)
	var out []finding
	for _, a := range slices.Sorted(maps.Keys(b.moves)) {
		if len(a) < 3 || isCash(a) { // cash below zero is BOOKS-CASH-NEGATIVE's finding
			continue
		}
		nat := w.sides[a[:3]]
		if nat == nil || nat.GetClass() == sanziv1.AccountClass_ACCOUNT_CLASS_PROFIT_LOSS || wrongSideExempt[a[:3]] != "" {
			continue
		}
		var bal int64
		for d, v := range b.moves[a] {
			if d <= end {
				bal += v
			}
		}
		side, wrong := "借", bal > tol
		if nat.GetSide() == sanziv1.BalanceSide_BALANCE_SIDE_DEBIT {
			side, wrong = "贷", -bal > tol
		}
		if !wrong {
			continue
		}
		out = append(out, finding{subject: cur.id, key: "BOOKS-WRONG-SIDE/" + org + "/" + m.String() + "/" + a,
			detail: fmt.Sprintf("%s %s月末余额在%s方%s分", a, m, side, fen(max(bal, -bal))),
			ev: map[string]string{
				"org": org, "period": m.String(), "account": a, "normal_side": nat.GetSide().String(),
				"balance_fen": fen(bal), // debit-positive
			}})
	}
	return out
}

// closeLate finds the months of each org's books, from its first voucher's
// month to last month, not closed by day due_day of the next month (or
// closed after it): one finding per month, whether the sweep first sees it
// still open or already closed late.
func closeLate(w *Watcher, r *rule, today day) []finding {
	due := func(m month) day { return (m + 1).nth(r.Params["due_day"]) }
	var out []finding
	for _, org := range slices.Sorted(maps.Keys(w.st.orgs)) {
		b := w.st.orgs[org]
		if b.first == noMonth {
			continue
		}
		for m := b.first; m < today.month(); m++ {
			d := due(m)
			on, closed := b.closed[m]
			if today <= d || (closed && on <= d) {
				continue
			}
			detail, closedOn := m.String()+"未结账", ""
			if closed {
				detail, closedOn = m.String()+"于"+on.String()+"结账", on.String()
			}
			out = append(out, finding{key: "BOOKS-CLOSE-LATE/" + org + "/" + m.String(), detail: detail,
				ev: map[string]string{"org": org, "period": m.String(), "deadline": d.String(), "closed_on": closedOn}})
		}
	}
	return out
}
