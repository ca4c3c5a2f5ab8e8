package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/node/accounts"
	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// call sends one REST request with client (nil: no credential at all) and
// extra headers, and returns the status, headers and body.
func (n *testNode) call(t testing.TB, client *http.Client, method, path, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw)
}

// grpcClient dials the node's gRPC API, with token as a bearer token when
// one is given.
func grpcClient(t testing.TB, n *testNode, token string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerCreds(token)))
	}
	conn, err := grpc.NewClient(n.GRPCAddr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSignInRequired: without a credential every API answers 401 (REST,
// the hand-written routes, gRPC); a bearer token opens them; an unknown
// token is refused like none.
func TestSignInRequired(t *testing.T) {
	n := startTestNode(t, nil)
	for _, path := range []string{"/v1/transactions?org=" + testOrg, "/v1/alerts/stream", "/v1/sync/status", "/v1/me"} {
		if code, _, body := n.call(t, nil, "GET", path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a credential: %d, want 401: %.200s", path, code, body)
		}
		if code, _, _ := n.call(t, clientWith("forged"), "GET", path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s with an unknown token: %d, want 401", path, code)
		}
	}
	if code, _, body := n.call(t, nil, "POST", "/v1/transactions", validTx(1), nil); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/transactions without a credential: %d, want 401: %.200s", code, body)
	}
	if code, _, body := n.call(t, n.client, "GET", "/v1/transactions?org="+testOrg, "", nil); code != http.StatusOK {
		t.Errorf("GET /v1/transactions with a bearer token: %d: %.200s", code, body)
	}
	var me sanziv1.WhoAmIResponse
	code, _, body := n.call(t, n.client, "GET", "/v1/me", "", nil)
	if code != http.StatusOK || protojson.Unmarshal([]byte(body), &me) != nil {
		t.Fatalf("GET /v1/me: %d %s", code, body)
	}
	if me.Account.GetAccount() != testAccount || me.Tier != "village" || me.NodeOrg != testOrg || len(me.Permissions) == 0 {
		t.Errorf("WhoAmI: %+v", &me)
	}

	ctx := context.Background()
	_, err := sanziv1.NewTransactionServiceClient(grpcClient(t, n, "")).ListTransactions(ctx, &sanziv1.ListTransactionsRequest{Org: testOrg})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC ListTransactions without a credential: %v, want Unauthenticated", err)
	}
	if _, err := sanziv1.NewTransactionServiceClient(grpcClient(t, n, n.token)).ListTransactions(ctx, &sanziv1.ListTransactionsRequest{Org: testOrg}); err != nil {
		t.Errorf("gRPC ListTransactions with a bearer token: %v", err)
	}
	// Out of scope: another village's books.
	if _, err := sanziv1.NewTransactionServiceClient(grpcClient(t, n, n.token)).ListTransactions(ctx, &sanziv1.ListTransactionsRequest{Org: "350505100202"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("gRPC ListTransactions of another village: %v, want PermissionDenied", err)
	}
}

// TestAuthorIsTheSignedInAccount: a request naming someone else as author is
// refused (403); one naming nobody is recorded by the signed-in account.
func TestAuthorIsTheSignedInAccount(t *testing.T) {
	n := startTestNode(t, nil)
	before := n.head()
	other := strings.Replace(validTx(1), `"author":"tester"`, `"author":"zhang.san"`, 1)
	if code, _, body := n.call(t, n.client, "POST", "/v1/transactions", other, nil); code != http.StatusForbidden {
		t.Errorf("author zhang.san signed in as %s: %d, want 403: %.200s", testAccount, code, body)
	}
	if n.head() != before {
		t.Errorf("a refused request moved the head")
	}
	none := strings.Replace(validTx(2), `"author":"tester",`, ``, 1)
	if code, _, body := n.call(t, n.client, "POST", "/v1/transactions", none, nil); code != http.StatusOK {
		t.Fatalf("no author named: %d: %.200s", code, body)
	}
	var author string
	n.ledger.Range(testOrg, before.Seq+1, 1, func(s *ledger.Stored) bool { author = s.Author; return false })
	if author != testAccount {
		t.Errorf("the entry's author %q, want the signed-in %q", author, testAccount)
	}
}

// TestSessionCookieAndCSRF: a browser's sign-in over REST gets an HttpOnly,
// SameSite=Strict cookie and a CSRF token (never the secret in the body); a
// POST with the cookie and without its CSRF token is 403, with it passes;
// signing out clears the cookie and ends the session.
func TestSessionCookieAndCSRF(t *testing.T) {
	n := startTestNode(t, nil)
	code, hdr, body := n.call(t, nil, "POST", "/v1/login", fmt.Sprintf(`{"account":%q,"password":%q,"kind":"session"}`, testAccount, testPassword(testAccount)), nil)
	if code != http.StatusOK {
		t.Fatalf("session sign-in: %d %s", code, body)
	}
	var in struct{ Secret, Csrf, ID string }
	json.Unmarshal([]byte(body), &in)
	if in.Secret != "" || in.Csrf == "" {
		t.Errorf("session sign-in answered secret %q, csrf %q: want no secret, a CSRF token", in.Secret, in.Csrf)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == authz.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value == "" || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure on plain loopback", cookie)
	}
	withCookie := func(csrf string) map[string]string {
		h := map[string]string{"Cookie": authz.SessionCookie + "=" + cookie.Value}
		if csrf != "" {
			h[authz.CSRFHeader] = csrf
		}
		return h
	}
	if code, _, body := n.call(t, nil, "GET", "/v1/me", "", withCookie("")); code != http.StatusOK || !strings.Contains(body, testAccount) {
		t.Errorf("GET /v1/me with the cookie: %d %.200s", code, body)
	}
	before := n.head()
	if code, _, body := n.call(t, nil, "POST", "/v1/transactions", validTx(1), withCookie("")); code != http.StatusForbidden {
		t.Errorf("POST with the cookie, no CSRF token: %d, want 403: %.200s", code, body)
	}
	if code, _, _ := n.call(t, nil, "POST", "/v1/transactions", validTx(1), withCookie("wrong")); code != http.StatusForbidden {
		t.Errorf("POST with the cookie, a wrong CSRF token: %d, want 403", code)
	}
	if n.head() != before {
		t.Errorf("a refused POST moved the head")
	}
	if code, _, body := n.call(t, nil, "POST", "/v1/transactions", validTx(1), withCookie(in.Csrf)); code != http.StatusOK {
		t.Errorf("POST with the cookie and its CSRF token: %d: %.200s", code, body)
	}
	code, hdr, body = n.call(t, nil, "POST", "/v1/logout", "{}", withCookie(in.Csrf))
	if code != http.StatusOK {
		t.Fatalf("sign out: %d %s", code, body)
	}
	cleared := false
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		cleared = cleared || (c.Name == authz.SessionCookie && c.Value == "" && c.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("sign out did not clear the cookie: %v", hdr.Values("Set-Cookie"))
	}
	if code, _, _ := n.call(t, nil, "GET", "/v1/me", "", withCookie("")); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/me with the ended session: %d, want 401", code)
	}
	// A stale cookie does not stop a browser signing in again.
	if code, _, body := n.call(t, nil, "POST", "/v1/login", fmt.Sprintf(`{"account":%q,"password":%q,"kind":"session"}`, testAccount, testPassword(testAccount)), withCookie("")); code != http.StatusOK {
		t.Errorf("sign in again with a stale cookie: %d %.200s", code, body)
	}
}

