package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sanzi/sanzi/node/books"
)

// LoginRequest is one sign-in attempt.
type LoginRequest struct {
	Account  string
	Password string
	// NewPassword replaces the password at this sign-in; required when the
	// password is a one-time password (ErrPasswordChangeRequired).
	NewPassword string
	// Address is the client's address (IP, without port), for the
	// throttle and the audit log.
	Address string
	// Kind is what to issue: KindToken (default) or KindSession.
	Kind Kind
	// Label names a token in lists ("laptop cli"); optional.
	Label string
}

// SignIn is what a successful sign-in issues. Secret is shown this once:
// only its SHA-256 is kept.
type SignIn struct {
	Principal Principal
	Kind      Kind
	// Secret is the bearer token, or the session id for the cookie.
	Secret string
	// CSRF is a session's CSRF token, required on every state-changing
	// request of the session ("" for a token).
	CSRF string
	// ID names the token or session in lists and RevokeToken.
	ID        string
	ExpiresAt time.Time
}

// TokenInfo describes a live token or session, never its secret.
type TokenInfo struct {
	ID        string
	Account   string
	Kind      Kind
	Label     string
	Address   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Login checks a password and issues a bearer token or a browser session.
// A throttled account or address is refused with a *ThrottledError before
// the password is looked at; a wrong account, wrong password or disabled
// account is ErrUnauthenticated and counts towards the throttle. Every
// attempt is in the audit log and the metrics.
func (s *Service) Login(ctx context.Context, req LoginRequest) (SignIn, error) {
	if req.Kind == "" {
		req.Kind = KindToken
	}
	if req.Kind != KindToken && req.Kind != KindSession {
		return SignIn{}, books.Invalid("kind", "%q: want %q or %q", req.Kind, KindToken, KindSession)
	}
	if len(req.Label) > 100 {
		return SignIn{}, books.Invalid("label", "at most 100 bytes")
	}
	a, err := s.checkSignIn(ctx, req)
	if err != nil {
		return SignIn{}, err
	}
	secret, h, err := newSecret()
	if err != nil {
		return SignIn{}, err
	}
	now := s.cfg.Now()
	rec := tokenRec{ID: tokenID(h), Account: a.ID, Kind: req.Kind, Label: req.Label, Created: now, Address: req.Address, Expires: now.Add(s.cfg.TokenTTL)}
	if req.Kind == KindSession {
		rec.Expires = now.Add(s.cfg.SessionTTL)
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return SignIn{}, fmt.Errorf("make CSRF token: %w", err)
		}
		rec.CSRF = base64.RawURLEncoding.EncodeToString(raw)
	}
	if err := s.creds.putToken(ctx, h, rec); err != nil {
		return SignIn{}, fmt.Errorf("sign in %s: store %s: %w", a.ID, req.Kind, err)
	}
	s.m.signins.Inc()
	s.log.Info("signed in", "event", "signin.ok", "account", a.ID, "address", req.Address, "kind", req.Kind, "id", rec.ID)
	s.creds.audit.Record(SignInEvent{Account: a.ID, Address: req.Address, Outcome: OutcomeOK, Kind: req.Kind})
	return SignIn{Principal: a.Principal(), Kind: req.Kind, Secret: secret, CSRF: rec.CSRF, ID: rec.ID, ExpiresAt: rec.Expires}, nil
}

// ChangePassword checks the current password (throttled like a sign-in)
// and sets NewPassword, issuing nothing.
func (s *Service) ChangePassword(ctx context.Context, req LoginRequest) error {
	if req.NewPassword == "" {
		return books.Invalid("newPassword", "required")
	}
	_, err := s.checkSignIn(ctx, req)
	return err
}

