package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/node/keys"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The district's console (issue 14) through the real binaries: a district
// member with ClickHouse and its HTTP listener, a village whose chain is
// pushed to it. The analyst's cockpit shows the village in the risk
// ranking; once the village confirms its alert and pushes again, the
// cockpit's figure changes without a reload (server-sent events). Two
// rules officers: one drafts, cannot publish (the refusal shown), the
// other publishes.

// ckDistrict is a district member serving HTTP, with ClickHouse.
type ckDistrict struct {
	proc   *districtProc
	http   string
	grpc   sanziv1.DistrictServiceClient
	admin  string // the administrator's bearer token at the member
	pushed uint64 // the village's seq pushed so far
}

func ckStartDistrict(t testing.TB) *ckDistrict {
	t.Helper()
	ch, err := chserver.Start(context.Background(), chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ckStartDistrictOn(t, ch.Addr())
}

// ckStartDistrictOn starts the member on the ClickHouse at chAddr.
func ckStartDistrictOn(t testing.TB, chAddr string) *ckDistrict {
	t.Helper()
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	mxRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	for _, name := range []string{"d1", "admin"} {
		mxRun(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", name)
	}
	orgsFile := filepath.Join(dir, "orgs.csv")
	if err := os.WriteFile(orgsFile, []byte("code,name\n350505000000,示范区\n350505100000,城关镇\n350505100201,东风村\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file, pw := mxAdminFile(t, dir)
	d := &ckDistrict{http: mxPort(t)}
	p := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	p.args = []string{"district", "serve", "--id", "d1", "--raft", p.raft, "--api", p.api, "--http", d.http, "--data", p.data, "--tls-dir", caDir, "--cert", "d1",
		"--bootstrap", "--log-level", "warn", "--clickhouse", chAddr, "--orgs", orgsFile, "--admin-password-file", file}
	p.start()
	t.Cleanup(p.stop)
	d.proc = p
	d.grpc = clientFor(t, caDir, p.api)
	waitLeader(t, d.grpc, "")
	m := &mxNode{kind: "district", http: d.http}
	// The first administrator is made once the member leads, after its
	// HTTP listener is up.
	eventually(t, 30*time.Second, "the member's first administrator", func() bool {
		code, _ := m.mxPostJSON(t, "/v1/login", "", map[string]string{"account": "admin", "password": pw, "newPassword": "mx-admin-password-2"}, &struct{}{})
		return code == http.StatusOK
	})
	d.admin = m.mxLogin(t, "admin", "mx-admin-password-2", "")
	return d
}

// ckAccount creates a district account with personPW as its one-time
// password (the browser replaces it at the first sign-in).
func (d *ckDistrict) ckAccount(t testing.TB, id, name, role string) {
	t.Helper()
	m := &mxNode{kind: "district", http: d.http}
	body := map[string]any{"account": map[string]any{"account": id, "name": name, "org": "350505000000", "roles": []string{role}}, "password": personPW}
	if code, raw := m.mxPostJSON(t, "/v1/accounts", d.admin, body, nil); code != http.StatusOK {
		t.Fatalf("create %s at the district: %d %s", id, code, raw)
	}
}

// ckPush pushes the village's entries the district lacks, as its outbox
// does.
func (d *ckDistrict) ckPush(t *testing.T, n *node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if d.pushed == 0 {
		key, err := keys.ReadPrivate(filepath.Join(n.data, "keys", org+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.grpc.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: org, PublicKey: key.Public().(ed25519.PublicKey)}); err != nil {
			t.Fatal(err)
		}
	}
	var raws [][]byte
	for {
		_, body := n.call("GET", fmt.Sprintf("/v1/ledger/%s/entries?fromSeq=%d&limit=1000", org, d.pushed+1), "", nil, nil)
		var page sanziv1.ListEntriesResponse
		if err := protojson.Unmarshal(body, &page); err != nil {
			t.Fatalf("entries page: %v %s", err, body)
		}
		for _, e := range page.GetEntries() {
			raw, err := proto.Marshal(e.GetEntry())
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
		d.pushed += uint64(len(page.GetEntries()))
		if len(page.GetEntries()) < 1000 {
			break
		}
	}
	if resp, err := d.grpc.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: raws}); err != nil || resp.GetAdded() != int64(len(raws)) {
		t.Fatalf("push %d entries: %v %v", len(raws), resp, err)
	}
}

// ckEval polls js (a boolean expression) in the page until it holds.
func ckEval(t testing.TB, ctx context.Context, d time.Duration, what, js string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if csGet(t, ctx, what, chromedp.Evaluate[bool](js)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\npage text: %s", what, d, csBody(ctx))
		}
		time.Sleep(250 * time.Millisecond) // polling the page
	}
}

// ckRiskCell is the text of column col of the village's row in the risk
// ranking ("" when the row is absent).
func ckRiskCell(t *testing.T, ctx context.Context, col int) string {
	t.Helper()
	return csGet(t, ctx, "read the risk ranking", chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const r = document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]'); return r ? r.children[%d].textContent : ''; })()`, org, col)))
}

func TestConsoleCockpit(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	d := ckStartDistrict(t)
	d.ckAccount(t, "ck.analyst", "分析员 赵<i>某</i>", "district_analyst")

	// The village: 30 expenses, one of them to a person's account (a red
	// PRIVATE-ACCT alert), pushed to the district.
	n := startNode(t, t.TempDir())
	n.signIn("jian.du")
	for i := 1; i <= 30; i++ {
		body := set(tx(i), "transaction.amountFen", int64(10_000+1_337*i))
		if i == 5 {
			body = set(set(body, "transaction.amountFen", 200_000), "transaction.counterparty",
				map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
		}
		if code, raw := n.post("/v1/transactions", body, nil); code != http.StatusOK {
			t.Fatalf("record %d: %d %s", i, code, raw)
		}
	}
	d.ckPush(t, n)

	// The analyst signs in at the member; the cockpit shows the village
	// in the risk ranking, its alert unreviewed, none confirmed.
	base := "http://" + d.http + "/"
	csRun(t, ctx, "open the district's console", chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, "ck.analyst", personPW, "ck-analyst-second-2")
	csRun(t, ctx, "open the cockpit", chromedp.Navigate(base+"#/cockpit"))
	ckEval(t, ctx, 45*time.Second, "the village in the risk ranking", fmt.Sprintf(
		`!!document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]') && document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]').children[6].textContent >= 1`, org, org))
	if red, name := ckRiskCell(t, ctx, 4), ckRiskCell(t, ctx, 1); red != "0" || name != "东风村" {
		t.Fatalf("the village's risk row before the review: confirmed red %q, name %q; want 0 and 东风村", red, name)
	}
	// Entries today: every entry the village pushed was recorded today
	// (the district's own entries of today come on top).
	ckEval(t, ctx, 30*time.Second, "the village's entries counted today", fmt.Sprintf(
		`Number(document.querySelector('[data-testid="fig-today"] .value').textContent) >= %d`, d.pushed))
	if csGet(t, ctx, "count markup from data", chromedp.Evaluate[int](`document.querySelectorAll('header i').length`)) != 0 {
		t.Fatal("the analyst's name was inserted as markup")
	}
	ckEval(t, ctx, 60*time.Second, "the charts drawn by ECharts", `document.querySelectorAll('[data-testid$="-chart"] canvas').length >= 3`)
	if s := csText(t, ctx, `[data-testid="benford-table-rows"]`); !strings.Contains(s, "30.1%") {
		t.Fatalf("first-digit table %q: want the Benford share of digit 1 (30.1%%)", s)
	}
	version := csGet(t, ctx, "read the data version", chromedp.Evaluate[string](`document.querySelector('[data-testid="cockpit-live"]').dataset.version`))

	// CSV: the risk table as shown, and values escaped against formulas.
	got := csGet(t, ctx, "escape CSV", chromedp.Evaluate[string](
		`import('/app/js/pages/cockpit.js').then(m => m.csv(['a', 'b'], [['=1+2', 'x"y'], ['-3', '@SUM(A1)'], ['+1', 'plain']]))`, chromedp.EvalAwaitPromise))
	if want := "\"a\",\"b\"\r\n\"'=1+2\",\"x\"\"y\"\r\n\"'-3\",\"'@SUM(A1)\"\r\n\"'+1\",\"plain\"\r\n"; got != want {
		t.Fatalf("csv: %q, want %q", got, want)
	}
	exported := csGet(t, ctx, "export the risk ranking", chromedp.Evaluate[string](`(() => {
		const orig = URL.createObjectURL; let blob = null;
		URL.createObjectURL = (b) => { blob = b; return orig.call(URL, b); };
		document.querySelector('[data-testid="risk-csv"]').click();
		URL.createObjectURL = orig;
		return blob ? blob.text() : '';
	})()`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(strings.TrimPrefix(exported, "\ufeff"), `"代码","名称","得分"`) || !strings.Contains(exported, "\r\n\""+org+`","东风村"`) {
		t.Fatalf("risk CSV export:\n%s", exported)
	}

	csShot(t, ctx, shots, "cockpit-zh-1920x1080")
	csAxe(t, ctx, "the cockpit (zh)")
	csLang(t, ctx, "en")
	ckEval(t, ctx, 60*time.Second, "the English cockpit", fmt.Sprintf(`document.body.innerText.includes('Integrity-risk ranking') && !!document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]')`, org))
	ckEval(t, ctx, 60*time.Second, "the charts drawn", `document.querySelectorAll('[data-testid$="-chart"] canvas').length >= 3`)
	csShot(t, ctx, shots, "cockpit-en-1920x1080")
	csAxe(t, ctx, "the cockpit (en)")
	csLang(t, ctx, "zh")
	ckEval(t, ctx, 60*time.Second, "the cockpit again", fmt.Sprintf(`!!document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]')`, org))

	// The village's supervisor acknowledges and confirms the alert; the
	// new entries reach the district. The cockpit updates itself: the
	// same page (a mark set now survives), a newer data version, one
	// confirmed red alert.
	csGet(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.ckMark = 'same page'; true`))
	var alerts struct {
		Alerts []struct {
			Entry struct {
				ID string `json:"id"`
			} `json:"entry"`
		} `json:"alerts"`
	}
	if code, raw := n.call("GET", "/v1/alerts?org="+org+"&status=ALERT_STATUS_OPEN", "", nil, &alerts); code != 200 || len(alerts.Alerts) != 1 {
		t.Fatalf("the village's open alerts: %d %s", code, raw)
	}
	aid := alerts.Alerts[0].Entry.ID
	for _, st := range []string{"ALERT_STATUS_ACKNOWLEDGED", "ALERT_STATUS_CONFIRMED"} {
		body := map[string]any{"transition": map[string]any{"org": org, "alertId": aid, "status": st}}
		if code, raw := n.as("jian.du").post("/v1/alerts/"+aid+"/status", body, nil); code != 200 {
			t.Fatalf("%s alert %s: %d %s", st, aid, code, raw)
		}
	}
	d.ckPush(t, n)
	start := time.Now()
	ckEval(t, ctx, 45*time.Second, "the confirmed alert in the risk ranking without a reload", fmt.Sprintf(
		`(() => { const r = document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]'); return !!r && r.children[4].textContent === '1'; })()`, org))
	t.Logf("the cockpit showed the confirmed alert %s after the push", time.Since(start).Round(100*time.Millisecond))
	if mark := csGet(t, ctx, "read the mark", chromedp.Evaluate[string](`window.ckMark || ''`)); mark != "same page" {
		t.Fatal("the cockpit reloaded the page to update")
	}
	if v := csGet(t, ctx, "read the data version", chromedp.Evaluate[string](`document.querySelector('[data-testid="cockpit-live"]').dataset.version`)); v == version || v == "" {
		t.Fatalf("data version %q after the push, was %q", v, version)
	}

	// Drill-down: the district's towns, the town's villages, the village's
	// entries.
	csRun(t, ctx, "drill into the town", chromedp.Click(chromedp.CSS(`[data-testid="alerts-rows"] button[data-drill^="350505100"]`)))
	ckEval(t, ctx, 60*time.Second, "the town's villages", fmt.Sprintf(`!!document.querySelector('[data-testid="alerts-rows"] button[data-drill="%s"]')`, org))
	csRun(t, ctx, "drill into the village", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="alerts-rows"] button[data-drill="%s"]`, org))))
	ckEval(t, ctx, 60*time.Second, "the village's head, without its entries for the analyst", fmt.Sprintf(
		`(() => { const p = document.querySelector('[data-testid="village-head"]'); return !!p && p.innerText.includes('%d') && !!document.querySelector('[data-testid="entries-need-verify"]') && !document.querySelector('[data-testid="entries-rows"]'); })()`, d.pushed))
	csRun(t, ctx, "back to the district", chromedp.Click(chromedp.CSS(`[data-testid="crumb-district"]`)))
	ckEval(t, ctx, 60*time.Second, "the district again", fmt.Sprintf(`!!document.querySelector('[data-testid="risk-rows"] tr[data-key="%s"]')`, org))

	// An auditor (who may verify chains) drills from the risk ranking to
	// the village's entries, decoded in the page.
	d.ckAccount(t, "ck.audit", "审计员", "auditor")
	csRun(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(t, ctx, "ck.audit", personPW, "ck-audit-second-2")
	csRun(t, ctx, "open the cockpit", chromedp.Navigate(base+"#/cockpit"))
	ckEval(t, ctx, 30*time.Second, "the risk ranking", fmt.Sprintf(`!!document.querySelector('[data-testid="risk-rows"] button[data-drill="%s"]')`, org))
	csRun(t, ctx, "drill into the village from the risk ranking", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid="risk-rows"] button[data-drill="%s"]`, org))))
	ckEval(t, ctx, 60*time.Second, "the village's entries", fmt.Sprintf(`(() => { const b = document.querySelector('[data-testid="entries-rows"]');
		return !!b && b.innerText.includes('ALERT_TRANSITION') && b.innerText.includes('TRANSACTION') && b.innerText.includes('jian.du') && b.querySelector('tr').children[0].textContent === '%d'; })()`, d.pushed))
	t.Logf("screenshots in %s", shots)
}

func TestConsoleRulesOfficers(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	d := ckStartDistrict(t)
	d.ckAccount(t, "ck.draft", "起草人", "district_rules_officer")
	d.ckAccount(t, "ck.pub", "发布人", "district_rules_officer")
	rs := cashDraft(t, "d-2026-12")
	rs.Rules = rs.Rules[:3]
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + d.http + "/"
	csRun(t, ctx, "open the district's console", chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, "ck.draft", personPW, "ck-draft-second-2")
	csRun(t, ctx, "open the rules page", chromedp.Navigate(base+"#/rules"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="rules-json"]`)))

	// A draft from JSON, then a second from the form, one parameter
	// changed; the diff shows that parameter.
	csRun(t, ctx, "draft from JSON",
		chromedp.SetValue(chromedp.ID("#rules-json"), string(raw)),
		chromedp.Click(chromedp.CSS(`[data-testid="rules-submit-json"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rules-drafted"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-version="d-2026-12"]`)))
	// The list was drawn again (from the empty base: no set is live yet)
	// before the outcome was said, and the JSON drafted is still in the box.
	if box := csGet(t, ctx, "read the JSON box", chromedp.Evaluate[string](`document.getElementById('rules-json').value`)); box != string(raw) {
		t.Fatalf("the JSON box after the draft was recorded: %.80q…, want the JSON drafted", box)
	}
	var rule, param string
	var old int64
	for _, r := range rs.Rules {
		for k, v := range r.Params {
			rule, param, old = r.Code, k, v
		}
		if param != "" {
			break
		}
	}
	if param == "" {
		t.Fatal("no rule of the first three has a parameter")
	}
	csSelect(t, ctx, "rules-base", "d-2026-12")
	sel := fmt.Sprintf(`input[data-rule=%q][data-param=%q]`, rule, param)
	csRun(t, ctx, "change "+rule+"."+param+" in the form",
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.SetValue(chromedp.CSS(sel), fmt.Sprint(old+1)),
		chromedp.SendKeys(chromedp.ID("#rules-version"), "d-2026-12b"),
		chromedp.Click(chromedp.CSS(`[data-testid="rules-submit-form"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-version="d-2026-12b"]`)))
	csSelect(t, ctx, "rules-diff-a", "d-2026-12")
	csSelect(t, ctx, "rules-diff-b", "d-2026-12b")
	csRun(t, ctx, "compare", chromedp.Click(chromedp.CSS(`[data-testid="rules-compare"]`)))
	if diff := csText(t, ctx, `[data-testid="rules-diff-rows"]`); !strings.Contains(diff, rule) || !strings.Contains(diff, "params."+param) ||
		!strings.Contains(diff, fmt.Sprint(old)) || !strings.Contains(diff, fmt.Sprint(old+1)) || strings.Count(diff, "\n") != 0 {
		t.Fatalf("diff %q: want one row, %s params.%s %d → %d", diff, rule, param, old, old+1)
	}
	// The village paid 600 and 900 yuan in cash (under the 1,000 yuan
	// of the set in force) and 300 yuan, 900 of it reversed later; its
	// chain reaches the district. The backtest of the draft over the
	// district's data finds the two payments over 500 yuan, in one
	// village, one of them reversed since; the set in force finds none.
	ids := cashPayments(t, d)
	csSelect(t, ctx, "rules-bt-version", "d-2026-12")
	csRun(t, ctx, "backtest the draft", chromedp.Click(chromedp.CSS(`[data-testid="rules-bt-run"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rules-bt-rows"] tr[data-code="CASH-PAY"]`)))
	// btRow is the cells of a rule's row after its code and name.
	btRow := func(code string) string {
		return csGet(t, ctx, "read the backtest of "+code, chromedp.Evaluate[string](fmt.Sprintf(
			`[...document.querySelectorAll('[data-testid="rules-bt-rows"] tr[data-code=%q] td')].slice(2).map(c => c.textContent).join('|')`, code)))
	}
	if row := btRow("CASH-PAY"); row != "红色|拦截|2|1|1|"+ids[0]+" "+ids[1] {
		t.Fatalf("CASH-PAY in the backtest: %q, want 2 hits, 1 reversed, in 1 village, entries %s %s", row, ids[0], ids[1])
	}
	if n := csGet(t, ctx, "count the backtest's rows", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="rules-bt-rows"] tr').length`)); n != 3 {
		t.Fatalf("the backtest lists %d rules, want the draft's 3", n)
	}
	if s := csText(t, ctx, `[data-testid="rules-bt-summary"]`); !strings.Contains(s, "版本 d-2026-12") || !strings.Contains(s, "3 条规则中 1 条命中") {
		t.Fatalf("backtest summary %q", s)
	} else {
		t.Logf("backtest: %s", s)
	}
	// JSON not yet drafted is backtested as it stands: at 200 yuan all
	// three payments are over.
	rs.Version, rs.Rules[0].Params["cash_limit_fen"] = "d-unsaved", 20_000
	unsaved, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	csRun(t, ctx, "backtest the JSON", chromedp.SetValue(chromedp.ID("#rules-json"), string(unsaved)),
		chromedp.Click(chromedp.CSS(`[data-testid="rules-bt-run-json"]`)))
	ckEval(t, ctx, 60*time.Second, "the JSON's backtest", `(() => { const s = document.querySelector('[data-testid="rules-bt-summary"]'); return !!s && s.textContent.includes('d-unsaved'); })()`)
	if row := btRow("CASH-PAY"); !strings.HasPrefix(row, "红色|拦截|3|1|1|") {
		t.Fatalf("CASH-PAY in the backtest of the unsaved JSON: %q, want 3 hits", row)
	}
	csShot(t, ctx, shots, "rules-zh-1920x1080")
	csAxe(t, ctx, "the rules page (zh)")

	// The drafter may not publish it: the district's reason is shown.
	csRun(t, ctx, "the drafter publishes", chromedp.Click(chromedp.CSS(`button[data-publish="d-2026-12"]`)))
	if msg := csText(t, ctx, `[data-testid="rules-refused"]`); !strings.Contains(msg, "被拒绝") || !strings.Contains(msg, "ck.draft drafted rule set d-2026-12") || !strings.Contains(msg, "four eyes") {
		t.Fatalf("the drafter's publication: %q, want the refusal with the district's reason", msg)
	} else {
		t.Logf("the drafter's publication refused: %s", msg)
	}
	if s := csText(t, ctx, `[data-testid="rules-status-d-2026-12"]`); s != "草稿" {
		t.Fatalf("after the drafter's attempt the status is %q, want 草稿", s)
	}
	csLang(t, ctx, "en")
	csRun(t, ctx, "the English page", chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Rule sets")]`)))
	csShot(t, ctx, shots, "rules-en-1920x1080")
	csAxe(t, ctx, "the rules page (en)")
	csLang(t, ctx, "zh")

	// The second officer publishes it.
	csRun(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(t, ctx, "ck.pub", personPW, "ck-pub-second-2")
	csRun(t, ctx, "open the rules page", chromedp.Navigate(base+"#/rules"),
		chromedp.WaitVisible(chromedp.CSS(`button[data-publish="d-2026-12"]`)),
		chromedp.Click(chromedp.CSS(`button[data-publish="d-2026-12"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rules-published"]`)))
	ckEval(t, ctx, 60*time.Second, "published by ck.pub", `(() => { const r = document.querySelector('tr[data-version="d-2026-12"]'); return !!r && r.children[1].textContent === '已发布' && r.children[3].textContent === 'ck.pub'; })()`)
	if s := csText(t, ctx, `[data-testid="rules-status"]`); !strings.Contains(s, "d-2026-12") {
		t.Fatalf("status line %q: want d-2026-12 live", s)
	}
	// After the publication the draft's base is the set now live.
	if v := csGet(t, ctx, "read the draft's base", chromedp.Evaluate[string](`document.getElementById('rules-base').value + '|' + JSON.parse(document.getElementById('rules-json').value).version`)); v != "d-2026-12|d-2026-12" {
		t.Fatalf("the draft's base and the JSON box's version after the publication: %q, want d-2026-12 in both", v)
	}
}
