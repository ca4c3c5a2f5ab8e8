package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/voucher"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BooksService (issue 19): the vouchers, month-end close and reopening of
// the village's books. Every call acts for the signed-in account, on an org
// it covers; the author of what is recorded is that account. GetStatement
// and ImportBooks are in statements.go.

// actor is the signed-in account and the org it acts on (org when named
// and covered, else its own).
func actor(ctx context.Context, org string) (author, scoped string, err error) {
	author, err = authz.Author(ctx)
	if err != nil {
		return "", "", toStatus(err)
	}
	scoped, err = authz.ScopeOrg(ctx, org)
	if err != nil {
		return "", "", toStatus(err)
	}
	return author, scoped, nil
}

// RecordVoucher implements BooksService: a voucher entered by hand, the
// opening balances, or (validate_only) the voucher as it would be recorded.
func (s *Service) RecordVoucher(ctx context.Context, r *sanziv1.RecordVoucherRequest) (*sanziv1.RecordVoucherResponse, error) {
	v := r.GetVoucher()
	if v == nil {
		return nil, invalidField("voucher", "required")
	}
	author, org, err := actor(ctx, v.GetOrg())
	if err != nil {
		return nil, err
	}
	if v.GetOrg() == "" {
		v.Org = org
	}
	if r.GetValidateOnly() {
		out, hits, err := s.b.CheckVoucher(v)
		if err != nil {
			return nil, toStatus(err)
		}
		return &sanziv1.RecordVoucherResponse{Voucher: out, Hits: HitsProto(hits)}, nil
	}
	st, out, hits, err := s.b.RecordVoucher(ctx, author, v)
	if err != nil && st == nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RecordVoucherResponse{Entry: st.Meta(), Voucher: out, Hits: HitsProto(hits)}, nil
}

// ReverseVoucher implements BooksService: the red-ink voucher reversing id.
func (s *Service) ReverseVoucher(ctx context.Context, r *sanziv1.ReverseVoucherRequest) (*sanziv1.ReverseVoucherResponse, error) {
	// The scope is checked on the id's org before the voucher is read, so
	// an account outside it learns nothing of which vouchers exist there.
	origin, _, err := ledger.ParseEntryID(r.GetId())
	if err != nil {
		return nil, invalidField("id", err.Error())
	}
	author, _, err := actor(ctx, origin)
	if err != nil {
		return nil, err
	}
	st, out, err := s.b.ReverseVoucher(ctx, author, r.GetId(), r.GetBusinessDate(), r.GetReason())
	if err != nil && st == nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ReverseVoucherResponse{Entry: st.Meta(), Voucher: out}, nil
}

// PreviewVoucher implements BooksService: the voucher a transaction,
// contract payment, asset appraisal or disposal would book on the chart in
// force, nothing recorded.
func (s *Service) PreviewVoucher(ctx context.Context, r *sanziv1.PreviewVoucherRequest) (*sanziv1.PreviewVoucherResponse, error) {
	var rec interface{ GetOrg() string }
	field := ""
	switch x := r.GetRecord().(type) {
	case *sanziv1.PreviewVoucherRequest_Transaction:
		rec, field = x.Transaction, "transaction"
	case *sanziv1.PreviewVoucherRequest_ContractPayment:
		rec, field = x.ContractPayment, "contractPayment"
	case *sanziv1.PreviewVoucherRequest_AssetAppraisal:
		rec, field = x.AssetAppraisal, "assetAppraisal"
	case *sanziv1.PreviewVoucherRequest_AssetDisposal:
		rec, field = x.AssetDisposal, "assetDisposal"
	default:
		return nil, invalidField("transaction", "required: one of transaction, contractPayment, assetAppraisal, assetDisposal")
	}
	if _, _, err := actor(ctx, rec.GetOrg()); err != nil {
		return nil, err
	}
	v, err := s.b.PreviewVoucher(rec.(proto.Message))
	if errors.Is(err, voucher.ErrNoVoucher) {
		return nil, status.Error(codes.FailedPrecondition, field+": "+err.Error()+"; it would be recorded without a voucher, to be entered by hand")
	}
	var inv *books.InvalidError
	if errors.As(err, &inv) {
		for i, vi := range inv.Violations {
			if vi.Field == "assetId" { // the asset named is not on the node
				inv.Violations[i].Field = field + ".assetId"
			}
		}
	}
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.PreviewVoucherResponse{Voucher: v}, nil
}

// ListVouchers implements BooksService.
func (s *Service) ListVouchers(ctx context.Context, r *sanziv1.ListVouchersRequest) (*sanziv1.ListVouchersResponse, error) {
	org, err := authz.ScopeOrg(ctx, r.GetOrg())
	if err != nil {
		return nil, toStatus(err)
	}
	recs, next, total, err := s.b.ListVouchers(org, r.GetMonth(), books.Page{Size: int(r.GetPageSize()), Token: r.GetPageToken()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListVouchersResponse{Vouchers: recs, NextPageToken: next, TotalSize: total}, nil
}

// CloseMonth implements BooksService: the month's close, or every reason
// it cannot close (FailedPrecondition with one violation each). The
// figures the accountant checked are required: a missing one is
// InvalidArgument naming its field.
func (s *Service) CloseMonth(ctx context.Context, r *sanziv1.CloseMonthRequest) (*sanziv1.CloseMonthResponse, error) {
	author, org, err := actor(ctx, r.GetOrg())
	if err != nil {
		return nil, err
	}
	var missing []books.Violation
	if r.BankStatementFen == nil {
		missing = append(missing, books.Violation{Field: "bankStatementFen", Reason: "required: the bank statement's balance at the month's end, in fen"})
	}
	if r.CashCountedFen == nil {
		missing = append(missing, books.Violation{Field: "cashCountedFen", Reason: "required: the cash counted at the month's end (现金盘点), in fen"})
	}
	if len(missing) > 0 {
		return nil, toStatus(&books.InvalidError{Violations: missing})
	}
	st, mc, err := s.b.CloseMonth(ctx, author, org, r.GetMonth(), books.Counted{BankStatementFen: r.GetBankStatementFen(), CashCountedFen: r.GetCashCountedFen()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.CloseMonthResponse{Entry: st.Meta(), Close: mc}, nil
}

// ReopenMonth implements BooksService: only with a BOOKS-REOPEN procedure
// whose town step was approved.
func (s *Service) ReopenMonth(ctx context.Context, r *sanziv1.ReopenMonthRequest) (*sanziv1.ReopenMonthResponse, error) {
	author, org, err := actor(ctx, r.GetOrg())
	if err != nil {
		return nil, err
	}
	mr := &sanziv1.MonthReopen{Org: org, Month: r.GetMonth(), Reason: r.GetReason(), ProcedureId: r.GetProcedureId()}
	var approved books.ReopenApproval
	if s.sup != nil {
		approved = s.sup.ApprovesReopen
	}
	st, err := s.b.ReopenMonth(ctx, author, mr, approved)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ReopenMonthResponse{Entry: st.Meta(), Reopen: mr}, nil
}

// ListMonths implements BooksService.
func (s *Service) ListMonths(ctx context.Context, r *sanziv1.ListMonthsRequest) (*sanziv1.ListMonthsResponse, error) {
	org, err := authz.ScopeOrg(ctx, r.GetOrg())
	if err != nil {
		return nil, toStatus(err)
	}
	months, err := s.b.ListMonths(org, r.GetYear())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ListMonthsResponse{Months: months}, nil
}
