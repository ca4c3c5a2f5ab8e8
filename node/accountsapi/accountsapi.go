// Package accountsapi serves node/accounts as the AccountService (sign-in,
// one's own account and tokens, account management) over gRPC, and REST
// through the gateway. The permission table (node/authz) decides who may
// call what before a handler runs; the handlers take the caller from the
// context (authz.FromContext), never from the request, and node/accounts
// checks the administrator's scope over the account named.
package accountsapi

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/api"
	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Server is the AccountService of one node or district member.
type Server struct {
	sanziv1.UnimplementedAccountServiceServer
	svc  *accounts.Service
	org  string // the node's home org, for WhoAmI
	tier string // "village", "town" or "district", for WhoAmI
}

// New serves svc for the node of org at tier.
func New(svc *accounts.Service, org, tier string) *Server {
	return &Server{svc: svc, org: org, tier: tier}
}

// caller is the signed-in account the interceptor put in ctx.
func caller(ctx context.Context) (authz.Principal, error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return authz.Principal{}, status.Error(codes.Unauthenticated, "sign in first: this method needs a bearer token or session")
	}
	return p, nil
}

// clientAddress is the caller's IP for the sign-in throttle and audit: the
// peer's, or, for the node's own REST gateway (a loopback peer), the
// address the gateway saw (x-forwarded-for).
func clientAddress(ctx context.Context) string {
	ip := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		if h, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
			ip = h
		}
	}
	if a := net.ParseIP(ip); a != nil && a.IsLoopback() {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if f := md.Get("x-forwarded-for"); len(f) > 0 {
				first, _, _ := strings.Cut(f[0], ",")
				if net.ParseIP(strings.TrimSpace(first)) != nil {
					return strings.TrimSpace(first)
				}
			}
		}
	}
	return ip
}

// toStatus maps node/accounts' errors to gRPC codes; the rest (field
// errors, contexts) as every other service does.
func toStatus(err error) error {
	var thr *accounts.ThrottledError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &thr):
		st, _ := status.New(codes.ResourceExhausted, err.Error()).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(thr.RetryAfter)})
		return st.Err()
	case errors.Is(err, accounts.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, accounts.ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, accounts.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, accounts.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, accounts.ErrPasswordChangeRequired):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return api.Status(err)
}

