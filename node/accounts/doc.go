// Package accounts holds the people of a node (DESIGN.md, "People and
// access"; issue 12, items 1-3): their accounts, rebuilt from the node's own
// chain, and their credentials, kept in credentials.db beside ledger.db and
// never synced.
//
// Account changes (create, grant or revoke a role or post, disable, reset a
// password) are entries of the home org's chain (ENTRY_TYPE_ACCOUNT_*,
// proto/sanzi/v1/accounts.proto) whose author is the administrator who made
// them, so they travel up and the district knows who every author is and
// who made them so. The state is rebuilt by replaying the chain at Open and
// follows it after every change (the service catches up from the last seq
// it applied, so an account entry appended by anyone is applied too).
//
// Passwords are argon2id hashes (parameters and salt recorded with each
// hash); bearer tokens and browser session ids are 32 random bytes shown
// once and kept as SHA-256; a session carries a CSRF token. Failed sign-ins
// are throttled per account and per client address (ThrottleConfig),
// counted in metrics and written to the audit log.
//
// The Service implements the Authenticator contract shared with node/authz
// (the authorization table and interceptor), copied here until the branches
// meet:
//
//	type Role string // "accountant","village_committee","supervisory_committee","town_reviewer","town_admin","district_analyst","district_rules_officer","auditor","admin"
//	type Principal struct {
//	    Account string   // account id, e.g. "zhang.san"
//	    Name    string   // display name
//	    Org     string   // 12-digit scope; a town's or district's scope covers codes under it
//	    Roles   []Role
//	    Posts   []string // catalog posts held at Org, e.g. "village.accountant"
//	}
//	// Authenticator resolves a bearer token or a session id to the account behind it.
//	type Authenticator interface {
//	    // Authenticate returns ErrUnauthenticated (wrapped) for a missing, unknown, expired or
//	    // revoked credential or a disabled account.
//	    Authenticate(ctx context.Context, credential string) (Principal, error)
//	}
//
// Only the admin role manages accounts (ErrPermissionDenied otherwise), and
// only in its scope; a person may list and revoke their own tokens and
// read their own account.
package accounts
