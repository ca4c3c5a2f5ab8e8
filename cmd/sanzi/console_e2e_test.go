package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/node/authz"
)

// The browser console (issue 14) driven through Debian's Chromium against
// the real binary: an accountant signs in through the page (replacing a
// one-time password), records an expense a warning rule flags and one a
// blocking rule refuses, signs out; a reviewer of another town gets nothing
// of the village. Screenshots go to $SANZI_SCREENSHOTS (or the test's temp
// folder), and axe-core checks the accountant's page.

// csChromiumPath is Debian's Chromium (`make setup` installs it).
const csChromiumPath = "/usr/bin/chromium"

// csChromium is the browser to drive: a failure in CI (env CI set), a skip
// elsewhere, when it is not installed. No test downloads a browser.
func csChromium(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath(csChromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (%v): CI runs make setup, which installs it", csChromiumPath, err)
		}
		t.Skipf("%s not found: install it with `sudo apt-get install -y chromium` (or `make setup`)", csChromiumPath)
	}
	return csChromiumPath
}

// csBrowser starts a headless Chromium with a fresh profile, its window a
// 1366×768 laptop's, and returns a tab's context (cancelled at cleanup).
func csBrowser(t testing.TB) context.Context {
	t.Helper()
	bin := csChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser, which lives as long as ctx: no
	// time-out on it (each step has its own, in csRun).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}

// csRun runs browser actions, failing the test with what was being done.
// Each step has 60 seconds (a loaded 2-core machine is slow; a wait only
// costs time when the page is broken).
func csRun(t testing.TB, ctx context.Context, doing string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\npage text: %s", doing, err, csBody(ctx))
	}
}

// csGet runs one action that answers a value.
func csGet[T any](t testing.TB, ctx context.Context, doing string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v\npage text: %s", doing, err, csBody(ctx))
	}
	return v
}

// csBody is the page's text, for a failure's message.
func csBody(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return s
}

// csShots is the folder screenshots go to: $SANZI_SCREENSHOTS, else one
// under the test's temp folder (named in the log).
func csShots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SANZI_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// csShot writes the page as dir/name.png.
func csShot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := csGet(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// csLang switches the page to lang (zh or en) with its switch button.
func csLang(t *testing.T, ctx context.Context, lang string) {
	t.Helper()
	want := map[string]string{"zh": "zh-CN", "en": "en"}[lang]
	now := csGet(t, ctx, "read the page's language", chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if now.Value == want {
		return
	}
	csRun(t, ctx, "switch to "+lang,
		chromedp.Click(chromedp.CSS(`[data-testid="lang"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="`+want+`"]`)))
	// The switch draws the shell again with an empty page, then the page:
	// wait for it (main.js marks it drawn) before anything reads it.
	csWaitJS(t, ctx, "the page drawn in "+lang, `(() => { const m = document.getElementById('page'); return !m || m.dataset.route !== undefined; })()`)
}

// csWaitJS waits (up to a minute) until the expression is true in the page.
func csWaitJS(t testing.TB, ctx context.Context, what, expr string) {
	t.Helper()
	js := `new Promise((resolve) => { const t0 = Date.now(); (function poll() {
		let ok = false; try { ok = !!(` + expr + `); } catch (e) {}
		if (ok || Date.now() - t0 > 55000) resolve(ok); else setTimeout(poll, 50); })(); })`
	if !csGet(t, ctx, "wait for "+what, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise)) {
		t.Fatalf("%s: not within a minute\npage text: %s", what, csBody(ctx))
	}
}

// csAccount creates a village account with a one-time password (as the
// node's administrator) for the browser to sign in with.
func csAccount(t testing.TB, n *node, id, name string, roles, posts []string) {
	t.Helper()
	p := peopleAt(n.http)
	admin := p.token(t, "admin", false)
	body := map[string]any{"account": map[string]any{"account": id, "name": name, "org": p.org, "roles": roles, "posts": posts}, "password": personPW}
	if code, raw := p.post("/v1/accounts", admin, body, nil); code != http.StatusOK {
		t.Fatalf("create account %s: %d %s", id, code, raw)
	}
}

// csSignIn signs in through the page; newPassword, when set, answers the
// forced change of a one-time password.
func csSignIn(t testing.TB, ctx context.Context, account, password, newPassword string) {
	t.Helper()
	csRun(t, ctx, "sign in as "+account,
		chromedp.WaitVisible(chromedp.ID("#account")),
		chromedp.SendKeys(chromedp.ID("#account"), account),
		chromedp.SendKeys(chromedp.ID("#password"), password),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)))
	if newPassword != "" {
		csRun(t, ctx, "replace the one-time password of "+account,
			chromedp.WaitVisible(chromedp.ID("#newPassword")),
			chromedp.SendKeys(chromedp.ID("#newPassword"), newPassword),
			chromedp.SendKeys(chromedp.ID("#confirm"), newPassword),
			chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)))
	}
	csRun(t, ctx, "wait for the signed-in header", chromedp.WaitVisible(chromedp.CSS(`[data-testid="who"]`)))
}

