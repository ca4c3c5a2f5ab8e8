package limits

import (
	"context"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recovery turns a panic in one RPC's handler into an Internal error for
// that call, logged with its stack, instead of the end of the process: a
// single malformed request must not take down a node and every caller on
// it (a nil error dereferenced in the district's push handler once stopped
// the member). Raft's FSM panics on purpose and runs outside any handler,
// so nothing here hides a divergence.
func recovery(log *slog.Logger) []grpc.ServerOption {
	r := recoverer{log: log}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(r.unary), grpc.ChainStreamInterceptor(r.stream)}
}

// RecoverUnary is the recovery of ServerOptions as one unary interceptor,
// for a call a node runs through its interceptors outside its gRPC server
// (the REST upload streamed to disk).
func RecoverUnary(log *slog.Logger) grpc.UnaryServerInterceptor { return recoverer{log: log}.unary }

// RecoverStream is RecoverUnary for a stream call (the REST sheet import).
func RecoverStream(log *slog.Logger) grpc.StreamServerInterceptor { return recoverer{log: log}.stream }

type recoverer struct{ log *slog.Logger }

func (r recoverer) caught(method string, p any) error {
	r.log.Error("panic in an RPC handler; the call fails, the node goes on", "method", method, "panic", p, "stack", string(debug.Stack()))
	return status.Errorf(codes.Internal, "internal error in %s; the node logged it", method)
}

func (r recoverer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, r.caught(info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

func (r recoverer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = r.caught(info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}
