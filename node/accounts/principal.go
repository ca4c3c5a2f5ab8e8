package accounts

import (
	"slices"

	"github.com/sanzi/sanzi/node/authz"
)

// The contract shared with node/authz: the interceptor there asks a Service
// (an authz.Authenticator) who is calling, and the table there says what
// each Role may do. The names are kept here so that this package reads on
// its own.
type (
	// Role is a named set of permissions (the table lives in node/authz).
	Role = authz.Role
	// Principal is the account behind a request, as Authenticate resolved it.
	Principal = authz.Principal
	// Authenticator resolves a bearer token or a session id to its account.
	Authenticator = authz.Authenticator
)

// ErrUnauthenticated: no credential, or one that names nobody (unknown,
// expired, revoked, or of a disabled account), or a wrong password.
var ErrUnauthenticated = authz.ErrUnauthenticated

// The roles of issue 12, item 6.
const (
	RoleAccountant           = authz.RoleAccountant
	RoleVillageCommittee     = authz.RoleVillageCommittee
	RoleSupervisoryCommittee = authz.RoleSupervisoryCommittee
	RoleTownReviewer         = authz.RoleTownReviewer
	RoleTownAdmin            = authz.RoleTownAdmin
	RoleDistrictAnalyst      = authz.RoleDistrictAnalyst
	RoleDistrictRulesOfficer = authz.RoleDistrictRulesOfficer
	RoleAuditor              = authz.RoleAuditor
	RoleAdmin                = authz.RoleAdmin
)

// KnownRole reports whether r is a role of authz's table.
func KnownRole(r Role) bool { return slices.Contains(authz.Roles(), r) }

// Covers reports whether an account scoped to scope may act on org (the
// org-code prefix rule of authz.Principal.Covers).
func Covers(scope, org string) bool { return Principal{Org: scope}.Covers(org) }
