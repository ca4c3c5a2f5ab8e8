// Package authz decides, in one place, what a signed-in person may do on a
// node: which roles grant which permissions, which permission every gRPC
// method needs (a method missing from the table is refused), which orgs an
// account may act on (by org code prefix), that the author of a request is
// the signed-in account, and which personal data it may see whole.
//
// People are authenticated by a bearer token or a session (node/accounts
// implements Authenticator); nodes by their mutual-TLS certificates, which
// only the methods marked NodeOnly take. No method takes both: a node's
// certificate never acts on a person's behalf.
package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/sanzi/sanzi/node/idcode"
)

// Errors of authorization. Handlers get them wrapped, with the reason, from
// Author, CheckAuthor and ScopeOrg; the interceptor answers them as gRPC
// Unauthenticated (HTTP 401) and PermissionDenied (HTTP 403).
var (
	// ErrUnauthenticated: no credential, or one that is unknown, expired or
	// revoked, or the account is disabled.
	ErrUnauthenticated = errors.New("authz: not signed in")
	// ErrPermissionDenied: signed in, but the account's roles or org scope
	// do not allow this.
	ErrPermissionDenied = errors.New("authz: permission denied")
)

// Role is what a person does; roles grant permissions (see Permissions).
type Role string

// Roles of issue 12, item 6.
const (
	RoleAccountant           Role = "accountant"            // 报账员/会计
	RoleVillageCommittee     Role = "village_committee"     // 村委
	RoleSupervisoryCommittee Role = "supervisory_committee" // 村务监督委员会
	RoleTownReviewer         Role = "town_reviewer"         // 乡镇审核岗
	RoleTownAdmin            Role = "town_admin"            // 乡镇管理员
	RoleDistrictAnalyst      Role = "district_analyst"      // 区级分析
	RoleDistrictRulesOfficer Role = "district_rules_officer"
	RoleAuditor              Role = "auditor" // 审计
	RoleAdmin                Role = "admin"   // accounts only
)

// Principal is the signed-in account a request acts for.
type Principal struct {
	Account string   // account id
	Name    string   // display name
	Org     string   // 12-digit scope; a town's or district's scope covers codes under it
	Roles   []Role   // what the account may do (see Permissions)
	Posts   []string // catalog posts held at Org, e.g. "village.accountant"
}

// Authenticator resolves a bearer token or a session id to the account behind it.
type Authenticator interface {
	// Authenticate returns ErrUnauthenticated (wrapped) for a missing, unknown, expired or
	// revoked credential or a disabled account.
	Authenticate(ctx context.Context, credential string) (Principal, error)
}

// Covers reports whether org lies in p's scope, by the levels of 12-digit
// division codes (idcode.OrgCode): a district account covers the codes
// sharing its first six digits, a town account those sharing its first nine
// (its own code and its villages', as federation's MayPush counts a town's
// chains: DESIGN's "350505100000 covers 3505051xxxxx" read by level, so that
// town 350505100000 does not cover town 350505110000), a village account
// only its own code. A malformed code on either side is covered by nothing.
func (p Principal) Covers(org string) bool {
	lvl, err := idcode.OrgCode(p.Org)
	if err != nil {
		return false
	}
	if _, err := idcode.OrgCode(org); err != nil {
		return false
	}
	switch lvl {
	case idcode.LevelDistrict:
		return org[:6] == p.Org[:6]
	case idcode.LevelTown:
		return org[:9] == p.Org[:9]
	}
	return org == p.Org
}

// Has reports whether p holds role r.
func (p Principal) Has(r Role) bool {
	for _, h := range p.Roles {
		if h == r {
			return true
		}
	}
	return false
}

// May reports whether any of p's roles grants perm.
func (p Principal) May(perm Permission) bool {
	for _, r := range p.Roles {
		if r.May(perm) {
			return true
		}
	}
	return false
}

type principalKey struct{}

// NewContext returns ctx carrying p, as the interceptor does for handlers.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the interceptor put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// principal is FromContext as an error for helpers that need someone.
func principal(ctx context.Context) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return Principal{}, fmt.Errorf("no signed-in account in this call: %w", ErrUnauthenticated)
	}
	return p, nil
}

// Author is the signed-in account's id, which the server writes as the
// author of every entry: never a name the caller typed.
func Author(ctx context.Context) (string, error) {
	p, err := principal(ctx)
	if err != nil {
		return "", err
	}
	return p.Account, nil
}

// CheckAuthor refuses a request that names an author other than the
// signed-in account. An empty name is fine: the server fills it.
func CheckAuthor(ctx context.Context, named string) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	return checkAuthor(p, named)
}

func checkAuthor(p Principal, named string) error {
	if named != "" && named != p.Account {
		return fmt.Errorf("author %q is not the signed-in account %q: %w", named, p.Account, ErrPermissionDenied)
	}
	return nil
}

// ScopeOrg is the org a list or read acts on: the one requested, when the
// signed-in account covers it, else the account's own org when none was
// requested. Handlers call it for requests that name no org (the interceptor
// checks those that do) and for records they load by id (pass the record's
// org: a refusal says the record is out of scope).
func ScopeOrg(ctx context.Context, requested string) (string, error) {
	p, err := principal(ctx)
	if err != nil {
		return "", err
	}
	if requested == "" {
		return p.Org, nil
	}
	if err := checkOrg(p, requested); err != nil {
		return "", err
	}
	return requested, nil
}

func checkOrg(p Principal, org string) error {
	if !p.Covers(org) {
		return fmt.Errorf("account of %s may not act on %s: %w", p.Org, org, ErrPermissionDenied)
	}
	return nil
}