// csTxForm fills the accountant's form and submits it.
func csTxForm(t *testing.T, ctx context.Context, amountYuan, method, cpName, cpID, cpBank, summary, voucher, invoice string) {
	t.Helper()
	actions := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-form"]`))}
	for id, v := range map[string]string{"#tx-amount": amountYuan, "#tx-cpName": cpName, "#tx-cpId": cpID, "#tx-cpBank": cpBank, "#tx-summary": summary, "#tx-voucher": voucher, "#tx-invoiceNumber": invoice} {
		actions = append(actions, chromedp.Clear(chromedp.ID(id)))
		if v != "" {
			actions = append(actions, chromedp.SendKeys(chromedp.ID(id), v))
		}
	}
	csRun(t, ctx, "fill the transaction form", actions...)
	csSelect(t, ctx, "tx-method", method)
	csRun(t, ctx, "submit the transaction form", chromedp.Click(chromedp.CSS(`[data-testid="tx-submit"]`)))
}

// csSelect picks value in the select element with id, as a person does
// (a change event follows).
func csSelect(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	csWaitJS(t, ctx, "the list "+id, fmt.Sprintf(`!!document.getElementById(%q)`, id))
	js := fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; })()`, id, value)
	if got := csGet(t, ctx, "select "+value+" in "+id, chromedp.Evaluate[string](js)); got != value {
		t.Fatalf("select %s: %q, want %q", id, got, value)
	}
}

// csAxe runs axe-core (web/vendor/axe.min.js, copied by make setup) on the
// page, injected by the test, and fails on serious or critical violations.
func csAxe(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "web", "vendor", "axe.min.js"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core: %v (make setup copies it from npm)", err)
		}
		t.Logf("axe-core not checked on %s: %v (run make setup)", page, err)
		return
	}
	type violation struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []any }
	}
	csGet(t, ctx, "inject axe-core", chromedp.Evaluate[any](string(src)+";true"))
	res := csGet(t, ctx, "axe-core on "+page, chromedp.Evaluate[[]violation](
		`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))})))`,
		chromedp.EvalAwaitPromise))
	bad := 0
	for _, v := range res {
		t.Logf("axe %s: %s (%s) at %v", page, v.ID, v.Impact, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("axe-core: %d serious or critical violations on %s", bad, page)
	}
	t.Logf("axe-core on %s: %d violations, none serious or critical", page, len(res))
}

// csText is the text of the first element sel matches.
func csText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	csRun(t, ctx, "wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return csGet(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func TestConsoleAccountant(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	n := startNode(t, t.TempDir())
	base := "http://" + n.http + "/"

	// The console's headers: a strict policy on the page.
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("GET /: %d, Content-Security-Policy %q", resp.StatusCode, csp)
	}

	const acct, name, pw1, pw2 = "cs.kuaiji", "会计 陈<b>小</b>红", personPW, "cs-kuaiji-second-2"
	csAccount(t, n, acct, name, []string{string(authz.RoleAccountant)}, []string{"village.accountant"})

	// The sign-in page, in both languages.
	csRun(t, ctx, "open the console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csShot(t, ctx, shots, "signin-zh")
	csLang(t, ctx, "en")
	if s := csText(t, ctx, "#signin-title"); s != "Sign in" {
		t.Fatalf("English sign-in title %q", s)
	}
	csShot(t, ctx, shots, "signin-en")
	csLang(t, ctx, "zh")

	// Signing in replaces the one-time password; the header names the
	// node and the person (typed markup shown as text).
	csSignIn(t, ctx, acct, pw1, pw2)
	if who := csText(t, ctx, `[data-testid="who"]`); !strings.Contains(who, name) {
		t.Fatalf("header names %q, want %q", who, name)
	}
	if where := csText(t, ctx, `[data-testid="where"]`); !strings.Contains(where, "村级节点") || !strings.Contains(where, org) {
		t.Fatalf("header says %q, want the village tier and %s", where, org)
	}
	bold := csGet(t, ctx, "count markup from data", chromedp.Evaluate[int](`document.querySelectorAll('header b').length`))
	if bold != 0 {
		t.Fatal("the account's name was inserted as markup")
	}
	if menu := csText(t, ctx, "nav.menu"); !strings.Contains(menu, "收支记账") {
		t.Fatalf("menu %q lacks the transactions page", menu)
	}

	// A payment of 2,000 yuan to a person's own bank account: recorded,
	// with rule PRIVATE-ACCT's warning shown after submitting.
	csTxForm(t, ctx, "2000", "BANK_TRANSFER", "林某某", "11010519491231002X", "6228480012345678", "劳务费 <script>x</script>", "记-1", "00090001")
	warned := csText(t, ctx, `[data-testid="tx-warned"]`)
	if !strings.Contains(warned, "PRIVATE-ACCT") || !strings.Contains(warned, org+"-") {
		t.Fatalf("after submitting: %q, want the entry and rule PRIVATE-ACCT", warned)
	}
	csRun(t, ctx, "the list shows the entry", chromedp.WaitVisible(chromedp.CSS(`tbody[data-testid="tx-rows"] tr[data-entry^="`+org+`-"]`)))
	if rows := csText(t, ctx, `tbody[data-testid="tx-rows"]`); !strings.Contains(rows, "劳务费 <script>x</script>") || !strings.Contains(rows, "2,000.00") {
		t.Fatalf("list rows %q: want the summary as typed and 2,000.00", rows)
	}

	// 5,000 yuan in cash: refused by CASH-PAY, its reason next to the form.
	var refusal struct{ Message string }
	blocked := set(set(set(tx(1), "transaction.amountFen", 500000), "transaction.paymentMethod", "PAYMENT_METHOD_CASH"), "transaction.voucherNumber", "记-2")
	code, raw := n.post("/v1/transactions", blocked, nil)
	if code != http.StatusBadRequest || json.Unmarshal(raw, &refusal) != nil || !strings.Contains(refusal.Message, "CASH-PAY") {
		t.Fatalf("the refusal to compare with: %d %s", code, raw)
	}
	csTxForm(t, ctx, "5000", "CASH", "福州某建材有限公司", "91350100M000100Y43", "", "材料费 现金", "记-2", "00090002")
	refused := csText(t, ctx, `[data-testid="tx-refused"]`)
	if !strings.Contains(refused, refusal.Message) {
		t.Fatalf("refusal in the form %q, want the node's reason %q", refused, refusal.Message)
	}
	total := csText(t, ctx, `[data-testid="tx-status"]`)
	if !strings.Contains(total, "共 1 条") {
		t.Fatalf("list status %q: want 1 transaction (the refused one not recorded)", total)
	}

	// The filter by kind: no income.
	csSelect(t, ctx, "tx-filter-kind", "INCOME")
	csRun(t, ctx, "filter by income",
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "共 0 条")]`)))

	csSelect(t, ctx, "tx-filter-kind", "")
	csRun(t, ctx, "filter by all kinds again",
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "共 1 条")]`)))
	csShot(t, ctx, shots, "accountant-zh")
	// The same page on a 1920×1080 wall display, then back to the laptop.
	csRun(t, ctx, "a 1920×1080 display", chromedp.EmulateViewport(1920, 1080))
	csShot(t, ctx, shots, "accountant-zh-1920x1080")
	csRun(t, ctx, "a 1366×768 laptop", chromedp.EmulateViewport(1366, 768))
	csAxe(t, ctx, "the accountant's page (zh)")
	csLang(t, ctx, "en")
	csRun(t, ctx, "English list", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "in all")]`)))
	csShot(t, ctx, shots, "accountant-en")
	csAxe(t, ctx, "the accountant's page (en)")
	csLang(t, ctx, "zh")

	// Paging: 20 more recorded over REST, 20 to a page; the list's next
	// page (pageToken) holds the 21st, the previous page comes back.
	for i := 2; i <= 21; i++ {
		if code, raw := n.post("/v1/transactions", tx(i), nil); code != http.StatusOK {
			t.Fatalf("record %d: %d %s", i, code, raw)
		}
	}
	csSelect(t, ctx, "tx-filter-kind", "EXPENSE")
	csRun(t, ctx, "page 1 of 21",
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "共 21 条")]`)),
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="tx-next"]`)))
	first := csGet(t, ctx, "count page 1", chromedp.Evaluate[int](`document.querySelectorAll('tbody[data-testid="tx-rows"] tr[data-entry]').length`))
	csRun(t, ctx, "next page",
		chromedp.Click(chromedp.CSS(`[data-testid="tx-next"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "第 2 页")]`)))
	second := csGet(t, ctx, "count page 2", chromedp.Evaluate[int](`document.querySelectorAll('tbody[data-testid="tx-rows"] tr[data-entry]').length`))
	if first != 20 || second != 1 {
		t.Fatalf("pages of 21 transactions: %d and %d rows, want 20 and 1", first, second)
	}
	csRun(t, ctx, "previous page",
		chromedp.Click(chromedp.CSS(`[data-testid="tx-prev"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "第 1 页")]`)))

	// Signing out returns to sign-in; the session is gone at the node.
	csRun(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)),
		chromedp.WaitVisible(chromedp.ID("#account")))
	after := csGet(t, ctx, "read /v1/me after signing out", chromedp.Evaluate[int](`fetch('/v1/me').then(r => r.status)`, chromedp.EvalAwaitPromise))
	if after != http.StatusUnauthorized {
		t.Fatalf("GET /v1/me after signing out: %d, want 401", after)
	}
	t.Logf("screenshots in %s", shots)
}

