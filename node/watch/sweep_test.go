package watch

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func cashIn(amount int64, date string) *sanziv1.Transaction { return inc(amount, date, cash) }

func TestCashStock(t *testing.T) {
	const y, r = "CASH-STOCK/2026-03-02/yellow", "CASH-STOCK/2026-03-02/red"
	over := cashIn(500_001, "2026-03-02")
	runCases(t, "CASH-STOCK", []tc{
		{name: "the day is not over", evs: []any{over, sweep("2026-03-02 23:59")}},
		{name: "the next morning", evs: []any{over, sweep("2026-03-03")}, want: []string{y}},
		{name: "exactly the limit", evs: []any{cashIn(500_000, "2026-03-02"), sweep("2026-03-03")}},
		{name: "banked the same day", evs: []any{cashIn(600_000, "2026-03-02"), bank(100_000, "2026-03-02"), sweep("2026-03-10")}},
		{name: "paid out in cash", evs: []any{cashIn(600_000, "2026-03-02"), exp(100_000, "2026-03-02", cash), sweep("2026-03-10")}},
		{name: "bank income is not cash", evs: []any{inc(600_000, "2026-03-02"), sweep("2026-03-10")}},
		{name: "a reversed receipt", evs: []any{over, rev(1), sweep("2026-03-10")}},
		{name: "cash rent counts", evs: []any{lease("L-1", "2026-12-31"), cpay(1, 500_001, "2026-03-02", true), sweep("2026-03-03")},
			want: []string{y}},
		{name: "red_after_days days over is still yellow", evs: []any{over, sweep("2026-03-05")}, want: []string{y}},
		{name: "one day more is red", evs: []any{over, sweep("2026-03-05"), sweep("2026-03-06")}, want: []string{y, r}},
		{name: "first seen red: red only", evs: []any{over, sweep("2026-03-20")}, want: []string{r}},
		{name: "a run ended by banking", evs: []any{over, bank(100_000, "2026-03-03"), sweep("2026-03-20")}, want: []string{y}},
		{name: "two runs", evs: []any{over, bank(600_000, "2026-03-03"), cashIn(600_000, "2026-03-05"), sweep("2026-03-10")},
			want: []string{y, "CASH-STOCK/2026-03-05/red"}},
		{name: "across a month end", evs: []any{cashIn(600_000, "2026-03-30"), sweep("2026-04-02"), sweep("2026-04-03")},
			want: []string{"CASH-STOCK/2026-03-30/yellow", "CASH-STOCK/2026-03-30/red"}},
	})
}

func TestCashDeposit(t *testing.T) {
	in := cashIn(100_000, "2026-03-02")
	runCases(t, "CASH-DEPOSIT", []tc{
		{name: "the last day to bank it", evs: []any{in, sweep("2026-03-05 23:59")}},
		{name: "the day after", evs: []any{in, sweep("2026-03-06")}, want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "banked on the last day", evs: []any{in, bank(100_000, "2026-03-05"), sweep("2026-03-20")}},
		{name: "banked a day late", evs: []any{in, bank(100_000, "2026-03-06"), sweep("2026-03-20")}, want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "banked one fen short", evs: []any{in, bank(99_999, "2026-03-03"), sweep("2026-03-20")}, want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "first in, first out",
			evs:  []any{cashIn(100, "2026-03-01"), cashIn(100, "2026-03-04"), bank(100, "2026-03-04"), sweep("2026-03-20")},
			want: []string{"CASH-DEPOSIT/v-2"}},
		{name: "banking before the receipt does not bank it", evs: []any{bank(100_000, "2026-03-01"), in, sweep("2026-03-06")},
			want: []string{"CASH-DEPOSIT/v-2"}},
		{name: "month end: the last day", evs: []any{cashIn(100, "2026-03-30"), sweep("2026-03-31 23:59")}},
		{name: "month end: the next day", evs: []any{cashIn(100, "2026-03-30"), sweep("2026-04-01")}, want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "month end: banked next month", evs: []any{cashIn(100, "2026-03-30"), bank(100, "2026-04-01"), sweep("2026-04-10")},
			want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "a reversed receipt", evs: []any{in, rev(1), sweep("2026-03-20")}},
		{name: "a reversed banking", evs: []any{in, bank(100_000, "2026-03-03"), rev(2), sweep("2026-03-20")}, want: []string{"CASH-DEPOSIT/v-1"}},
		{name: "income by bank", evs: []any{inc(100, "2026-03-02"), sweep("2026-03-20")}},
		{name: "cash rent", evs: []any{lease("L-1", "2026-12-31"), cpay(1, 100, "2026-03-02", true), sweep("2026-03-06")},
			want: []string{"CASH-DEPOSIT/v-2"}},
	})
}

