package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/idcode"
	"github.com/sanzi/sanzi/node/rest"
	"github.com/sanzi/sanzi/node/sheet"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// GetStatement implements BooksService at a village or town node: for a
// village, the statement made from its vouchers (statement.FromMonths,
// from the books' month movements, equal to statement.FromVouchers);
// for a town, the sum of its villages' statements (statement.Sum), each
// made from the village's chain the town holds: the trial balance,
// balance sheet and income statement only, since ledgers and journals list
// one village's lines. A district's sums are the district node's. The
// signed-in account must cover the org; with xlsx the workbook is in the
// response too, so the download passes the same permission check.
func (s *Service) GetStatement(ctx context.Context, r *sanziv1.GetStatementRequest) (*sanziv1.GetStatementResponse, error) {
	kind := r.GetKind()
	if _, ok := sanziv1.StatementKind_name[int32(kind)]; !ok || kind == sanziv1.StatementKind_STATEMENT_KIND_UNSPECIFIED {
		return nil, invalidField("kind", "required: one of the statement kinds (trial balance, balance sheet, income, ledgers, journals)")
	}
	if !isMonth(r.GetPeriod()) {
		return nil, invalidField("period", fmt.Sprintf("%q is not a month YYYY-MM", r.GetPeriod()))
	}
	org, err := authz.ScopeOrg(ctx, r.GetOrg())
	if err != nil {
		return nil, toStatus(err)
	}
	level, err := idcode.OrgCode(org)
	if err != nil {
		return nil, invalidField("org", err.Error())
	}
	ch, _, err := s.b.Chart()
	if err != nil {
		return nil, toStatus(err)
	}
	var st *sanziv1.Statement
	switch level {
	case idcode.LevelVillage:
		st, err = s.villageStatement(ch, kind, org, r.GetPeriod(), r.GetAccount())
	case idcode.LevelTown:
		st, err = s.townStatement(ch, kind, org, r.GetPeriod())
	default:
		return nil, invalidField("org", org+" is a district: its statements are summed at the district node")
	}
	if err != nil {
		return nil, statementStatus(err)
	}
	out := &sanziv1.GetStatementResponse{Statement: st}
	if r.GetXlsx() {
		var buf bytes.Buffer
		if err := statement.WriteXLSX(&buf, st); err != nil {
			return nil, toStatus(fmt.Errorf("lay out %s as xlsx: %w", kind, err))
		}
		out.Xlsx = buf.Bytes()
		out.FileName = StatementFileName(org, kind, r.GetPeriod())
	}
	return out, nil
}

// StatementFileName names a statement's workbook: org, kind and period,
// e.g. 350505100201-balance-sheet-2025-12.xlsx.
func StatementFileName(org string, kind sanziv1.StatementKind, period string) string {
	slug := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(kind.String(), "STATEMENT_KIND_")), "_", "-")
	return fmt.Sprintf("%s-%s-%s.xlsx", org, slug, period)
}

func isMonth(s string) bool {
	return len(s) == 7 && s[4] == '-' && strings.Trim(s[:4]+s[5:], "0123456789") == "" && s[5:] >= "01" && s[5:] <= "12"
}

// villageStatement is the statement of org made from the books' month
// movements up to the period and, for the ledgers and journals, the
// vouchers of the period's month (statement.FromMonths): the statement
// statement.FromVouchers makes from every voucher of org, at the cost of
// its months, not of its history (issue 17).
func (s *Service) villageStatement(ch *chart.Chart, kind sanziv1.StatementKind, org, period, account string) (*sanziv1.Statement, error) {
	months, err := s.b.Movements(org, period)
	if err != nil {
		return nil, err
	}
	var ofMonth []*sanziv1.Voucher
	if statement.ListsLines(kind) {
		if ofMonth, err = s.b.VouchersIn(org, period); err != nil {
			return nil, err
		}
	}
	st, err := statement.FromMonths(ch, kind, org, period, account, months, ofMonth)
	if err != nil {
		return nil, &unmade{err}
	}
	return st, nil
}

// unmade is a statement the org's vouchers do not make (they do not
// balance, or name accounts the chart in force no longer holds), or one
// asked for wrongly (a FieldError on the request's fields).
type unmade struct{ err error }

func (u *unmade) Error() string { return u.err.Error() }
func (u *unmade) Unwrap() error { return u.err }

