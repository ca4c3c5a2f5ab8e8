package statement

import (
	"fmt"
	"strings"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Titles of the statements as the standard prints them.
const (
	TitleTrialBalance = "科目余额表"
	TitleBalanceSheet = "资产负债表"
	TitleIncome       = "收益及收益分配表"
)

// TotalLabel labels the 合计 row of the trial balance.
const TotalLabel = "合计"

func newStatement(kind sanziv1.StatementKind, title, org, period string, texts, amounts []string) *sanziv1.Statement {
	return &sanziv1.Statement{Kind: kind, Title: title, Org: org, Orgs: 1, Period: period, TextColumns: texts, AmountColumns: amounts}
}

// split puts a debit-positive balance in the debit or the credit column.
func split(bal int64) (dr, cr int64) {
	if bal >= 0 {
		return bal, 0
	}
	return 0, -bal
}

// placed is an account with its indent level (1 for a national account).
type placed struct {
	a     *sanziv1.LedgerAccount
	level int32
}

// tree lists the chart's accounts national by national, each followed by
// its sub-accounts depth first.
func tree(ch *chart.Chart) []placed {
	kids := map[string][]*sanziv1.LedgerAccount{}
	var roots []*sanziv1.LedgerAccount
	for _, a := range ch.Accounts() {
		if a.GetParent() == "" {
			roots = append(roots, a)
		} else {
			kids[a.GetParent()] = append(kids[a.GetParent()], a)
		}
	}
	var out []placed
	var walk func(a *sanziv1.LedgerAccount, level int32)
	walk = func(a *sanziv1.LedgerAccount, level int32) {
		out = append(out, placed{a, level})
		for _, k := range kids[a.GetCode()] {
			walk(k, level+1)
		}
	}
	for _, r := range roots {
		walk(r, 1)
	}
	return out
}

// TrialBalance is the 科目余额表 at the end of period (YYYY-MM): every
// account of the chart, sub-accounts indented under their national
// account, with its balance at the start of the month, the month's debits
// and credits, the year's to date (the opening voucher not included) and
// its balance at the month's end, each balance in the column of its sign
// (a 内部往来 owed to the village on the debit side, owed by it on the
// credit side). The 合计 row sums the national accounts: each pair of its
// columns is equal when the vouchers balance.
func TrialBalance(ch *chart.Chart, org, period string, t Totals) (*sanziv1.Statement, error) {
	if err := checkTotals(ch, period, t); err != nil {
		return nil, err
	}
	s := newStatement(sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, TitleTrialBalance, org, period, nil,
		[]string{"期初借方", "期初贷方", "本期借方", "本期贷方", "本年累计借方", "本年累计贷方", "期末借方", "期末贷方"})
	total := make([]int64, 8)
	for _, n := range tree(ch) {
		m := t.Under(n.a.GetCode())
		od, oc := split(m.OpeningFen)
		cd, cc := split(m.ClosingFen())
		amts := []int64{od, oc, m.DebitFen, m.CreditFen, m.YearDebitFen, m.YearCreditFen, cd, cc}
		if n.level == 1 {
			for i, v := range amts {
				total[i] += v
			}
		}
		s.Rows = append(s.Rows, &sanziv1.StatementRow{Code: n.a.GetCode(), Label: n.a.GetName(), AmountsFen: amts, Level: n.level})
	}
	s.Rows = append(s.Rows, &sanziv1.StatementRow{Label: TotalLabel, AmountsFen: total})
	for i := 0; i < 8; i += 2 {
		if total[i] != total[i+1] {
			return nil, fmt.Errorf("trial balance of %s %s: %s %d fen but %s %d fen: the vouchers do not balance",
				org, period, s.AmountColumns[i], total[i], s.AmountColumns[i+1], total[i+1])
		}
	}
	return s, nil
}

// Balance-sheet line numbers (行次) the checks and tests name.
const (
	LineTotalAssets            = "21" // 资产总计
	LineTotalLiabilitiesEquity = "37" // 负债和所有者权益总计
	LineUndistributed          = "35" // 未分配收益
)

// bsLine is one line item of the balance sheet: heading (no amounts),
// account item (fen computes it from balances) or total (sum of the
// lines named, minus those prefixed with '-').
type bsLine struct {
	no, label string
	level     int32
	fen       func(bal func(string) int64, internal [2]int64) int64
	sum       []string
}

// plus is the balance of the accounts named, debit-positive.
func plus(codes ...string) func(func(string) int64, [2]int64) int64 {
	return func(bal func(string) int64, _ [2]int64) int64 {
		var n int64
		for _, c := range codes {
			n += bal(c)
		}
		return n
	}
}

// credit is the balance of credit-side accounts, credit-positive.
func credit(codes ...string) func(func(string) int64, [2]int64) int64 {
	p := plus(codes...)
	return func(bal func(string) int64, in [2]int64) int64 { return -p(bal, in) }
}

// profitLoss are the national profit-and-loss accounts: before they are
// carried forward their balances are part of 未分配收益.
var profitLoss = []string{"501", "502", "503", "511", "521", "522", "531", "532", "533", "541"}

// balanceSheetLines is the 资产负债表 of the 2023 standard's appendix (会农经01表)
// as one column of line items, assets first, then liabilities and equity,
// where the standard prints them side by side. The line items and what
// each sums are the standard's; the 行次 here are numbered in order, and
// the standard's own numbering was not at hand to check them against.
// Also not checked against the appendix: whether 待处理财产损溢 sits under
// 非流动资产 (here) or 流动资产, and whether 无形资产 is printed as one net line
// (here) or 原值, 累计摊销 and 净值. 存货 takes 生产（劳务）成本 with 库存物资
// as the 2004 standard did, so every account of the chart is on exactly
// one line and the sheet balances.
func balanceSheetLines() []bsLine {
	return []bsLine{
		{label: "流动资产："},
		{no: "1", label: "货币资金", level: 1, fen: plus("101", "102")},
		{no: "2", label: "短期投资", level: 1, fen: plus("111")},
		{no: "3", label: "应收款项", level: 1, fen: func(bal func(string) int64, in [2]int64) int64 { return bal("112") + in[0] }},
		{no: "4", label: "存货", level: 1, fen: plus("121", "401")},
		{no: "5", label: "消耗性生物资产", level: 1, fen: plus("131")},
		{no: "6", label: "流动资产合计", sum: []string{"1", "2", "3", "4", "5"}},
		{label: "非流动资产："},
		{no: "7", label: "长期投资", level: 1, fen: plus("141")},
		{no: "8", label: "生产性生物资产原值", level: 1, fen: plus("132")},
		{no: "9", label: "减：生产性生物资产累计折旧", level: 1, fen: credit("133")},
		{no: "10", label: "生产性生物资产净值", level: 1, sum: []string{"8", "-9"}},
		{no: "11", label: "固定资产原值", level: 1, fen: plus("151")},
		{no: "12", label: "减：累计折旧", level: 1, fen: credit("152")},
		{no: "13", label: "固定资产净值", level: 1, sum: []string{"11", "-12"}},
		{no: "14", label: "固定资产清理", level: 1, fen: plus("154")},
		{no: "15", label: "在建工程", level: 1, fen: plus("153")},
		{no: "16", label: "无形资产", level: 1, fen: plus("161", "162")},
		{no: "17", label: "公益性生物资产", level: 1, fen: plus("134")},
		{no: "18", label: "长期待摊费用", level: 1, fen: plus("171")},
		{no: "19", label: "待处理财产损溢", level: 1, fen: plus("181")},
		{no: "20", label: "非流动资产合计", sum: []string{"7", "10", "13", "14", "15", "16", "17", "18", "19"}},
		{no: LineTotalAssets, label: "资产总计", sum: []string{"6", "20"}},
		{label: "流动负债："},
		{no: "22", label: "短期借款", level: 1, fen: credit("201")},
		{no: "23", label: "应付款项", level: 1, fen: func(bal func(string) int64, in [2]int64) int64 { return -bal("211") + in[1] }},
		{no: "24", label: "应付工资", level: 1, fen: credit("212")},
		{no: "25", label: "应付劳务费", level: 1, fen: credit("213")},
		{no: "26", label: "应交税费", level: 1, fen: credit("221")},
		{no: "27", label: "流动负债合计", sum: []string{"22", "23", "24", "25", "26"}},
		{label: "非流动负债："},
		{no: "28", label: "长期借款及应付款", level: 1, fen: credit("231")},
		{no: "29", label: "一事一议资金", level: 1, fen: credit("241")},
		{no: "30", label: "专项应付款", level: 1, fen: credit("242")},
		{no: "31", label: "非流动负债合计", sum: []string{"28", "29", "30"}},
		{no: "32", label: "负债合计", sum: []string{"27", "31"}},
		{label: "所有者权益："},
		{no: "33", label: "资本", level: 1, fen: credit("301")},
		{no: "34", label: "公积公益金", level: 1, fen: credit("311")},
		{no: LineUndistributed, label: "未分配收益", level: 1, fen: credit(append([]string{"321", "322"}, profitLoss...)...)},
		{no: "36", label: "所有者权益合计", sum: []string{"33", "34", "35"}},
		{no: LineTotalLiabilitiesEquity, label: "负债和所有者权益总计", sum: []string{"32", "36"}},
	}
}

// evalLines computes every line's amount from balances.
func evalLines(lines []bsLine, bal func(string) int64, internal [2]int64) map[string]int64 {
	got := map[string]int64{}
	for _, l := range lines {
		switch {
		case l.fen != nil:
			got[l.no] = l.fen(bal, internal)
		case l.sum != nil:
			var n int64
			for _, s := range l.sum {
				if no, minus := strings.CutPrefix(s, "-"); minus {
					n -= got[no]
				} else {
					n += got[s]
				}
			}
			got[l.no] = n
		}
	}
	return got
}

// internalSplit is 内部往来 (113) split by sign account by account: what
// members and units owe the village (debit balances, 应收款项) and what it
// owes them (credit balances, 应付款项, credit-positive). The split is by
// the leaf codes of the totals: a district that details 113 by
// counterparty gets the split the standard asks for; on the national
// account alone it is the net balance.
func internalSplit(t Totals, bal func(Movement) int64) [2]int64 {
	var in [2]int64
	for k, m := range t {
		if strings.HasPrefix(k, "113") {
			dr, cr := split(bal(m))
			in[0] += dr
			in[1] += cr
		}
	}
	return in
}

// BalanceSheet is the 资产负债表 at the end of period (YYYY-MM), columns
// 年初数 (the balances at the start of the period's year) and 期末数. It
// refuses totals whose 资产总计 and 负债和所有者权益总计 differ (vouchers that
// do not balance), naming the difference.
func BalanceSheet(ch *chart.Chart, org, period string, t Totals) (*sanziv1.Statement, error) {
	if err := checkTotals(ch, period, t); err != nil {
		return nil, err
	}
	s := newStatement(sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, TitleBalanceSheet, org, period, nil, []string{"年初数", "期末数"})
	lines := balanceSheetLines()
	cols := []func(Movement) int64{
		func(m Movement) int64 { return m.YearOpeningFen },
		func(m Movement) int64 { return m.ClosingFen() },
	}
	var vals []map[string]int64
	for _, c := range cols {
		v := evalLines(lines, func(code string) int64 { return c(t.Under(code)) }, internalSplit(t, c))
		if d := v[LineTotalAssets] - v[LineTotalLiabilitiesEquity]; d != 0 {
			return nil, fmt.Errorf("balance sheet of %s %s: 资产总计 exceeds 负债和所有者权益总计 by %d fen: the vouchers do not balance", org, period, d)
		}
		vals = append(vals, v)
	}
	for _, l := range lines {
		r := &sanziv1.StatementRow{Code: l.no, Label: l.label, Level: l.level}
		if l.no != "" {
			r.AmountsFen = []int64{vals[0][l.no], vals[1][l.no]}
		}
		s.Rows = append(s.Rows, r)
	}
	return s, nil
}
