package stats

import (
	"fmt"
	"testing"

	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/chart/charttest"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestSumVillagesLeavesOutTownBooks: a town's or the district's statement
// sums its villages' only, as the town node's does (node/api's
// townStatement skips the town's own books): a voucher recorded at the
// town's own org under the prefix is not one of its villages'.
func TestSumVillagesLeavesOutTownBooks(t *testing.T) {
	ch := charttest.National(t)
	cash := func(fen int64) statement.Totals {
		return statement.Totals{chart.Cash: {DebitFen: fen, YearDebitFen: fen}, chart.Capital: {CreditFen: fen, YearCreditFen: fen}}
	}
	byOrg := map[string]statement.Totals{"350505100201": cash(100), "350505100202": cash(200), "350505100000": cash(5000)}
	s, err := sumVillages(ch, sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, "350505100000", "2026-03", byOrg)
	if err != nil {
		t.Fatal(err)
	}
	if s.GetOrgs() != 2 {
		t.Fatalf("summed %d orgs, want the 2 villages", s.GetOrgs())
	}
	want, err := sumVillages(ch, sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, "350505100000", "2026-03",
		map[string]statement.Totals{"350505100201": cash(100), "350505100202": cash(200)})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.GetRows()) != len(want.GetRows()) {
		t.Fatalf("%d rows, want %d", len(s.GetRows()), len(want.GetRows()))
	}
	for i, r := range s.GetRows() {
		if got, w := fmt.Sprint(r.GetAmountsFen()), fmt.Sprint(want.GetRows()[i].GetAmountsFen()); got != w {
			t.Fatalf("row %s: %s, want the villages' %s", r.GetCode(), got, w)
		}
	}
}