// TestSignInThrottled: the 6th wrong password for one account within a
// minute is 429 with Retry-After, and refused unchecked even with the
// right password.
func TestSignInThrottled(t *testing.T) {
	n := startTestNode(t, nil)
	wrong := fmt.Sprintf(`{"account":%q,"password":"not-the-password"}`, testAccount)
	for i := 1; i <= 5; i++ {
		if code, _, body := n.call(t, nil, "POST", "/v1/login", wrong, nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong password #%d: %d, want 401: %s", i, code, body)
		}
	}
	code, hdr, body := n.call(t, nil, "POST", "/v1/login", wrong, nil)
	if code != http.StatusTooManyRequests {
		t.Fatalf("wrong password #6: %d, want 429: %s", code, body)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s <= 0 {
		t.Errorf("Retry-After %q, want whole seconds", hdr.Get("Retry-After"))
	}
	right := fmt.Sprintf(`{"account":%q,"password":%q}`, testAccount, testPassword(testAccount))
	if code, _, _ := n.call(t, nil, "POST", "/v1/login", right, nil); code != http.StatusTooManyRequests {
		t.Errorf("right password while throttled: %d, want 429", code)
	}
	// gRPC says the same: ResourceExhausted.
	_, err := sanziv1.NewAccountServiceClient(grpcClient(t, n, "")).Login(context.Background(), &sanziv1.LoginRequest{Account: testAccount, Password: "not-the-password"})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("gRPC sign-in while throttled: %v, want ResourceExhausted", err)
	}
}

