package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/node/authz"
)

// The review pages (issue 14, parts 3 and 4) in Debian's Chromium against
// the real binaries: two villages push to their town over mutual TLS (as
// in sync_e2e_test.go, without a district); each records a payment to a
// person's bank account (rule PRIVATE-ACCT). The town reviewer sees both
// in the town's one queue, filters by village, and confirms one with the
// batch action; the village's alert page shows it confirmed once the town's
// decision came down. A village committee member approves one step and
// rejects another with a reason. A reviewer of another town sees none of
// it. Screenshots of the queue in zh and en, axe-core on each page.

// rvVillages are the two villages of town rvTown.
var rvVillages = []string{"350505100201", "350505100202"}

const rvTown = "350505100000"

// rvAlerts lists alerts at a node over REST (as its default account).
func rvAlerts(t *testing.T, n *node, q string) []struct {
	Entry struct {
		ID string `json:"id"`
	} `json:"entry"`
	Status string `json:"status"`
} {
	t.Helper()
	var out struct {
		Alerts []struct {
			Entry struct {
				ID string `json:"id"`
			} `json:"entry"`
			Status string `json:"status"`
		} `json:"alerts"`
	}
	if code, raw := n.call("GET", "/v1/alerts?"+q, "", nil, &out); code != http.StatusOK {
		t.Fatalf("GET /v1/alerts?%s at %s: %d %s", q, n.http, code, raw)
	}
	return out.Alerts
}

