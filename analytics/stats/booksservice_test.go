package stats

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
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

// TestDistrictStatementScope: the district's GetStatement answers only an
// org the signed-in account covers, before it asks ClickHouse (none here):
// a village not its own village's town, a town not another town, a
// district not another district.
func TestDistrictStatementScope(t *testing.T) {
	b := NewBooksService(nil, nil) // never reached: the refusal comes first
	for _, tc := range []struct{ account, org string }{
		{"350505100201", "350505100000"},
		{"350505100201", "350505100202"},
		{"350505100000", "350505101000"},
		{"350505100000", "350505101201"},
		{"350505100000", "350505000000"},
		{"350505000000", "350506100201"},
	} {
		ctx := authz.NewContext(context.Background(), authz.Principal{Account: "x", Org: tc.account})
		_, err := b.GetStatement(ctx, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, Org: tc.org, Period: "2026-03"})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("account of %s asking for %s: %v, want PermissionDenied", tc.account, tc.org, err)
		}
	}
}