// checkSignIn runs the throttle, the password check and a password change.
func (s *Service) checkSignIn(ctx context.Context, req LoginRequest) (Account, error) {
	now := s.cfg.Now()
	if d, by := s.throttled(req, now); d > 0 {
		s.m.throttled.Inc()
		s.log.Warn("sign-in throttled", "event", "signin.throttled", "account", req.Account, "address", req.Address, "by", by, "retryAfter", d)
		s.creds.audit.Record(SignInEvent{Account: req.Account, Address: req.Address, Outcome: OutcomeThrottled, Reason: by + " locked"})
		return Account{}, &ThrottledError{RetryAfter: d, By: by}
	}
	if req.NewPassword != "" {
		if p := passwordProblem(req.NewPassword); p != "" {
			return Account{}, books.Invalid("newPassword", "%s", p)
		}
		if req.NewPassword == req.Password {
			return Account{}, books.Invalid("newPassword", "is the password it replaces")
		}
	}
	// The password first: reading it brings replicated Secrets up to date
	// (a district member catches up with its leader), and the account read
	// after it is then as new as the password.
	rec, ok, params, err := s.verify(ctx, req.Account, req.Password)
	if err != nil {
		return Account{}, err
	}
	a, known := s.account(req.Account)
	reason := ""
	switch {
	case !known || !ok:
		reason = "wrong account or password"
	case a.Status != StatusActive:
		reason = "account " + a.ID + " is disabled"
	}
	if reason != "" {
		s.m.failures.Inc()
		lock := s.thr.fail(accountKey(req.Account), s.thr.cfg.AccountBurst, now)
		if req.Address != "" {
			lock = max(lock, s.thr.fail(addressKey(req.Address), s.thr.cfg.AddressBurst, now))
		}
		// The log (not the caller) tells an unknown account from a wrong
		// password: an operator looking into a refused sign-in needs it.
		s.log.Warn("sign-in failed", "event", "signin.failed", "account", req.Account, "address", req.Address, "reason", reason, "accountKnown", known, "passwordMatched", ok, "locked", lock)
		ev := SignInEvent{Account: req.Account, Address: req.Address, Outcome: OutcomeFailed, Reason: reason}
		if lock > 0 {
			ev.Outcome, ev.Reason = OutcomeLocked, fmt.Sprintf("%s; locked for %s", reason, lock.Round(time.Second))
		}
		s.creds.audit.Record(ev)
		return Account{}, fmt.Errorf("%w: %s", ErrUnauthenticated, reason)
	}
	s.thr.clear(accountKey(req.Account))
	if rec.MustChange && req.NewPassword == "" {
		s.log.Info("sign-in needs a new password", "event", "signin.must_change", "account", a.ID, "address", req.Address)
		s.creds.audit.Record(SignInEvent{Account: a.ID, Address: req.Address, Outcome: OutcomeMustChange})
		return Account{}, fmt.Errorf("%w: sign in again with a new password (at least %d characters)", ErrPasswordChangeRequired, minPassword)
	}
	switch {
	case req.NewPassword != "":
		hash, err := s.hashNew(ctx, req.NewPassword)
		if err != nil {
			return Account{}, fmt.Errorf("change password of %s: %w", a.ID, err)
		}
		if err := s.creds.setPassword(ctx, a.ID, passwordRec{Hash: hash, SetAt: s.cfg.Now()}); err != nil {
			return Account{}, fmt.Errorf("change password of %s: %w", a.ID, err)
		}
		s.log.Info("password changed", "event", "password.changed", "account", a.ID, "address", req.Address)
		s.creds.audit.Record(SignInEvent{Account: a.ID, Address: req.Address, Outcome: OutcomePasswordChanged})
	case params != s.cfg.Argon && !rec.Chosen:
		// Made under older parameters: re-made under the current ones
		// while the password is at hand. A failure keeps the old hash.
		// A cost chosen on purpose (SetPasswordAtCost) is kept.
		if hash, err := s.hashNew(ctx, req.Password); err == nil {
			rec.Hash = hash
			if err := s.creds.setPassword(ctx, a.ID, rec); err != nil {
				s.log.Error("re-hash password under the current parameters", "account", a.ID, "err", err)
			}
		}
	}
	return a, nil
}

// throttled returns how long req must wait and what is throttled.
func (s *Service) throttled(req LoginRequest, now time.Time) (time.Duration, string) {
	d, by := s.thr.wait(accountKey(req.Account), now), "account"
	if req.Address != "" {
		if w := s.thr.wait(addressKey(req.Address), now); w > d {
			d, by = w, "address"
		}
	}
	return d, by
}

// verify checks password against account's hash. An account without one
// is checked against a dummy hash, so that a wrong id takes as long as a
// wrong password and ids cannot be found by timing.
func (s *Service) verify(ctx context.Context, account, password string) (passwordRec, bool, Params, error) {
	rec, found, err := s.creds.password(account)
	if err != nil {
		return rec, false, Params{}, err
	}
	phc := rec.Hash
	if !found {
		s.dummyOnce.Do(func() { s.dummy, _ = hashPassword("not a password of anyone", s.cfg.Argon) })
		phc = s.dummy
	}
	if err := s.acquire(ctx); err != nil {
		return rec, false, Params{}, err
	}
	ok, params, err := checkPassword(phc, password)
	s.release()
	if err != nil {
		return rec, false, params, fmt.Errorf("check password of %s: %w", account, err)
	}
	return rec, ok && found, params, nil
}

// Authenticate resolves a bearer token or a session id to its account. It
// implements Authenticator: a missing, unknown, expired or revoked
// credential, or one of a disabled account, is ErrUnauthenticated. It reads
// the credentials file each time, so a revocation or a disabled account
// takes effect at the next call.
func (s *Service) Authenticate(ctx context.Context, credential string) (Principal, error) {
	rec, err := s.lookup(credential)
	if err != nil {
		return Principal{}, err
	}
	a, ok := s.account(rec.Account)
	if !ok || a.Status != StatusActive {
		return Principal{}, fmt.Errorf("%w: account %s is disabled", ErrUnauthenticated, rec.Account)
	}
	return a.Principal(), nil
}