func TestConsoleOtherTownReviewer(t *testing.T) {
	ctx := csBrowser(t)
	village := startNode(t, t.TempDir())
	if code, raw := village.post("/v1/transactions", tx(1), nil); code != 200 {
		t.Fatalf("record: %d %s", code, raw)
	}
	// Another town (350505101000; the village is of 350505100000) and its
	// reviewer, signed in at that town's console.
	const otherTown, reviewer = "350505101000", "cs.reviewer"
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mxRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	mxRun(t, "ca", "issue", "--dir", caDir, "--org", otherTown, "--role", "town")
	file, pw := mxAdminFile(t, dir)
	town := mxStart(t, "town", otherTown, filepath.Join(dir, "town"), file, "--sync-addr", mxPort(t), "--tls-dir", caDir)
	admin := town.mxAdmin(t, pw)
	bearer := town.mxAccount(t, admin, reviewer, otherTown, authz.RoleTownReviewer)
	csRun(t, ctx, "open the other town's console", chromedp.Navigate("http://"+town.http+"/"))
	csSignIn(t, ctx, reviewer, mxPassword(reviewer), "")
	if where := csText(t, ctx, `[data-testid="where"]`); !strings.Contains(where, otherTown) {
		t.Fatalf("the town's header %q", where)
	}

	// At the village: the session of the other town is no session here
	// (401: the sign-in page), its API answers 401, nothing is listed,
	// and the reviewer's account does not sign in.
	vbase := "http://" + village.http + "/"
	csRun(t, ctx, "open the village's transactions", chromedp.Navigate(vbase+"#/transactions"), chromedp.WaitVisible(chromedp.ID("#account")))
	rows := csGet(t, ctx, "count listed rows", chromedp.Evaluate[int](`document.querySelectorAll('tbody tr').length`))
	status := csGet(t, ctx, "read the village's data", chromedp.Evaluate[int](`fetch('/v1/transactions?org=`+org+`').then(r => r.status)`, chromedp.EvalAwaitPromise))
	if rows != 0 || status != http.StatusUnauthorized {
		t.Fatalf("the other town's reviewer at the village: %d rows listed, GET /v1/transactions %d, want none and 401", rows, status)
	}
	csRun(t, ctx, "sign in at the village as the other town's reviewer",
		chromedp.SendKeys(chromedp.ID("#account"), reviewer),
		chromedp.SendKeys(chromedp.ID("#password"), mxPassword(reviewer)),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)))
	if msg := csText(t, ctx, `[data-testid="signin-error"]:not(:empty)`); !strings.Contains(msg, "账号或密码不正确") {
		t.Fatalf("sign-in of the other town's reviewer at the village: %q", msg)
	}
	// The reviewer's bearer token from its town: refused at the village.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/v1/transactions?org=%s", village.http, org), nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the other town's token at the village: %d, want 401 or 403", resp.StatusCode)
	}
}
