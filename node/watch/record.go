package watch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The record-time rules: run by Observe on each committed entry, judged on
// the history before it; their hits are about that entry.

func fen(v int64) string { return strconv.FormatInt(v, 10) }

// expense returns cur's transaction when it is a dated expense.
func expense(cur *rec) *sanziv1.Transaction {
	if cur.tx == nil || cur.date == noDay || cur.tx.GetKind() != sanziv1.TransactionKind_TRANSACTION_KIND_EXPENSE {
		return nil
	}
	return cur.tx
}

// dupInvoice finds an invoice already claimed by a live transaction.
func dupInvoice(w *Watcher, _ *rule, cur *rec) []finding {
	if cur.tx == nil {
		return nil
	}
	k := invoiceKey(cur.tx)
	if k == "" {
		return nil
	}
	var prior []string
	for _, o := range w.st.claimed(k) {
		if !o.reversed {
			prior = append(prior, o.id)
		}
	}
	if prior == nil {
		return nil
	}
	return []finding{{subject: cur.id, key: "DUP-INVOICE/" + cur.id, detail: "已由" + prior[0] + "报销",
		ev: map[string]string{
			"invoice_code": cur.tx.GetInvoiceCode(), "invoice_number": cur.tx.GetInvoiceNumber(),
			"claimed_by": strings.Join(prior, ","), "amount_fen": fen(cur.tx.GetAmountFen()),
		}}}
}

func isHospitality(category string) bool { return strings.Contains(category, "招待") }

// hospitality fires on every entertainment expense when the cap is 0, else
// once a year when the year's entertainment goes over the cap.
func hospitality(w *Watcher, r *rule, cur *rec) []finding {
	tx := expense(cur)
	if tx == nil || !isHospitality(tx.GetCategory()) {
		return nil
	}
	limit, y := r.Params["hospitality_cap_fen"], cur.date.year()
	total := w.st.spent(y, isHospitality) + tx.GetAmountFen()
	f := finding{subject: cur.id, ev: map[string]string{
		"year": strconv.Itoa(y), "amount_fen": fen(tx.GetAmountFen()), "year_total_fen": fen(total),
	}}
	switch {
	case limit == 0:
		f.key = "HOSPITALITY/" + cur.id
	case total > limit:
		f.key, f.detail = fmt.Sprintf("HOSPITALITY/%d", y), fmt.Sprintf("%d年累计%s分", y, fen(total))
	default:
		return nil
	}
	return []finding{f}
}

// nonProductive says whether an expense category is non-productive: by the
// set's "non_productive" list when it has one, else meetings, travel,
// subsidies and entertainment.
func (w *Watcher) nonProductive(category string) bool {
	items := w.lists["non_productive"]
	if len(items) == 0 {
		for _, s := range []string{"会议", "差旅", "补贴", "招待"} {
			if strings.Contains(category, s) {
				return true
			}
		}
	}
	for _, it := range items {
		if it.Name != "" && strings.Contains(category, it.Name) {
			return true
		}
	}
	return false
}

// nonProd fires once a year when the year's non-productive spending, this
// expense included, is over the percentage of the year's income and at
// least the minimum.
func nonProd(w *Watcher, r *rule, cur *rec) []finding {
	tx := expense(cur)
	if tx == nil || !w.nonProductive(tx.GetCategory()) {
		return nil
	}
	y := cur.date.year()
	np, income := w.st.spent(y, w.nonProductive)+tx.GetAmountFen(), w.st.year(y).income
	if np*100 <= income*r.Params["non_prod_percent"] || np < r.Params["non_prod_min_fen"] {
		return nil
	}
	return []finding{{subject: cur.id, key: fmt.Sprintf("NON-PROD/%d", y),
		detail: fmt.Sprintf("%d年非生产性开支%s分，收入%s分", y, fen(np), fen(income)),
		ev:     map[string]string{"year": strconv.Itoa(y), "non_productive_fen": fen(np), "income_fen": fen(income)}}}
}

// offBudget fires, when the set has a budget, on each expense outside it
// (top rung), and once per line and year on each rung of overspending.
func offBudget(w *Watcher, r *rule, cur *rec) []finding {
	budget := w.lists["budget"]
	tx := expense(cur)
	if tx == nil || len(budget) == 0 {
		return nil
	}
	line, y := tx.GetBudgetLine(), cur.date.year()
	i := slices.IndexFunc(budget, func(it rules.ListItem) bool { return it.Name == line })
	ev := map[string]string{"budget_line": line, "year": strconv.Itoa(y), "amount_fen": fen(tx.GetAmountFen())}
	if i < 0 {
		return []finding{{sev: r.Severity, subject: cur.id, key: "OFF-BUDGET/" + cur.id + "/off-plan", detail: "预算外支出", ev: ev}}
	}
	b, total := budget[i].AmountFen, w.st.year(y).lines[line]+tx.GetAmountFen()
	if total <= b {
		return nil
	}
	ev["budget_fen"], ev["year_total_fen"] = fen(b), fen(total)
	over := total - b
	f := finding{subject: cur.id, detail: fmt.Sprintf("%s超支%s分", line, fen(over)), ev: ev}
	return w.ladder(r, fmt.Sprintf("OFF-BUDGET/%d/%s", y, line), true, over*100 > b*r.Params["over_budget_red_percent"], f)
}

// tamper fires on a transaction dated in a month whose bank reconciliation
// was already completed: a back-dated entry into a closed period.
func tamper(w *Watcher, _ *rule, cur *rec) []finding {
	if cur.tx == nil || cur.date == noDay {
		return nil
	}
	m := cur.date.month()
	p := w.st.completed("FUND-BANKREC", m, never)
	if p == nil {
		return nil
	}
	return []finding{{subject: cur.id, key: "TAMPER/" + cur.id, detail: m.String() + "已结账",
		ev: map[string]string{
			"business_date": cur.date.String(), "period": m.String(), "reconciliation": p.id, "closed_on": p.closedOn.String(),
		}}}
}
