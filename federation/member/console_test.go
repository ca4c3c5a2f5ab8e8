package member

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sanzi/sanzi/web"
)

// The district serves the browser console at / (issue 14) under the
// console's policy, naming its tier for the sign-in page; /v1/ stays the API.
func TestConsoleServed(t *testing.T) {
	m, _ := startOne(t)
	resp, err := http.Get("http://" + m.HTTPAddr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != web.ContentSecurityPolicy || !strings.Contains(string(body), `data-tier="district"`) {
		t.Fatalf("GET /: %d, policy %q:\n%s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	resp, err = http.Get("http://" + m.HTTPAddr() + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v1/me without a session: %d, want 401 (the API, not the console)", resp.StatusCode)
	}
}
