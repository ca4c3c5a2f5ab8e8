package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/node/authz"
)

// The auditor's trail and the administrator's accounts (issue 14, items 7
// and 8), through the real binary and Debian's Chromium.

// auTrailOpen types an entry id into the trail page and opens it.
func auTrailOpen(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	csRun(t, ctx, "wait for the trail form", chromedp.WaitVisible(chromedp.CSS(`[data-testid="trail-id"]`)))
	csGet(t, ctx, "clear the id", chromedp.Evaluate[string](`document.querySelector('[data-testid="trail-id"]').value = ''`))
	csRun(t, ctx, "open the trail of "+id,
		chromedp.SendKeys(chromedp.CSS(`[data-testid="trail-id"]`), id),
		chromedp.Click(chromedp.CSS(`[data-testid="trail-open"]`)))
}

func TestConsoleAuditTrail(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	n := startNode(t, t.TempDir())

	// The accountant records an expense a warning rule flags (an alert
	// about it in the same append), then reverses it.
	warn := set(set(set(set(tx(1), "transaction.amountFen", 200000), "transaction.counterparty.name", "林某某"),
		"transaction.counterparty.idNumber", "11010519491231002X"), "transaction.counterparty.bankAccount", "6228480012345678")
	var rec struct {
		Entry struct{ ID string }
		Hits  []struct{ Code string }
	}
	if code, raw := n.post("/v1/transactions", warn, &rec); code != http.StatusOK || rec.Entry.ID == "" || len(rec.Hits) == 0 {
		t.Fatalf("record the expense: %d %s", code, raw)
	}
	id := rec.Entry.ID
	var rev struct{ Entry struct{ ID string } }
	if code, raw := n.post("/v1/reversals", map[string]any{"reversal": map[string]any{"org": org, "targetId": id, "reason": "凭证重复"}}, &rev); code != http.StatusOK {
		t.Fatalf("reverse it: %d %s", code, raw)
	}

	const auditor, newPW = "cs.shenji", "cs-shenji-second-2"
	csAccount(t, n, auditor, "审计 王", []string{string(authz.RoleAuditor)}, nil)
	csRun(t, ctx, "open the console", chromedp.Navigate("http://"+n.http+"/#/trail"))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, auditor, personPW, newPW)
	if menu := csText(t, ctx, "nav.menu"); !strings.Contains(menu, "分录溯源") || strings.Contains(menu, "账号管理") {
		t.Fatalf("the auditor's menu %q: want the trail, not the accounts", menu)
	}
	csRun(t, ctx, "open the trail page", chromedp.Navigate("http://"+n.http+"/#/trail"))
	auTrailOpen(t, ctx, id)
	verdict := csText(t, ctx, `[data-testid="trail-verdict"]`)
	ok := csGet(t, ctx, "read the verdict", chromedp.AttributeValue(chromedp.CSS(`[data-testid="trail-verdict"]`), "data-ok"))
	if ok.Value != "true" || !strings.Contains(verdict, "签名经来源机构密钥") {
		t.Fatalf("the trail's verdict %q (ok=%q): want the signature checked", verdict, ok.Value)
	}
	for _, sel := range []string{"trail-hash-ok", "trail-chain-ok", "trail-signature-ok"} {
		if s := csText(t, ctx, `[data-testid="`+sel+`"]`); s != "是" {
			t.Fatalf("%s: %q, want 是", sel, s)
		}
	}
	facts := csText(t, ctx, `[data-testid="trail-facts"]`)
	seq := id[strings.LastIndexByte(id, '-')+1:]
	if !strings.Contains(facts, id) || !strings.Contains(facts, org) || !strings.Contains(facts, seq) || !strings.Contains(facts, "TRANSACTION") {
		t.Fatalf("the entry's place %q: want %s, origin, seq %s, type", facts, id, seq)
	}
	// The entries referring to it: the alert (its subject) and the
	// reversal (its targetId).
	refs := csText(t, ctx, `[data-testid="trail-refs"]`)
	if !strings.Contains(refs, "ALERT") || !strings.Contains(refs, "subject") || !strings.Contains(refs, rev.Entry.ID) || !strings.Contains(refs, "targetId") {
		t.Fatalf("entries referring to %s: %q, want the alert and reversal %s", id, refs, rev.Entry.ID)
	}
	csShot(t, ctx, shots, "auditor-trail-zh")
	csAxe(t, ctx, "the auditor's trail (zh)")

	// The whole chain, verified with its progress and verdict.
	csRun(t, ctx, "verify the village's chain", chromedp.Click(chromedp.CSS(`[data-testid="verify-start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="verify-status"][data-ok]`)))
	vs := csText(t, ctx, `[data-testid="verify-status"]`)
	okv := csGet(t, ctx, "read the chain verdict", chromedp.AttributeValue(chromedp.CSS(`[data-testid="verify-status"]`), "data-ok"))
	bar := csGet(t, ctx, "read the progress", chromedp.Evaluate[[]float64](`(() => { const b = document.querySelector('[data-testid="verify-bar"]'); return [b.value, b.max]; })()`))
	if okv.Value != "true" || !strings.Contains(vs, "整条链校验通过") || bar[0] < 3 || bar[0] != bar[1] {
		t.Fatalf("chain verification: %q ok=%q bar %v: want it verified, every entry checked", vs, okv.Value, bar)
	}
	if want := "共 " + strconv.Itoa(int(bar[1])) + " 条"; !strings.Contains(vs, want) {
		t.Fatalf("chain verification %q: want %q", vs, want)
	}
	csShot(t, ctx, shots, "auditor-trail-verified-zh")

	csLang(t, ctx, "en")
	auTrailOpen(t, ctx, id)
	if v := csText(t, ctx, `[data-testid="trail-verdict"]`); !strings.Contains(v, "signature verifies") {
		t.Fatalf("English verdict %q", v)
	}
	csShot(t, ctx, shots, "auditor-trail-en")
	csAxe(t, ctx, "the auditor's trail (en)")

	// An unknown entry and a malformed id: a clear error, no verdict.
	auTrailOpen(t, ctx, org+"-99999")
	if e := csText(t, ctx, `[data-testid="trail-error"]`); !strings.Contains(e, "No entry "+org+"-99999 on this node") {
		t.Fatalf("unknown entry: %q", e)
	}
	auTrailOpen(t, ctx, "not-an-id")
	if e := csText(t, ctx, `[data-testid="trail-error"]`); !strings.Contains(e, "Not an entry id") {
		t.Fatalf("malformed id: %q", e)
	}
	// Another village's entry: refused for scope (the node says so).
	code := csGet(t, ctx, "read another village's trail", chromedp.Evaluate[int](`fetch('/v1/entries/350505100299-1/trail').then(r => r.status)`, chromedp.EvalAwaitPromise))
	if code != http.StatusForbidden {
		t.Fatalf("trail of another village's entry: %d, want 403", code)
	}
	t.Logf("screenshots in %s", shots)
}