// TestRevokedTokenRefused: a token revoked by id (RevokeToken) or ended by
// signing out (Logout) is refused on its very next call.
func TestRevokedTokenRefused(t *testing.T) {
	n := startTestNode(t, nil)
	login := func() (string, string) {
		code, _, body := n.call(t, nil, "POST", "/v1/login", fmt.Sprintf(`{"account":%q,"password":%q,"label":"t"}`, testAccount, testPassword(testAccount)), nil)
		var in struct{ Secret, ID string }
		if code != http.StatusOK || json.Unmarshal([]byte(body), &in) != nil || in.Secret == "" {
			t.Fatalf("sign in: %d %s", code, body)
		}
		return in.Secret, in.ID
	}
	tok, id := login()
	if code, _, _ := n.call(t, clientWith(tok), "GET", "/v1/me", "", nil); code != http.StatusOK {
		t.Fatalf("a fresh token: %d", code)
	}
	if code, _, body := n.call(t, n.client, "DELETE", "/v1/tokens/"+id, "", nil); code != http.StatusOK {
		t.Fatalf("revoke token %s: %d %s", id, code, body)
	}
	if code, _, _ := n.call(t, clientWith(tok), "GET", "/v1/me", "", nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked token over REST: %d, want 401", code)
	}
	tok, _ = login()
	accts := sanziv1.NewAccountServiceClient(grpcClient(t, n, tok))
	if _, err := accts.Logout(context.Background(), &sanziv1.LogoutRequest{}); err != nil {
		t.Fatalf("gRPC sign out: %v", err)
	}
	if _, err := accts.WhoAmI(context.Background(), &sanziv1.WhoAmIRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a signed-out token over gRPC: %v, want Unauthenticated", err)
	}
	if code, _, _ := n.call(t, n.client, "GET", "/v1/me", "", nil); code != http.StatusOK {
		t.Errorf("another token of the same account: %d, want 200", code)
	}
}

