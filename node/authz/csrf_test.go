package authz

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequireCSRF(t *testing.T) {
	check := func(session, token string) bool { return session == "s1" && token == "csrf-s1" }
	var reached *http.Request
	h := RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = r }), check)
	for _, c := range []struct {
		name, method, cookie, token, auth string
		want                              int
	}{
		{"browser POST without token", "POST", "s1", "", "", http.StatusForbidden},
		{"browser POST with another session's token", "POST", "s1", "csrf-s2", "", http.StatusForbidden},
		{"browser DELETE without token", "DELETE", "s1", "", "", http.StatusForbidden},
		{"browser PUT without token", "PUT", "s1", "", "", http.StatusForbidden},
		{"browser PATCH without token", "PATCH", "s1", "", "", http.StatusForbidden},
		{"browser POST with its token", "POST", "s1", "csrf-s1", "", http.StatusOK},
		{"browser GET needs none", "GET", "s1", "", "", http.StatusOK},
		{"script POST with a bearer token", "POST", "s1", "", "Bearer t", http.StatusOK},
		{"POST without a session (401 later)", "POST", "", "", "", http.StatusOK},
		{"basic auth is no bearer", "POST", "s1", "", "Basic eDp5", http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			reached = nil
			r := httptest.NewRequest(c.method, "/v1/transactions", nil)
			if c.cookie != "" {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
			}
			if c.token != "" {
				r.Header.Set(CSRFHeader, c.token)
			}
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want || (reached != nil) != (c.want == http.StatusOK) {
				t.Fatalf("status %d (handler reached: %v), want %d", w.Code, reached != nil, c.want)
			}
			if c.want == http.StatusForbidden {
				var body struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != 7 || body.Message == "" {
					t.Errorf("body %s (%v), want a JSON PermissionDenied", w.Body, err)
				}
			}
		})
	}
}

func TestSessionOnlyFromCookie(t *testing.T) {
	h := RequireCSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("Grpc-Metadata-Sanzi-Session"); v != "" {
			t.Errorf("client's session header passed on: %q", v)
		}
		if md := SessionFromCookie(r.Context(), r); len(md.Get(SessionMetadata)) != 0 {
			t.Errorf("session metadata without a cookie: %v", md)
		}
	}), func(string, string) bool { return false })
	r := httptest.NewRequest("GET", "/v1/transactions", nil)
	r.Header.Set("Grpc-Metadata-Sanzi-Session", "guessed")
	h.ServeHTTP(httptest.NewRecorder(), r)

	r = httptest.NewRequest("GET", "/v1/transactions", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "s1"})
	if got := SessionFromCookie(r.Context(), r).Get(SessionMetadata); len(got) != 1 || got[0] != "s1" {
		t.Errorf("SessionFromCookie = %v", got)
	}
	r.Header.Set("Authorization", "Bearer t")
	if got := SessionFromCookie(r.Context(), r); got != nil {
		t.Errorf("session sent along with a bearer token: %v", got)
	}
}
