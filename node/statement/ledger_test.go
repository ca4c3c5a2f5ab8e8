package statement

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// line prints a ledger row as its texts and amounts in yuan.
func line(r *sanziv1.StatementRow) string {
	parts := append([]string(nil), r.GetTexts()...)
	for _, a := range r.GetAmountsFen() {
		parts = append(parts, money.FormatFen(a))
	}
	return strings.Join(parts, " ")
}

func TestJournals(t *testing.T) {
	ch := districtChart(t)
	vs := book(t, villageA, yearA)
	tests := []struct {
		name string
		make func() (*sanziv1.Statement, error)
		want []string
	}{
		{"cash journal of April: running balance from March's end", func() (*sanziv1.Statement, error) {
			return CashJournal(ch, villageA, "2025-04", vs)
		}, []string{
			"2025-04-01  期初余额 借 0.00 0.00 11,800.00",
			"2025-04-08 记-1 出售集体农产品 借 12,000.00 0.00 23,800.00",
			"2025-04-09 记-2 现金存入银行 借 0.00 10,000.00 13,800.00",
			"2025-04-10 记-3 支付农产品采收人工 借 0.00 4,000.00 9,800.00",
			"  本月合计 借 12,000.00 14,000.00 9,800.00",
			"  本年累计 借 17,000.00 15,200.00 9,800.00",
		}},
		{"bank journal of January: the opening voucher is the opening balance", func() (*sanziv1.Statement, error) {
			return BankJournal(ch, villageA, "2025-01", vs)
		}, []string{
			"2025-01-01  期初余额 借 0.00 0.00 420,000.00",
			"2025-01-15 记-1 收到土地发包租金 借 60,000.00 0.00 480,000.00",
			"  本月合计 借 60,000.00 0.00 480,000.00",
			"  本年累计 借 60,000.00 0.00 480,000.00",
		}},
		{"subsidiary ledger of 公益支出 in September: the red-ink line negative", func() (*sanziv1.Statement, error) {
			return SubsidiaryLedger(ch, villageA, "2025-09", "532", vs)
		}, []string{
			"2025-09-01  期初余额 借 0.00 0.00 30,000.00",
			"2025-09-03 记-1 支付办公费（误记公益支出） 借 2,000.00 0.00 32,000.00",
			"2025-09-10 记-2 红字冲销9月3日记-1号凭证 借 -2,000.00 0.00 30,000.00",
			"  本月合计 借 0.00 0.00 30,000.00",
			"  本年累计 借 30,000.00 0.00 30,000.00",
		}},
		{"subsidiary ledger of 收益分配 in December takes its sub-accounts, credit side", func() (*sanziv1.Statement, error) {
			return SubsidiaryLedger(ch, villageA, "2025-12", "322", vs)
		}, []string{
			"2025-12-01  期初余额 贷 0.00 0.00 50,000.00",
			"2025-12-31 记-5 本年收益转入收益分配 贷 0.00 72,100.00 122,100.00",
			"2025-12-31 记-6 提取公积公益金 贷 10,000.00 0.00 112,100.00",
			"2025-12-31 记-7 分配给成员 贷 20,000.00 0.00 92,100.00",
			"2025-12-31 记-8 结转收益分配各明细科目 贷 30,000.00 0.00 62,100.00",
			"2025-12-31 记-8 结转收益分配各明细科目 贷 0.00 10,000.00 72,100.00",
			"2025-12-31 记-8 结转收益分配各明细科目 贷 0.00 20,000.00 92,100.00",
			"  本月合计 贷 60,000.00 102,100.00 92,100.00",
			"  本年累计 贷 60,000.00 102,100.00 92,100.00",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.make()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range s.GetRows() {
				got = append(got, line(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("%s:\n%s\nwant\n%s", s.GetTitle(), strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	if _, err := SubsidiaryLedger(ch, villageA, "2025-09", "999", vs); err == nil {
		t.Error("a ledger of no account was made")
	}
}

func TestGeneralLedger(t *testing.T) {
	ch := districtChart(t)
	vs := book(t, villageA, yearA)
	s, err := GeneralLedger(ch, villageA, "2025-11", vs)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.GetRows()) != 42*3 {
		t.Errorf("%d rows, want three for each of the 42 national accounts", len(s.GetRows()))
	}
	var got []string
	for _, r := range s.GetRows() {
		if r.GetCode() == "201" || r.GetCode() == "102" {
			got = append(got, line(r))
		}
	}
	want := []string{
		"102 银行存款 期初余额 借 0.00 0.00 517,000.00",
		"102 银行存款 本月合计 借 0.00 51,500.00 465,500.00",
		"102 银行存款 本年累计 借 215,000.00 169,500.00 465,500.00",
		"201 短期借款 期初余额 贷 0.00 0.00 50,000.00",
		"201 短期借款 本月合计 平 50,000.00 0.00 0.00",
		"201 短期借款 本年累计 平 50,000.00 50,000.00 0.00",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("general ledger:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