// TestTownMasksPersonalData: a town's answers show resident ID numbers and
// bank accounts whole to the accountant and auditor of that org, masked to
// a town reviewer (issue 12, item 10).
func TestTownMasksPersonalData(t *testing.T) {
	const town = "350505100000"
	n := startTestNode(t, func(c *Config) { c.Orgs = []string{town} })
	tx := strings.NewReplacer(testOrg, town, `"author":"tester",`, "").Replace(validTx(1))
	if code, _, body := n.call(t, n.client, "POST", "/v1/transactions", tx, nil); code != http.StatusOK {
		t.Fatalf("record at the town: %d %s", code, body)
	}
	const id = "91350100M000100Y43"
	for _, tc := range []struct {
		account string
		role    authz.Role
		whole   bool
	}{
		{"reviewer", authz.RoleTownReviewer, false},
		{"accountant", authz.RoleAccountant, true},
		{"auditor", authz.RoleAuditor, true},
	} {
		tok := signIn(t, n.Node, tc.account, town, tc.role)
		code, _, body := n.call(t, clientWith(tok), "GET", "/v1/transactions?org="+town, "", nil)
		if code != http.StatusOK {
			t.Fatalf("%s lists: %d %s", tc.account, code, body)
		}
		if got := strings.Contains(body, id); got != tc.whole {
			t.Errorf("%s sees the ID number whole: %v, want %v: %.300s", tc.role, got, tc.whole, body)
		}
		if !tc.whole && !strings.Contains(body, "9135**********0Y43") {
			t.Errorf("%s: the ID number is not masked as 9135**********0Y43: %.300s", tc.role, body)
		}
		resp, err := sanziv1.NewTransactionServiceClient(grpcClient(t, n, tok)).ListTransactions(context.Background(), &sanziv1.ListTransactionsRequest{Org: town})
		if err != nil || len(resp.GetTransactions()) != 1 {
			t.Fatalf("%s lists over gRPC: %v", tc.account, err)
		}
		if got := resp.GetTransactions()[0].GetTransaction().GetCounterparty().GetIdNumber() == id; got != tc.whole {
			t.Errorf("%s over gRPC sees the ID number whole: %v, want %v", tc.role, got, tc.whole)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "village node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TestPeopleTLS: a node listening beyond loopback without a certificate
// refuses to start, saying how to get one; given one it serves REST over
// HTTPS (the session cookie Secure) and gRPC over TLS, its gateway
// reaching its own gRPC API through TLS.
func TestPeopleTLS(t *testing.T) {
	for _, addr := range []struct{ http, grpc string }{{"0.0.0.0:0", "127.0.0.1:0"}, {"127.0.0.1:0", ":0"}} {
		_, err := Open(context.Background(), Config{DataDir: t.TempDir(), Orgs: []string{testOrg}, HTTPAddr: addr.http, GRPCAddr: addr.grpc, NoSync: true, Stdout: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "sanzi ca issue") || !strings.Contains(err.Error(), "--tls-cert") {
			t.Errorf("open with HTTP %s, gRPC %s and no certificate: %v, want a refusal saying how to get one", addr.http, addr.grpc, err)
		}
	}
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	n := startTestNode(t, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(n.base, "https://") {
		t.Fatalf("base %s, want https", n.base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: bearer{token: n.token, next: tr}}
	if code, _, body := n.call(t, client, "POST", "/v1/transactions", validTx(1), nil); code != http.StatusOK {
		t.Fatalf("POST over HTTPS with a token: %d %s", code, body)
	}
	code, hdr, body := n.call(t, &http.Client{Transport: tr}, "POST", "/v1/login", fmt.Sprintf(`{"account":%q,"password":%q,"kind":"session"}`, testAccount, testPassword(testAccount)), nil)
	if code != http.StatusOK || !strings.Contains(strings.Join(hdr.Values("Set-Cookie"), ";"), "Secure") {
		t.Errorf("session sign-in over HTTPS: %d, Set-Cookie %v, want Secure: %.200s", code, hdr.Values("Set-Cookie"), body)
	}
	if resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/me"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200 on a TLS node")
		}
	}
	conn, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})), grpc.WithPerRPCCredentials(bearerCreds(n.token)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	me, err := sanziv1.NewAccountServiceClient(conn).WhoAmI(context.Background(), &sanziv1.WhoAmIRequest{})
	if err != nil || me.GetAccount().GetAccount() != testAccount {
		t.Errorf("gRPC over TLS: %v %v", me, err)
	}
	plain := grpcClient(t, n, n.token)
	if _, err := sanziv1.NewAccountServiceClient(plain).WhoAmI(context.Background(), &sanziv1.WhoAmIRequest{}); err == nil {
		t.Errorf("plain gRPC reached a TLS node")
	}
}

// TestFirstAdministrator: a node's first start prints the administrator's
// one-time password once, in the AdminLine format, and a second start
// prints nothing; with --admin-password-file the password is the file's.
func TestFirstAdministrator(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	cfg := Config{DataDir: dir, Orgs: []string{testOrg}, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NoSync: true,
		Logger: slog.New(slog.DiscardHandler), AccountArgon: testArgon, Stdout: &out}
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pw string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, err := fmt.Sscanf(line, "first administrator: admin / %s", &pw); err == nil {
			break
		}
	}
	if pw == "" || strings.Count(out.String(), pw) != 1 {
		t.Fatalf("no one-time password printed once in %q", out.String())
	}
	_, err = n.Accounts().Login(context.Background(), accounts.LoginRequest{Account: accounts.AdminID, Password: pw})
	if !errors.Is(err, accounts.ErrPasswordChangeRequired) {
		t.Errorf("first sign-in with the printed password: %v, want a password change required", err)
	}
	n.Close()
	out.Reset()
	n, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if out.Len() != 0 {
		t.Errorf("second start printed %q", out.String())
	}

	file := filepath.Join(t.TempDir(), "admin.pw")
	if err := os.WriteFile(file, []byte("from-the-file-1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir, cfg.AdminPasswordFile = t.TempDir(), file
	n, err = Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if out.Len() != 0 {
		t.Errorf("a password from a file printed %q", out.String())
	}
	_, err = n.Accounts().Login(context.Background(), accounts.LoginRequest{Account: accounts.AdminID, Password: "from-the-file-1234", NewPassword: "a-new-password-99"})
	if err != nil {
		t.Errorf("sign in with the file's password: %v", err)
	}
}
