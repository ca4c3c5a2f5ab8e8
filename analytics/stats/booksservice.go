package stats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BooksService is BooksService at the district (issue 19): GetStatement
// for any village, town or the district from the vouchers ClickHouse
// holds. Everything else of BooksService is the village's (vouchers,
// closes, imports) and answers Unimplemented here; the district's REST
// gateway and /openapi.json carry only GetStatement.
type BooksService struct {
	sanziv1.UnimplementedBooksServiceServer
	s *Stats
	// chart is the chart of accounts in force: the district's live
	// catalog's (nil: the national chart).
	chart func(ctx context.Context) (*chart.Chart, error)
}

// NewBooksService serves the statements from s on the chart that chart
// returns at each request (so a newly published catalog counts at once).
func NewBooksService(s *Stats, chart func(ctx context.Context) (*chart.Chart, error)) *BooksService {
	return &BooksService{s: s, chart: chart}
}

// GetStatement implements BooksService: the trial balance, balance sheet
// or income statement of a village, or of a town or the district as the
// row-by-row sum of its villages' (statement.Sum; Statement.orgs is the
// number of villages summed: those with a voucher dated on or before the
// period's end). The signed-in account must cover the org (an empty org
// is the account's own). Ledgers and journals list voucher lines and are
// kept at the village and town nodes.
func (b *BooksService) GetStatement(ctx context.Context, r *sanziv1.GetStatementRequest) (*sanziv1.GetStatementResponse, error) {
	switch r.GetKind() {
	case sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, sanziv1.StatementKind_STATEMENT_KIND_INCOME:
	case sanziv1.StatementKind_STATEMENT_KIND_GENERAL_LEDGER, sanziv1.StatementKind_STATEMENT_KIND_SUBSIDIARY_LEDGER,
		sanziv1.StatementKind_STATEMENT_KIND_CASH_JOURNAL, sanziv1.StatementKind_STATEMENT_KIND_BANK_JOURNAL:
		return nil, status.Errorf(codes.InvalidArgument, "kind: %s lists voucher lines and is kept at the village and town nodes; the district sums the trial balance, balance sheet and income statement", r.GetKind())
	default:
		return nil, status.Errorf(codes.InvalidArgument, "kind: %s is no statement: trial balance, balance sheet or income statement", r.GetKind())
	}
	if r.GetOrg() != "" {
		if _, err := idcode.OrgCode(r.GetOrg()); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "org: %v", err)
		}
	}
	org, err := authz.ScopeOrg(ctx, r.GetOrg())
	switch {
	case errors.Is(err, authz.ErrUnauthenticated):
		return nil, status.Error(codes.Unauthenticated, err.Error())
	case err != nil:
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	lvl, err := idcode.OrgCode(org)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "org: the signed-in account's %v", err)
	}
	if _, err := parsePeriod(r.GetPeriod()); err != nil || len(r.GetPeriod()) != 7 {
		return nil, status.Errorf(codes.InvalidArgument, "period: %q is not a month YYYY-MM between 2000 and 2099", r.GetPeriod())
	}
	ch, err := b.chart(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "the district's chart of accounts: %v", err)
	}
	prefix := org
	if lvl != idcode.LevelVillage {
		prefix = ParentPrefix(org)
	}
	byOrg, err := b.s.BooksOrgTotals(ctx, prefix, r.GetPeriod())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	s, err := sumVillages(ch, r.GetKind(), org, r.GetPeriod(), byOrg)
	if err != nil {
		var fe *statement.FieldError
		if errors.As(err, &fe) && strings.HasPrefix(fe.Field, "totals[") {
			// A village booked on an account the chart in force lacks.
			return nil, status.Errorf(codes.FailedPrecondition, "%v", err)
		}
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	resp := &sanziv1.GetStatementResponse{Statement: s}
	if r.GetXlsx() {
		var buf bytes.Buffer
		if err := statement.WriteXLSX(&buf, s); err != nil {
			return nil, status.Errorf(codes.Internal, "lay out %s as XLSX: %v", r.GetKind(), err)
		}
		resp.Xlsx = buf.Bytes()
		resp.FileName = fmt.Sprintf("%s-%s-%s.xlsx", org, KindSlug(r.GetKind()), r.GetPeriod())
	}
	return resp, nil
}

// sumVillages makes each village's statement from its figures and sums
// them for org, villages in code order; with no village, the statement of
// no figures, summing none (orgs 0). A town's or the district's own books
// under the prefix are not a village's and are left out, as the town
// node leaves them out of its sum.
func sumVillages(ch *chart.Chart, kind sanziv1.StatementKind, org, period string, byOrg map[string]statement.Totals) (*sanziv1.Statement, error) {
	byOrg = maps.Clone(byOrg)
	maps.DeleteFunc(byOrg, func(o string, _ statement.Totals) bool {
		lvl, err := idcode.OrgCode(o)
		return err != nil || lvl != idcode.LevelVillage
	})
	if len(byOrg) == 0 {
		s, err := statement.FromTotals(ch, kind, org, period, statement.Totals{})
		if err != nil {
			return nil, err
		}
		s.Orgs = 0
		return s, nil
	}
	var parts []*sanziv1.Statement
	for _, v := range slices.Sorted(maps.Keys(byOrg)) {
		s, err := statement.FromTotals(ch, kind, v, period, byOrg[v])
		if err != nil {
			return nil, fmt.Errorf("%s of %s: %w", kind, v, err)
		}
		parts = append(parts, s)
	}
	return statement.Sum(org, parts)
}

// KindSlug names a statement kind in file names and on the command line:
// STATEMENT_KIND_BALANCE_SHEET is balance-sheet.
func KindSlug(k sanziv1.StatementKind) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k.String(), "STATEMENT_KIND_"), "_", "-"))
}
