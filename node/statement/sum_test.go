package statement

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/chart/charttest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const villageB = "511010001002"

// yearB is a second, smaller village of the same town.
const yearB = `
2025-01-01 期初余额 opening
	101     2,000.00          -
	102    80,000.00          -
	301            -    70,000.00
	32203          -    12,000.00
2025-02-01 收到鱼塘承包费
	102    10,000.00          -
	501            -    10,000.00
2025-05-06 支付会议费
	531     3,000.00          -
	102            -     3,000.00
2025-08-01 提取公积公益金
	32201   1,000.00          -
	311            -     1,000.00
`

func TestSumEqualsTotalsOverBothVillages(t *testing.T) {
	ch := districtChart(t)
	a, b := book(t, villageA, yearA), book(t, villageB, yearB)
	both := append(append([]*sanziv1.Voucher(nil), a...), b...)
	kinds := []struct {
		name string
		make func(org, period string, tot Totals) (*sanziv1.Statement, error)
	}{
		{"trial balance", func(org, period string, tot Totals) (*sanziv1.Statement, error) {
			return TrialBalance(ch, org, period, tot)
		}},
		{"balance sheet", func(org, period string, tot Totals) (*sanziv1.Statement, error) {
			return BalanceSheet(ch, org, period, tot)
		}},
		{"income", func(org, period string, tot Totals) (*sanziv1.Statement, error) { return Income(ch, org, period, tot) }},
	}
	for _, period := range []string{"2025-06", "2025-12"} {
		ta, _ := TotalsOf(ch, a, period)
		tb, _ := TotalsOf(ch, b, period)
		tboth, err := TotalsOf(ch, both, period)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kinds {
			t.Run(period+" "+k.name, func(t *testing.T) {
				sa, err := k.make(villageA, period, ta)
				if err != nil {
					t.Fatal(err)
				}
				sb, err := k.make(villageB, period, tb)
				if err != nil {
					t.Fatal(err)
				}
				sum, err := Sum("511010001", []*sanziv1.Statement{sa, sb})
				if err != nil {
					t.Fatal(err)
				}
				want, err := k.make("511010001", period, tboth)
				if err != nil {
					t.Fatal(err)
				}
				want.Orgs = 2
				if !proto.Equal(sum, want) {
					t.Errorf("sum of the villages:\n%s\nstatement of both villages' vouchers:\n%s", render(sum), render(want))
				}
				// Village B adds something to every kind: the test would not
				// tell a sum from village A's figures otherwise.
				onlyA := proto.Clone(sa).(*sanziv1.Statement)
				onlyA.Org, onlyA.Orgs = sum.Org, sum.Orgs
				if proto.Equal(sum, onlyA) {
					t.Errorf("the sum is village A's statement alone")
				}
			})
		}
	}
}

func TestSumRefuses(t *testing.T) {
	dist, nat := districtChart(t), charttest.National(t)
	a := book(t, villageA, yearA)
	tot, _ := TotalsOf(dist, a, "2025-12")
	bs, _ := BalanceSheet(dist, villageA, "2025-12", tot)
	tbDist, _ := TrialBalance(dist, villageA, "2025-12", tot)
	nov, _ := TotalsOf(dist, a, "2025-11")
	bsNov, _ := BalanceSheet(dist, villageA, "2025-11", nov)
	b := book(t, villageB, "2025-01-01 期初 opening\n\t101 1.00 -\n\t301 - 1.00\n")
	totB, _ := TotalsOf(nat, b, "2025-12")
	tbNat, _ := TrialBalance(nat, villageB, "2025-12", totB)
	cash, _ := CashJournal(dist, villageA, "2025-12", a)
	relabelled := proto.Clone(bs).(*sanziv1.Statement)
	relabelled.Rows[1].Label = "现金"
	tests := []struct {
		name  string
		parts []*sanziv1.Statement
		field string
	}{
		{"nothing", nil, "parts"},
		{"a journal", []*sanziv1.Statement{cash, cash}, "parts[0].kind"},
		{"two kinds", []*sanziv1.Statement{bs, tbDist}, "parts[1].kind"},
		{"two periods", []*sanziv1.Statement{bs, bsNov}, "parts[1].period"},
		{"charts with different sub-accounts", []*sanziv1.Statement{tbDist, tbNat}, "parts[1].rows"},
		{"a row relabelled", []*sanziv1.Statement{bs, relabelled}, "parts[1].rows[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sum("511010001", tc.parts)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}
