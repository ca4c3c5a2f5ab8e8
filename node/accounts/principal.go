package accounts

import (
	"context"
	"errors"
)

// TODO(issue 12): replace with authz.Principal when the branches meet. Role,
// Principal, Authenticator and ErrUnauthenticated below are the contract
// shared with node/authz, copied exactly; the integrator keeps node/authz's
// and deletes these.

// Role is a named set of permissions (the table lives in node/authz):
// "accountant", "village_committee", "supervisory_committee",
// "town_reviewer", "town_admin", "district_analyst",
// "district_rules_officer", "auditor", "admin".
type Role string

// Principal is the account behind a request, as the authenticator resolved it.
type Principal struct {
	Account string // account id, e.g. "zhang.san"
	Name    string // display name
	Org     string // 12-digit scope; a town's or district's scope covers codes under it
	Roles   []Role
	Posts   []string // catalog posts held at Org, e.g. "village.accountant"
}

// Authenticator resolves a bearer token or a session id to the account behind it.
type Authenticator interface {
	// Authenticate returns ErrUnauthenticated (wrapped) for a missing, unknown, expired or
	// revoked credential or a disabled account.
	Authenticate(ctx context.Context, credential string) (Principal, error)
}

// ErrUnauthenticated: no credential, or one that names nobody (unknown,
// expired, revoked, or of a disabled account), or a wrong password.
var ErrUnauthenticated = errors.New("unauthenticated")

// The roles of issue 12, item 6.
const (
	RoleAccountant           Role = "accountant"
	RoleVillageCommittee     Role = "village_committee"
	RoleSupervisoryCommittee Role = "supervisory_committee"
	RoleTownReviewer         Role = "town_reviewer"
	RoleTownAdmin            Role = "town_admin"
	RoleDistrictAnalyst      Role = "district_analyst"
	RoleDistrictRulesOfficer Role = "district_rules_officer"
	RoleAuditor              Role = "auditor"
	RoleAdmin                Role = "admin"
)

// knownRoles lists every role name an account may hold.
var knownRoles = []Role{RoleAccountant, RoleVillageCommittee, RoleSupervisoryCommittee, RoleTownReviewer,
	RoleTownAdmin, RoleDistrictAnalyst, RoleDistrictRulesOfficer, RoleAuditor, RoleAdmin}

// KnownRole reports whether r is one of the roles above.
func KnownRole(r Role) bool {
	for _, k := range knownRoles {
		if k == r {
			return true
		}
	}
	return false
}

// hasRole reports whether p holds r (a function, not a method, so that
// Principal can become authz.Principal without changes here).
func hasRole(p Principal, r Role) bool {
	for _, h := range p.Roles {
		if h == r {
			return true
		}
	}
	return false
}
