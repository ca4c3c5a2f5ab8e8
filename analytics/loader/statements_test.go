package loader

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDistrictStatementsAreTheVillagesSums: vouchers of two villages of
// one town and one of another go through a real FSM and loader into a real
// ClickHouse; the district's GetStatement (stats.BooksService, as the
// district member serves it, with the chart a catalog would carry) answers
// the trial balance, balance sheet and income statement of the district,
// each town and each village, and each equals, line by line, the sum of
// the villages' statements made from their own vouchers
// (statement.FromVouchers, statement.Sum); the district's equals the sum
// of the towns'; every balance sheet balances; the XLSX opens. 内部往来
// sub-account 11301 is owed to one village and owed by another, so
// statements summed from netted totals would differ: the test checks that
// too, so it fails if the district sums figures instead of statements.
func TestDistrictStatementsAreTheVillagesSums(t *testing.T) {
	ctx := context.Background()
	s, d := newRig(t)
	rnd := rand.New(rand.NewPCG(19, 4))
	a, b, c := threeVillages(t)
	a.record(t, &sanziv1.Voucher{BusinessDate: "2025-01-01", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{line("101", 30_000), line("10201", 50_000_000), line("11301", 2_000_000), line("301", -52_030_000)}})
	b.record(t, &sanziv1.Voucher{BusinessDate: "2025-01-01", Summary: "期初余额", Opening: true,
		Lines: []*sanziv1.VoucherLine{line("101", 10_000), line("10201", 20_000_000), line("11301", -3_000_000), line("301", -17_010_000)}})
	for m := 1; m <= 6; m++ {
		month := fmt.Sprintf("2025-%02d", m)
		a.business(t, rnd, month, 4)
		b.business(t, rnd, month, 3)
		c.business(t, rnd, month, 2)
	}
	// Mid-year: A lends to a group of its own (113 debit), B borrows from
	// its cooperative (113 credit), and A and B carry forward.
	a.record(t, &sanziv1.Voucher{BusinessDate: "2025-05-10", Summary: "借给村民小组", Lines: []*sanziv1.VoucherLine{line("11302", 400_000), line("10201", -400_000)}})
	b.record(t, &sanziv1.Voucher{BusinessDate: "2025-05-12", Summary: "向合作社借款", Lines: []*sanziv1.VoucherLine{line("10201", 900_000), line("11302", -900_000)}})
	a.carryForward(t, "2025-06-30")
	b.carryForward(t, "2025-06-30")
	all := []*ledgerBooks{a, b, c}
	for _, x := range all {
		d.ship(x.v, 7)
	}
	conn := connect(t, s)
	_, wait := run(t, d, conn)
	wait()

	ch := booksChart(t)
	st := stats.New(conn)
	svc := stats.NewBooksService(st, func(context.Context) (*chart.Chart, error) { return ch, nil })
	district := authz.NewContext(ctx, authz.Principal{Account: "officer", Org: "350505000000", Roles: []authz.Role{authz.RoleDistrictAnalyst}})

	const period = "2025-06"
	kinds := []sanziv1.StatementKind{sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, sanziv1.StatementKind_STATEMENT_KIND_INCOME}
	for _, kind := range kinds {
		get := func(org string) *sanziv1.Statement {
			t.Helper()
			resp, err := svc.GetStatement(district, &sanziv1.GetStatementRequest{Kind: kind, Org: org, Period: period})
			if err != nil {
				t.Fatalf("GetStatement(%s, %s): %v", kind, org, err)
			}
			return resp.GetStatement()
		}
		own := map[string]*sanziv1.Statement{}
		for _, x := range all {
			s, err := statement.FromVouchers(ch, kind, x.v.org, period, "", x.vouchers)
			if err != nil {
				t.Fatal(err)
			}
			own[x.v.org] = s
			if got := get(x.v.org); !proto.Equal(got, s) {
				t.Errorf("%s of village %s at the district:\n%s\nfrom its vouchers:\n%s", kind, x.v.org, rows(got), rows(s))
			}
		}
		sum := func(org string, villages ...string) *sanziv1.Statement {
			var parts []*sanziv1.Statement
			for _, v := range villages {
				parts = append(parts, own[v])
			}
			s, err := statement.Sum(org, parts)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		towns := map[string]*sanziv1.Statement{
			"350505100000": sum("350505100000", a.v.org, b.v.org),
			"350505101000": sum("350505101000", c.v.org),
		}
		for org, want := range towns {
			if got := get(org); !proto.Equal(got, want) {
				t.Errorf("%s of town %s:\n%s\nsum of its villages':\n%s", kind, org, rows(got), rows(want))
			}
		}
		got := get("350505000000")
		if want := sum("350505000000", a.v.org, b.v.org, c.v.org); !proto.Equal(got, want) {
			t.Errorf("%s of the district:\n%s\nsum of its villages':\n%s", kind, rows(got), rows(want))
		}
		byTown, err := statement.Sum("350505000000", []*sanziv1.Statement{get("350505100000"), get("350505101000")})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, byTown) || got.GetOrgs() != 3 {
			t.Errorf("%s of the district (%d villages) differs from the sum of its towns':\n%s\n%s", kind, got.GetOrgs(), rows(got), rows(byTown))
		}
		// Empty org: the signed-in account's own.
		if mine, err := svc.GetStatement(district, &sanziv1.GetStatementRequest{Kind: kind, Period: period}); err != nil || !proto.Equal(mine.GetStatement(), got) {
			t.Errorf("%s with no org: %v, want the district's", kind, err)
		}

		if kind == sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET {
			for _, s := range append([]*sanziv1.Statement{got}, towns["350505100000"], towns["350505101000"]) {
				assets, le := rowAmounts(s, statement.LineTotalAssets), rowAmounts(s, statement.LineTotalLiabilitiesEquity)
				if !slices.Equal(assets, le) || assets[1] == 0 {
					t.Errorf("balance sheet of %s: 资产总计 %v, 负债和所有者权益总计 %v", s.GetOrg(), assets, le)
				}
			}
		}
		// The scenario holds what it tests: netting the district's
		// figures before laying them out would move 内部往来 between
		// 应收款项 and 应付款项 (and the trial balance's columns).
		if kind != sanziv1.StatementKind_STATEMENT_KIND_INCOME {
			totals, _, err := st.BooksTotals(ctx, "350505", period)
			if err != nil {
				t.Fatal(err)
			}
			netted, err := statement.FromTotals(ch, kind, "350505000000", period, totals)
			if err != nil {
				t.Fatal(err)
			}
			netted.Orgs = got.GetOrgs()
			if proto.Equal(netted, got) {
				t.Errorf("%s: the district's statement from netted totals equals the villages' sum: the scenario does not tell them apart", kind)
			}
		}
	}
	t.Logf("district balance sheet %s:\n%s", period, rows(mustGet(t, svc, district, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, "350505000000", period).GetStatement()))

	// The workbook: named org-kind-period, opens, and carries the title
	// and the 资产总计 of the statement.
	resp, err := svc.GetStatement(district, &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, Org: "350505100000", Period: period, Xlsx: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetFileName() != "350505100000-balance-sheet-2025-06.xlsx" {
		t.Errorf("file name %q", resp.GetFileName())
	}
	f, err := excelize.OpenReader(bytes.NewReader(resp.GetXlsx()))
	if err != nil {
		t.Fatalf("the XLSX does not open: %v", err)
	}
	cells, err := f.GetRows(f.GetSheetList()[0], excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(cells)
	total := rowAmounts(resp.GetStatement(), statement.LineTotalAssets)[1]
	if !strings.Contains(text, statement.TitleBalanceSheet) || !strings.Contains(text, "资产总计") {
		t.Errorf("the XLSX lacks the title or 资产总计: %v", cells)
	}
	t.Logf("XLSX %s: %d bytes, %d rows; 资产总计 期末 %d fen", resp.GetFileName(), len(resp.GetXlsx()), len(cells), total)
}

// TestDistrictStatementRefusals: what the district cannot answer, or the
// caller may not ask, is refused with the field and the reason.
func TestDistrictStatementRefusals(t *testing.T) {
	ch := booksChart(t)
	svc := stats.NewBooksService(stats.New(nil), func(context.Context) (*chart.Chart, error) { return ch, nil })
	town := authz.NewContext(context.Background(), authz.Principal{Account: "agent", Org: "350505100000", Roles: []authz.Role{authz.RoleTownReviewer}})
	bs := sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET
	for _, c := range []struct {
		name string
		req  *sanziv1.GetStatementRequest
		code codes.Code
		says string
	}{
		{"ledger", &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, Org: "350505100201", Period: "2025-06"}, codes.InvalidArgument, "kind: STATEMENT_KIND_GENERAL_LEDGER lists voucher lines and is kept at the village and town nodes"},
		{"cash journal", &sanziv1.GetStatementRequest{Kind: sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, Org: "350505100201", Period: "2025-06"}, codes.InvalidArgument, "village and town nodes"},
		{"no kind", &sanziv1.GetStatementRequest{Org: "350505100201", Period: "2025-06"}, codes.InvalidArgument, "kind:"},
		{"bad period", &sanziv1.GetStatementRequest{Kind: bs, Org: "350505100201", Period: "2025-13"}, codes.InvalidArgument, "period:"},
		{"short period", &sanziv1.GetStatementRequest{Kind: bs, Org: "350505100201", Period: "2025-6"}, codes.InvalidArgument, "period:"},
		{"bad org", &sanziv1.GetStatementRequest{Kind: bs, Org: "3505051002", Period: "2025-06"}, codes.InvalidArgument, "org:"},
		{"another town", &sanziv1.GetStatementRequest{Kind: bs, Org: "350505101000", Period: "2025-06"}, codes.PermissionDenied, "may not act on 350505101000"},
		{"the district", &sanziv1.GetStatementRequest{Kind: bs, Org: "350505000000", Period: "2025-06"}, codes.PermissionDenied, "may not act on 350505000000"},
	} {
		_, err := svc.GetStatement(town, c.req)
		if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.says) {
			t.Errorf("%s: %v; want %s saying %q", c.name, err, c.code, c.says)
		}
	}
	if _, err := svc.GetStatement(context.Background(), &sanziv1.GetStatementRequest{Kind: bs, Org: "350505100201", Period: "2025-06"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no signed-in account: %v; want Unauthenticated", err)
	}
	if _, err := svc.RecordVoucher(town, &sanziv1.RecordVoucherRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("RecordVoucher at the district: %v; want Unimplemented", err)
	}
}

func mustGet(t *testing.T, svc *stats.BooksService, ctx context.Context, kind sanziv1.StatementKind, org, period string) *sanziv1.GetStatementResponse {
	t.Helper()
	resp, err := svc.GetStatement(ctx, &sanziv1.GetStatementRequest{Kind: kind, Org: org, Period: period})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// rowAmounts is the amounts of the statement's row coded no.
func rowAmounts(s *sanziv1.Statement, no string) []int64 {
	for _, r := range s.GetRows() {
		if r.GetCode() == no {
			return r.GetAmountsFen()
		}
	}
	return nil
}

// rows prints a statement's rows with amounts, one a line.
func rows(s *sanziv1.Statement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s (%d orgs)\n", s.GetTitle(), s.GetOrg(), s.GetPeriod(), s.GetOrgs())
	for _, r := range s.GetRows() {
		if len(r.GetAmountsFen()) > 0 {
			fmt.Fprintf(&b, "  %-4s %-20s %v\n", r.GetCode(), r.GetLabel(), r.GetAmountsFen())
		}
	}
	return b.String()
}
