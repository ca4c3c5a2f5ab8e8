package watch

import (
	"testing"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestSplit(t *testing.T) {
	const p = "SPLIT/某建材公司/"
	half := int64(2_500_000)
	runCases(t, "SPLIT", []tc{
		{name: "three reach the threshold exactly",
			evs:  []any{exp(2_000_000, "2026-01-05"), exp(2_000_000, "2026-01-15"), exp(1_000_000, "2026-01-20")},
			want: []string{p + "v-1"}},
		{name: "one fen under",
			evs: []any{exp(2_000_000, "2026-01-05"), exp(2_000_000, "2026-01-15"), exp(999_999, "2026-01-20")}},
		{name: "exactly window_days apart",
			evs: []any{exp(half, "2026-01-01"), exp(half, "2026-01-31")}, want: []string{p + "v-1"}},
		{name: "one day more than window_days apart",
			evs: []any{exp(half, "2026-01-01"), exp(half, "2026-02-01")}},
		{name: "across a month end",
			evs: []any{exp(half, "2026-01-25"), exp(half, "2026-02-05")}, want: []string{p + "v-1"}},
		{name: "a reversed payment no longer counts",
			evs: []any{exp(half, "2026-01-05"), rev(1), exp(half, "2026-01-06")}},
		{name: "a payment at the threshold is no split",
			evs: []any{exp(5_000_000, "2026-01-05"), exp(1, "2026-01-06")}},
		{name: "two payees",
			evs: []any{exp(half, "2026-01-05"), exp(half, "2026-01-06", payee("另一公司", ""))}},
		{name: "one payee by id number under two names",
			evs:  []any{exp(half, "2026-01-05", payee("张三", "350502198001010011")), exp(half, "2026-01-06", payee("张叁", "350502198001010011"))},
			want: []string{"SPLIT/350502198001010011/v-1"}},
		{name: "once per window, again when it adds up anew",
			evs:  []any{exp(half, "2026-01-01"), exp(half, "2026-01-02"), exp(half, "2026-01-03"), exp(half, "2026-01-04")},
			want: []string{p + "v-1", p + "v-3"}},
		{name: "a back-dated payment opens the window",
			evs: []any{exp(half, "2026-02-10"), exp(half, "2026-01-20")}, want: []string{p + "v-2"}},
		{name: "income is no payment",
			evs: []any{inc(half, "2026-01-05"), exp(half, "2026-01-06")}},
		{name: "a district window of 7 days",
			mods: []mod{params("SPLIT", map[string]int64{"window_days": 7})},
			evs:  []any{exp(half, "2026-01-01"), exp(half, "2026-01-09")}},
	})
}

func TestDupInvoice(t *testing.T) {
	a := invoice("035001900111", "00012345")
	runCases(t, "DUP-INVOICE", []tc{
		{name: "claimed twice", evs: []any{exp(100, "2026-01-05", a), exp(100, "2026-02-05", a)}, want: []string{"DUP-INVOICE/v-2"}},
		{name: "claimed three times", evs: []any{exp(100, "2026-01-05", a), exp(100, "2026-01-05", a), exp(100, "2026-01-05", a)},
			want: []string{"DUP-INVOICE/v-2", "DUP-INVOICE/v-3"}},
		{name: "same number, other code", evs: []any{exp(100, "2026-01-05", a), exp(100, "2026-01-05", invoice("035001900112", "00012345"))}},
		{name: "the first claim reversed", evs: []any{exp(100, "2026-01-05", a), rev(1), exp(100, "2026-01-06", a)}},
		{name: "no invoice", evs: []any{exp(100, "2026-01-05"), exp(100, "2026-01-05")}},
		{name: "number only (digital invoice)",
			evs:  []any{exp(100, "2026-01-05", invoice("", "26352000000012345678")), exp(100, "2026-01-05", invoice("", "26352000000012345678"))},
			want: []string{"DUP-INVOICE/v-2"}},
	})
}

func TestHospitality(t *testing.T) {
	h := category("业务招待费")
	capped := []mod{params("HOSPITALITY", map[string]int64{"hospitality_cap_fen": 1_000_000})}
	runCases(t, "HOSPITALITY", []tc{
		{name: "cap 0: every one", evs: []any{exp(1, "2026-01-05", h), exp(100, "2026-01-06", h)},
			want: []string{"HOSPITALITY/v-1", "HOSPITALITY/v-2"}},
		{name: "cap 0: not entertainment", evs: []any{exp(100, "2026-01-05")}},
		{name: "cap 0: entertainment income", evs: []any{inc(100, "2026-01-05", h)}},
		{name: "exactly at the cap", mods: capped, evs: []any{exp(600_000, "2026-01-05", h), exp(400_000, "2026-03-05", h)}},
		{name: "one fen over", mods: capped, evs: []any{exp(600_000, "2026-01-05", h), exp(400_001, "2026-03-05", h)},
			want: []string{"HOSPITALITY/2026"}},
		{name: "once a year", mods: capped,
			evs:  []any{exp(600_000, "2026-01-05", h), exp(400_001, "2026-03-05", h), exp(100, "2026-04-05", h), exp(1_000_001, "2027-01-05", h)},
			want: []string{"HOSPITALITY/2026", "HOSPITALITY/2027"}},
		{name: "across the year end", mods: capped, evs: []any{exp(600_000, "2025-12-31", h), exp(500_000, "2026-01-01", h)}},
		{name: "a reversed one", mods: capped, evs: []any{exp(900_000, "2026-01-05", h), rev(1), exp(500_000, "2026-01-06", h)}},
	})
}

func TestNonProd(t *testing.T) {
	m := category("会议费")
	runCases(t, "NON-PROD", []tc{
		{name: "exactly 30% of income", evs: []any{inc(10_000_000, "2026-01-05"), exp(3_000_000, "2026-02-05", m)}},
		{name: "one fen over 30%", evs: []any{inc(10_000_000, "2026-01-05"), exp(3_000_001, "2026-02-05", m)},
			want: []string{"NON-PROD/2026"}},
		{name: "summed over the year, once",
			evs:  []any{inc(10_000_000, "2026-01-05"), exp(2_000_000, "2026-02-05", category("差旅费")), exp(1_000_001, "2026-02-05", category("干部补贴")), exp(100, "2026-03-05", m)},
			want: []string{"NON-PROD/2026"}},
		{name: "productive spending", evs: []any{inc(10_000_000, "2026-01-05"), exp(9_000_000, "2026-02-05", category("农田水利"))}},
		{name: "over the share, one fen under the minimum", evs: []any{inc(1_000_000, "2026-01-05"), exp(999_999, "2026-02-05", m)}},
		{name: "over the share, exactly the minimum", evs: []any{inc(1_000_000, "2026-01-05"), exp(1_000_000, "2026-02-05", m)},
			want: []string{"NON-PROD/2026"}},
		{name: "last year's income does not count", evs: []any{inc(10_000_000, "2025-12-31"), exp(1_000_000, "2026-01-01", m)},
			want: []string{"NON-PROD/2026"}},
		{name: "reversed income does not count",
			evs:  []any{inc(10_000_000, "2026-01-05"), inc(10_000_000, "2026-01-06"), rev(2), exp(3_000_001, "2026-02-05", m)},
			want: []string{"NON-PROD/2026"}},
		{name: "a reversed expense does not count",
			evs: []any{inc(10_000_000, "2026-01-05"), exp(3_000_000, "2026-02-05", m), rev(2), exp(1, "2026-02-06", m)}},
		{name: "the district's list", mods: []mod{list("non_productive", rules.ListItem{Name: "办公"})},
			evs:  []any{exp(1_000_000, "2026-02-05", m), exp(1_000_000, "2026-02-05", category("办公用品"))},
			want: []string{"NON-PROD/2026"}},
	})
}

func TestOffBudget(t *testing.T) {
	budget := list("budget", rules.ListItem{Name: "办公费", AmountFen: 1_000_000}, rules.ListItem{Name: "道路维修", AmountFen: 5_000_000})
	office := line("办公费")
	const y, r = "OFF-BUDGET/2026/办公费/yellow", "OFF-BUDGET/2026/办公费/red"
	runCases(t, "OFF-BUDGET", []tc{
		{name: "no budget, no rule", evs: []any{exp(100, "2026-01-05", line("招待"))}},
		{name: "a line off the plan", mods: []mod{budget}, evs: []any{exp(100, "2026-01-05", line("招待"))},
			want: []string{"OFF-BUDGET/v-1/off-plan"}},
		{name: "no line at all", mods: []mod{budget}, evs: []any{exp(100, "2026-01-05")}, want: []string{"OFF-BUDGET/v-1/off-plan"}},
		{name: "income off the plan", mods: []mod{budget}, evs: []any{inc(100, "2026-01-05", line("招待"))}},
		{name: "exactly the budget", mods: []mod{budget}, evs: []any{exp(600_000, "2026-01-05", office), exp(400_000, "2026-02-05", office)}},
		{name: "one fen over", mods: []mod{budget}, evs: []any{exp(600_000, "2026-01-05", office), exp(400_001, "2026-02-05", office)},
			want: []string{y}},
		{name: "exactly 10% over", mods: []mod{budget}, evs: []any{exp(1_100_000, "2026-01-05", office)}, want: []string{y}},
		{name: "one fen more than 10% over", mods: []mod{budget}, evs: []any{exp(1_100_001, "2026-01-05", office)}, want: []string{r}},
		{name: "yellow, then red, once each", mods: []mod{budget},
			evs:  []any{exp(1_000_001, "2026-01-05", office), exp(1, "2026-01-06", office), exp(100_000, "2026-01-07", office), exp(1, "2026-01-08", office)},
			want: []string{y, r}},
		{name: "no yellow after red", mods: []mod{budget},
			evs: []any{exp(1_200_000, "2026-01-05", office), rev(1), exp(1_050_000, "2026-01-06", office)}, want: []string{r}},
		{name: "a reversed expense", mods: []mod{budget}, evs: []any{exp(900_000, "2026-01-05", office), rev(1), exp(900_000, "2026-01-06", office)}},
		{name: "across the year end", mods: []mod{budget}, evs: []any{exp(900_000, "2025-12-31", office), exp(900_000, "2026-01-01", office)}},
	})
}

func TestTamper(t *testing.T) {
	rec := proc("FUND-BANKREC", "2026-01", "")
	runCases(t, "TAMPER", []tc{
		{name: "dated in a closed month", evs: []any{rec, closes(1, true), exp(100, "2026-01-31")}, want: []string{"TAMPER/v-3"}},
		{name: "income into a closed month", evs: []any{rec, closes(1, true), inc(100, "2026-01-01")}, want: []string{"TAMPER/v-3"}},
		{name: "the next month", evs: []any{rec, closes(1, true), exp(100, "2026-02-01")}},
		{name: "reconciliation still open", evs: []any{rec, exp(100, "2026-01-31")}},
		{name: "reconciliation rejected", evs: []any{rec, closes(1, false), exp(100, "2026-01-31")}},
		{name: "an approval that does not close", evs: []any{rec, &sanziv1.StepDecision{ProcedureId: "v-1",
			Action: sanziv1.StepAction_STEP_ACTION_APPROVE}, exp(100, "2026-01-31")}},
		{name: "entered before the close", evs: []any{exp(100, "2026-01-31"), rec, closes(2, true), exp(100, "2026-01-30")},
			want: []string{"TAMPER/v-4"}},
		{name: "another matter", evs: []any{proc("GOV-DISCLOSE", "2026-01", ""), closes(1, true), exp(100, "2026-01-31")}},
	})
}
