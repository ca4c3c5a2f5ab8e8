package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/limits"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// importPath is the REST route of TransactionService.ImportSheet
// (proto/sanzi/v1/http.yaml), served here rather than by the gateway for
// the reasons of uploadAttachment: the body is streamed to a file, never
// read into one message.
const importPath = "/v1/imports"

// importRoute is the route's key in Config.BodyLimits: its byte limit
// (413 past it) and the limit of an ImportSheet's content over gRPC.
const importRoute = "POST " + importPath

// importQuery fills an ImportSheetRequest from the query string, leaving
// out the content the body fills.
var importQuery = utilities.NewDoubleArray([][]string{{"content"}})

// importSheet is POST /v1/imports: the raw body (application/octet-stream)
// is the sheet, the query gives fileName, format, org and dryRun. The call
// runs through the node's stream interceptors as ImportSheet, so the
// permission table, the author (the signed-in account) and the org scope
// apply as to a gRPC call. The answer is the gateway's shape for a server
// stream: one JSON object per line, {"result": ImportSheetResponse} as the
// import goes, or {"error": Status} if it fails after the first line; a
// refusal before any progress (401, 403, 413, 415, 400) is an ordinary
// error answer.
func (n *Node) importSheet(gw *runtime.ServeMux) http.HandlerFunc {
	const method = sanziv1.TransactionService_ImportSheet_FullMethodName
	info := &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true}
	return func(w http.ResponseWriter, r *http.Request) {
		req := &sanziv1.ImportSheetRequest{}
		ctx, out, ok := gatewayRequest(gw, w, r, method, importPath, req, importQuery)
		if !ok {
			return
		}
		ss := &lineStream{ctx: ctx, req: req, w: w, out: out, rc: http.NewResponseController(w), timeout: n.cfg.HTTPWriteTimeout}
		handle := chainStream(append([]grpc.StreamServerInterceptor{limits.RecoverStream(n.log)}, n.stream...), info, func(_ any, s grpc.ServerStream) error {
			var m sanziv1.ImportSheetRequest
			if err := s.RecvMsg(&m); err != nil {
				return err
			}
			return n.api.ImportSheetFrom(s.Context(), &m, r.Body, func(p *sanziv1.ImportSheetResponse) error { return s.SendMsg(p) })
		})
		err := handle(n.api, ss)
		switch {
		case err == nil:
		case !ss.started:
			runtime.HTTPError(ctx, gw, out, w, r, err)
		default:
			ss.fail(err)
		}
	}
}

// chainStream wraps h in interceptors, the first outermost, as
// grpc.ChainStreamInterceptor does on the server.
func chainStream(interceptors []grpc.StreamServerInterceptor, info *grpc.StreamServerInfo, h grpc.StreamHandler) grpc.StreamHandler {
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], h
		h = func(srv any, ss grpc.ServerStream) error { return ic(srv, ss, info, next) }
	}
	return h
}

// lineStream is a server stream answered over HTTP as the gateway answers
// one: the request comes from the query, each message sent is a line.
type lineStream struct {
	ctx     context.Context
	req     proto.Message
	read    bool
	w       http.ResponseWriter
	out     runtime.Marshaler
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func (s *lineStream) Context() context.Context     { return s.ctx }
func (s *lineStream) SetHeader(metadata.MD) error  { return nil }
func (s *lineStream) SendHeader(metadata.MD) error { return nil }
func (s *lineStream) SetTrailer(metadata.MD)       {}

// RecvMsg gives the one request, then io.EOF.
func (s *lineStream) RecvMsg(m any) error {
	if s.read {
		return io.EOF
	}
	s.read = true
	proto.Merge(m.(proto.Message), s.req)
	return nil
}

// SendMsg writes {"result": m} and a newline, flushed, so the browser sees
// each step as it happens. Each line extends the write deadline by the
// server's write timeout: a long import is alive as long as it moves.
func (s *lineStream) SendMsg(m any) error {
	b, err := s.out.Marshal(m)
	if err != nil {
		return status.Errorf(codes.Internal, "marshal a progress message: %v", err)
	}
	return s.line("result", b)
}

func (s *lineStream) line(key string, b []byte) error {
	if !s.started {
		s.started = true
		h := s.w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		s.w.WriteHeader(http.StatusOK)
	}
	if s.timeout > 0 {
		// Not every writer takes deadlines (a test's recorder); the
		// server's own timeout then stands.
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	buf := make([]byte, 0, len(b)+len(key)+8)
	buf = append(append(append(append(buf, `{"`...), key...), `":`...), b...)
	buf = append(buf, "}\n"...)
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// fail ends a stream already under way with {"error": status}.
func (s *lineStream) fail(err error) {
	b, merr := protojson.Marshal(status.Convert(err).Proto())
	if merr != nil {
		b = []byte(`{"code":13,"message":"failed to marshal error message"}`)
	}
	s.line("error", b) // the client may be gone; nothing more to tell
}
