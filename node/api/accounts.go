package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Accounts serves AccountService (sign-in and account management) over a
// node's accounts.Service. The interceptor (node/authz) has admitted every
// call before it gets here and put the signed-in account in its context;
// the accounts.Service checks an administrator's scope over the account
// named. Errors get their codes in toStatus, like every other service's.
type Accounts struct {
	sanziv1.UnimplementedAccountServiceServer
	svc  *accounts.Service
	tier string // the node's tier, for WhoAmI
	org  string // the node's home org, for WhoAmI
}

// NewAccounts serves svc for a node of tier (village, town, district) whose
// home org is org.
func NewAccounts(svc *accounts.Service, tier, org string) *Accounts {
	return &Accounts{svc: svc, tier: tier, org: org}
}

// Register adds AccountService to a gRPC server.
func (a *Accounts) Register(g grpc.ServiceRegistrar) { sanziv1.RegisterAccountServiceServer(g, a) }

// principal is the signed-in account of a call the interceptor admitted.
func principal(ctx context.Context) (authz.Principal, error) {
	p, ok := authz.FromContext(ctx)
	if !ok {
		return authz.Principal{}, toStatus(accounts.ErrUnauthenticated)
	}
	return p, nil
}

// ClientAddress is the address a sign-in is throttled and audited by: the
// gRPC peer's IP, or, when the peer is the node itself (loopback, or the
// address it was reached at: the node's own REST gateway), the last
// x-forwarded-for element, which the gateway appends from the HTTP
// client's address. Earlier elements are the client's own say and are not
// believed.
func ClientAddress(ctx context.Context) string {
	pr, ok := peer.FromContext(ctx)
	if !ok || pr.Addr == nil {
		return ""
	}
	ip := hostOf(pr.Addr.String())
	if !ownAddress(ip, pr.LocalAddr) {
		return ip
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if fwd := md.Get("x-forwarded-for"); len(fwd) > 0 {
		parts := strings.Split(fwd[len(fwd)-1], ",")
		if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
			return last
		}
	}
	return ip
}