// rvPrivatePayment records at the village a payment to a person's own bank
// account (PRIVATE-ACCT warns) and returns the alert's entry id.
func rvPrivatePayment(t *testing.T, v *syncVillage, i int) (txID, alertID string) {
	t.Helper()
	vn := &node{t: t, http: v.http}
	body := set(set(set(set(tx(i), "transaction.org", v.org), "transaction.amountFen", 200000+i),
		"transaction.counterparty", map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"}),
		"transaction.invoiceNumber", fmt.Sprintf("%s%05d", v.org[9:], i))
	var rec struct {
		Entry struct {
			ID string `json:"id"`
		} `json:"entry"`
		Hits []struct{ Code string } `json:"hits"`
	}
	if code, raw := vn.post("/v1/transactions", body, &rec); code != http.StatusOK {
		t.Fatalf("record the payment at %s: %d %s", v.org, code, raw)
	}
	alerts := rvAlerts(t, vn, "org="+v.org+"&ruleCode=PRIVATE-ACCT")
	if len(alerts) != 1 {
		t.Fatalf("PRIVATE-ACCT alerts at %s after the payment: %d, want 1 (hits %v)", v.org, len(alerts), rec.Hits)
	}
	return rec.Entry.ID, alerts[0].Entry.ID
}

// rvRows are the data-alert ids of the queue's rows.
func rvRows(t *testing.T, ctx context.Context) []string {
	t.Helper()
	return csGet(t, ctx, "read the queue's rows", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll('tbody[data-testid="aq-rows"] tr[data-alert]')].map(r => r.dataset.alert + ' ' + r.dataset.org + ' ' + r.dataset.status)`))
}

// rvFederation starts town rvTown and its villages rvVillages, which push
// to it over mutual TLS with certificates of a new district CA (in caDir,
// inside the test's folder); their logs are printed when the test fails.
func rvFederation(t *testing.T) (tw *syncVillage, villages []*syncVillage, caDir string) {
	t.Helper()
	dir := t.TempDir()
	caDir = filepath.Join(dir, "ca")
	mxRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	mxRun(t, "ca", "issue", "--dir", caDir, "--org", rvTown, "--role", "town")
	for _, o := range rvVillages {
		mxRun(t, "ca", "issue", "--dir", caDir, "--org", o, "--role", "village")
	}
	inbox := freePort(t)
	tw = &syncVillage{t: t, org: rvTown, data: filepath.Join(dir, "town"), http: freePort(t), grpc_: freePort(t)}
	tw.args = []string{"town", "serve", "--data", tw.data, "--org", rvTown, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
		"--sync-addr", inbox, "--tls-dir", caDir, "--log-level", "warn"}
	tw.start()
	t.Cleanup(tw.kill9)
	for _, o := range rvVillages {
		v := &syncVillage{t: t, org: o, data: filepath.Join(dir, o), http: freePort(t), grpc_: freePort(t)}
		v.args = []string{"village", "serve", "--data", v.data, "--org", o, "--http-addr", v.http, "--grpc-addr", v.grpc_,
			"--parent", inbox, "--tls-dir", caDir, "--log-level", "warn"}
		v.start()
		t.Cleanup(v.kill9)
		villages = append(villages, v)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range append([]*syncVillage{tw}, villages...) {
				t.Logf("%s log:\n%s", n.org, tail(n.log.String()))
			}
		}
	})
	return tw, villages, caDir
}

func TestConsoleReview(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	tw, villages, caDir := rvFederation(t)
	dir := filepath.Dir(caDir)
	v0, v1 := villages[0], villages[1]
	vn0, tn := &node{t: t, http: v0.http}, &node{t: t, http: tw.http}
	tx0, alert0 := rvPrivatePayment(t, v0, 1)
	_, alert1 := rvPrivatePayment(t, v1, 1)
	t.Logf("PRIVATE-ACCT alerts %s (of %s) and %s", alert0, tx0, alert1)

	// A second expense at village 0, both past their capture step (the
	// accountant's), so the committee member has two review steps.
	type proc struct {
		Entry struct {
			ID string `json:"id"`
		} `json:"entry"`
		Status   string `json:"status"`
		OpenStep string `json:"openStep"`
		Steps    []struct{ Code, Post, Status string }
		// The capture and the committee's decision.
		DecisionIDs []string `json:"decisionIds"`
	}
	if code, raw := vn0.post("/v1/transactions", set(set(tx(3), "transaction.org", v0.org), "transaction.invoiceNumber", v0.org[9:]+"00003"), nil); code != 200 {
		t.Fatalf("record the second expense: %d %s", code, raw)
	}
	var procs struct{ Procedures []proc }
	if code, raw := vn0.call("GET", "/v1/workflow?org="+v0.org+"&status=open", "", nil, &procs); code != 200 || len(procs.Procedures) < 2 {
		t.Fatalf("open procedures at %s: %d %s, want 2", v0.org, code, raw)
	}
	for _, p := range procs.Procedures[:2] {
		if p.OpenStep != "capture" {
			t.Fatalf("procedure %s opens at %q, want capture", p.Entry.ID, p.OpenStep)
		}
		d := map[string]any{"decision": map[string]any{"org": v0.org, "procedureId": p.Entry.ID, "stepCode": "capture", "action": "STEP_ACTION_APPROVE", "post": "village.accountant"}}
		if code, raw := vn0.as("bao.zhang").post("/v1/workflow/"+p.Entry.ID+"/decisions", d, nil); code != 200 {
			t.Fatalf("capture of %s: %d %s", p.Entry.ID, code, raw)
		}
	}
	approveID, rejectID := procs.Procedures[0].Entry.ID, procs.Procedures[1].Entry.ID

	// Both villages' alerts reach the town's one queue.
	eventually(t, 60*time.Second, "both villages' PRIVATE-ACCT alerts at the town", func() bool {
		return len(rvAlerts(t, tn, "ruleCode=PRIVATE-ACCT")) >= 2
	})

	// The town reviewer, signed in at the town's console.
	const reviewer = "rv.shen"
	csAccount(t, tn, reviewer, "镇审核员 沈", []string{string(authz.RoleTownReviewer)}, []string{"town.reviewer"})
	tbase := "http://" + tw.http + "/"
	csRun(t, ctx, "open the town's console", chromedp.Navigate(tbase), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, reviewer, personPW, personNewPW)
	csRun(t, ctx, "open the town's queue", chromedp.Navigate(tbase+"#/review/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert0+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert1+`"]`)))
	if rows := rvRows(t, ctx); len(rows) < 2 {
		t.Fatalf("town queue rows %v, want both villages' alerts", rows)
	}
	// Filtered by village 0: only its alerts.
	csRun(t, ctx, "the village filter lists village 0", chromedp.WaitReady(chromedp.CSS(`#aq-village option[value="`+v0.org+`"]`)))
	csSelect(t, ctx, "aq-village", v0.org)
	csRun(t, ctx, "filter by village 0", chromedp.WaitNotPresent(chromedp.CSS(`tr[data-alert="`+alert1+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert0+`"]`)))
	for _, r := range rvRows(t, ctx) {
		if !strings.Contains(r, " "+v0.org+" ") {
			t.Fatalf("queue filtered by %s lists %q", v0.org, r)
		}
	}
	// Sorted by severity, both ways: the header says which.
	csRun(t, ctx, "sort by severity", chromedp.Click(chromedp.CSS(`[data-testid="aq-sort-severity"]`)),
		chromedp.WaitReady(chromedp.CSS(`th[data-sort="severity"][aria-sort="ascending"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="aq-sort-severity"]`)),
		chromedp.WaitReady(chromedp.CSS(`th[data-sort="severity"][aria-sort="descending"]`)))
	csShot(t, ctx, shots, "town-queue-zh")
	csAxe(t, ctx, "the town's alert queue (zh)")
	csLang(t, ctx, "en")
	csRun(t, ctx, "English queue", chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "Town alert queue")]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert0+`"]`)))
	csShot(t, ctx, shots, "town-queue-en")
	csAxe(t, ctx, "the town's alert queue (en)")
	csLang(t, ctx, "zh")
	csRun(t, ctx, "the queue again in Chinese", chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert0+`"]`)))

	// Dismissing needs a reason: refused in the page, nothing sent.
	csRun(t, ctx, "pick the alert", chromedp.Click(chromedp.CSS(`tr[data-alert="`+alert0+`"] input[data-testid="aq-pick"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[@data-testid="aq-chosen"][contains(., "已选 1 条")]`)))
	csSelect(t, ctx, "aq-action", "DISMISSED")
	csRun(t, ctx, "dismiss without a reason", chromedp.Click(chromedp.CSS(`[data-testid="aq-apply"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#aq-reason[aria-invalid="true"]`)))
	// Confirmed with the batch action.
	csSelect(t, ctx, "aq-action", "CONFIRMED")
	csRun(t, ctx, "confirm the selected alert", chromedp.Click(chromedp.CSS(`[data-testid="aq-apply"]`)))
	if done := csText(t, ctx, `[data-testid="aq-done"]`); !strings.Contains(done, "1 条") {
		t.Fatalf("after confirming: %q", done)
	}
	eventually(t, 60*time.Second, "the town's confirmation applied at the village", func() bool {
		for _, a := range rvAlerts(t, vn0, "org="+v0.org+"&status=ALERT_STATUS_CONFIRMED") {
			if a.Entry.ID == alert0 {
				return true
			}
		}
		return false
	})
	if got := rvAlerts(t, &node{t: t, http: v1.http}, "org="+v1.org+"&status=ALERT_STATUS_OPEN"); len(got) != 1 || got[0].Entry.ID != alert1 {
		t.Fatalf("the other village's alert: %+v, want it still open", got)
	}

	// The town's sync page lists both villages with their last push.
	csRun(t, ctx, "open the villages' sync", chromedp.Navigate(tbase+"#/town/sync"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-village="`+v0.org+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-village="`+v1.org+`"]`)))
	if s := csText(t, ctx, `tr[data-village="`+v0.org+`"]`); strings.Contains(s, "本次运行未收到") {
		t.Fatalf("sync row of %s: %q, want a last push", v0.org, s)
	}
	csAxe(t, ctx, "the town's sync page")

	// The village committee member at village 0: the alert shows confirmed
	// on the village's alert page; one step approved, one rejected.
	const member = "rv.cw"
	csAccount(t, vn0, member, "财务小组 吴", []string{string(authz.RoleVillageCommittee)}, []string{"village.finance_group"})
	vbase := "http://" + v0.http + "/"
	csRun(t, ctx, "open the village's console", chromedp.Navigate(vbase), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(t, ctx, member, personPW, personNewPW)
	csRun(t, ctx, "open the village's alerts", chromedp.Navigate(vbase+"#/review/alerts"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="aq-status-line"]`)))
	csSelect(t, ctx, "aq-status", "CONFIRMED")
	csRun(t, ctx, "the confirmed alert at the village",
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert="`+alert0+`"][data-status="CONFIRMED"]`)))
	if s := csText(t, ctx, `tr[data-alert="`+alert0+`"]`); !strings.Contains(s, "已确认") || !strings.Contains(s, "PRIVATE-ACCT") {
		t.Fatalf("the village's row of %s: %q", alert0, s)
	}
	csAxe(t, ctx, "the village's alerts")

	csRun(t, ctx, "open the steps to decide", chromedp.Navigate(vbase+"#/review/steps"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-procedure="`+approveID+`"][data-step="review"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-procedure="`+rejectID+`"][data-step="review"]`)))
	csShot(t, ctx, shots, "committee-steps-zh")
	csAxe(t, ctx, "the committee's steps")
	csRun(t, ctx, "approve one", chromedp.Click(chromedp.CSS(`tr[data-procedure="`+approveID+`"] [data-testid="st-approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-decided"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-procedure="`+approveID+`"]`)))
	csRun(t, ctx, "reject without a reason", chromedp.Click(chromedp.CSS(`tr[data-procedure="`+rejectID+`"] [data-testid="st-reject"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-refused"]`)))
	const why = "发票抬头与合同不符 <b>退回</b>"
	csRun(t, ctx, "reject with a reason",
		chromedp.SendKeys(chromedp.CSS(`tr[data-procedure="`+rejectID+`"] [data-testid="st-reason"]`), why),
		chromedp.Click(chromedp.CSS(`tr[data-procedure="`+rejectID+`"] [data-testid="st-reject"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-decided"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-procedure="`+rejectID+`"]`)))
	var got struct {
		Procedure proc `json:"procedure"`
	}
	if code, raw := vn0.call("GET", "/v1/workflow/"+approveID, "", nil, &got); code != 200 || got.Procedure.OpenStep != "signoff" {
		t.Fatalf("approved procedure %s: %d, open step %q, want signoff\n%s", approveID, code, got.Procedure.OpenStep, raw)
	}
	code, raw := vn0.call("GET", "/v1/workflow/"+rejectID, "", nil, &got)
	if code != 200 || got.Procedure.Status != "rejected" || len(got.Procedure.DecisionIDs) != 2 {
		t.Fatalf("rejected procedure %s: %d status %q\n%s", rejectID, code, got.Procedure.Status, raw)
	}

	// A reviewer of another town: its queue holds nothing of these
	// villages, and the village's alerts are refused it.
	const otherTown, stranger = "350505101000", "rv.other"
	mxRun(t, "ca", "issue", "--dir", caDir, "--org", otherTown, "--role", "town")
	file, pw := mxAdminFile(t, dir)
	other := mxStart(t, "town", otherTown, filepath.Join(dir, "other"), file, "--sync-addr", mxPort(t), "--tls-dir", caDir)
	bearer := other.mxAccount(t, other.mxAdmin(t, pw), stranger, otherTown, authz.RoleTownReviewer)
	obase := "http://" + other.http + "/"
	csRun(t, ctx, "open the other town's console", chromedp.Navigate(obase), chromedp.WaitVisible(chromedp.ID("#account")))
	csSignIn(t, ctx, stranger, mxPassword(stranger), "")
	csRun(t, ctx, "the other town's queue", chromedp.Navigate(obase+"#/review/alerts"),
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="aq-status-line"][contains(., "共")]`)))
	csSelect(t, ctx, "aq-status", "")
	csRun(t, ctx, "all statuses", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="aq-status-line"][contains(., "共 0 条")]`)))
	if body := csBody(ctx); strings.Contains(body, v0.org) || strings.Contains(body, v1.org) {
		t.Fatalf("the other town's console names this town's villages:\n%s", body)
	}
	for _, path := range []string{"/v1/alerts?org=" + v0.org, "/v1/workflow?org=" + v0.org, "/v1/cards?org=" + v0.org} {
		code, _, body := other.mxREST(t, "GET", path, bearer, "", nil, nil)
		if code != http.StatusForbidden {
			t.Fatalf("the other town's reviewer reads %s at its town: %d %s, want 403", path, code, body)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+tw.http+"/v1/alerts?org="+v0.org, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the other town's token at this village's town: %d, want 401 or 403", resp.StatusCode)
	}
	t.Logf("screenshots in %s", shots)
}