// townStatement sums the statements of the town's villages whose
// vouchers the town node holds; with none, the statement of no voucher
// (Orgs 0).
func (s *Service) townStatement(ch *chart.Chart, kind sanziv1.StatementKind, town, period string) (*sanziv1.Statement, error) {
	switch kind {
	case sanziv1.StatementKind_STATEMENT_KIND_TRIAL_BALANCE, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, sanziv1.StatementKind_STATEMENT_KIND_INCOME:
	default:
		return nil, &statement.FieldError{Field: "kind", Reason: fmt.Sprintf("%s lists one village's lines and is not summed for a town: ask for one village's", kind)}
	}
	orgs, err := s.b.VoucherOrgs(town[:9])
	if err != nil {
		return nil, err
	}
	var parts []*sanziv1.Statement
	for _, o := range orgs {
		if o == town {
			continue // the town's own books are not its villages'
		}
		p, err := s.villageStatement(ch, kind, o, period, "")
		if err != nil {
			return nil, fmt.Errorf("village %s: %w", o, err)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		st, err := statement.FromVouchers(ch, kind, town, period, "", nil)
		if err != nil {
			return nil, &unmade{err}
		}
		st.Orgs = 0
		return st, nil
	}
	st, err := statement.Sum(town, parts)
	if err != nil {
		return nil, &unmade{err}
	}
	return st, nil
}

// statementStatus is the status of a statement refused: a field of the
// request at fault is InvalidArgument naming it; a statement the vouchers
// do not make is a precondition; anything else (the store) as usual.
func statementStatus(err error) error {
	var fe *statement.FieldError
	var u *unmade
	switch {
	case errors.As(err, &fe) && (fe.Field == "kind" || fe.Field == "period" || fe.Field == "account" || fe.Field == "org"):
		return invalidField(fe.Field, fe.Reason)
	case errors.Is(err, statement.ErrNeedsVouchers):
		return invalidField("kind", err.Error())
	case errors.As(err, &u):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return toStatus(err)
}

// ImportBooks implements BooksService: the opening balances and vouchers
// of a sheet as accountants export them (sheet.ReadVouchers, on the chart
// in force), bounded as ImportSheet bounds a sheet (bytes, rows, what an
// XLSX unpacks to). Every bad cell or voucher is an ImportProblem and then
// nothing is recorded; else every voucher is recorded in one append
// (books.ImportVouchers), or, with validate_only, checked and counted.
// A voucher whose lines are all negative is a red-ink correction (红字凭证)
// of the source system, recorded as it stands (voucher.ValidateImported).
// A problem the books find in a voucher (a closed month, opening balances
// already recorded) has no line: the voucher is named by its date and 摘要.
func (s *Service) ImportBooks(ctx context.Context, r *sanziv1.ImportBooksRequest) (*sanziv1.ImportBooksResponse, error) {
	author, org, err := actor(ctx, r.GetOrg())
	if err != nil {
		return nil, err
	}
	lim := s.sheetLim
	select {
	case s.sheetSlots <- struct{}{}: // a sheet import's slot: it holds its rows while checked
		defer func() { <-s.sheetSlots }()
	default:
		return nil, withDetails(codes.ResourceExhausted, fmt.Sprintf("%d sheets are being imported on this node; try again in a moment", lim.Concurrent),
			&errdetails.RetryInfo{RetryDelay: durationpb.New(10 * time.Second)})
	}
	if n := int64(len(r.GetContent())); n > lim.MaxBytes {
		return nil, sheetRefusal(rest.ReasonTooLarge, "content", fmt.Sprintf("the sheet is %d bytes, more than the limit of %d", n, lim.MaxBytes))
	}
	if len(r.GetContent()) == 0 {
		return nil, invalidField("content", "the sheet is empty")
	}
	ch, _, err := s.b.Chart()
	if err != nil {
		return nil, toStatus(err)
	}
	opt := sheet.Options{Org: org, MaxRows: lim.MaxRows, MaxBytes: lim.MaxBytes, MaxUnzipped: lim.MaxBytes * sheetUnzipFactor}
	vs, problems, err := sheet.ReadVouchers(bytes.NewReader(r.GetContent()), "sheet", ch, opt)
	switch {
	case errors.Is(err, sheet.ErrTooManyRows), errors.Is(err, sheet.ErrTooLarge):
		return nil, sheetRefusal(rest.ReasonTooLarge, "content", err.Error())
	case err != nil:
		return nil, invalidField("content", err.Error())
	}
	out := &sanziv1.ImportBooksResponse{}
	if len(problems) > 0 {
		for _, p := range problems {
			out.Problems = append(out.Problems, &sanziv1.ImportProblem{Line: int32(p.Line), Column: p.Column, Reason: p.Reason})
		}
		return out, nil
	}
	_, bad, err := s.b.ImportVouchers(ctx, author, org, vs, r.GetValidateOnly())
	if err != nil {
		return nil, toStatus(err)
	}
	for _, b := range bad {
		v := vs[b.Index]
		what := "voucher of " + v.GetBusinessDate() + " 「" + v.GetSummary() + "」"
		if v.GetOpening() {
			what = "opening balances of " + v.GetBusinessDate()
		}
		out.Problems = append(out.Problems, &sanziv1.ImportProblem{Column: strings.TrimPrefix(b.Field, "voucher."), Reason: what + ": " + b.Reason})
	}
	if len(bad) > 0 {
		return out, nil
	}
	out.Vouchers = int32(len(vs))
	for _, v := range vs {
		out.Lines += int32(len(v.GetLines()))
	}
	return out, nil
}