func TestAdvance(t *testing.T) {
	p := person(t, 11)
	loan := txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 100_000, "2026-03-02", payee("张三", p))
	back := func(kind sanziv1.TransactionKind, amount int64, date, idNumber string) *sanziv1.Transaction {
		return txn(kind, amount, date, payee("张三", idNumber))
	}
	loanIn, income := sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_IN, sanziv1.TransactionKind_TRANSACTION_KIND_INCOME
	const y, r = "ADVANCE/v-1/yellow", "ADVANCE/v-1/red"
	runCases(t, "ADVANCE", []tc{
		{name: "yellow_days after", evs: []any{loan, sweep("2026-03-05 23:59")}},
		{name: "the day after", evs: []any{loan, sweep("2026-03-06")}, want: []string{y}},
		{name: "red_days after", evs: []any{loan, sweep("2026-03-06"), sweep("2026-04-01 23:59")}, want: []string{y}},
		{name: "the day after that", evs: []any{loan, sweep("2026-03-06"), sweep("2026-04-02")}, want: []string{y, r}},
		{name: "first seen red: red only", evs: []any{loan, sweep("2026-05-01")}, want: []string{r}},
		{name: "repaid in time", evs: []any{loan, back(loanIn, 100_000, "2026-03-05", p), sweep("2026-05-01")}},
		{name: "settled by income from the person", evs: []any{loan, back(income, 100_000, "2026-03-04", p), sweep("2026-05-01")}},
		{name: "repaid by someone else", evs: []any{loan, back(loanIn, 100_000, "2026-03-04", person(t, 12)), sweep("2026-03-06")},
			want: []string{y}},
		{name: "repaid one fen short", evs: []any{loan, back(loanIn, 99_999, "2026-03-04", p), sweep("2026-03-06")}, want: []string{y}},
		{name: "repaid late", evs: []any{loan, back(loanIn, 100_000, "2026-03-10", p), sweep("2026-05-01")}, want: []string{y}},
		{name: "a reversed advance", evs: []any{loan, rev(1), sweep("2026-05-01")}},
		{name: "a reversed repayment", evs: []any{loan, back(loanIn, 100_000, "2026-03-03", p), rev(2), sweep("2026-03-06")},
			want: []string{y}},
		{name: "a loan to a company", evs: []any{txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 100_000, "2026-03-02",
			payee("某公司", "91350100M000100Y43")), sweep("2026-05-01")}},
		{name: "first in, first out",
			evs: []any{loan, txn(sanziv1.TransactionKind_TRANSACTION_KIND_LOAN_OUT, 100_000, "2026-03-20", payee("张三", p)),
				back(loanIn, 100_000, "2026-03-21", p), sweep("2026-03-25")},
			want: []string{y, "ADVANCE/v-2/yellow"}},
	})
}

