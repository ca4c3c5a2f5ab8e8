package rest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestErrorHandlerStatuses: gRPC's "message larger than max" is 413, not
// 429; a ResourceExhausted with RetryInfo is 429 with Retry-After.
func TestErrorHandlerStatuses(t *testing.T) {
	retry, _ := status.New(codes.ResourceExhausted, "too many streams").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	for _, tc := range []struct {
		name       string
		err        error
		httpStatus int
		retryAfter string
	}{
		{"message too large", status.Error(codes.ResourceExhausted, "grpc: received message larger than max (70000000 vs. 67108864)"), 413, ""},
		{"retry later", retry.Err(), 429, "2"},
		{"plain invalid", status.Error(codes.InvalidArgument, "no"), 400, ""},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/v1/x", nil)
		ErrorHandler(context.Background(), runtime.NewServeMux(), &runtime.JSONPb{}, w, r, tc.err)
		if w.Code != tc.httpStatus || w.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%s: HTTP %d Retry-After %q, want %d %q", tc.name, w.Code, w.Header().Get("Retry-After"), tc.httpStatus, tc.retryAfter)
		}
	}
}
