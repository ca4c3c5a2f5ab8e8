package member

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/node/authz"
)

// browser is an HTTP client with a cookie jar, as a browser's tab is.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, m *Member) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: "http://" + m.HTTPAddr(), c: &http.Client{Jar: jar}}
}

// do sends a JSON request with csrf (when set) in X-CSRF-Token.
func (b *browser) do(method, path, body, csrf string) (int, map[string]any, *http.Response) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set(authz.CSRFHeader, csrf)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp
}

// TestSessionCookieAtMember: a REST sign-in of kind "session" at the
// member answers with the HttpOnly SameSite=Strict cookie and no secret in
// the body (authz.SessionCookies, shared with node/server); the cookie
// then signs the browser in; a state-changing call needs the session's
// CSRF token; a stale cookie does not stop a new sign-in; a sign-out
// clears the cookie.
func TestSessionCookieAtMember(t *testing.T) {
	m, _ := startOne(t)
	b := newBrowser(t, m)
	login := `{"account":"admin","password":"` + m.AdminPassword() + `","newPassword":"a-new-admin-password-1","kind":"session"}`
	code, out, resp := b.do("POST", "/v1/login", login, "")
	if code != http.StatusOK {
		t.Fatalf("session sign-in: %d %v", code, out)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == authz.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value == "" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure {
		t.Fatalf("session cookie %+v, want HttpOnly SameSite=Strict Path=/ (not Secure on plain loopback)", cookie)
	}
	if out["secret"] != "" || out["csrf"] == "" {
		t.Fatalf("sign-in answer: secret %q csrf %q, want the secret blanked and the CSRF token given", out["secret"], out["csrf"])
	}
	csrf := out["csrf"].(string)
	if code, out, _ := b.do("GET", "/v1/me", "", ""); code != http.StatusOK || !strings.Contains(jsonString(out), `"admin"`) {
		t.Fatalf("GET /v1/me with the cookie: %d %v", code, out)
	}
	// A state-changing call: refused without the token and with a wrong
	// one, admitted with the session's.
	body := `{"account":{"account":"ana.lyst","name":"分析员","org":"350505000000","roles":["district_analyst"]},"password":"first-password-of-analyst"}`
	for _, tok := range []string{"", "not-the-token"} {
		if code, out, _ := b.do("POST", "/v1/accounts", body, tok); code != http.StatusForbidden || !strings.Contains(jsonString(out), authz.CSRFHeader) {
			t.Fatalf("POST /v1/accounts with CSRF token %q: %d %v, want 403 naming %s", tok, code, out, authz.CSRFHeader)
		}
	}
	if code, out, _ := b.do("POST", "/v1/accounts", body, csrf); code != http.StatusOK {
		t.Fatalf("POST /v1/accounts with the CSRF token: %d %v", code, out)
	}
	// Sign-out clears the cookie; the old cookie, sent again, is a dead
	// session: a new sign-in goes through without a CSRF token (as at a
	// node), while a call needing a sign-in is 401.
	if code, out, resp := b.do("POST", "/v1/logout", "{}", csrf); code != http.StatusOK || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d %v cookies %v", code, out, resp.Cookies())
	}
	stale := newBrowser(t, m)
	stale.c.Jar.SetCookies(resp.Request.URL, []*http.Cookie{{Name: authz.SessionCookie, Value: cookie.Value, Path: "/"}})
	if code, out, _ := stale.do("GET", "/v1/me", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/me with a signed-out cookie: %d %v", code, out)
	}
	login = `{"account":"admin","password":"a-new-admin-password-1","kind":"session"}`
	if code, out, _ := stale.do("POST", "/v1/login", login, ""); code != http.StatusOK || out["csrf"] == "" {
		t.Fatalf("sign-in holding a stale cookie: %d %v", code, out)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