func TestArrears(t *testing.T) {
	c := lease("L-1", "2026-12-31", due("2026-01-31", 500_000), due("2026-07-31", 500_000))
	const wn, y, r = "ARREARS/v-1/2026-01-31/warning", "ARREARS/v-1/2026-01-31/yellow", "ARREARS/v-1/2026-01-31/red"
	runCases(t, "ARREARS", []tc{
		{name: "yellow_days after due", evs: []any{c, sweep("2026-03-02 23:59")}, want: []string{wn}},
		{name: "the day after", evs: []any{c, sweep("2026-03-03")}, want: []string{y}},
		{name: "red_days after due", evs: []any{c, sweep("2026-03-03"), sweep("2026-05-01 23:59")}, want: []string{y}},
		{name: "the day after that", evs: []any{c, sweep("2026-03-03"), sweep("2026-05-02")}, want: []string{y, r}},
		{name: "paid", evs: []any{c, cpay(1, 500_000, "2026-01-31", false), sweep("2026-05-02")}},
		{name: "paid one fen short", evs: []any{c, cpay(1, 499_999, "2026-01-31", false), sweep("2026-03-03")}, want: []string{y}},
		{name: "paid late", evs: []any{c, sweep("2026-03-03"), cpay(1, 500_000, "2026-03-04", true), sweep("2026-05-02")}, want: []string{y}},
		{name: "a reversed payment", evs: []any{c, cpay(1, 500_000, "2026-01-31", false), rev(2), sweep("2026-03-03")}, want: []string{y}},
		{name: "a reversed contract", evs: []any{c, rev(1), sweep("2026-05-02")}},
		{name: "exactly red_amount_fen owed", evs: []any{lease("L-1", "2026-12-31", due("2026-01-31", 1_000_000)), sweep("2026-03-03")},
			want: []string{y}},
		{name: "one fen more owed: red at once", evs: []any{lease("L-1", "2026-12-31", due("2026-01-31", 1_000_001)), sweep("2026-03-03")},
			want: []string{r}},
		{name: "payments fill the schedule in order",
			evs:  []any{c, cpay(1, 700_000, "2026-01-31", false), sweep("2026-08-30 23:59"), sweep("2026-08-31")},
			want: []string{"ARREARS/v-1/2026-07-31/warning", "ARREARS/v-1/2026-07-31/yellow"}},
		{name: "the overdue total decides red",
			evs:  []any{lease("L-1", "2026-12-31", due("2026-01-31", 600_000), due("2026-02-28", 600_000)), sweep("2026-03-03"), sweep("2026-03-31")},
			want: []string{y, "ARREARS/v-1/2026-02-28/red"}},
		{name: "land contracted out climbs the same ladder",
			evs:  []any{contract(sanziv1.ContractKind_CONTRACT_KIND_CONTRACTING_OUT, "L-1", "2026-12-31", due("2026-01-31", 1)), sweep("2026-02-11")},
			want: []string{wn}},
		{name: "a rule set without warning_days has no warning rung",
			mods: []mod{func(rs *rules.RuleSet) {
				for i := range rs.Rules {
					if rs.Rules[i].Code == "ARREARS" {
						rs.Rules[i].Params = maps.Clone(rs.Rules[i].Params)
						delete(rs.Rules[i].Params, "warning_days")
						rs.Rules[i].Reason = "合同应收款逾期未收"
					}
				}
			}},
			evs: []any{c, sweep("2026-02-11"), sweep("2026-03-03")}, want: []string{y}},
	})
}

// TestArrearsLadder follows one unpaid lease instalment day by day: it is
// one finding, raised by ARREARS alone, whose severity only rises
// (DOMAIN.md "One finding, one ladder"); paid, it climbs no further.
func TestArrearsLadder(t *testing.T) {
	const base = "ARREARS/v-1/2026-01-31"
	for _, c := range []struct {
		name   string
		amount int64
		paid   string // business date of a payment in full, "" for none
		want   []string
	}{
		{name: "never paid", amount: 500_000, want: []string{"warning", "yellow", "red"}},
		{name: "over red_amount_fen: red at the yellow point", amount: 3_000_000, want: []string{"warning", "red"}},
		{name: "paid before the warning", amount: 500_000, paid: "2026-02-08"},
		{name: "paid after the warning", amount: 500_000, paid: "2026-02-20", want: []string{"warning"}},
		{name: "paid after the yellow card", amount: 500_000, paid: "2026-03-20", want: []string{"warning", "yellow"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, _ := watcher(t)
			play(t, w, lease("L-1", "2026-12-31", due("2026-01-31", c.amount)))
			var got []string
			paid := false
			for _, d := range []struct {
				sweep string
				day   int // days after due
			}{{"2026-02-05", 5}, {"2026-02-10 23:59", 10}, {"2026-02-11", 11}, {"2026-03-02 23:59", 30},
				{"2026-03-03", 31}, {"2026-05-01 23:59", 90}, {"2026-05-02", 91}, {"2026-07-01", 151}} {
				if c.paid != "" && !paid && parseDay(c.paid) <= parseDay(d.sweep[:10]) {
					paid = true
					w.Observe(Event{ID: "v-2", RecordedAt: bj(t, c.paid), Msg: cpay(1, c.amount, c.paid, false)})
				}
				for _, h := range w.Sweep(bj(t, d.sweep)) {
					if h.Code == "OFF-BOOK" {
						t.Fatalf("day %d: OFF-BOOK raised %s next to ARREARS", d.day, h.Key)
					}
					if h.Code != "ARREARS" {
						continue
					}
					rung := strings.TrimPrefix(h.Key, base+"/")
					if want := map[string]rules.Severity{"warning": rules.SeverityInfo, "yellow": rules.SeverityYellow, "red": rules.SeverityRed}[rung]; h.Severity != want {
						t.Errorf("day %d: %s has severity %s, want %s", d.day, h.Key, h.Severity, want)
					}
					if h.Subject != "v-1" {
						t.Errorf("day %d: %s is about %q, want the contract", d.day, h.Key, h.Subject)
					}
					got = append(got, rung)
				}
				if d.day == 5 && len(got) > 0 {
					t.Errorf("day 5 (within warning_days) raised %v", got)
				}
			}
			if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("rungs %v, want %v", got, c.want)
			}
		})
	}
}

