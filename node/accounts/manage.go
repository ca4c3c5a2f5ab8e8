package accounts

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/books"
	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// BootstrapAuthor is the author of the administrator account a node
// creates at its first start: no account exists yet to have made it. It
// cannot be an account id (no ':' is allowed in one).
const BootstrapAuthor = "node:first-start"

// idPattern is an account id: a letter, then letters, digits, '.', '_' or
// '-'; at most 64 characters ("zhang.san", "wang_2").
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,63}$`)

// NewAccount is what Create needs.
type NewAccount struct {
	ID    string
	Name  string
	Org   string
	Roles []Role
	Posts []string
	// Password, when set, is the first password (changed at the first
	// sign-in all the same: the administrator knows it); when empty a
	// one-time password is made and returned.
	Password string
}

// Grant names one role or one post to grant or revoke; exactly one is set.
type Grant struct {
	Role Role
	Post string
}

// mayManage refuses by unless one of its roles grants manage_accounts
// (admin; at a town also town_admin: authz's table is the one list of who
// may) and its scope covers org.
func mayManage(by Principal, org string) error {
	if !by.May(authz.PermManageAccounts) {
		return fmt.Errorf("%w: %s may not manage accounts (no role of it grants %s)", ErrPermissionDenied, by.Account, authz.PermManageAccounts)
	}
	if org != "" && !Covers(by.Org, org) {
		return fmt.Errorf("%w: org %s is outside %s's scope %s", ErrPermissionDenied, org, by.Account, by.Org)
	}
	return nil
}

type fieldChecker struct{ out []books.Violation }

func (c *fieldChecker) add(field, format string, a ...any) {
	c.out = append(c.out, books.Violation{Field: field, Reason: fmt.Sprintf(format, a...)})
}

func (c *fieldChecker) err() error {
	if len(c.out) == 0 {
		return nil
	}
	return &books.InvalidError{Violations: c.out}
}

func (c *fieldChecker) id(field, id string) {
	if !idPattern.MatchString(id) {
		c.add(field, "%q is not an account id: a lower-case letter, then letters, digits, '.', '_' or '-', 2 to 64 characters", id)
	}
}

// checkOrg checks org is a valid code in the node's scope and by's.
func (s *Service) checkOrg(c *fieldChecker, field, org string, by Principal) {
	if org == "" {
		c.add(field, "required: the 12-digit org code of the account's scope")
		return
	}
	if _, err := idcode.OrgCode(org); err != nil {
		c.add(field, "%v", err)
		return
	}
	if !Covers(s.cfg.Org, org) {
		c.add(field, "org %s is not under this node's org %s", org, s.cfg.Org)
	} else if !Covers(by.Org, org) {
		c.add(field, "org %s is outside your scope %s", org, by.Org)
	}
}

func (s *Service) checkRole(c *fieldChecker, field string, r Role) {
	if !KnownRole(r) {
		known := authz.Roles()
		names := make([]string, len(known))
		for i, k := range known {
			names[i] = string(k)
		}
		c.add(field, "unknown role %q; one of %s", r, strings.Join(names, ", "))
	}
}

// checkPost checks post against the catalog, when there is one: the post
// exists and is of the org's tier.
func (s *Service) checkPost(c *fieldChecker, field, post, org string) {
	if post == "" {
		c.add(field, "empty post code")
		return
	}
	if s.cfg.Catalog == nil {
		return
	}
	for _, p := range s.cfg.Catalog.GetPosts() {
		if p.GetCode() != post {
			continue
		}
		if lvl, err := idcode.OrgCode(org); err == nil && tierOf(lvl) != p.GetTier() && p.GetTier() != sanziv1.Tier_TIER_UNSPECIFIED {
			c.add(field, "post %s is a %s post; org %s is a %s", post, strings.ToLower(strings.TrimPrefix(p.GetTier().String(), "TIER_")), org, lvl)
		}
		return
	}
	c.add(field, "post %q is not in the catalog (version %s)", post, s.cfg.Catalog.GetVersion())
}

func tierOf(l idcode.Level) sanziv1.Tier {
	switch l {
	case idcode.LevelDistrict:
		return sanziv1.Tier_TIER_DISTRICT
	case idcode.LevelTown:
		return sanziv1.Tier_TIER_TOWN
	}
	return sanziv1.Tier_TIER_VILLAGE
}

// Create opens an account, as an entry by by of the node's chain, and sets
// its first password (to be changed at its first sign-in). It returns the
// one-time password it made when n.Password is empty ("" otherwise).
func (s *Service) Create(ctx context.Context, by Principal, n NewAccount) (Account, string, error) {
	if err := mayManage(by, ""); err != nil {
		return Account{}, "", err
	}
	return s.create(ctx, by.Account, by, n)
}

func (s *Service) create(ctx context.Context, author string, by Principal, n NewAccount) (Account, string, error) {
	var c fieldChecker
	c.id("id", n.ID)
	switch l := utf8.RuneCountInString(strings.TrimSpace(n.Name)); {
	case l == 0:
		c.add("name", "required: the person's name as colleagues know it")
	case l > 64 || !utf8.ValidString(n.Name):
		c.add("name", "at most 64 characters of valid UTF-8")
	}
	s.checkOrg(&c, "org", n.Org, by)
	for i, r := range n.Roles {
		s.checkRole(&c, fmt.Sprintf("roles[%d]", i), r)
		if slices.Index(n.Roles, r) < i {
			c.add(fmt.Sprintf("roles[%d]", i), "role %s is named twice", r)
		}
	}
	for i, p := range n.Posts {
		s.checkPost(&c, fmt.Sprintf("posts[%d]", i), p, n.Org)
		if slices.Index(n.Posts, p) < i {
			c.add(fmt.Sprintf("posts[%d]", i), "post %s is named twice", p)
		}
	}
	otp := ""
	if n.Password == "" {
		var err error
		if otp, err = oneTimePassword(); err != nil {
			return Account{}, "", err
		}
		n.Password = otp
	} else if p := passwordProblem(n.Password); p != "" {
		c.add("password", "%s", p)
	}
	if err := c.err(); err != nil {
		return Account{}, "", err
	}
	hash, err := s.hashNew(ctx, n.Password)
	if err != nil {
		return Account{}, "", fmt.Errorf("create account %s: %w", n.ID, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if _, ok := s.account(n.ID); ok {
		return Account{}, "", fmt.Errorf("%w: account %s", ErrExists, n.ID)
	}
	// The password first: a crash before the entry leaves a password of
	// no account, which the next Create of that id replaces.
	if err := s.creds.setPassword(ctx, n.ID, passwordRec{Hash: hash, MustChange: true, SetAt: s.cfg.Now()}); err != nil {
		return Account{}, "", fmt.Errorf("create account %s: store password: %w", n.ID, err)
	}
	m := &sanziv1.AccountCreated{Account: n.ID, Name: strings.TrimSpace(n.Name), Org: n.Org, Posts: n.Posts}
	for _, r := range n.Roles {
		m.Roles = append(m.Roles, string(r))
	}
	if _, err := s.record(ctx, author, sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_CREATED, m); err != nil {
		return Account{}, "", fmt.Errorf("create account %s: %w", n.ID, err)
	}
	a, _ := s.account(n.ID)
	return a, otp, nil
}

// Grant gives account one role or post, as an entry by by.
func (s *Service) Grant(ctx context.Context, by Principal, account string, g Grant) (Account, error) {
	return s.change(ctx, by, account, g, true)
}

// Revoke takes one role or post from account, as an entry by by.
func (s *Service) Revoke(ctx context.Context, by Principal, account string, g Grant) (Account, error) {
	return s.change(ctx, by, account, g, false)
}

// lockManaged checks that by may manage accounts, takes the write lock and
// returns account as by may manage it, with the unlock to defer.
func (s *Service) lockManaged(by Principal, account string) (Account, func(), error) {
	if err := mayManage(by, ""); err != nil {
		return Account{}, nil, err
	}
	s.wmu.Lock()
	a, err := s.managed(by, account)
	if err != nil {
		s.wmu.Unlock()
		return Account{}, nil, err
	}
	return a, s.wmu.Unlock, nil
}

func (s *Service) change(ctx context.Context, by Principal, account string, g Grant, grant bool) (Account, error) {
	a, unlock, err := s.lockManaged(by, account)
	if err != nil {
		return Account{}, err
	}
	defer unlock()
	var c fieldChecker
	switch {
	case (g.Role == "") == (g.Post == ""):
		c.add("role", "name exactly one role or one post")
	case g.Role != "":
		s.checkRole(&c, "role", g.Role)
	case grant:
		s.checkPost(&c, "post", g.Post, a.Org)
	}
	if err := c.err(); err != nil {
		return Account{}, err
	}
	if a.Status != StatusActive {
		return Account{}, books.Conflict("account", "account %s is disabled", account)
	}
	field, held := "post", slices.Contains(a.Posts, g.Post)
	if g.Role != "" {
		field, held = "role", slices.Contains(a.Roles, g.Role)
	}
	switch {
	case grant && held:
		return Account{}, books.Conflict(field, "%s already holds %s%s", account, g.Role, g.Post)
	case !grant && !held:
		return Account{}, books.Conflict(field, "%s does not hold %s%s", account, g.Role, g.Post)
	case !grant && g.Role == RoleAdmin && account == by.Account:
		return Account{}, books.Conflict("role", "you cannot take the admin role from yourself; another administrator can")
	case grant && account == by.Account:
		// An administrator who records no business must not make itself
		// an accountant or a reviewer: another account has to.
		return Account{}, fmt.Errorf("%w: %s may not grant itself %s%s; another administrator can", ErrPermissionDenied, by.Account, g.Role, g.Post)
	}
	t := sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_REVOKED
	if grant {
		t = sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_GRANTED
	}
	if _, err := s.record(ctx, by.Account, t, &sanziv1.AccountGrant{Account: account, Role: string(g.Role), Post: g.Post}); err != nil {
		return Account{}, fmt.Errorf("%s %s%s of %s: %w", typeEvent(t), g.Role, g.Post, account, err)
	}
	a, _ = s.account(account)
	return a, nil
}

// managed returns account when by may manage it (in scope) and it exists.
func (s *Service) managed(by Principal, account string) (Account, error) {
	a, ok := s.account(account)
	if !ok {
		return Account{}, fmt.Errorf("%w: account %s", ErrNotFound, account)
	}
	if err := mayManage(by, a.Org); err != nil {
		return Account{}, err
	}
	return a, nil
}

// Disable closes account, as an entry by by: its tokens and sessions stop
// working at once (Authenticate checks the status) and are deleted.
func (s *Service) Disable(ctx context.Context, by Principal, account, reason string) (Account, error) {
	a, unlock, err := s.lockManaged(by, account)
	if err != nil {
		return Account{}, err
	}
	defer unlock()
	switch {
	case account == by.Account:
		return Account{}, books.Conflict("account", "you cannot disable your own account; another administrator can")
	case a.Status == StatusDisabled:
		return Account{}, books.Conflict("account", "account %s is already disabled", account)
	case utf8.RuneCountInString(reason) > 200:
		return Account{}, books.Invalid("reason", "at most 200 characters")
	}
	if _, err := s.record(ctx, by.Account, sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_DISABLED, &sanziv1.AccountDisabled{Account: account, Reason: reason}); err != nil {
		return Account{}, fmt.Errorf("disable %s: %w", account, err)
	}
	if _, err := s.creds.deleteWhere(ctx, func(r tokenRec) bool { return r.Account == account }); err != nil {
		// Refused anyway: Authenticate checks the account's status.
		s.log.Error("delete credentials of a disabled account", "account", account, "err", err)
	}
	a, _ = s.account(account)
	return a, nil
}

// ResetPassword gives account a new one-time password, to be changed at
// its next sign-in, and records the reset (never the password) as an entry
// by by. The account's tokens and sessions end: whoever held them may be
// why the password is reset.
func (s *Service) ResetPassword(ctx context.Context, by Principal, account string) (string, error) {
	if err := mayManage(by, ""); err != nil {
		return "", err
	}
	otp, err := oneTimePassword()
	if err != nil {
		return "", err
	}
	hash, err := s.hashNew(ctx, otp)
	if err != nil {
		return "", fmt.Errorf("reset password of %s: %w", account, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	a, err := s.managed(by, account)
	if err != nil {
		return "", err
	}
	if a.Status != StatusActive {
		return "", books.Conflict("account", "account %s is disabled", account)
	}
	if err := s.creds.setPassword(ctx, account, passwordRec{Hash: hash, MustChange: true, SetAt: s.cfg.Now()}); err != nil {
		return "", fmt.Errorf("reset password of %s: %w", account, err)
	}
	if _, err := s.creds.deleteWhere(ctx, func(r tokenRec) bool { return r.Account == account }); err != nil {
		return "", fmt.Errorf("reset password of %s: end its sessions: %w", account, err)
	}
	s.thr.clear(accountKey(account))
	if _, err := s.record(ctx, by.Account, sanziv1.EntryType_ENTRY_TYPE_ACCOUNT_PASSWORD_RESET, &sanziv1.AccountPasswordReset{Account: account}); err != nil {
		return "", fmt.Errorf("reset password of %s: %w", account, err)
	}
	return otp, nil
}

// List returns the accounts in by's scope, by id. Administrators and
// auditors list; anyone else sees only their own account.
func (s *Service) List(ctx context.Context, by Principal) ([]Account, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	wide := by.Has(RoleAdmin) || by.Has(RoleAuditor)
	var out []Account
	for _, a := range s.st.accounts {
		if a.ID == by.Account || (wide && Covers(by.Org, a.Org)) {
			out = append(out, a.clone())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Show returns one account: one's own, or any in scope for an
// administrator or auditor. An account out of reach is not found, so that
// ids outside one's scope cannot be probed.
func (s *Service) Show(ctx context.Context, by Principal, account string) (Account, error) {
	a, ok := s.account(account)
	if ok && (a.ID == by.Account || ((by.Has(RoleAdmin) || by.Has(RoleAuditor)) && Covers(by.Org, a.Org))) {
		return a, nil
	}
	return Account{}, fmt.Errorf("%w: account %s", ErrNotFound, account)
}