func TestConsoleAdminAccounts(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	n := startNode(t, t.TempDir())
	base := "http://" + n.http + "/"
	peopleAt(n.http).token(t, "admin", false) // the administrator's first password replaced

	csRun(t, ctx, "open the console", chromedp.Navigate(base+"#/accounts"))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, "admin", adminNewPW, "")
	csRun(t, ctx, "open the accounts page", chromedp.Navigate(base+"#/accounts"),
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="acct-status"][contains(., "个账号")]`)))

	// Create an account with a role and a post: its one-time password
	// is shown once.
	const acct, name, newPW = "cs.xinren", "新会计 <i>赵</i>", "cs-xinren-second-2"
	csRun(t, ctx, "fill the new account",
		chromedp.SendKeys(chromedp.ID("#acct-account"), acct),
		chromedp.SendKeys(chromedp.ID("#acct-name"), name),
		chromedp.Click(chromedp.CSS(`[data-testid="acct-role-accountant"]`)),
		chromedp.SendKeys(chromedp.ID("#acct-posts"), "village.accountant"),
		chromedp.Click(chromedp.CSS(`[data-testid="acct-create"]`)))
	otp := csText(t, ctx, `[data-testid="acct-otp"]`)
	if len(otp) < 8 {
		t.Fatalf("one-time password %q", otp)
	}
	csRun(t, ctx, "the list shows the account", chromedp.WaitVisible(chromedp.CSS(`tr[data-account="`+acct+`"]`)))
	if row := csText(t, ctx, `tr[data-account="`+acct+`"]`); !strings.Contains(row, name) || !strings.Contains(row, "会计/报账员") || !strings.Contains(row, "village.accountant") {
		t.Fatalf("the new account's row %q", row)
	}
	csShot(t, ctx, shots, "admin-accounts-zh")
	csAxe(t, ctx, "the accounts page (zh)")
	// Shown once: after leaving the page and coming back it is gone.
	csRun(t, ctx, "leave and come back", chromedp.Navigate(base+"#/"), chromedp.Navigate(base+"#/accounts"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-account="`+acct+`"]`)))
	if body := csBody(ctx); strings.Contains(body, otp) {
		t.Fatal("the one-time password is shown again")
	}

	// The new person signs in with it and must change it.
	p := peopleAt(n.http)
	if code, raw := p.post("/v1/login", "", map[string]any{"account": acct, "password": otp}, nil); code != http.StatusBadRequest || !strings.Contains(string(raw), "newPassword") {
		t.Fatalf("sign-in with the one-time password kept: %d %s, want 400 naming newPassword", code, raw)
	}
	ctx2 := csBrowser(t)
	csRun(t, ctx2, "the new person opens the console", chromedp.Navigate(base))
	csSignIn(t, ctx2, acct, otp, newPW)
	if who := csText(t, ctx2, `[data-testid="who"]`); !strings.Contains(who, name) {
		t.Fatalf("the new person's header %q", who)
	}
	if st := csGet(t, ctx2, "the new person reads /v1/me", chromedp.Evaluate[int](`fetch('/v1/me').then(r => r.status)`, chromedp.EvalAwaitPromise)); st != http.StatusOK {
		t.Fatalf("GET /v1/me of the new person: %d", st)
	}

	// The administrator sees the session and disables the account.
	csRun(t, ctx, "manage the account",
		chromedp.Click(chromedp.CSS(`tr[data-account="`+acct+`"] [data-testid="acct-manage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="acct-tokens"] tr[data-token]`)))
	csLang(t, ctx, "en")
	csRun(t, ctx, "manage the account (en)",
		chromedp.Click(chromedp.CSS(`tr[data-account="`+acct+`"] [data-testid="acct-manage"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="acct-tokens"] tr[data-token]`)))
	csShot(t, ctx, shots, "admin-accounts-en")
	csAxe(t, ctx, "the accounts page (en)")
	csRun(t, ctx, "disable the account",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="acct-disable-reason"]`), "调离岗位"),
		chromedp.Click(chromedp.CSS(`[data-testid="acct-disable"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[@data-status="disabled"]/ancestor::tr[@data-account="`+acct+`"]`)))
	if s := csText(t, ctx, `[data-testid="acct-detail-status"]`); !strings.Contains(s, "Disabled") || !strings.Contains(s, "调离岗位") {
		t.Fatalf("the account's status %q", s)
	}
	// Its session stops working: the next call answers 401 and the page
	// goes back to sign-in.
	if st := csGet(t, ctx2, "the disabled person reads /v1/me", chromedp.Evaluate[int](`fetch('/v1/me').then(r => r.status)`, chromedp.EvalAwaitPromise)); st != http.StatusUnauthorized {
		t.Fatalf("GET /v1/me after disabling: %d, want 401", st)
	}
	csRun(t, ctx2, "reload: back to sign-in", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("#account")))
	if code, _ := p.post("/v1/login", "", map[string]any{"account": acct, "password": newPW}, nil); code != http.StatusUnauthorized && code != http.StatusForbidden {
		t.Fatalf("sign-in of the disabled account: %d, want refused", code)
	}
	t.Logf("screenshots in %s", shots)
}
