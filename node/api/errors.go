package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/attach"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/backtest"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/limits"
)

// toStatus maps a domain error to the gRPC status a client sees (and, through
// grpc-gateway, the HTTP status). This is the only place where errors get
// codes: the packages below return plain wrapped errors.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var inv *books.InvalidError
	var conf *books.ConflictError
	var blocked *books.BlockedError
	var month *books.BlockedMonthError
	var streams *limits.StreamsError
	var throttled *accounts.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return withDetails(codes.ResourceExhausted, throttled.Error(), &errdetails.RetryInfo{RetryDelay: durationpb.New(throttled.RetryAfter)})
	case errors.Is(err, accounts.ErrThrottled):
		return withDetails(codes.ResourceExhausted, err.Error(), &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Minute)})
	case errors.Is(err, authz.ErrUnauthenticated): // accounts.ErrUnauthenticated is the same
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, authz.ErrPermissionDenied), errors.Is(err, accounts.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, accounts.ErrPasswordChangeRequired):
		return withDetails(codes.FailedPrecondition, err.Error(), &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "newPassword", Description: err.Error()}},
		})
	case errors.Is(err, accounts.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, accounts.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, backtest.ErrBusy):
		return withDetails(codes.ResourceExhausted, err.Error(), &errdetails.RetryInfo{RetryDelay: durationpb.New(5 * time.Second)})
	case errors.As(err, &streams):
		return withDetails(codes.ResourceExhausted, streams.Error(), &errdetails.RetryInfo{RetryDelay: durationpb.New(streams.RetryAfter)})
	case errors.As(err, &blocked):
		pf := &errdetails.PreconditionFailure{}
		for _, h := range blocked.Hits {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{Type: "RULE", Subject: h.Code, Description: h.Reason})
		}
		return withDetails(codes.FailedPrecondition, blocked.Error(), pf)
	case errors.As(err, &month):
		// Every check as a violation; those about a figure the accountant
		// gave (the bank statement, the cash counted) also as a field
		// violation, so that a form shows them beside their input.
		pf, br := &errdetails.PreconditionFailure{}, &errdetails.BadRequest{}
		for i, b := range month.Blockers {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{Type: "MONTH_CLOSE", Subject: month.Org + "/" + month.Month, Description: b})
			if i < len(month.Fields) && month.Fields[i] != "" {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: month.Fields[i], Description: b})
			}
		}
		if len(br.FieldViolations) == 0 {
			return withDetails(codes.FailedPrecondition, month.Error(), pf)
		}
		return withDetails(codes.FailedPrecondition, month.Error(), pf, br)
	case errors.As(err, &inv):
		br := &errdetails.BadRequest{}
		for _, v := range inv.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Reason})
		}
		return withDetails(codes.InvalidArgument, inv.Error(), br)
	case errors.As(err, &conf):
		return withDetails(codes.FailedPrecondition, conf.Error(), &errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: conf.Field, Description: conf.Reason}},
		})
	case errors.Is(err, books.ErrNotFound), errors.Is(err, ledger.ErrNotFound), errors.Is(err, attach.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, books.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, attach.ErrTooLarge):
		return fieldError(codes.InvalidArgument, "content", err)
	case errors.Is(err, attach.ErrBadHash):
		return fieldError(codes.InvalidArgument, "sha256", err)
	case errors.Is(err, attach.ErrLocked):
		return fieldError(codes.FailedPrecondition, "sha256", err)
	case errors.Is(err, attach.ErrHashMismatch):
		return status.Error(codes.DataLoss, err.Error())
	case errors.Is(err, ledger.ErrChainBroken):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, ledger.ErrClosed):
		return status.Error(codes.Unavailable, "the node is shutting down; try again in a moment")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

// Status is the gRPC status of a domain error, for handlers outside the
// gRPC services (the SSE alert stream) that answer with the same codes.
func Status(err error) error { return toStatus(err) }

// fieldError is a status naming one field.
func fieldError(code codes.Code, field string, err error) error {
	return withDetails(code, fmt.Sprintf("%s: %v", field, err), &errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: err.Error()}},
	})
}

// withDetails is a status with one detail, or without it when the detail
// cannot be attached.
func withDetails(code codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st, err := status.New(code, msg).WithDetails(details...)
	if err != nil {
		return status.Error(code, msg)
	}
	return st.Err()
}

// invalidField refuses a request because of one field.
func invalidField(field, reason string) error {
	return toStatus(&books.InvalidError{Violations: []books.Violation{{Field: field, Reason: reason}}})
}