func (s *Service) lookup(credential string) (tokenRec, error) {
	credential = strings.TrimSpace(credential)
	if credential == "" {
		return tokenRec{}, fmt.Errorf("%w: no credential: sign in first", ErrUnauthenticated)
	}
	rec, ok, err := s.creds.token(sha256.Sum256([]byte(credential)))
	if err != nil {
		return tokenRec{}, err
	}
	if !ok {
		return tokenRec{}, fmt.Errorf("%w: unknown or revoked credential: sign in again", ErrUnauthenticated)
	}
	if !s.cfg.Now().Before(rec.Expires) {
		return tokenRec{}, fmt.Errorf("%w: credential %s expired at %s: sign in again", ErrUnauthenticated, rec.ID, rec.Expires.Format(time.RFC3339))
	}
	return rec, nil
}

// Session resolves a session id (the cookie's value) to its account and
// the session's CSRF token, for pages to carry.
func (s *Service) Session(ctx context.Context, sessionID string) (Principal, string, error) {
	rec, err := s.lookup(sessionID)
	if err != nil {
		return Principal{}, "", err
	}
	if rec.Kind != KindSession {
		return Principal{}, "", fmt.Errorf("%w: credential %s is a %s, not a session", ErrUnauthenticated, rec.ID, rec.Kind)
	}
	p, err := s.Authenticate(ctx, sessionID)
	return p, rec.CSRF, err
}

// CheckCSRF refuses a state-changing request of session sessionID whose
// CSRF token is missing or not the session's (ErrCSRF), comparing in
// constant time; an unknown or ended session is ErrUnauthenticated.
func (s *Service) CheckCSRF(ctx context.Context, sessionID, csrf string) error {
	_, want, err := s.Session(ctx, sessionID)
	if err != nil {
		return err
	}
	if csrf == "" || subtle.ConstantTimeCompare([]byte(csrf), []byte(want)) != 1 {
		s.log.Warn("request without its session's CSRF token", "event", "csrf.refused", "id", tokenID(sha256.Sum256([]byte(sessionID))))
		return ErrCSRF
	}
	return nil
}

// Logout ends the token or session credential. Ending one already ended
// is not an error.
func (s *Service) Logout(ctx context.Context, credential string) error {
	return s.LogoutFrom(ctx, credential, "")
}

// LogoutFrom is Logout by a client at address, which the audit records.
func (s *Service) LogoutFrom(ctx context.Context, credential, address string) error {
	h := sha256.Sum256([]byte(strings.TrimSpace(credential)))
	rec, _, _ := s.creds.token(h)
	found, err := s.creds.deleteToken(ctx, h)
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	if found {
		s.log.Info("signed out", "event", "signout", "account", rec.Account, "id", rec.ID)
		s.creds.audit.Record(SignInEvent{Account: rec.Account, Address: address, Outcome: OutcomeSignOut, Kind: rec.Kind})
	}
	return nil
}

// ListTokens lists account's live tokens and sessions: one's own, or any
// in scope for an administrator.
func (s *Service) ListTokens(ctx context.Context, by Principal, account string) ([]TokenInfo, error) {
	if account != by.Account {
		if _, err := s.managed(by, account); err != nil {
			return nil, err
		}
	}
	now := s.cfg.Now()
	recs, err := s.creds.tokens(func(r tokenRec) bool { return r.Account == account && now.Before(r.Expires) })
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", account, err)
	}
	out := make([]TokenInfo, len(recs))
	for i, r := range recs {
		out[i] = TokenInfo{ID: r.ID, Account: r.Account, Kind: r.Kind, Label: r.Label, Address: r.Address, CreatedAt: r.Created, ExpiresAt: r.Expires}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RevokeToken ends the token or session named id (from ListTokens): one's
// own, or any in scope for an administrator. It takes effect at once.
func (s *Service) RevokeToken(ctx context.Context, by Principal, id string) error {
	recs, err := s.creds.tokens(func(r tokenRec) bool { return r.ID == id })
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if len(recs) == 0 {
		return fmt.Errorf("%w: token %s", ErrNotFound, id)
	}
	if owner := recs[0].Account; owner != by.Account {
		if _, err := s.managed(by, owner); err != nil {
			return err
		}
	}
	if _, err := s.creds.deleteWhere(ctx, func(r tokenRec) bool { return r.ID == id }); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	s.log.Info("token revoked", "event", "token.revoked", "by", by.Account, "account", recs[0].Account, "id", id)
	return nil
}

// PurgeExpired deletes expired tokens and sessions (they are refused
// anyway); the node calls it now and then to keep the file small.
func (s *Service) PurgeExpired(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	gone, err := s.creds.deleteWhere(ctx, func(r tokenRec) bool { return !now.Before(r.Expires) })
	return len(gone), err
}
