package statement

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// movementsOf sums vouchers as the books index them for a statement of
// period: a row per account and year before the period's, a row per
// account and month of its year and after.
func movementsOf(vs []*sanziv1.Voucher, period string) []MonthMovement {
	rows := map[[2]string]MonthMovement{}
	for _, v := range vs {
		p := v.GetBusinessDate()[:7]
		if p[:4] < period[:4] {
			p = p[:4]
		}
		for _, l := range v.GetLines() {
			k := [2]string{p, l.GetAccount()}
			m := rows[k]
			m.Month, m.Account = p, l.GetAccount()
			m.Add(v.GetOpening(), Carries(v), l.GetDebitFen(), l.GetCreditFen())
			rows[k] = m
		}
	}
	var out []MonthMovement
	for _, k := range slices.SortedFunc(maps.Keys(rows), func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		return cmp.Compare(a[1], b[1])
	}) {
		out = append(out, rows[k])
	}
	return out
}

// TestFromMonthsIsFromVouchers: every statement of every month of a year
// of a village (opening balances, red ink, carry-forward, distribution on
// sub-accounts of 收益分配) and of the year after, made from month and
// year movements, is the one made from the vouchers.
func TestFromMonthsIsFromVouchers(t *testing.T) {
	ch := districtChart(t)
	vs := append(book(t, villageA, yearA), book(t, villageA, `
2026-02-03 次年收入
	102     1,000.00          -
	501            -     1,000.00
2026-02-04 红字冲销
	102    -1,000.00          -
	501            -    -1,000.00
2026-03-01 办公费
	531       300.00          -
	101            -       300.00
`)...)
	made := 0
	for _, period := range []string{"2024-12", "2025-01", "2025-02", "2025-03", "2025-06", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2027-01"} {
		for kind := range sanziv1.StatementKind_name {
			k := sanziv1.StatementKind(kind)
			if k == sanziv1.StatementKind_STATEMENT_KIND_UNSPECIFIED {
				continue
			}
			for _, account := range []string{"101", "322"} {
				want, werr := FromVouchers(ch, k, villageA, period, account, vs)
				got, gerr := FromMonths(ch, k, villageA, period, account, movementsOf(vs, period), vs)
				if werr != nil || gerr != nil {
					t.Errorf("%s %s: from the months %v, from the vouchers %v", period, k, gerr, werr)
					continue
				}
				if !proto.Equal(got, want) {
					t.Errorf("%s %s %s: from the months\n%s\nfrom the vouchers\n%s", period, k, account, render(got), render(want))
				}
				made++
			}
		}
	}
	if made != 11*7*2 {
		t.Errorf("%d statements compared, want %d", made, 11*7*2)
	}
}

func TestTotalsOfMonthsRefuses(t *testing.T) {
	ch := districtChart(t)
	tests := []struct {
		name, period, field string
		months              []MonthMovement
	}{
		{"month 13", "2025-13", "period", nil},
		{"the period's year summed", "2025-03", "months[1].month", []MonthMovement{{Month: "2024", Account: "101"}, {Month: "2025", Account: "101"}}},
		{"a later year summed", "2025-03", "months[0].month", []MonthMovement{{Month: "2026", Account: "101"}}},
		{"no month", "2025-03", "months[0].month", []MonthMovement{{Month: "2025-3", Account: "101"}}},
		{"unknown account", "2025-03", "months[0].account", []MonthMovement{{Month: "2025-03", Account: "599"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TotalsOfMonths(ch, tc.period, tc.months)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
	// An unknown account after the period is no concern of its statement,
	// as a voucher after it is none of TotalsOf's.
	if _, err := TotalsOfMonths(ch, "2025-03", []MonthMovement{{Month: "2025-04", Account: "599"}}); err != nil {
		t.Errorf("an unknown account after the period: %v", err)
	}
}