func TestRetiredOffBook(t *testing.T) {
	// A rule set published before OFF-BOOK became ARREARS' warning rung
	// still loads, and OFF-BOOK raises nothing of its own.
	old := func(rs *rules.RuleSet) {
		rs.Rules = append(rs.Rules, rules.Rule{Code: "OFF-BOOK", Name: "租金收入未入账", Severity: rules.SeverityRed,
			Action: rules.ActionWarn, Stateful: true, Reason: "本期仍无收款记录", Params: map[string]int64{"grace_days": 10}})
	}
	w, _ := watcher(t, old)
	hits := play(t, w, lease("L-1", "2026-12-31", due("2026-01-31", 500_000)), sweep("2026-02-11"), sweep("2026-06-01"))
	var got []string
	for _, h := range hits {
		if h.Code == "OFF-BOOK" || h.Code == "ARREARS" {
			got = append(got, h.Key)
		}
	}
	if !slices.Equal(got, []string{"ARREARS/v-1/2026-01-31/warning", "ARREARS/v-1/2026-01-31/red"}) {
		t.Errorf("keys %q", got)
	}
}

func TestExpiring(t *testing.T) {
	c := lease("L-1", "2026-06-30")
	const y, r = "EXPIRING/v-1/yellow", "EXPIRING/v-1/red"
	runCases(t, "EXPIRING", []tc{
		{name: "yellow_days and one before", evs: []any{c, sweep("2026-04-30 23:59")}},
		{name: "yellow_days before", evs: []any{c, sweep("2026-05-01")}, want: []string{y}},
		{name: "red_days and one before", evs: []any{c, sweep("2026-05-01"), sweep("2026-05-30 23:59")}, want: []string{y}},
		{name: "red_days before", evs: []any{c, sweep("2026-05-01"), sweep("2026-05-31")}, want: []string{y, r}},
		{name: "the last day", evs: []any{c, sweep("2026-06-30 23:59")}, want: []string{r}},
		{name: "expired", evs: []any{c, sweep("2026-06-30"), sweep("2026-07-01")}, want: []string{r, "EXPIRING/v-1/expired"}},
		{name: "renewed by a later contract", evs: []any{c, lease("L-1", "2031-06-30"), sweep("2026-06-01")}},
		{name: "a reversed renewal", evs: []any{c, lease("L-1", "2031-06-30"), rev(2), sweep("2026-06-01")}, want: []string{r}},
		{name: "re-tender started", evs: []any{c, proc("ASSET-TRADE", "", "v-1"), sweep("2026-06-01")}},
		{name: "the signing procedure is no renewal", evs: []any{c, proc("CONTRACT-LEASE", "", "v-1"), sweep("2026-06-01")}, want: []string{r}},
		{name: "a contract for another object", evs: []any{c, lease("L-2", "2031-06-30"), sweep("2026-06-01")}, want: []string{r}},
		{name: "no object id renews nothing", evs: []any{lease("", "2026-06-30"), lease("", "2031-06-30"), sweep("2026-06-01")},
			want: []string{r}},
		{name: "the earlier contract is renewed by this one", evs: []any{lease("L-1", "2025-12-31"), c, sweep("2026-06-01")},
			want: []string{"EXPIRING/v-2/red"}},
		{name: "a reversed contract", evs: []any{c, rev(1), sweep("2026-06-01")}},
	})
}

