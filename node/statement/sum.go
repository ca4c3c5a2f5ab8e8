package statement

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Sum is the statement of a town or the district (org): the row-by-row
// sum of its villages' statements, as the agency centre's 汇总表 adds
// what each village reports (a trial balance's balances stay in the
// column each village had them in). Every part must be of the same kind,
// period, columns and rows (code and label, in order); Orgs is the number
// of villages summed (a town's sum may itself be a part). Ledgers and
// journals are per village and are refused.
func Sum(org string, parts []*sanziv1.Statement) (*sanziv1.Statement, error) {
	if len(parts) == 0 {
		return nil, &FieldError{Field: "parts", Reason: "none: nothing to sum"}
	}
	first := parts[0]
	switch first.GetKind() {
	case sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, sanziv1.StatementKind_STATEMENT_KIND_INCOME:
	default:
		return nil, &FieldError{Field: "parts[0].kind", Reason: fmt.Sprintf("%s is not summed across villages: only the trial balance, balance sheet and income statement are", first.GetKind())}
	}
	out := proto.Clone(first).(*sanziv1.Statement)
	out.Org = org
	out.Orgs = 0
	for _, r := range out.GetRows() {
		clear(r.AmountsFen)
	}
	for i, p := range parts {
		f := fmt.Sprintf("parts[%d]", i)
		switch {
		case p.GetKind() != first.GetKind():
			return nil, &FieldError{Field: f + ".kind", Reason: fmt.Sprintf("%s, not %s like parts[0]", p.GetKind(), first.GetKind())}
		case p.GetPeriod() != first.GetPeriod():
			return nil, &FieldError{Field: f + ".period", Reason: fmt.Sprintf("%s, not %s like parts[0]", p.GetPeriod(), first.GetPeriod())}
		case !slices.Equal(p.GetAmountColumns(), first.GetAmountColumns()) || !slices.Equal(p.GetTextColumns(), first.GetTextColumns()):
			return nil, &FieldError{Field: f + ".amount_columns", Reason: "columns differ from parts[0]'s"}
		case len(p.GetRows()) != len(first.GetRows()):
			return nil, &FieldError{Field: f + ".rows", Reason: fmt.Sprintf("%d rows, parts[0] has %d: the villages' charts differ", len(p.GetRows()), len(first.GetRows()))}
		}
		orgs := p.GetOrgs()
		if orgs == 0 {
			orgs = 1
		}
		out.Orgs += orgs
		for j, r := range p.GetRows() {
			o := out.Rows[j]
			if r.GetCode() != o.GetCode() || r.GetLabel() != o.GetLabel() || len(r.GetAmountsFen()) != len(o.GetAmountsFen()) {
				return nil, &FieldError{Field: fmt.Sprintf("%s.rows[%d]", f, j), Reason: fmt.Sprintf("%s %s, parts[0] has %s %s there", r.GetCode(), r.GetLabel(), o.GetCode(), o.GetLabel())}
			}
			for k, v := range r.GetAmountsFen() {
				o.AmountsFen[k] += v
			}
		}
	}
	return out, nil
}
