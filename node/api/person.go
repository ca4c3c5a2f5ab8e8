package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/rest"
)

// Person authenticates a hand-written HTTP route's request (SSE streams,
// sync status, backups) by the rules the gateway and the interceptor
// apply to every other call: a bearer token wins over the session cookie;
// then it checks perm (SignedIn: any account). On a refusal it has
// answered 401 or 403, logged to log, and returns false. Village and town
// nodes and district members call this one function, so their routes
// cannot drift apart.
func Person(w http.ResponseWriter, r *http.Request, auth authz.Authenticator, perm authz.Permission, log *slog.Logger) (authz.Principal, bool) {
	refuse := func(err error) (authz.Principal, bool) {
		log.Info("call refused", "route", r.Method+" "+r.URL.Path, "err", err)
		rest.WriteError(w, r, Status(err))
		return authz.Principal{}, false
	}
	cred := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(strings.TrimSpace(a), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return refuse(fmt.Errorf("authorization is not \"Bearer <token>\": %w", authz.ErrUnauthenticated))
		}
		cred = strings.TrimSpace(tok)
	} else if c, err := r.Cookie(authz.SessionCookie); err == nil {
		cred = c.Value
	}
	p, err := auth.Authenticate(r.Context(), cred)
	if err != nil {
		return refuse(fmt.Errorf("sign in: %w", err))
	}
	if perm != authz.SignedIn && !p.May(perm) {
		return refuse(fmt.Errorf("account %s may not %s: %w", p.Account, perm, authz.ErrPermissionDenied))
	}
	return p, true
}

// BackupTaker admits a request for a backup of the data folder (village,
// town or district member alike): it hands out signing keys and every
// account's password hash, so only a client on the loopback interface
// (the operator on the machine, `sanzi backup`), signed in with an account
// that may verify the chains (auditor) or manage accounts (administrator).
// On a refusal it has answered 403 or 401 and returns false.
func BackupTaker(w http.ResponseWriter, r *http.Request, auth authz.Authenticator, log *slog.Logger) bool {
	if !rest.FromLoopback(r) {
		http.Error(w, "backup is served only to a client on this machine (loopback)", http.StatusForbidden)
		return false
	}
	p, ok := Person(w, r, auth, authz.SignedIn, log)
	if !ok {
		return false
	}
	if !p.May(authz.PermVerify) && !p.May(authz.PermManageAccounts) {
		rest.WriteError(w, r, Status(fmt.Errorf("account %s may not take a backup: it needs %s or %s: %w", p.Account, authz.PermVerify, authz.PermManageAccounts, authz.ErrPermissionDenied)))
		return false
	}
	return true
}
