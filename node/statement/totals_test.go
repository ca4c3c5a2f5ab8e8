package statement

import (
	"errors"
	"testing"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

func TestTotalsOf(t *testing.T) {
	ch := districtChart(t)
	midYear := book(t, "o", `
2025-03-01 期初余额 opening
	101   1,000.00        -
	301          -   1,000.00
2025-03-05 出售农产品
	101     200.00        -
	501          -     200.00
2025-04-02 办公费
	531      50.00        -
	101          -      50.00
2025-04-30 结转
	501     200.00        -
	531          -      50.00
	321          -     150.00
2025-05-01 下月的凭证
	101     999.00        -
	501          -     999.00
`)
	priorYear := book(t, "o", `
2024-12-20 利息
	101     100.00        -
	522          -     100.00
2025-01-03 红字冲销利息
	101    -100.00        -
	522          -    -100.00
`)
	tests := []struct {
		name   string
		book   []*sanziv1.Voucher
		period string
		want   Totals
	}{
		{"opening voucher counts in its month's opening and its year's", midYear, "2025-03", Totals{
			"101": {YearOpeningFen: 100000, OpeningFen: 100000, DebitFen: 20000, YearDebitFen: 20000},
			"301": {YearOpeningFen: -100000, OpeningFen: -100000},
			"501": {CreditFen: 20000, YearCreditFen: 20000},
		}},
		{"carry-forward lines on profit and loss are marked, later vouchers ignored", midYear, "2025-04", Totals{
			"101": {YearOpeningFen: 100000, OpeningFen: 120000, CreditFen: 5000, YearDebitFen: 20000, YearCreditFen: 5000},
			"301": {YearOpeningFen: -100000, OpeningFen: -100000},
			"501": {OpeningFen: -20000, DebitFen: 20000, YearDebitFen: 20000, YearCreditFen: 20000, CarriedDebitFen: 20000},
			"531": {DebitFen: 5000, CreditFen: 5000, YearDebitFen: 5000, YearCreditFen: 5000, CarriedCreditFen: 5000},
			"321": {CreditFen: 15000, YearCreditFen: 15000},
		}},
		{"a prior year's vouchers are in the year's opening; red ink is negative", priorYear, "2025-01", Totals{
			"101": {YearOpeningFen: 10000, OpeningFen: 10000, DebitFen: -10000, YearDebitFen: -10000},
			"522": {YearOpeningFen: -10000, OpeningFen: -10000, CreditFen: -10000, YearCreditFen: -10000},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TotalsOf(ch, tc.book, tc.period)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%d accounts, want %d: %v", len(got), len(tc.want), got)
			}
			for code, w := range tc.want {
				if got[code] != w {
					t.Errorf("%s:\n got  %+v\n want %+v", code, got[code], w)
				}
			}
		})
	}
}

func TestTotalsOfRefuses(t *testing.T) {
	ch := districtChart(t)
	good := book(t, "o", "2025-03-05 x\n\t101 1.00 -\n\t501 - 1.00\n")
	badDate := book(t, "o", "2025-03-05 x\n\t101 1.00 -\n\t501 - 1.00\n")
	badDate[0].BusinessDate = "2025-3-5"
	badAccount := book(t, "o", "2025-03-05 x\n\t101 1.00 -\n\t599 - 1.00\n")
	tests := []struct {
		name, period, field string
		book                []*sanziv1.Voucher
	}{
		{"month 13", "2025-13", "period", good},
		{"short month", "2025-3", "period", good},
		{"bad date", "2025-03", "vouchers[0].business_date", badDate},
		{"unknown account", "2025-03", "vouchers[0].lines[1].account", badAccount},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TotalsOf(ch, tc.book, tc.period)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("err %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
}
