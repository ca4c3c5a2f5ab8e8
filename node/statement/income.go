package statement

import (
	"strconv"
	"strings"

	"github.com/sanzi/sanzi/node/chart"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Income-statement line numbers the checks and tests name.
const (
	LineNetIncome = "13" // 四、净收益

	undistributedSubLabel = "未分配"
)

// Income is the 收益及收益分配表 (会农经02表) for the year to the end of
// period (YYYY-MM), column 本年累计数. The standard's 上年数 column is left
// out: it needs the prior year's totals, which GetStatement does not fetch
// (TODO(issue 19): a second Totals for the same month of the prior year).
//
// Profit-and-loss figures are the year's movements without what the
// carry-forward vouchers moved, so the statement is the same before and
// after 结转. 年初未分配收益 is the balance of 本年收益, 收益分配 and any
// profit-and-loss account not carried forward at the start of the year;
// 年末未分配收益 the same at the period's end, equal to the balance sheet's
// 未分配收益.
//
// The distributions are the debits of the year on each sub-account of 收益分配
// (322) the district added, except the one whose name says 未分配 (未分配收益,
// where 本年收益 is transferred and the distributions are closed at year
// end); on the national 322 alone, one line of its debits. A loss year's
// transfer of the loss to 322 (借 收益分配 贷 本年收益) is then also a debit of
// 322 and would show as a distribution on the national account alone
// (TODO(issue 19): tell it apart once Totals carries the transfer).
// 其他转入 (e.g. 公积公益金转入) is what remains: 年末未分配收益 plus the
// distributions less 净收益 and 年初未分配收益, so the arithmetic of the
// statement always holds and a transfer in shows where the standard puts it.
func Income(ch *chart.Chart, org, period string, t Totals) (*sanziv1.Statement, error) {
	if err := checkTotals(ch, period, t); err != nil {
		return nil, err
	}
	s := newStatement(sanziv1.StatementKind_STATEMENT_KIND_INCOME, TitleIncome, org, period, nil, []string{"本年累计数"})
	// in is the year's net credit on an income account, carry-forward left out.
	in := func(code string) int64 {
		m := t.Under(code)
		return (m.YearCreditFen - m.CarriedCreditFen) - (m.YearDebitFen - m.CarriedDebitFen)
	}
	out := func(code string) int64 { return -in(code) }
	undistributed := func(bal func(Movement) int64) int64 {
		var n int64
		for _, c := range append([]string{chart.CurrentYearIncome, chart.Distribution}, profitLoss...) {
			n -= bal(t.Under(c))
		}
		return n
	}
	add := func(no, label string, level int32, fen int64) int64 {
		s.Rows = append(s.Rows, &sanziv1.StatementRow{Code: no, Label: label, Level: level, AmountsFen: []int64{fen}})
		return fen
	}
	revenue := add("1", "一、经营收入", 0, in("501"))
	opCost := add("2", "减：经营支出", 1, out("502"))
	tax := add("3", "税金及附加", 1, out("503"))
	admin := add("4", "管理费用", 1, out("531"))
	invest := add("5", "加：投资收益", 1, in("511"))
	operating := add("6", "二、经营收益", 0, revenue-opCost-tax-admin+invest)
	subsidy := add("7", "加：补助收入", 1, in("521"))
	other := add("8", "其他收入", 1, in("522"))
	welfare := add("9", "减：公益支出", 1, out("532"))
	otherOut := add("10", "其他支出", 1, out("533"))
	gross := add("11", "三、收益总额", 0, operating+subsidy+other-welfare-otherOut)
	incomeTax := add("12", "减：所得税费用", 1, out("541"))
	net := add(LineNetIncome, "四、净收益", 0, gross-incomeTax)

	opening := undistributed(func(m Movement) int64 { return m.YearOpeningFen })
	closing := undistributed(Movement.ClosingFen)
	type dist struct {
		label string
		fen   int64
	}
	var dists []dist
	var distTotal int64
	subs := false
	for _, a := range ch.Accounts() {
		if a.GetParent() != chart.Distribution {
			continue
		}
		subs = true
		if strings.Contains(a.GetName(), undistributedSubLabel) {
			continue
		}
		d := t.Under(a.GetCode()).YearDebitFen
		dists = append(dists, dist{a.GetName(), d})
		distTotal += d
	}
	if !subs {
		d := t.Under(chart.Distribution).YearDebitFen
		dists = append(dists, dist{"收益分配", d})
		distTotal = d
	}
	add("14", "加：年初未分配收益", 1, opening)
	transferIn := add("15", "其他转入", 1, closing+distTotal-net-opening)
	add("16", "五、可分配收益", 0, net+opening+transferIn)
	no := 17
	for i, d := range dists {
		label := d.label
		if i == 0 {
			label = "减：" + label
		}
		add(strconv.Itoa(no), label, 1, d.fen)
		no++
	}
	add(strconv.Itoa(no), "六、年末未分配收益", 0, closing)
	return s, nil
}
