package statement

import (
	"fmt"
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

const villageA = "511010001001"

// yearA is a year (2025) of one village's books: the opening balances,
// its business month by month, a mistaken voucher reversed in red ink and
// entered again, and December's carry-forward (结转) and distribution.
const yearA = `
2025-01-01 期初余额 opening
	101     8,000.00          -
	102   420,000.00          -
	112    15,000.00          -
	151   600,000.00          -
	152            -   120,000.00
	211            -    23,000.00
	301            -   700,000.00
	311            -   150,000.00
	32203          -    50,000.00
2025-01-15 收到土地发包租金
	102    60,000.00          -
	501            -    60,000.00
2025-02-10 提取备用金
	101     5,000.00          -
	102            -     5,000.00
2025-03-05 购买办公用品
	531     1,200.00          -
	101            -     1,200.00
2025-03-20 收到镇级转移支付补助
	102    80,000.00          -
	521            -    80,000.00
2025-04-08 出售集体农产品
	101    12,000.00          -
	501            -    12,000.00
2025-04-09 现金存入银行
	102    10,000.00          -
	101            -    10,000.00
2025-04-10 支付农产品采收人工
	502     4,000.00          -
	101            -     4,000.00
2025-05-12 向信用社借入短期借款
	102    50,000.00          -
	201            -    50,000.00
2025-05-20 村道维修
	532    30,000.00          -
	102            -    30,000.00
2025-06-30 计提村干部报酬
	531    36,000.00          -
	212            -    36,000.00
2025-07-05 发放村干部报酬
	212    36,000.00          -
	102            -    36,000.00
2025-08-15 购入农机一台
	151    45,000.00          -
	102            -    45,000.00
2025-09-03 支付办公费（误记公益支出）
	532     2,000.00          -
	102            -     2,000.00
2025-09-10 红字冲销9月3日记-1号凭证
	532    -2,000.00          -
	102            -    -2,000.00
2025-09-10 支付办公费
	531     2,000.00          -
	102            -     2,000.00
2025-10-18 收回应收款
	102    15,000.00          -
	112            -    15,000.00
2025-11-20 归还短期借款及利息
	201    50,000.00          -
	533     1,500.00          -
	102            -    51,500.00
2025-12-10 收到存款利息
	102       800.00          -
	522            -       800.00
2025-12-31 计提固定资产折旧
	531     6,000.00          -
	152            -     6,000.00
2025-12-31 结转收入类科目
	501    72,000.00          -
	521    80,000.00          -
	522       800.00          -
	321            -   152,800.00
2025-12-31 结转支出类科目
	321    80,700.00          -
	502            -     4,000.00
	531            -    45,200.00
	532            -    30,000.00
	533            -     1,500.00
2025-12-31 本年收益转入收益分配
	321    72,100.00          -
	32203          -    72,100.00
2025-12-31 提取公积公益金
	32201  10,000.00          -
	311            -    10,000.00
2025-12-31 分配给成员
	32202  20,000.00          -
	211            -    20,000.00
2025-12-31 结转收益分配各明细科目
	32203  30,000.00          -
	32201          -    10,000.00
	32202          -    20,000.00
`

func TestScenarioVillageYear(t *testing.T) {
	ch := districtChart(t)
	vs := book(t, villageA, yearA)
	for m := 1; m <= 12; m++ {
		period := fmt.Sprintf("2025-%02d", m)
		tot, err := TotalsOf(ch, vs, period)
		if err != nil {
			t.Fatalf("%s: totals: %v", period, err)
		}
		bs, err := BalanceSheet(ch, villageA, period, tot)
		if err != nil {
			t.Fatalf("%s: balance sheet: %v", period, err)
		}
		assets, claims := row(t, bs, LineTotalAssets).GetAmountsFen(), row(t, bs, LineTotalLiabilitiesEquity).GetAmountsFen()
		for c := range assets {
			if assets[c] != claims[c] {
				t.Errorf("%s %s: 资产总计 %s, 负债和所有者权益总计 %s", period, bs.GetAmountColumns()[c], money.FormatFen(assets[c]), money.FormatFen(claims[c]))
			}
		}
		tb, err := TrialBalance(ch, villageA, period, tot)
		if err != nil {
			t.Fatalf("%s: trial balance: %v", period, err)
		}
		total := rowByLabel(t, tb, TotalLabel).GetAmountsFen()
		for c := 0; c < len(total); c += 2 {
			if total[c] != total[c+1] {
				t.Errorf("%s trial balance: %s %s, %s %s", period, tb.GetAmountColumns()[c], money.FormatFen(total[c]), tb.GetAmountColumns()[c+1], money.FormatFen(total[c+1]))
			}
		}
		// The month's closing is the next month's opening.
		if m > 1 {
			prev, _ := TotalsOf(ch, vs, fmt.Sprintf("2025-%02d", m-1))
			for code, mv := range tot {
				if mv.OpeningFen != prev[code].ClosingFen() {
					t.Errorf("%s %s: opens at %d fen, %02d closed at %d", period, code, mv.OpeningFen, m-1, prev[code].ClosingFen())
				}
			}
		}
		t.Logf("%s: 资产总计 %s = 负债和所有者权益总计 %s; trial balance 期末 %s = %s", period,
			money.FormatFen(assets[1]), money.FormatFen(claims[1]), money.FormatFen(total[6]), money.FormatFen(total[7]))
	}

	dec, err := TotalsOf(ch, vs, "2025-12")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := BalanceSheet(ch, villageA, "2025-12", dec)
	if err != nil {
		t.Fatal(err)
	}
	inc, err := Income(ch, villageA, "2025-12", dec)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "balance-sheet-2025-12.golden", render(bs))
	golden(t, "income-2025.golden", render(inc))

	// Income minus expense is the change in 本年收益 once the income and
	// expense are carried into it, before it is transferred to 收益分配.
	bt := totalsBefore(t, ch, vs, "本年收益转入收益分配", "2025-12")
	m321 := bt.Under("321")
	change := -(m321.ClosingFen() - m321.YearOpeningFen)
	net := row(t, inc, LineNetIncome).GetAmountsFen()[0]
	if net != change || net == 0 {
		t.Errorf("净收益 %s, change in 本年收益 before its transfer %s", money.FormatFen(net), money.FormatFen(change))
	}
	// The income statement ends where the balance sheet's 未分配收益 does.
	if end, bsEnd := inc.GetRows()[len(inc.GetRows())-1].GetAmountsFen()[0], row(t, bs, LineUndistributed).GetAmountsFen()[1]; end != bsEnd {
		t.Errorf("年末未分配收益 %s, balance sheet 未分配收益 %s", money.FormatFen(end), money.FormatFen(bsEnd))
	}
	// The year's figures are the same before the carry-forward.
	incBefore, err := Income(ch, villageA, "2025-12", totalsBefore(t, ch, vs, "结转收入类科目", "2025-12"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 13; i++ { // 一 to 四、净收益
		if a, b := inc.GetRows()[i].GetAmountsFen()[0], incBefore.GetRows()[i].GetAmountsFen()[0]; a != b {
			t.Errorf("%s: %s after the carry-forward, %s before", inc.GetRows()[i].GetLabel(), money.FormatFen(a), money.FormatFen(b))
		}
	}
	t.Logf("净收益 %s = change in 本年收益 %s; 年末未分配收益 %s", money.FormatFen(net), money.FormatFen(change), money.FormatFen(row(t, bs, LineUndistributed).GetAmountsFen()[1]))
}

// totalsBefore are the totals of the period over the vouchers before the
// first whose summary is summary.
func totalsBefore(t *testing.T, ch *chart.Chart, vs []*sanziv1.Voucher, summary, period string) Totals {
	t.Helper()
	var before []*sanziv1.Voucher
	for _, v := range vs {
		if v.GetSummary() == summary {
			break
		}
		before = append(before, v)
	}
	tot, err := TotalsOf(ch, before, period)
	if err != nil {
		t.Fatal(err)
	}
	return tot
}
