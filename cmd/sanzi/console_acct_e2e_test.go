package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sanzi/sanzi/node/authz"
)

// The village accountant's console (issue 14, part 2) through Chromium and
// the real binary: the rule check while filling the form (a dry run,
// validateOnly, that records nothing), receipts dropped on the form and
// locked once recorded, and the inbox of procedure steps with their
// deadlines counting down.

// acctSignedIn starts a village node, creates an accountant holding the
// post village.accountant and signs her in through the page.
func acctSignedIn(t *testing.T) (*node, context.Context) {
	t.Helper()
	ctx := csBrowser(t)
	return acctSignIn(t, ctx, "acct.kuaiji", "会计 林小芳", "acct-kuaiji-second-2"), ctx
}

// acctSignIn starts a village node, creates accountant acct (named name)
// holding the post village.accountant and signs her in through the page
// in the browser of ctx, her one-time password replaced by newPassword.
func acctSignIn(t *testing.T, ctx context.Context, acct, name, newPassword string) *node {
	t.Helper()
	n := startNode(t, t.TempDir())
	csAccount(t, n, acct, name, []string{string(authz.RoleAccountant)}, []string{"village.accountant"})
	csRun(t, ctx, "open the console", chromedp.Navigate("http://"+n.http+"/"), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, acct, personPW, newPassword)
	return n
}

// acctFill fills the transaction form as a person types, without
// submitting it.
func acctFill(t *testing.T, ctx context.Context, amountYuan, method, cpName, cpID, cpBank, summary, voucher, invoice string) {
	t.Helper()
	actions := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-form"]`))}
	for _, f := range []struct{ id, v string }{{"#tx-amount", amountYuan}, {"#tx-cpName", cpName}, {"#tx-cpId", cpID}, {"#tx-cpBank", cpBank}, {"#tx-summary", summary}, {"#tx-voucher", voucher}, {"#tx-invoiceNumber", invoice}} {
		actions = append(actions, chromedp.Clear(chromedp.ID(f.id)))
		if f.v != "" {
			actions = append(actions, chromedp.SendKeys(chromedp.ID(f.id), f.v))
		}
	}
	csRun(t, ctx, "fill the transaction form", actions...)
	csSelect(t, ctx, "tx-method", method)
}

// acctCheck waits for the form's rule check to reach state and returns its
// text.
func acctCheck(t *testing.T, ctx context.Context, state string) string {
	t.Helper()
	return csText(t, ctx, `[data-testid="tx-check"][data-state="`+state+`"]`)
}

// acctSeq is the village chain's head sequence.
func acctSeq(n *node) string { return n.head().Head.Seq }

