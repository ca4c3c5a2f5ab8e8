package rest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrorInfo reasons (domain ErrorDomain) that choose an HTTP status the
// gRPC code alone does not say, so a handler's refusal reaches a REST
// client as 415 or 413 and a gRPC client as the InvalidArgument it is.
const (
	ErrorDomain = "sanzi.v1"
	// ReasonUnsupportedMediaType: the body is not of a type the route
	// takes (a sheet that is neither CSV nor XLSX): 415.
	ReasonUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	// ReasonTooLarge: the body is within the byte limit but holds more
	// than the route takes (a sheet's rows): 413.
	ReasonTooLarge = "TOO_LARGE"
)

// ErrorHandler is the gateway's error handler (runtime.WithErrorHandler).
// Beyond the default it answers:
//   - 413 to a body the guard cut at its route's limit, and to gRPC's own
//     "message larger than max" (which would otherwise be 429 and tell the
//     client to retry what can never pass);
//   - 400 naming the field to a body the decoder could not take;
//   - 429 with Retry-After to a ResourceExhausted carrying a RetryInfo (a
//     cap on streams, a rate);
//   - 415 and 413 to a status carrying an ErrorInfo of ErrorDomain with
//     ReasonUnsupportedMediaType or ReasonTooLarge.
func ErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	code, err := classify(ctx, w, err)
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: code, Err: err})
}

// RoutingErrorHandler answers the gateway's routing errors: 405 stays 405
// (the default turns it into 501, a server error); the rest as by default.
func RoutingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		err := status.Error(codes.Unimplemented, r.Method+" is not a method of "+r.URL.Path)
		runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

// WriteError answers a plain handler's request (not the gateway's) with the
// error in the same shape and status as ErrorHandler would.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	code, err := classify(r.Context(), w, err)
	writeError(w, code, err)
}

// classify picks the HTTP status of err (a gRPC status error, or the
// request's own guard and decoder findings), sets Retry-After when the
// status asks for a later retry, and returns the status error to write.
func classify(ctx context.Context, w http.ResponseWriter, err error) (int, error) {
	if st := stateFrom(ctx); st != nil {
		switch {
		case st.tooLarge:
			return http.StatusRequestEntityTooLarge, tooLarge(st.route, -1)
		case st.violation != nil:
			return http.StatusBadRequest, refusal(codes.InvalidArgument, st.violation.Field, st.violation.Error())
		}
	}
	s := status.Convert(err)
	code := runtime.HTTPStatusFromCode(s.Code())
	for _, d := range s.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetDomain() == ErrorDomain {
			switch ei.GetReason() {
			case ReasonUnsupportedMediaType:
				code = http.StatusUnsupportedMediaType
			case ReasonTooLarge:
				code = http.StatusRequestEntityTooLarge
			}
		}
	}
	if s.Code() == codes.ResourceExhausted {
		if d, ok := retryAfter(s); ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		} else if messageTooLarge(s.Message()) {
			code = http.StatusRequestEntityTooLarge
		}
	}
	return code, s.Err()
}

// retryAfter is the delay of a status's RetryInfo detail.
func retryAfter(s *status.Status) (time.Duration, bool) {
	for _, d := range s.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// messageTooLarge tells gRPC's refusal of a message over its size limit
// ("grpc: received message larger than max (N vs. M)", "trying to send
// message larger than max") from other ResourceExhausted errors: gRPC gives
// it no detail to tell by, only this text.
func messageTooLarge(msg string) bool {
	return strings.Contains(msg, "message larger than max")
}

// refusal is a status naming the field at fault (none when field is "").
func refusal(code codes.Code, field, msg string) error {
	s := status.New(code, msg)
	if field == "" {
		return s.Err()
	}
	withField, err := s.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg}},
	})
	if err != nil {
		return s.Err()
	}
	return withField.Err()
}

// writeError writes a status error as the gateway does: JSON
// {code, message, details}.
func writeError(w http.ResponseWriter, httpStatus int, err error) {
	body, merr := protojson.Marshal(status.Convert(err).Proto())
	if merr != nil {
		body = []byte(`{"code": 13, "message": "failed to marshal error message"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	w.Write(body)
}
