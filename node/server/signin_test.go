package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/authz"
)

// testArgon makes password hashes cheap in tests.
var testArgon = accounts.Params{Time: 1, Memory: 8, Threads: 1}

// testAccount is the account startTestNode signs in as: it records, decides,
// reviews, drafts, publishes, sees personal data and verifies chains.
const testAccount = "tester"

var testRoles = []authz.Role{authz.RoleAccountant, authz.RoleVillageCommittee, authz.RoleAuditor}

// signIn creates account id at org with roles on n (made by the node's
// first administrator, as an entry of its chain) and returns a bearer
// token for it, its first password already changed.
func signIn(t testing.TB, n *Node, id, org string, roles ...authz.Role) string {
	t.Helper()
	ctx := context.Background()
	svc := n.Accounts()
	admin := authz.Principal{Account: accounts.AdminID, Org: n.cfg.Orgs[0], Roles: []authz.Role{authz.RoleAdmin}}
	_, _, err := svc.Create(ctx, admin, accounts.NewAccount{ID: id, Name: id, Org: org, Roles: roles, Password: "first-password-" + id})
	if errors.Is(err, accounts.ErrExists) { // a data folder restored from a node that had it
		in, err := svc.Login(ctx, accounts.LoginRequest{Account: id, Password: testPassword(id)})
		if err != nil {
			t.Fatalf("sign in %s: %v", id, err)
		}
		return in.Secret
	}
	if err != nil {
		t.Fatalf("create account %s: %v", id, err)
	}
	in, err := svc.Login(ctx, accounts.LoginRequest{Account: id, Password: "first-password-" + id, NewPassword: testPassword(id)})
	if err != nil {
		t.Fatalf("sign in %s: %v", id, err)
	}
	return in.Secret
}

// testPassword is the password signIn leaves account id with.
func testPassword(id string) string { return "password-of-" + id }

// bearer is an http.RoundTripper that signs every request in with a token
// (unless the request carries its own Authorization).
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" && b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// clientWith is an HTTP client that sends token as a bearer token.
func clientWith(token string) *http.Client {
	return &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
}

// bearerCreds are gRPC per-RPC credentials carrying a token over plain
// loopback connections (tests only).
type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerCreds) RequireTransportSecurity() bool { return false }
