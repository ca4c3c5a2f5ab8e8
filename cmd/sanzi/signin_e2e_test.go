package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sanzi/sanzi/node/authz"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// Sign-in's defences against the real binary (issue 12, "Show in your
// closing note"): the throttle, the browser session's CSRF token, and a
// revoked token refused at its next call.

// mxTx is a transaction of the village the accountant may record (no
// author: the server writes the signed-in account).
func mxTx(i int) map[string]any {
	return map[string]any{"transaction": map[string]any{
		"org": mxVillageOrg, "kind": "TRANSACTION_KIND_EXPENSE", "amountFen": 1000 + i, "paymentMethod": "PAYMENT_METHOD_BANK_TRANSFER",
		"counterparty": map[string]any{"name": "福州某建材有限公司", "idNumber": "91350100M000100Y43", "bankAccount": "6222020200112233445"},
		"businessDate": time.Now().Format("2006-01-02"), "summary": fmt.Sprintf("材料费 %d", i), "voucherNumber": fmt.Sprintf("记-%d", i),
		"invoiceNumber": fmt.Sprintf("%08d", 90000+i),
	}}
}

// mxVillage starts a village node and signs its administrator in.
func mxVillage(t *testing.T) (*mxNode, string) {
	t.Helper()
	dir := t.TempDir()
	file, pw := mxAdminFile(t, dir)
	n := mxStart(t, "village", mxVillageOrg, filepath.Join(dir, "village"), file)
	return n, n.mxAdmin(t, pw)
}

func TestMxSignInThrottle(t *testing.T) {
	n, admin := mxVillage(t)
	n.mxAccount(t, admin, "mx-victim", mxVillageOrg, authz.RoleAccountant)
	wrong := map[string]string{"account": "mx-victim", "password": "not-the-password"}
	start := time.Now()
	for i := 1; i <= 5; i++ {
		if code, raw := n.mxPostJSON(t, "/v1/login", "", wrong, nil); code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s, want 401", i, code, raw)
		}
	}
	b, _ := json.Marshal(wrong)
	code, hdr, raw := n.mxREST(t, http.MethodPost, "/v1/login", "", "application/json", b, nil)
	within := time.Since(start)
	if code != http.StatusTooManyRequests {
		t.Fatalf("6th wrong password: %d %s, want 429", code, raw)
	}
	ra, err := strconv.Atoi(hdr.Get("Retry-After"))
	if err != nil || ra <= 0 || ra > 60 {
		t.Fatalf("6th wrong password: Retry-After %q, want 1..60 seconds (the first lock is a minute)", hdr.Get("Retry-After"))
	}
	// Locked: the right password is not even checked.
	right := map[string]string{"account": "mx-victim", "password": mxPassword("mx-victim")}
	if code, raw := n.mxPostJSON(t, "/v1/login", "", right, nil); code != http.StatusTooManyRequests {
		t.Fatalf("right password while locked: %d %s, want 429", code, raw)
	}
	t.Logf("throttle: wrong passwords 1-5 answered 401, the 6th 429 with Retry-After: %d (all six within %s); the right password while locked 429", ra, within.Round(time.Millisecond))
}

func TestMxSessionCSRF(t *testing.T) {
	n, admin := mxVillage(t)
	n.mxAccount(t, admin, "mx-browser", mxVillageOrg, authz.RoleAccountant)
	b, _ := json.Marshal(map[string]string{"account": "mx-browser", "password": mxPassword("mx-browser"), "kind": "session"})
	code, hdr, raw := n.mxREST(t, http.MethodPost, "/v1/login", "", "application/json", b, nil)
	if code != http.StatusOK {
		t.Fatalf("browser sign-in: %d %s", code, raw)
	}
	var in struct {
		Secret, Csrf string
	}
	if err := json.Unmarshal(raw, &in); err != nil || in.Csrf == "" || in.Secret != "" {
		t.Fatalf("browser sign-in answer: %s (%v): want a CSRF token and no secret in the body", raw, err)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: hdr}).Cookies() {
		if c.Name == authz.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want %s, HttpOnly, SameSite=Strict", cookie, authz.SessionCookie)
	}
	post := func(csrf string, i int) (int, []byte) {
		body, _ := json.Marshal(mxTx(i))
		h := http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}
		if csrf != "" {
			h.Set(authz.CSRFHeader, csrf)
		}
		code, _, raw := n.mxREST(t, http.MethodPost, "/v1/transactions", "", "application/json", body, h)
		return code, raw
	}
	noToken, raw := post("", 1)
	if noToken != http.StatusForbidden {
		t.Fatalf("browser POST with the cookie and no CSRF token: %d %s, want 403", noToken, raw)
	}
	wrongToken, raw := post("not-"+in.Csrf, 2)
	if wrongToken != http.StatusForbidden {
		t.Fatalf("browser POST with another CSRF token: %d %s, want 403", wrongToken, raw)
	}
	withToken, raw := post(in.Csrf, 3)
	if withToken != http.StatusOK {
		t.Fatalf("browser POST with its CSRF token: %d %s, want 200", withToken, raw)
	}
	// A read needs no CSRF token.
	code, _, raw = n.mxREST(t, http.MethodGet, "/v1/me", "", "", nil, http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}})
	if code != http.StatusOK {
		t.Fatalf("browser GET /v1/me: %d %s", code, raw)
	}
	t.Logf("CSRF: browser POST /v1/transactions with the session cookie: no token %d, a wrong token %d, its token %d; GET /v1/me %d", noToken, wrongToken, withToken, code)
}

func TestMxRevokedToken(t *testing.T) {
	n, admin := mxVillage(t)
	n.mxAccount(t, admin, "mx-revoked", mxVillageOrg, authz.RoleAccountant)
	// Two tokens of one account: one is revoked (by the other), the other
	// lives on.
	var doomed, other struct{ Secret, ID string }
	for _, tok := range []*struct{ Secret, ID string }{&doomed, &other} {
		if code, raw := n.mxPostJSON(t, "/v1/login", "", map[string]string{"account": "mx-revoked", "password": mxPassword("mx-revoked")}, tok); code != http.StatusOK || tok.ID == "" {
			t.Fatalf("sign in: %d %s", code, raw)
		}
	}
	me := func(tok string) int {
		code, _, _ := n.mxREST(t, http.MethodGet, "/v1/me", tok, "", nil, nil)
		return code
	}
	if c := me(doomed.Secret); c != http.StatusOK {
		t.Fatalf("GET /v1/me before revocation: %d", c)
	}
	code, _, raw := n.mxREST(t, http.MethodDelete, "/v1/tokens/"+doomed.ID, other.Secret, "", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("DELETE /v1/tokens/%s: %d %s", doomed.ID, code, raw)
	}
	restAfter := me(doomed.Secret)
	if restAfter != http.StatusUnauthorized {
		t.Fatalf("REST call with the revoked token: %d, want 401", restAfter)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+doomed.Secret)
	_, err := sanziv1.NewAccountServiceClient(n.conn).WhoAmI(ctx, &sanziv1.WhoAmIRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC call with the revoked token: %v, want Unauthenticated", err)
	}
	alive := me(other.Secret)
	if alive != http.StatusOK {
		t.Fatalf("the account's other token after the revocation: %d, want 200", alive)
	}
	t.Logf("revocation: next REST call with the revoked token %d, next gRPC call %s; the account's other token still %d", restAfter, status.Code(err), alive)
}