func TestBankRec(t *testing.T) {
	start := inc(100, "2026-01-15")
	done := func(when string) []any {
		return []any{at{when, proc("FUND-BANKREC", "2026-01", "")}, at{when, closes(2, true)}}
	}
	runCases(t, "BANK-REC", []tc{
		{name: "due_day of next month", evs: []any{start, sweep("2026-02-10 23:59")}},
		{name: "the day after", evs: []any{start, sweep("2026-02-11")}, want: []string{"BANK-REC/2026-01"}},
		{name: "completed on the due day", evs: append(append([]any{start}, done("2026-02-10 23:00")...), sweep("2026-03-01"))},
		{name: "completed a day late", evs: append(append([]any{start}, done("2026-02-11 09:00")...), sweep("2026-03-01")),
			want: []string{"BANK-REC/2026-01"}},
		{name: "rejected", evs: []any{start, at{"2026-02-05", proc("FUND-BANKREC", "2026-01", "")}, at{"2026-02-06", closes(2, false)}, sweep("2026-03-01")},
			want: []string{"BANK-REC/2026-01"}},
		{name: "another period", evs: []any{start, at{"2026-02-05", proc("FUND-BANKREC", "2025-12", "")}, at{"2026-02-06", closes(2, true)}, sweep("2026-03-01")},
			want: []string{"BANK-REC/2026-01"}},
		{name: "every month since the first event", evs: []any{start, sweep("2026-04-11")},
			want: []string{"BANK-REC/2026-01", "BANK-REC/2026-02", "BANK-REC/2026-03"}},
		{name: "no history, no months", evs: []any{sweep("2026-04-11")}},
		{name: "due day past the month end: the last day", mods: []mod{params("BANK-REC", map[string]int64{"due_day": 31})},
			evs: []any{start, sweep("2026-02-28 23:59")}},
		{name: "due day past the month end: the day after", mods: []mod{params("BANK-REC", map[string]int64{"due_day": 31})},
			evs: []any{start, sweep("2026-03-01")}, want: []string{"BANK-REC/2026-01"}},
	})
}

func TestDiscloseLate(t *testing.T) {
	start := inc(100, "2026-01-15")
	const y, r = "DISCLOSE-LATE/2026-01/yellow", "DISCLOSE-LATE/2026-01/red"
	runCases(t, "DISCLOSE-LATE", []tc{
		{name: "due_day", evs: []any{start, sweep("2026-02-10 23:59")}},
		{name: "the day after", evs: []any{start, sweep("2026-02-11")}, want: []string{y}},
		{name: "red_after_days more", evs: []any{start, sweep("2026-02-11"), sweep("2026-02-20 23:59")}, want: []string{y}},
		{name: "the day after that", evs: []any{start, sweep("2026-02-11"), sweep("2026-02-21")}, want: []string{y, r}},
		{name: "disclosed in time", evs: []any{start, at{"2026-02-09", proc("GOV-DISCLOSE", "2026-01", "")}, at{"2026-02-10", closes(2, true)}, sweep("2026-03-01")}},
		{name: "disclosed late, before red",
			evs:  []any{start, sweep("2026-02-11"), at{"2026-02-15", proc("GOV-DISCLOSE", "2026-01", "")}, at{"2026-02-20", closes(2, true)}, sweep("2026-03-01")},
			want: []string{y}},
		{name: "first seen red: red only", evs: []any{start, sweep("2026-03-01")}, want: []string{r}},
		{name: "a bank reconciliation is no disclosure",
			evs: []any{start, at{"2026-02-09", proc("FUND-BANKREC", "2026-01", "")}, at{"2026-02-10", closes(2, true)}, sweep("2026-02-11")}, want: []string{y}},
	})
}

func TestComplaintLate(t *testing.T) {
	complaint := at{"2026-03-02 10:00", proc("GOV-COMPLAINT", "", "")}
	runCases(t, "COMPLAINT-LATE", []tc{
		{name: "reply_days after", evs: []any{complaint, sweep("2026-03-12 23:59")}},
		{name: "the day after", evs: []any{complaint, sweep("2026-03-13")}, want: []string{"COMPLAINT-LATE/v-1"}},
		{name: "answered on the last day", evs: []any{complaint, at{"2026-03-12 17:00", closes(1, false)}, sweep("2026-03-20")}},
		{name: "answered a day late", evs: []any{complaint, at{"2026-03-13 09:00", closes(1, true)}, sweep("2026-03-20")},
			want: []string{"COMPLAINT-LATE/v-1"}},
		{name: "recorded after midnight in Beijing", evs: []any{at{"2026-03-03 04:00", proc("GOV-COMPLAINT", "", "")}, sweep("2026-03-13 23:59")}},
		{name: "another matter", evs: []any{at{"2026-03-02 10:00", proc("GOV-DISCLOSE", "2026-02", "")}, sweep("2026-04-01")}},
		{name: "a district limit of 15 days", mods: []mod{params("COMPLAINT-LATE", map[string]int64{"reply_days": 15})},
			evs: []any{complaint, sweep("2026-03-17 23:59"), sweep("2026-03-18")}, want: []string{"COMPLAINT-LATE/v-1"}},
	})
}