func TestConsoleAcctRuleCheck(t *testing.T) {
	n, ctx := acctSignedIn(t)
	shots := csShots(t)
	before := acctSeq(n)

	// Over REST: the dry run of the blocked payment answers the same
	// refusal as recording it, and neither moves the head.
	blocked := set(set(set(tx(1), "transaction.amountFen", 500000), "transaction.paymentMethod", "PAYMENT_METHOD_CASH"), "transaction.voucherNumber", "记-2")
	var dry, real struct{ Message string }
	code, raw := n.post("/v1/transactions", set(blocked, "validateOnly", true), nil)
	if code != http.StatusBadRequest || json.Unmarshal(raw, &dry) != nil || !strings.Contains(dry.Message, "CASH-PAY") {
		t.Fatalf("dry run of the blocked payment: %d %s", code, raw)
	}
	code, raw = n.post("/v1/transactions", set(blocked, "validateOnly", nil), nil)
	if code != http.StatusBadRequest || json.Unmarshal(raw, &real) != nil || real.Message != dry.Message {
		t.Fatalf("recording the blocked payment: %d %s, want the dry run's %q", code, raw, dry.Message)
	}
	if s := acctSeq(n); s != before {
		t.Fatalf("head %s after a refused dry run and record, want %s", s, before)
	}

	// A payment of 2,000 yuan to a person's own bank account: the check
	// shows PRIVATE-ACCT's warning while filling, with nothing recorded.
	acctFill(t, ctx, "2000", "BANK_TRANSFER", "林某某", "11010519491231002X", "6228480012345678", "劳务费", "记-1", "00090001")
	if s := acctCheck(t, ctx, "warned"); !strings.Contains(s, "PRIVATE-ACCT") {
		t.Fatalf("the check before submitting: %q, want PRIVATE-ACCT", s)
	}
	if s := acctSeq(n); s != before {
		t.Fatalf("head %s after the check while filling, want %s (nothing recorded)", s, before)
	}
	csShot(t, ctx, shots, "acct-check-warned-zh")
	csAxe(t, ctx, "the accountant's form with the rule check (zh)")
	csLang(t, ctx, "en")
	acctFill(t, ctx, "2000", "BANK_TRANSFER", "林某某", "11010519491231002X", "6228480012345678", "劳务费", "记-1", "00090001")
	if s := acctCheck(t, ctx, "warned"); !strings.Contains(s, "PRIVATE-ACCT") || !strings.Contains(s, "will warn") {
		t.Fatalf("the English check: %q", s)
	}
	csShot(t, ctx, shots, "acct-check-warned-en")
	csAxe(t, ctx, "the accountant's form with the rule check (en)")
	csLang(t, ctx, "zh")

	// Submitted: recorded, the warning shown again after.
	acctFill(t, ctx, "2000", "BANK_TRANSFER", "林某某", "11010519491231002X", "6228480012345678", "劳务费", "记-1", "00090001")
	acctCheck(t, ctx, "warned")
	csRun(t, ctx, "submit", chromedp.Click(chromedp.CSS(`[data-testid="tx-submit"]`)))
	if s := csText(t, ctx, `[data-testid="tx-warned"]`); !strings.Contains(s, "PRIVATE-ACCT") || !strings.Contains(s, org+"-") {
		t.Fatalf("after submitting: %q, want the entry and PRIVATE-ACCT", s)
	}
	after := acctSeq(n)
	if after == before {
		t.Fatal("the submitted transaction did not move the head")
	}

	// 5,000 yuan in cash: refused in the form, with the rule's reason,
	// before submitting; nothing recorded.
	acctFill(t, ctx, "5000", "CASH", "福州某建材有限公司", "91350100M000100Y43", "", "材料费 现金", "记-2", "00090002")
	if s := acctCheck(t, ctx, "blocked"); !strings.Contains(s, dry.Message) {
		t.Fatalf("the check of the cash payment: %q, want the node's reason %q", s, dry.Message)
	}
	if s := acctSeq(n); s != after {
		t.Fatalf("head %s after the blocked check, want %s", s, after)
	}
	csShot(t, ctx, shots, "acct-check-blocked-zh")
	csRun(t, ctx, "submit the blocked payment", chromedp.Click(chromedp.CSS(`[data-testid="tx-submit"]`)))
	if s := csText(t, ctx, `[data-testid="tx-refused"]`); !strings.Contains(s, dry.Message) {
		t.Fatalf("after submitting the cash payment: %q", s)
	}

	// A field the node refuses: its reason next to that field.
	acctFill(t, ctx, "30", "BANK_TRANSFER", "福州某建材有限公司", "91350100M000100Y43", "6222020200112233445", "办公用品", "记-3", "12AB")
	acctCheck(t, ctx, "invalid")
	msg := csText(t, ctx, `#tx-invoiceNumber-error`)
	invalid := csGet(t, ctx, "read aria-invalid", chromedp.Evaluate[string](`document.getElementById('tx-invoiceNumber').getAttribute('aria-invalid') || ''`))
	if msg == "" || invalid != "true" {
		t.Fatalf("the refused invoice number: message %q, aria-invalid %q", msg, invalid)
	}
	if s := acctSeq(n); s != after {
		t.Fatalf("head %s after the invalid check, want %s", s, after)
	}
}

