package authz

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/rest"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// SessionCookie is the name of the browser's session cookie (HttpOnly,
// SameSite=Strict, Secure under TLS; node/accounts sets it at sign-in).
const SessionCookie = "sanzi_session"

// CSRFHeader carries the CSRF token a browser's state-changing request must
// send along with its session cookie.
const CSRFHeader = "X-CSRF-Token"

// gatewaySession is the header grpc-gateway would turn into the session
// metadata; only the cookie may set that, so RequireCSRF drops it.
var gatewaySession = textproto.CanonicalMIMEHeaderKey("Grpc-Metadata-" + SessionMetadata)

// RequireCSRF refuses, 403 with a JSON error, a state-changing request
// (POST, PUT, PATCH, DELETE) that carries a session cookie without an
// X-CSRF-Token header that check accepts for that session (check is called
// with "" when there is none). Requests with a
// bearer token need no CSRF token (a cross-site page cannot add one; and the
// bearer token, not the cookie, is what the call is authenticated by). It
// also drops a client's Grpc-Metadata-Sanzi-Session header, so that a
// session reaches gRPC only from the cookie (SessionFromCookie), after this
// check.
func RequireCSRF(next http.Handler, check func(session, token string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del(gatewaySession)
		session := sessionOf(r)
		if session != "" && stateChanging(r.Method) {
			// check sees an empty token too: it must refuse it for a live
			// session, and may let a dead one through (it authenticates
			// nothing), so that a browser holding a stale cookie can sign in.
			if tok := r.Header.Get(CSRFHeader); !check(session, tok) {
				rest.WriteError(w, r, status.Error(codes.PermissionDenied,
					"a signed-in browser's "+r.Method+" needs its CSRF token in "+CSRFHeader))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// SessionFromCookie is the metadata the REST gateway sends with each call
// (runtime.WithMetadata(authz.SessionFromCookie)): the session id of the
// request's cookie, unless it carries a bearer token, which is forwarded as
// authorization by the gateway itself and wins.
func SessionFromCookie(_ context.Context, r *http.Request) metadata.MD {
	if s := sessionOf(r); s != "" {
		return metadata.Pairs(SessionMetadata, s)
	}
	return nil
}

// sessionOf is the request's session cookie, or "" when there is none or
// the request carries a bearer token.
func sessionOf(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, _, _ := strings.Cut(a, " "); strings.EqualFold(scheme, "Bearer") {
			return ""
		}
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func stateChanging(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// SessionCookies is the REST gateway's forward-response option
// (runtime.WithForwardResponseOption) shared by every node and district
// member: a sign-in of kind "session" becomes the browser's cookie
// (HttpOnly, SameSite=Strict, Path=/, Secure when secure, that is under TLS)
// and its secret is blanked from the JSON answer, so page scripts never see
// it; a sign-out clears the cookie. A bearer token's sign-in (no CSRF token)
// is answered in the body as it is.
func SessionCookies(secure bool) func(context.Context, http.ResponseWriter, proto.Message) error {
	return func(_ context.Context, w http.ResponseWriter, m proto.Message) error {
		switch m := m.(type) {
		case *sanziv1.LoginResponse:
			if m.GetCsrf() == "" {
				return nil
			}
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: m.GetSecret(), Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: secure, Expires: m.GetExpiresAt().AsTime()})
			m.Secret = ""
		case *sanziv1.LogoutResponse:
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: secure})
		}
		return nil
	}
}

// CSRFChecker checks a session's CSRF token (accounts.Service does).
type CSRFChecker interface {
	CheckCSRF(ctx context.Context, session, token string) error
}

// CSRFCheck is RequireCSRF's check over c, the same at every node and
// member: a live session's token must match. A session that names nobody
// (an error wrapping ErrUnauthenticated: expired, revoked, unknown) is let
// through: it authenticates nothing, so the interceptor refuses what needs
// a sign-in, and a browser holding a stale cookie can still sign in again.
// Any other error (a wrong token, a store that cannot answer) refuses.
func CSRFCheck(c CSRFChecker) func(session, token string) bool {
	return func(session, token string) bool {
		err := c.CheckCSRF(context.Background(), session, token)
		return err == nil || errors.Is(err, ErrUnauthenticated)
	}
}
