package authz

import (
	"context"
	"net/http"
	"net/textproto"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/rest"
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