func TestConsoleAcctReceipts(t *testing.T) {
	n, ctx := acctSignedIn(t)
	shots := csShots(t)
	content := "发票 No.00090007 办公用品 36.00 元\n"
	sum := sha256.Sum256([]byte(content))
	want := hex.EncodeToString(sum[:])

	// A receipt dropped on the form, as a person drags a file there.
	acctFill(t, ctx, "36", "BANK_TRANSFER", "福州某文具店", "91350100M000100Y43", "6222020200112233445", "办公用品", "记-7", "00090007")
	drop := fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File([%q], 'receipt-7.txt', {type: 'text/plain'}));
		const z = document.querySelector('[data-testid="tx-drop"]');
		z.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
		z.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true; })()`, content)
	csGet(t, ctx, "drop a receipt", chromedp.Evaluate[bool](drop))
	csRun(t, ctx, "the upload finishes", chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-receipt"][data-state="done"]`)))
	got := csGet(t, ctx, "read the receipt", chromedp.Evaluate[[]string](`(() => { const li = document.querySelector('[data-testid="tx-receipt"]'); return [li.dataset.sha256, String(li.querySelector('progress').value)]; })()`))
	if got[0] != want || got[1] != "100" {
		t.Fatalf("uploaded receipt: sha256 %s, progress %s; want %s and 100", got[0], got[1], want)
	}
	acctCheck(t, ctx, "clean")
	csShot(t, ctx, shots, "acct-receipt-zh")

	// Recorded with the receipt: shown locked by the entry, no removing it;
	// the node refuses to delete it.
	csRun(t, ctx, "submit", chromedp.Click(chromedp.CSS(`[data-testid="tx-submit"]`)))
	entry := csText(t, ctx, `[data-testid="tx-recorded"] p`)
	csRun(t, ctx, "the receipt shows locked", chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-locked"][data-sha256="`+want+`"]`)))
	lock := csGet(t, ctx, "read the locked receipt", chromedp.Evaluate[[]string](`(() => { const li = document.querySelector('[data-testid="tx-locked"]'); return [li.dataset.lockedBy, String(li.querySelectorAll('button').length)]; })()`))
	if lock[0] == "" || !strings.Contains(entry, lock[0]) || lock[1] != "0" {
		t.Fatalf("locked receipt: by %q (outcome %q), %s buttons; want the entry and none", lock[0], entry, lock[1])
	}
	if n := csGet(t, ctx, "count receipts left in the form", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="tx-receipt"]').length`)); n != 0 {
		t.Fatalf("%d receipts left in the emptied form", n)
	}
	del := csGet(t, ctx, "delete the locked receipt", chromedp.Evaluate[int](
		`fetch('/v1/attachments/`+want+`', {method: 'DELETE', headers: {'X-CSRF-Token': sessionStorage.getItem('sanzi.csrf')}}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if del < 400 {
		t.Fatalf("DELETE of a locked receipt: %d, want a refusal", del)
	}
	code, raw := n.call("GET", "/v1/attachments/"+want, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(raw), lock[0]) {
		t.Fatalf("the receipt after the refused delete: %d %s", code, raw)
	}
	csShot(t, ctx, shots, "acct-receipt-locked-zh")
	csAxe(t, ctx, "the accountant's form with a locked receipt (zh)")
}

func TestConsoleAcctInbox(t *testing.T) {
	n, ctx := acctSignedIn(t)
	shots := csShots(t)
	// Two expenses: each opens a reimbursement whose first step (capture)
	// is the accountant's.
	var first, second recorded
	if code, raw := n.post("/v1/transactions", tx(1), &first); code != http.StatusOK {
		t.Fatalf("record 1: %d %s", code, raw)
	}
	if code, raw := n.post("/v1/transactions", tx(2), &second); code != http.StatusOK {
		t.Fatalf("record 2: %d %s", code, raw)
	}
	csRun(t, ctx, "open the inbox", chromedp.Navigate("http://"+n.http+"/#/inbox"),
		chromedp.WaitVisible(chromedp.CSS(`tbody[data-testid="inbox-rows"] tr[data-step="capture"]`)))
	rows := csGet(t, ctx, "count the steps", chromedp.Evaluate[int](`document.querySelectorAll('tbody[data-testid="inbox-rows"] tr[data-step="capture"]').length`))
	if rows != 2 {
		t.Fatalf("%d capture steps in the inbox, want 2", rows)
	}
	// The countdown moves every second.
	t1 := csText(t, ctx, `[data-testid="inbox-left"]`)
	time.Sleep(1500 * time.Millisecond)
	t2 := csText(t, ctx, `[data-testid="inbox-left"]`)
	if t1 == t2 || !strings.Contains(t1, "天") {
		t.Fatalf("countdown %q then %q: want it to move", t1, t2)
	}
	csShot(t, ctx, shots, "acct-inbox-zh")
	csAxe(t, ctx, "the inbox (zh)")
	csLang(t, ctx, "en")
	csRun(t, ctx, "English inbox", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="inbox-status"][contains(., "wait for you")]`)))
	csShot(t, ctx, shots, "acct-inbox-en")
	csAxe(t, ctx, "the inbox (en)")
	csLang(t, ctx, "zh")

	// Returning needs a reason; approving the capture step moves the
	// procedure to the next post's step and off the inbox.
	firstRow := `tbody[data-testid="inbox-rows"] tr[data-procedure]`
	csRun(t, ctx, "the inbox again in Chinese", chromedp.WaitVisible(chromedp.CSS(firstRow)))
	proc := csGet(t, ctx, "read the first procedure", chromedp.Evaluate[string](`document.querySelector('`+firstRow+`').dataset.procedure`))
	csRun(t, ctx, "return without a reason", chromedp.Click(chromedp.CSS(firstRow+` [data-testid="inbox-return"]`)))
	if s := csText(t, ctx, `[data-testid="inbox-refused"]`); !strings.Contains(s, "退回理由") {
		t.Fatalf("return without a reason: %q", s)
	}
	csRun(t, ctx, "approve", chromedp.Click(chromedp.CSS(firstRow+` [data-testid="inbox-approve"]`)))
	csText(t, ctx, `[data-testid="inbox-recorded"]`)
	csRun(t, ctx, "one step left", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="inbox-status"][contains(., "共 1 项")]`)))
	var after struct {
		Procedure struct {
			OpenStep string `json:"openStep"`
		} `json:"procedure"`
	}
	if code, raw := n.call("GET", "/v1/workflow/"+proc, "", nil, &after); code != http.StatusOK || after.Procedure.OpenStep != "review" {
		t.Fatalf("procedure %s after approving capture: %d %s", proc, code, raw)
	}

	// The other one returned with a reason: a decision recorded, the
	// step still hers to redo.
	other := csGet(t, ctx, "read the other procedure", chromedp.Evaluate[string](`document.querySelector('`+firstRow+`').dataset.procedure`))
	if other == proc {
		t.Fatalf("the approved procedure %s is still in the inbox", proc)
	}
	csRun(t, ctx, "return with a reason",
		chromedp.SendKeys(chromedp.CSS(firstRow+` [data-testid="inbox-reason"]`), "缺少发票原件"),
		chromedp.Click(chromedp.CSS(firstRow+` [data-testid="inbox-return"]`)))
	// The box saying "recorded" is still on the page from the approval,
	// so the return is waited for at the node, not in the page.
	var back struct {
		Procedure struct {
			OpenStep    string   `json:"openStep"`
			DecisionIds []string `json:"decisionIds"`
		} `json:"procedure"`
	}
	var code int
	var raw []byte
	eventually(t, 30*time.Second, "the return of "+other+" recorded", func() bool {
		code, raw = n.call("GET", "/v1/workflow/"+other, "", nil, &back)
		return code == http.StatusOK && len(back.Procedure.DecisionIds) > 0
	})
	if back.Procedure.OpenStep != "capture" || len(back.Procedure.DecisionIds) != 1 {
		t.Fatalf("procedure %s after returning capture: %d %s", other, code, raw)
	}
	csRun(t, ctx, "the return shown as recorded", chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-recorded"]`)))
}

