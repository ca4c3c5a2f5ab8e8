package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/pki"
)

// SessionMetadata is the gRPC metadata key carrying a browser's session id;
// the REST layer sets it from the SessionCookie (see SessionFromCookie),
// never from a header the client sent.
const SessionMetadata = "sanzi-session"

// Interceptor enforces the permission table on a gRPC server: one unary
// and one stream interceptor, which REST passes through as well (the
// gateway calls the node's gRPC API with the caller's credential).
type Interceptor struct {
	auth Authenticator
	log  *slog.Logger
}

// NewInterceptor checks people's credentials with auth and logs refusals to log.
func NewInterceptor(auth Authenticator, log *slog.Logger) *Interceptor {
	return &Interceptor{auth: auth, log: log}
}

// ServerOptions are the interceptors as options for grpc.NewServer.
func (x *Interceptor) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(x.Unary), grpc.ChainStreamInterceptor(x.Stream)}
}

// admit decides a call before its handler runs. It returns the context the
// handler gets (with the Principal, for people) and whether the call is a
// person's (whose requests are bound and answers masked).
func (x *Interceptor) admit(ctx context.Context, method string) (context.Context, *Principal, error) {
	perm, ok := Required(method)
	switch {
	case !ok:
		return nil, nil, x.refuse(ctx, method, fmt.Errorf("%s is not in the permission table: %w", method, ErrPermissionDenied))
	case perm == NodeOnly:
		if _, err := pki.PeerCertificate(ctx); err != nil {
			return nil, nil, x.refuse(ctx, method, fmt.Errorf("%s is for nodes, with their certificate: %v: %w", method, err, ErrUnauthenticated))
		}
		return ctx, nil, nil
	case perm == Public:
		return ctx, nil, nil
	}
	cred, err := credential(ctx)
	if err != nil {
		return nil, nil, x.refuse(ctx, method, err)
	}
	p, err := x.auth.Authenticate(ctx, cred)
	if err != nil {
		return nil, nil, x.refuse(ctx, method, fmt.Errorf("sign in: %w", err))
	}
	if perm != SignedIn && !p.May(perm) {
		return nil, nil, x.refuse(ctx, method, fmt.Errorf("%s may not %s: %w", rolesOf(p), perm, ErrPermissionDenied))
	}
	return NewContext(ctx, p), &p, nil
}

// rolesOf names p's roles for a refusal: "role accountant",
// "roles accountant, auditor", or "account x (no role)".
func rolesOf(p Principal) string {
	switch len(p.Roles) {
	case 0:
		return "account " + p.Account + " (no role)"
	case 1:
		return "role " + string(p.Roles[0])
	}
	names := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		names[i] = string(r)
	}
	slices.Sort(names)
	return "roles " + strings.Join(names, ", ")
}

// Credential is the bearer token or session id a call came with (what
// the interceptor authenticated), for handlers that act on the credential
// itself (sign-out); ErrUnauthenticated when there is none.
func Credential(ctx context.Context) (string, error) { return credential(ctx) }

// credential is the bearer token of the authorization metadata, else the
// session id. A bearer token wins: a browser's cookie cannot add one.
func credential(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", fmt.Errorf("authorization is not \"Bearer <token>\": %w", ErrUnauthenticated)
		}
		return strings.TrimSpace(tok), nil
	}
	if s := md.Get(SessionMetadata); len(s) > 0 && s[0] != "" {
		return s[0], nil
	}
	return "", fmt.Errorf("sign in first: no bearer token (authorization: Bearer …) and no session: %w", ErrUnauthenticated)
}

// refuse logs a refusal and turns it into the status the caller sees.
func (x *Interceptor) refuse(ctx context.Context, method string, err error) error {
	x.log.LogAttrs(ctx, slog.LevelInfo, "call refused", slog.String("method", method), slog.String("err", err.Error()))
	return toStatus(err)
}

// toStatus maps this package's sentinels to gRPC codes (HTTP 401 and 403
// through the gateway); any other failure of the Authenticator is a server
// fault.
func toStatus(err error) error {
	var bad *BadOrgError
	switch {
	case errors.As(err, &bad):
		st, _ := status.New(codes.InvalidArgument, err.Error()).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: bad.Field, Description: bad.Err.Error()}}})
		return st.Err()
	case errors.Is(err, ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// Unary is the unary server interceptor.
func (x *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, p, err := x.admit(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return h(ctx, req)
	}
	if err := bindRequest(*p, req); err != nil {
		return nil, x.refuse(ctx, info.FullMethod, err)
	}
	resp, err := h(ctx, req)
	if m, ok := resp.(proto.Message); ok && err == nil {
		return Masked(*p, m), nil
	}
	return resp, err
}

// Stream is the stream server interceptor: every message a person sends is
// bound like a unary request, every message sent back masked.
func (x *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, p, err := x.admit(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if p == nil {
		return h(srv, ss)
	}
	return h(srv, &personStream{ServerStream: ss, ctx: ctx, p: *p, x: x, method: info.FullMethod})
}

// personStream is a person's stream: its context carries the Principal.
type personStream struct {
	grpc.ServerStream
	ctx    context.Context
	p      Principal
	x      *Interceptor
	method string
}

func (s *personStream) Context() context.Context { return s.ctx }

func (s *personStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := bindRequest(s.p, m); err != nil {
		return s.x.refuse(s.ctx, s.method, err)
	}
	return nil
}

func (s *personStream) SendMsg(m any) error {
	if pm, ok := m.(proto.Message); ok {
		m = Masked(s.p, pm)
	}
	return s.ServerStream.SendMsg(m)
}
