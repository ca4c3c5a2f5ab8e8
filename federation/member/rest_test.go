package member

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/cluster"
	"github.com/sanzi/sanzi/node/ledger"
	"github.com/sanzi/sanzi/node/pki"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// startOne starts a one-member cluster with its HTTP listener on loopback.
func startOne(t *testing.T) (*Member, *pki.CA) {
	t.Helper()
	ca, err := pki.NewCA("350505", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue("350505000000", pki.RoleDistrict, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := Start(context.Background(), Config{APIListen: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Pool: ca.Pool(), Cert: iss.TLSCertificate(),
		Cluster: cluster.Config{ID: "d1", RaftAddr: freeAddr(t), DataDir: filepath.Join(t.TempDir(), "d1"), Bootstrap: true,
			HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	eventually(t, 10*time.Second, "d1 to lead", m.Node().IsLeader)
	return m, ca
}

// TestNoPushOverREST: the gateway called the member's own gRPC API with
// the member's district certificate, so anyone reaching the HTTP port
// pushed entries through Raft (issue 12). PushEntries is not on REST, and
// the member's OpenAPI document describes only the routes it serves.
func TestNoPushOverREST(t *testing.T) {
	m, ca := startOne(t)
	const village = "350505100201"
	key := newKey(t)
	vcert, err := ca.Issue(village, pki.RoleVillage, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Node().RegisterOrigin(village, key.Public().(ed25519.PublicKey), vcert.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	s, err := ledger.Seal(key, ledger.Head{}, ledger.Record{Origin: village, Author: "test", Type: sanziv1.EntryType_ENTRY_TYPE_TRANSACTION, Payload: []byte("x")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"entries": []string{base64.StdEncoding.EncodeToString(s.Raw)}})
	resp, err := http.Post("http://"+m.HTTPAddr()+"/v1/district/entries", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/district/entries: %d %s, want 404 or 405", resp.StatusCode, got)
	}
	if h := m.Node().FSM().Head(village); h.Seq != 0 {
		t.Errorf("the village's chain at the district has %d entries after a REST push, want 0", h.Seq)
	}

	// The OpenAPI document lists what the member serves, no write.
	resp, err = http.Get("http://" + m.HTTPAddr() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
	}
	if _, ok := doc.Paths["/v1/district/heads"]; !ok {
		t.Errorf("the member's OpenAPI lacks /v1/district/heads: %v", doc.Paths)
	}
	// The public site's JSON routes (issue 15), served with no sign-in.
	if _, ok := doc.Paths["/public/v1/key"]; !ok {
		t.Errorf("the member's OpenAPI lacks /public/v1/key: %v", doc.Paths)
	} else if resp, err := http.Get("http://" + m.HTTPAddr() + "/public/v1/key"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /public/v1/key: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, ok := doc.Paths["/v1/login"]; !ok {
		t.Errorf("the member's OpenAPI lacks /v1/login: %v", doc.Paths)
	}
	// The district's routes only read; the account routes (sign-in and
	// account management), the rule sets' (drafted and published by two
	// officers, from the console) and the officers' catalogs and
	// directives are the only writes.
	accountRoute := func(p string) bool {
		if p == "/v1/district/catalogs" || p == "/v1/district/catalogs/{version}/publish" || p == "/v1/district/directives" {
			return true
		}
		for _, pre := range []string{"/v1/login", "/v1/logout", "/v1/password", "/v1/me", "/v1/accounts", "/v1/tokens", "/v1/signins", "/v1/rules"} {
			if p == pre || strings.HasPrefix(p, pre+"/") {
				return true
			}
		}
		return false
	}
	for p, ops := range doc.Paths {
		if !strings.HasPrefix(p, "/v1/district/") && !strings.HasPrefix(p, "/v1/stats/") && !strings.HasPrefix(p, "/public/v1/") && !accountRoute(p) {
			t.Errorf("the member's OpenAPI describes %s, which it does not serve", p)
		}
		for op := range ops {
			if op != "get" && op != "parameters" && !accountRoute(p) {
				t.Errorf("the member's OpenAPI describes %s %s: the district's REST routes only read", strings.ToUpper(op), p)
			}
		}
	}
}

// TestRESTCarriesTheCaller: the gateway called the member's gRPC API with
// the member's own district certificate, so it answered loopback callers
// with the district's rights (issue 12). It now calls with the caller's
// credential: without one, every REST route is 401 from any address, even
// loopback; probes and metrics stay open.
func TestRESTCarriesTheCaller(t *testing.T) {
	m, _ := startOne(t)
	for _, tc := range []struct {
		remote, path string
		want         int
	}{
		{"127.0.0.1:40000", "/v1/district/heads", http.StatusUnauthorized},
		{"[::1]:40000", "/v1/district/status", http.StatusUnauthorized},
		{"127.0.0.1:40000", "/v1/district/origins/350505100201/entries", http.StatusUnauthorized},
		{"192.0.2.7:40000", "/v1/district/heads", http.StatusUnauthorized},
		{"[2001:db8::7]:40000", "/v1/district/status", http.StatusUnauthorized},
		{"192.0.2.7:40000", "/healthz", http.StatusOK},
		{"192.0.2.7:40000", "/readyz", http.StatusOK},
		{"192.0.2.7:40000", "/metrics", http.StatusOK},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		m.http.Handler.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET %s from %s: %d %s, want %d", tc.path, tc.remote, rec.Code, rec.Body, tc.want)
			continue
		}
		if tc.want == http.StatusUnauthorized && !strings.Contains(rec.Body.String(), "sign in") {
			t.Errorf("GET %s from %s: the refusal %s does not say to sign in", tc.path, tc.remote, rec.Body)
		}
	}
}