// acctSet sets form fields by id as typing does (input and change events
// follow), dates included, whose typing depends on the browser's locale.
func acctSet(t *testing.T, ctx context.Context, values ...string) {
	t.Helper()
	for i := 0; i+1 < len(values); i += 2 {
		js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q;
			e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })()`, values[i], values[i+1])
		if got := csGet(t, ctx, "set "+values[i], chromedp.Evaluate[string](js)); got != values[i+1] {
			t.Fatalf("set %s: %q, want %q", values[i], got, values[i+1])
		}
	}
}

// acctEntry submits the open entry form and returns the entry recorded
// (state recorded or warned) with the outcome's text.
func acctEntry(t *testing.T, ctx context.Context, state string) (string, string) {
	t.Helper()
	csRun(t, ctx, "submit", chromedp.Click(chromedp.CSS(`[data-testid="en-submit"]`)))
	sel := `[data-testid="en-` + state + `"]`
	text := csText(t, ctx, sel)
	id := csGet(t, ctx, "read the entry", chromedp.Evaluate[string](`document.querySelector('`+sel+`').dataset.entry || ''`))
	return id, text
}

func TestConsoleAcctEntryForms(t *testing.T) {
	n, ctx := acctSignedIn(t)
	shots := csShots(t)
	csRun(t, ctx, "open the entry forms", chromedp.Navigate("http://"+n.http+"/#/entries"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="en-form"]`)))

	// An asset registered.
	csSelect(t, ctx, "en-kind", "register")
	acctSet(t, ctx, "en-assetCode", "ZC-2026-001", "en-name", "村集体仓库", "en-originalValue", "80000", "en-acquiredDate", "2015-05-01", "en-location", "东街 3 号")
	asset, _ := acctEntry(t, ctx, "recorded")
	if !strings.HasPrefix(asset, org+"-") {
		t.Fatalf("registered asset %q", asset)
	}

	// Its sale before any appraisal: NO-APPRAISAL refuses it in the form,
	// before submitting, and nothing is recorded.
	csSelect(t, ctx, "en-kind", "dispose")
	before := acctSeq(n)
	acctSet(t, ctx, "en-assetId", asset, "en-method", "SALE", "en-price", "1000", "en-cpName", "林某某", "en-cpId", "11010519491231002X")
	if s := csText(t, ctx, `[data-testid="en-check"][data-state="blocked"]`); !strings.Contains(s, "NO-APPRAISAL") {
		t.Fatalf("the check of a sale without appraisal: %q", s)
	}
	if s := acctSeq(n); s != before {
		t.Fatalf("head %s after the disposal's dry run, want %s", s, before)
	}
	csShot(t, ctx, shots, "acct-entries-dispose-blocked-zh")

	// The appraisal, with its report uploaded from the form.
	csSelect(t, ctx, "en-kind", "appraise")
	acctSet(t, ctx, "en-assetId", asset, "en-appraisedValue", "50000", "en-appraiser", "福州某资产评估有限公司")
	csGet(t, ctx, "choose the report", chromedp.Evaluate[bool](`(() => { const dt = new DataTransfer();
		dt.items.add(new File(['评估报告 村集体仓库 50000 元'], 'report.txt', {type: 'text/plain'}));
		const i = document.getElementById('en-report'); i.files = dt.files; i.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`))
	csRun(t, ctx, "the report is uploaded", chromedp.WaitVisible(chromedp.CSS(`#en-report[data-state="done"]`)))
	if p := csGet(t, ctx, "read the report's progress", chromedp.Evaluate[float64](`document.getElementById('en-report-progress').value`)); p != 100 {
		t.Fatalf("report upload progress %v, want 100", p)
	}
	acctEntry(t, ctx, "recorded")

	// Now the sale below the appraisal: UNDERPRICE warns before and after.
	csSelect(t, ctx, "en-kind", "dispose")
	acctSet(t, ctx, "en-assetId", asset, "en-method", "SALE", "en-price", "1000", "en-cpName", "林某某", "en-cpId", "11010519491231002X")
	if s := csText(t, ctx, `[data-testid="en-check"][data-state="warned"]`); !strings.Contains(s, "UNDERPRICE") {
		t.Fatalf("the check of a sale below the appraisal: %q", s)
	}
	disposal, text := acctEntry(t, ctx, "warned")
	if !strings.Contains(text, "UNDERPRICE") {
		t.Fatalf("after recording the sale: %q", text)
	}

	// A contract whose term ends before it starts: the node's reason next
	// to the end date; then fixed, with a schedule of two payments.
	csSelect(t, ctx, "en-kind", "contract")
	year := time.Now().Year()
	acctSet(t, ctx, "en-contractNumber", "HT-2026-01", "en-cpName", "林某某", "en-cpId", "11010519491231002X",
		"en-objectKind", "LAND", "en-objectId", "DK-0012", "en-areaMu", "12.5",
		"en-termStart", fmt.Sprintf("%d-01-01", year), "en-termEnd", fmt.Sprintf("%d-12-31", year-1), "en-annual", "6000", "en-award", "TENDER")
	csText(t, ctx, `[data-testid="en-check"][data-state="invalid"]`)
	if msg := csText(t, ctx, `#en-termEnd-error`); msg == "" {
		t.Fatal("no reason next to the term's end")
	}
	csShot(t, ctx, shots, "acct-entries-contract-invalid-zh")
	acctSet(t, ctx, "en-termEnd", fmt.Sprintf("%d-12-31", year+2))
	for i := 0; i < 2; i++ {
		csRun(t, ctx, "add a payment", chromedp.Click(chromedp.CSS(`[data-testid="en-schedule-add"]`)))
	}
	acctSet(t, ctx, "en-due-0", fmt.Sprintf("%d-03-31", year+1), "en-amount-0", "3000", "en-due-1", fmt.Sprintf("%d-09-30", year+1), "en-amount-1", "3000")
	csText(t, ctx, `[data-testid="en-check"][data-state="clean"], [data-testid="en-check"][data-state="warned"]`)
	csAxe(t, ctx, "the contract form (zh)")
	csLang(t, ctx, "en")
	csRun(t, ctx, "the English form", chromedp.WaitVisible(chromedp.CSS(`[data-testid="en-form"]`)))
	csShot(t, ctx, shots, "acct-entries-en")
	csAxe(t, ctx, "the entry form (en)")
	csLang(t, ctx, "zh")
	csRun(t, ctx, "the entry forms in Chinese", chromedp.WaitVisible(chromedp.CSS(`[data-testid="en-form"]`)))
	csSelect(t, ctx, "en-kind", "contract")
	acctSet(t, ctx, "en-contractNumber", "HT-2026-01", "en-cpName", "林某某", "en-cpId", "11010519491231002X",
		"en-objectKind", "LAND", "en-objectId", "DK-0012", "en-areaMu", "12.5",
		"en-termStart", fmt.Sprintf("%d-01-01", year), "en-termEnd", fmt.Sprintf("%d-12-31", year+2), "en-annual", "6000", "en-award", "TENDER")
	for i := 0; i < 2; i++ {
		csRun(t, ctx, "add a payment", chromedp.Click(chromedp.CSS(`[data-testid="en-schedule-add"]`)))
	}
	acctSet(t, ctx, "en-due-0", fmt.Sprintf("%d-03-31", year+1), "en-amount-0", "3000", "en-due-1", fmt.Sprintf("%d-09-30", year+1), "en-amount-1", "3000")
	csShot(t, ctx, shots, "acct-entries-contract-zh")
	contract, _ := acctEntry(t, ctx, "recorded")
	var got struct {
		Contract struct {
			Contract struct {
				Schedule []struct {
					DueDate   string `json:"dueDate"`
					AmountFen string `json:"amountFen"`
				} `json:"schedule"`
			} `json:"contract"`
		} `json:"contract"`
	}
	if code, raw := n.call("GET", "/v1/contracts/"+contract, "", nil, &got); code != http.StatusOK || len(got.Contract.Contract.Schedule) != 2 || got.Contract.Contract.Schedule[1].AmountFen != "300000" {
		t.Fatalf("the contract recorded: %d %s", code, raw)
	}

	// A reversal of the sale: without a reason, refused next to the
	// reason; with one, recorded.
	csSelect(t, ctx, "en-kind", "reversal")
	acctSet(t, ctx, "en-targetId", disposal)
	csRun(t, ctx, "submit without a reason", chromedp.Click(chromedp.CSS(`[data-testid="en-submit"]`)))
	csText(t, ctx, `[data-testid="en-refused"]`)
	if msg := csText(t, ctx, `#en-reason-error`); msg == "" {
		t.Fatal("no reason next to the reversal's reason")
	}
	acctSet(t, ctx, "en-reason", "买受人未付款，处置作废")
	if rev, _ := acctEntry(t, ctx, "recorded"); !strings.HasPrefix(rev, org+"-") {
		t.Fatalf("reversal %q", rev)
	}
}