func account(a accounts.Account) *sanziv1.Account {
	out := &sanziv1.Account{Account: a.ID, Name: a.Name, Org: a.Org, Posts: a.Posts, Status: string(a.Status), DisabledReason: a.DisabledReason,
		CreatedBy: a.CreatedBy, CreatedEntry: a.CreatedEntry, ChangedBy: a.ChangedBy, LastEntry: a.LastEntry,
		CreatedAt: ts(a.CreatedAt), ChangedAt: ts(a.ChangedAt)}
	for _, r := range a.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Login implements AccountService.
func (s *Server) Login(ctx context.Context, r *sanziv1.LoginRequest) (*sanziv1.LoginResponse, error) {
	in, err := s.svc.Login(ctx, accounts.LoginRequest{Account: r.GetAccount(), Password: r.GetPassword(), NewPassword: r.GetNewPassword(),
		Address: clientAddress(ctx), Kind: accounts.Kind(r.GetKind()), Label: r.GetLabel()})
	if err != nil {
		return nil, toStatus(err)
	}
	a, err := s.svc.Show(ctx, in.Principal, in.Principal.Account)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.LoginResponse{Secret: in.Secret, Csrf: in.CSRF, Id: in.ID, ExpiresAt: ts(in.ExpiresAt), Account: account(a)}, nil
}

// Logout implements AccountService: it ends the credential of the call.
func (s *Server) Logout(ctx context.Context, _ *sanziv1.LogoutRequest) (*sanziv1.LogoutResponse, error) {
	if _, err := caller(ctx); err != nil {
		return nil, err
	}
	md, _ := metadata.FromIncomingContext(ctx)
	cred := ""
	for _, v := range md.Get("authorization") {
		if scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok && strings.EqualFold(scheme, "Bearer") {
			cred = strings.TrimSpace(tok)
		}
	}
	if s := md.Get(authz.SessionMetadata); cred == "" && len(s) > 0 {
		cred = s[0]
	}
	return &sanziv1.LogoutResponse{}, toStatus(s.svc.Logout(ctx, cred))
}

// ChangePassword implements AccountService.
func (s *Server) ChangePassword(ctx context.Context, r *sanziv1.ChangePasswordRequest) (*sanziv1.ChangePasswordResponse, error) {
	err := s.svc.ChangePassword(ctx, accounts.LoginRequest{Account: r.GetAccount(), Password: r.GetPassword(), NewPassword: r.GetNewPassword(), Address: clientAddress(ctx)})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ChangePasswordResponse{}, nil
}

// WhoAmI implements AccountService.
func (s *Server) WhoAmI(ctx context.Context, _ *sanziv1.WhoAmIRequest) (*sanziv1.WhoAmIResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Show(ctx, p, p.Account)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.WhoAmIResponse{Account: account(a), Tier: s.tier, NodeOrg: s.org}
	seen := map[authz.Permission]bool{}
	for _, r := range p.Roles {
		for _, perm := range r.Permissions() {
			if !seen[perm] {
				seen[perm] = true
				out.Permissions = append(out.Permissions, string(perm))
			}
		}
	}
	return out, nil
}

// CreateAccount implements AccountService.
func (s *Server) CreateAccount(ctx context.Context, r *sanziv1.CreateAccountRequest) (*sanziv1.CreateAccountResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	n := accounts.NewAccount{ID: r.GetAccount().GetAccount(), Name: r.GetAccount().GetName(), Org: r.GetAccount().GetOrg(), Posts: r.GetAccount().GetPosts(), Password: r.GetPassword()}
	for _, role := range r.GetAccount().GetRoles() {
		n.Roles = append(n.Roles, authz.Role(role))
	}
	a, otp, err := s.svc.Create(ctx, p, n)
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.CreateAccountResponse{Account: account(a), OneTimePassword: otp}, nil
}

// ListAccounts implements AccountService.
func (s *Server) ListAccounts(ctx context.Context, r *sanziv1.ListAccountsRequest) (*sanziv1.ListAccountsResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.svc.List(ctx, p)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.ListAccountsResponse{}
	for _, a := range list {
		if r.GetOrg() == "" || accounts.Covers(r.GetOrg(), a.Org) {
			out.Accounts = append(out.Accounts, account(a))
		}
	}
	return out, nil
}

// GetAccount implements AccountService.
func (s *Server) GetAccount(ctx context.Context, r *sanziv1.GetAccountRequest) (*sanziv1.GetAccountResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Show(ctx, p, r.GetAccount())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetAccountResponse{Account: account(a)}, nil
}

// GrantAccount implements AccountService.
func (s *Server) GrantAccount(ctx context.Context, r *sanziv1.GrantAccountRequest) (*sanziv1.GrantAccountResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Grant(ctx, p, r.GetAccount(), accounts.Grant{Role: authz.Role(r.GetRole()), Post: r.GetPost()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GrantAccountResponse{Account: account(a)}, nil
}

// RevokeAccount implements AccountService.
func (s *Server) RevokeAccount(ctx context.Context, r *sanziv1.RevokeAccountRequest) (*sanziv1.RevokeAccountResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Revoke(ctx, p, r.GetAccount(), accounts.Grant{Role: authz.Role(r.GetRole()), Post: r.GetPost()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RevokeAccountResponse{Account: account(a)}, nil
}

// DisableAccount implements AccountService.
func (s *Server) DisableAccount(ctx context.Context, r *sanziv1.DisableAccountRequest) (*sanziv1.DisableAccountResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.svc.Disable(ctx, p, r.GetAccount(), r.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.DisableAccountResponse{Account: account(a)}, nil
}

// ResetPassword implements AccountService.
func (s *Server) ResetPassword(ctx context.Context, r *sanziv1.ResetPasswordRequest) (*sanziv1.ResetPasswordResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	otp, err := s.svc.ResetPassword(ctx, p, r.GetAccount())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ResetPasswordResponse{OneTimePassword: otp}, nil
}

// ListTokens implements AccountService: one's own, or an account's in
// scope for an administrator.
func (s *Server) ListTokens(ctx context.Context, r *sanziv1.ListTokensRequest) (*sanziv1.ListTokensResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	who := r.GetAccount()
	if who == "" {
		who = p.Account
	}
	list, err := s.svc.ListTokens(ctx, p, who)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.ListTokensResponse{}
	for _, t := range list {
		out.Tokens = append(out.Tokens, &sanziv1.TokenInfo{Id: t.ID, Account: t.Account, Kind: string(t.Kind), Label: t.Label, Address: t.Address,
			CreatedAt: ts(t.CreatedAt), ExpiresAt: ts(t.ExpiresAt)})
	}
	return out, nil
}

// RevokeToken implements AccountService.
func (s *Server) RevokeToken(ctx context.Context, r *sanziv1.RevokeTokenRequest) (*sanziv1.RevokeTokenResponse, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.svc.RevokeToken(ctx, p, r.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RevokeTokenResponse{}, nil
}