// ownAddress reports whether ip is the node's own: loopback, or the local
// address of the connection (a gateway dialling a node bound to one
// interface comes from that interface).
func ownAddress(ip string, local net.Addr) bool {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return false
	}
	if parsed.IsLoopback() {
		return true
	}
	return local != nil && hostOf(local.String()) == ip
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Login implements AccountService.
func (a *Accounts) Login(ctx context.Context, r *sanziv1.LoginRequest) (*sanziv1.LoginResponse, error) {
	in, err := a.svc.Login(ctx, accounts.LoginRequest{
		Account: r.GetAccount(), Password: r.GetPassword(), NewPassword: r.GetNewPassword(),
		Address: ClientAddress(ctx), Kind: accounts.Kind(r.GetKind()), Label: r.GetLabel(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &sanziv1.LoginResponse{Secret: in.Secret, Csrf: in.CSRF, Id: in.ID, ExpiresAt: timestamppb.New(in.ExpiresAt)}
	if acct, err := a.svc.Show(ctx, in.Principal, in.Principal.Account); err == nil {
		resp.Account = accountProto(acct)
	}
	return resp, nil
}

// Logout implements AccountService: it ends the credential the call came with.
func (a *Accounts) Logout(ctx context.Context, _ *sanziv1.LogoutRequest) (*sanziv1.LogoutResponse, error) {
	cred, err := authz.Credential(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if err := a.svc.LogoutFrom(ctx, cred, ClientAddress(ctx)); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.LogoutResponse{}, nil
}

// ChangePassword implements AccountService.
func (a *Accounts) ChangePassword(ctx context.Context, r *sanziv1.ChangePasswordRequest) (*sanziv1.ChangePasswordResponse, error) {
	err := a.svc.ChangePassword(ctx, accounts.LoginRequest{
		Account: r.GetAccount(), Password: r.GetPassword(), NewPassword: r.GetNewPassword(), Address: ClientAddress(ctx),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ChangePasswordResponse{}, nil
}

// WhoAmI implements AccountService.
func (a *Accounts) WhoAmI(ctx context.Context, _ *sanziv1.WhoAmIRequest) (*sanziv1.WhoAmIResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Show(ctx, p, p.Account)
	if err != nil {
		return nil, toStatus(err)
	}
	var perms []string
	seen := map[authz.Permission]bool{}
	for _, r := range p.Roles {
		for _, perm := range r.Permissions() {
			if !seen[perm] {
				seen[perm] = true
				perms = append(perms, string(perm))
			}
		}
	}
	return &sanziv1.WhoAmIResponse{Account: accountProto(acct), Permissions: perms, Tier: a.tier, NodeOrg: a.org}, nil
}

// CreateAccount implements AccountService.
func (a *Accounts) CreateAccount(ctx context.Context, r *sanziv1.CreateAccountRequest) (*sanziv1.CreateAccountResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	n := r.GetAccount()
	acct, otp, err := a.svc.Create(ctx, p, accounts.NewAccount{
		ID: n.GetAccount(), Name: n.GetName(), Org: n.GetOrg(), Roles: roles(n.GetRoles()), Posts: n.GetPosts(), Password: r.GetPassword(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.CreateAccountResponse{Account: accountProto(acct), OneTimePassword: otp}, nil
}

// ListAccounts implements AccountService.
func (a *Accounts) ListAccounts(ctx context.Context, r *sanziv1.ListAccountsRequest) (*sanziv1.ListAccountsResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	list, err := a.svc.List(ctx, p)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.ListAccountsResponse{}
	for _, acct := range list {
		if r.GetOrg() == "" || acct.Org == r.GetOrg() {
			out.Accounts = append(out.Accounts, accountProto(acct))
		}
	}
	return out, nil
}

// GetAccount implements AccountService.
func (a *Accounts) GetAccount(ctx context.Context, r *sanziv1.GetAccountRequest) (*sanziv1.GetAccountResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Show(ctx, p, r.GetAccount())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GetAccountResponse{Account: accountProto(acct)}, nil
}

// GrantAccount implements AccountService.
func (a *Accounts) GrantAccount(ctx context.Context, r *sanziv1.GrantAccountRequest) (*sanziv1.GrantAccountResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Grant(ctx, p, r.GetAccount(), accounts.Grant{Role: accounts.Role(r.GetRole()), Post: r.GetPost()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.GrantAccountResponse{Account: accountProto(acct)}, nil
}

// RevokeAccount implements AccountService.
func (a *Accounts) RevokeAccount(ctx context.Context, r *sanziv1.RevokeAccountRequest) (*sanziv1.RevokeAccountResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Revoke(ctx, p, r.GetAccount(), accounts.Grant{Role: accounts.Role(r.GetRole()), Post: r.GetPost()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RevokeAccountResponse{Account: accountProto(acct)}, nil
}

// DisableAccount implements AccountService.
func (a *Accounts) DisableAccount(ctx context.Context, r *sanziv1.DisableAccountRequest) (*sanziv1.DisableAccountResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Disable(ctx, p, r.GetAccount(), r.GetReason())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.DisableAccountResponse{Account: accountProto(acct)}, nil
}

// ResetPassword implements AccountService.
func (a *Accounts) ResetPassword(ctx context.Context, r *sanziv1.ResetPasswordRequest) (*sanziv1.ResetPasswordResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	otp, err := a.svc.ResetPassword(ctx, p, r.GetAccount())
	if err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.ResetPasswordResponse{OneTimePassword: otp}, nil
}

// ListTokens implements AccountService.
func (a *Accounts) ListTokens(ctx context.Context, r *sanziv1.ListTokensRequest) (*sanziv1.ListTokensResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	whose := r.GetAccount()
	if whose == "" {
		whose = p.Account
	}
	list, err := a.svc.ListTokens(ctx, p, whose)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.ListTokensResponse{}
	for _, t := range list {
		out.Tokens = append(out.Tokens, &sanziv1.TokenInfo{
			Id: t.ID, Account: t.Account, Kind: string(t.Kind), Label: t.Label, Address: t.Address,
			CreatedAt: timestamppb.New(t.CreatedAt), ExpiresAt: timestamppb.New(t.ExpiresAt),
		})
	}
	return out, nil
}

// RevokeToken implements AccountService.
func (a *Accounts) RevokeToken(ctx context.Context, r *sanziv1.RevokeTokenRequest) (*sanziv1.RevokeTokenResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.svc.RevokeToken(ctx, p, r.GetId()); err != nil {
		return nil, toStatus(err)
	}
	return &sanziv1.RevokeTokenResponse{}, nil
}

func roles(names []string) []accounts.Role {
	out := make([]accounts.Role, len(names))
	for i, n := range names {
		out[i] = accounts.Role(n)
	}
	return out
}

// accountProto is an account as the API answers it.
func accountProto(a accounts.Account) *sanziv1.Account {
	out := &sanziv1.Account{
		Account: a.ID, Name: a.Name, Org: a.Org, Posts: a.Posts, Status: string(a.Status), DisabledReason: a.DisabledReason,
		CreatedBy: a.CreatedBy, CreatedEntry: a.CreatedEntry, ChangedBy: a.ChangedBy, LastEntry: a.LastEntry,
	}
	for _, r := range a.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	if !a.CreatedAt.IsZero() {
		out.CreatedAt = timestamppb.New(a.CreatedAt)
	}
	if !a.ChangedAt.IsZero() {
		out.ChangedAt = timestamppb.New(a.ChangedAt)
	}
	return out
}

// signInOutcomes are the outcomes a ListSignIns filter may name.
var signInOutcomes = []accounts.Outcome{accounts.OutcomeOK, accounts.OutcomeFailed, accounts.OutcomeLocked, accounts.OutcomeThrottled,
	accounts.OutcomeMustChange, accounts.OutcomePasswordChanged, accounts.OutcomeSignOut}

// ListSignIns implements AccountService: the node's sign-in audit for an
// administrator.
func (a *Accounts) ListSignIns(ctx context.Context, r *sanziv1.ListSignInsRequest) (*sanziv1.ListSignInsResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if o := accounts.Outcome(r.GetOutcome()); o != "" && !slices.Contains(signInOutcomes, o) {
		return nil, invalidField("outcome", fmt.Sprintf("%q: one of %v", r.GetOutcome(), signInOutcomes))
	}
	if r.GetPageSize() < 0 {
		return nil, invalidField("pageSize", "0 (the default, 100) or more, at most 500")
	}
	list, next, err := a.svc.ListSignIns(ctx, p, accounts.SignInFilter{Account: r.GetAccount(), Outcome: accounts.Outcome(r.GetOutcome()), Before: r.GetPageToken()}, int(r.GetPageSize()))
	if errors.Is(err, accounts.ErrEventID) {
		return nil, invalidField("pageToken", err.Error())
	}
	if err != nil {
		return nil, toStatus(err)
	}
	out := &sanziv1.ListSignInsResponse{NextPageToken: next}
	for _, e := range list {
		out.Events = append(out.Events, &sanziv1.SignInEvent{Id: e.ID, At: timestamppb.New(e.At), Account: e.Account, Address: e.Address,
			Outcome: string(e.Outcome), Reason: e.Reason, Kind: string(e.Kind), Count: int32(e.Count), Dropped: int32(e.Dropped)})
	}
	return out, nil
}
