package main

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
)

// The village accountant's registers and sheet import (issue 14, part 2)
// through Chromium and the real binary: a contract found by search shows
// its schedule, what each instalment received and the arrears; an asset its
// appraisals and disposal; a list exported as XLSX opens as a workbook
// (read here with archive/zip and excelize) with text as text, never as a
// formula; a sheet with one bad row shows the progress to its end and the
// rejected row with its reason, and records nothing; and no page of the
// accountant's asks anything of another origin than the node's.

// offOrigin records every request the tab makes; off lists those to
// another origin than base's (data: and blob: URLs are the page's own).
type offOrigin struct {
	mu   sync.Mutex
	urls []string
}

func watchRequests(t *testing.T, ctx context.Context) *offOrigin {
	t.Helper()
	w := &offOrigin{}
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			w.mu.Lock()
			w.urls = append(w.urls, e.Request.URL)
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *offOrigin) check(t *testing.T, base string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	want, _ := url.Parse(base)
	var off []string
	for _, u := range w.urls {
		p, err := url.Parse(u)
		switch {
		case err != nil:
			off = append(off, u)
		case p.Scheme == "data" || p.Scheme == "blob":
		case p.Scheme != want.Scheme || p.Host != want.Host:
			off = append(off, u)
		}
	}
	if len(off) > 0 {
		t.Fatalf("requests outside the node's origin %s: %v", base, off)
	}
	if len(w.urls) < 10 {
		t.Fatalf("only %d requests seen: the watch did not see the pages load", len(w.urls))
	}
	t.Logf("%d requests, all to %s", len(w.urls), base)
}

// regSignedIn starts a village node and a browser watching its requests,
// and signs an accountant in.
func regSignedIn(t *testing.T) (*node, context.Context, *offOrigin) {
	t.Helper()
	ctx := csBrowser(t)
	watch := watchRequests(t, ctx)
	return acctSignIn(t, ctx, "reg.kuaiji", "会计 郑小云", "reg-kuaiji-second-2"), ctx, watch
}

// regContract records a contract over REST and returns its entry id.
func regContract(t *testing.T, n *node, number, name string, schedule ...[2]any) string {
	t.Helper()
	year := time.Now().Year()
	var plan []map[string]any
	for _, s := range schedule {
		plan = append(plan, map[string]any{"dueDate": s[0], "amountFen": s[1]})
	}
	body := map[string]any{"contract": map[string]any{
		"org": org, "kind": "CONTRACT_KIND_LEASE", "contractNumber": number,
		"counterparty": map[string]any{"name": name, "idNumber": "11010519491231002X"},
		"object":       map[string]any{"kind": "OBJECT_KIND_LAND", "objectId": "DK-" + number, "areaMu": 12.5, "location": "东洋村后山"},
		"termStart":    fmt.Sprintf("%d-01-01", year-1), "termEnd": fmt.Sprintf("%d-12-31", year+2),
		"annualAmountFen": 600000, "awardMethod": "AWARD_METHOD_TENDER", "signedDate": fmt.Sprintf("%d-12-01", year-2),
		"schedule": plan,
	}}
	var out recorded
	if code, raw := n.post("/v1/contracts", body, &out); code != http.StatusOK {
		t.Fatalf("record contract %s: %d %s", number, code, raw)
	}
	return out.Entry.ID
}

func TestConsoleRegisters(t *testing.T) {
	n, ctx, watch := regSignedIn(t)
	shots := csShots(t)
	base := "http://" + n.http + "/"
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format(time.DateOnly) }

	// The contract the accountant looks for: 3,000 yuan due yesterday,
	// 3,000 in two months, 1,000 received: 2,000 in arrears.
	lin := regContract(t, n, "HT-2026-07", "林某某", [2]any{day(-1), 300000}, [2]any{day(60), 300000})
	pay := map[string]any{"payment": map[string]any{"org": org, "contractId": lin, "amountFen": 100000,
		"paymentMethod": "PAYMENT_METHOD_BANK_TRANSFER", "businessDate": day(0), "period": "2026 上半年", "voucherNumber": "收-1"}}
	if code, raw := n.post("/v1/contracts/"+lin+"/payments", pay, nil); code != http.StatusOK {
		t.Fatalf("record the payment: %d %s", code, raw)
	}
	// A counterparty whose name a spreadsheet would run as a formula.
	regContract(t, n, "HT-2026-08", "=HYPERLINK(\"http://x\",\"陈\")", [2]any{day(90), 200000})
	// Enough others for a second page (20 to a page).
	for i := 1; i <= 20; i++ {
		regContract(t, n, fmt.Sprintf("HT-2025-%02d", i), fmt.Sprintf("承包户%02d", i), [2]any{day(30), 100000})
	}

	t.Run("the same search from the CLI", func(t *testing.T) {
		out, code := run(t, "contract", "list", "--server", n.grpc, "--query", "林某", "--arrears", "--status", "active")
		if code != 0 || !strings.Contains(out, "HT-2026-07") || !strings.Contains(out, "2,000.00") || !strings.Contains(out, "1 shown of 1") {
			t.Fatalf("sanzi contract list --query 林某 --arrears: %d\n%s", code, out)
		}
		if out, code := run(t, "contract", "list", "--server", n.grpc, "--status", "open"); code == 0 || !strings.Contains(out, "active, ended, pending, reversed") {
			t.Fatalf("--status open: %d\n%s", code, out)
		}
	})

	t.Run("the accountant finds the contract and sees its schedule", func(t *testing.T) {
		csRun(t, ctx, "open the contracts", chromedp.Navigate(base+"#/contracts"),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 22 条")]`)),
			chromedp.WaitEnabled(chromedp.CSS(`[data-testid="ct-next"]`)))
		csRun(t, ctx, "page 2",
			chromedp.Click(chromedp.CSS(`[data-testid="ct-next"]`)),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "第 2 页")]`)))
		csRun(t, ctx, "search 林某",
			chromedp.SendKeys(chromedp.ID("#ct-filter-query"), "林某"),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "第 1 页，共 1 条")]`)))
		if rows := csText(t, ctx, `tbody[data-testid="ct-rows"]`); !strings.Contains(rows, "HT-2026-07") || !strings.Contains(rows, "2,000.00") || !strings.Contains(rows, "履行中") {
			t.Fatalf("found rows %q: want HT-2026-07, active, 2,000.00 in arrears", rows)
		}
		csRun(t, ctx, "open it", chromedp.Click(chromedp.CSS(`tbody[data-testid="ct-rows"] [data-testid="ct-open"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="ct-detail-body"][data-id="`+lin+`"] tbody[data-testid="ct-schedule"]`)))
		states := csGet(t, ctx, "read the schedule", chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody[data-testid="ct-schedule"] tr')].map(r => r.dataset.state + ' ' + r.innerText.replace(/\s+/g, ' '))`))
		if len(states) != 2 || !strings.HasPrefix(states[0], "overdue") || !strings.Contains(states[0], "3,000.00") || !strings.Contains(states[0], "1,000.00") || !strings.HasPrefix(states[1], "later") {
			t.Fatalf("schedule %q: want the first instalment overdue with 1,000 of 3,000 received, the second not due", states)
		}
		if f := csText(t, ctx, `[data-testid="ct-facts"]`); !strings.Contains(f, "2,000.00") || !strings.Contains(f, "林某某") {
			t.Fatalf("contract facts %q", f)
		}
		if p := csText(t, ctx, `tbody[data-testid="ct-payments"]`); !strings.Contains(p, "1,000.00") || !strings.Contains(p, "2026 上半年") {
			t.Fatalf("payments %q", p)
		}
		if h := csGet(t, ctx, "read the address", chromedp.Evaluate[string](`location.hash`)); h != "#/contracts?id="+lin {
			t.Fatalf("address %q, want the contract's id in it", h)
		}
		// Filters: in arrears only, status ended (none), kind.
		regClear(t, ctx, "ct-filter-query")
		csRun(t, ctx, "the search cleared",
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 22 条")]`)))
		csRun(t, ctx, "in arrears only", chromedp.Click(chromedp.ID("#ct-filter-arrearsOnly")),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 1 条")]`)))
		csSelect(t, ctx, "ct-filter-status", "CONTRACT_STATUS_ENDED")
		csRun(t, ctx, "none ended", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 0 条")]`)))
		csSelect(t, ctx, "ct-filter-status", "")
		csRun(t, ctx, "all again", chromedp.Click(chromedp.ID("#ct-filter-arrearsOnly")),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 22 条")]`)))
		csShot(t, ctx, shots, "acct-contracts-zh")
		csAxe(t, ctx, "the contract register with a contract open (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English register", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "in all")]`)),
			chromedp.WaitVisible(chromedp.CSS(`tbody[data-testid="ct-schedule"] tr[data-state="overdue"]`)))
		if s := csText(t, ctx, `tbody[data-testid="ct-schedule"]`); !strings.Contains(s, "Overdue") {
			t.Fatalf("English schedule %q", s)
		}
		csShot(t, ctx, shots, "acct-contracts-en")
		csAxe(t, ctx, "the contract register with a contract open (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("the list downloaded as XLSX opens, text as text", func(t *testing.T) {
		dir := t.TempDir()
		csRun(t, ctx, "the register", chromedp.Navigate(base+"#/contracts"),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="ct-status"][contains(., "共 22 条")]`)))
		file := regDownload(t, ctx, dir, `[data-testid="ct-xlsx"]`)
		cells := xlsxCells(t, file)
		if cells["A1"] != "合同编号" || len(cells) < 23*9 {
			t.Fatalf("workbook: A1 %q, %d cells; want the header and 22 rows of 9", cells["A1"], len(cells))
		}
		var linRow, evil string
		for ref, v := range cells {
			if v == "HT-2026-07" {
				linRow = strings.TrimLeft(ref, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
			}
			if strings.HasPrefix(v, "=HYPERLINK") {
				evil = ref
			}
		}
		if linRow == "" || cells["B"+linRow] != "林某某" || cells["D"+linRow] != "2000" {
			t.Fatalf("row %s of HT-2026-07: counterparty %q, arrears %q; want 林某某 and the number 2000", linRow, cells["B"+linRow], cells["D"+linRow])
		}
		// The same file through excelize, as a spreadsheet program reads it:
		// the formula-looking name is a plain string, no formula anywhere.
		x, err := excelize.OpenFile(file)
		if err != nil {
			t.Fatalf("excelize cannot open the export: %v", err)
		}
		defer x.Close()
		sheet := x.GetSheetName(0)
		if v, _ := x.GetCellValue(sheet, "B"+linRow); v != "林某某" {
			t.Fatalf("excelize reads B%s as %q", linRow, v)
		}
		if f, _ := x.GetCellFormula(sheet, evil); evil == "" || f != "" {
			t.Fatalf("the name =HYPERLINK(...) at %q: formula %q; want a string cell", evil, f)
		}
		if typ, _ := x.GetCellType(sheet, evil); typ != excelize.CellTypeInlineString {
			t.Fatalf("cell %s has type %v, want an inline string", evil, typ)
		}
		// The CSV of the same list guards the same cell with a quote.
		csvFile := regDownload(t, ctx, dir, `[data-testid="ct-csv"]`)
		raw, err := os.ReadFile(csvFile)
		if err != nil || !strings.Contains(string(raw), `"'=HYPERLINK(""http://x"",""陈"")"`) {
			t.Fatalf("CSV export: %v\n%s", err, raw)
		}
	})

	t.Run("an asset with its appraisals and disposal", func(t *testing.T) {
		var asset recorded
		if code, raw := n.post("/v1/assets", map[string]any{"asset": map[string]any{"org": org, "assetCode": "ZC-2026-003", "name": "村集体烘干房",
			"category": "农业设施", "originalValueFen": 12000000, "acquiredDate": "2016-04-01", "location": "东洋村 5 组"}}, &asset); code != http.StatusOK {
			t.Fatalf("register: %d %s", code, raw)
		}
		var up struct{ Attachment struct{ Sha256 string } }
		if code, raw := n.call("POST", "/v1/attachments?fileName=report.txt&contentType=text/plain", "application/octet-stream", []byte("评估报告 烘干房 80000 元"), &up); code != http.StatusOK {
			t.Fatalf("upload the report: %d %s", code, raw)
		}
		if code, raw := n.post("/v1/assets/"+asset.Entry.ID+"/appraisals", map[string]any{"appraisal": map[string]any{"org": org, "assetId": asset.Entry.ID,
			"appraisedValueFen": 8000000, "appraiser": "福州某资产评估有限公司", "appraisalDate": day(-10), "reportAttachment": up.Attachment.Sha256}}, nil); code != http.StatusOK {
			t.Fatalf("appraise: %d %s", code, raw)
		}
		if code, raw := n.post("/v1/assets/"+asset.Entry.ID+"/disposals", map[string]any{"disposal": map[string]any{"org": org, "assetId": asset.Entry.ID,
			"method": "DISPOSAL_METHOD_SCRAP", "priceFen": 0, "disposalDate": day(0), "reason": "房屋危旧，报废拆除"}}, nil); code != http.StatusOK {
			t.Fatalf("dispose: %d %s", code, raw)
		}
		csRun(t, ctx, "open the assets", chromedp.Navigate(base+"#/assets"),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="as-status"][contains(., "共 1 条")]`)))
		csSelect(t, ctx, "as-filter-status", "ASSET_STATUS_DISPOSED")
		csRun(t, ctx, "disposed ones", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="as-status"][contains(., "共 1 条")]`)),
			chromedp.Click(chromedp.CSS(`tbody[data-testid="as-rows"] [data-testid="as-open"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="as-detail-body"][data-id="`+asset.Entry.ID+`"] [data-testid="as-disposal"]`)))
		if a := csText(t, ctx, `tbody[data-testid="as-appraisals"]`); !strings.Contains(a, "80,000.00") || !strings.Contains(a, "福州某资产评估有限公司") {
			t.Fatalf("appraisals %q", a)
		}
		if d := csText(t, ctx, `[data-testid="as-disposal"]`); !strings.Contains(d, "报废") || !strings.Contains(d, "房屋危旧") {
			t.Fatalf("disposal %q", d)
		}
		csSelect(t, ctx, "as-filter-status", "ASSET_STATUS_HELD")
		csRun(t, ctx, "none held", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="as-status"][contains(., "共 0 条")]`)))
		csSelect(t, ctx, "as-filter-status", "")
		csRun(t, ctx, "all", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="as-status"][contains(., "共 1 条")]`)))
		csShot(t, ctx, shots, "acct-assets-zh")
		csAxe(t, ctx, "the asset register with an asset open (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English register", chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="as-disposal"][contains(., "Scrap")]`)))
		csShot(t, ctx, shots, "acct-assets-en")
		csAxe(t, ctx, "the asset register with an asset open (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("a sheet with one bad row: progress to the end, the row and its reason, nothing recorded", func(t *testing.T) {
		before := acctSeq(n)
		sheet := "日期,类型,金额,支付方式,对方单位,证件号,摘要,凭证号,发票号码\n"
		for i := 1; i <= 5; i++ {
			amount := fmt.Sprintf("%d.00", 20+i)
			if i == 3 {
				amount = "二十三元"
			}
			sheet += fmt.Sprintf("%s,支出,%s,银行转账,福州某建材有限公司,91350100M000100Y43,办公用品 %d,记-I%d,%08d\n", day(0), amount, i, i, 70000+i)
		}
		csRun(t, ctx, "open the import", chromedp.Navigate(base+"#/import"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-form"]`)))
		regChoose(t, ctx, "2026年3月现金日记账.csv", sheet)
		csRun(t, ctx, "import", chromedp.Click(chromedp.CSS(`[data-testid="im-start"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-rejected"]`)))
		bar := csGet(t, ctx, "read the progress", chromedp.Evaluate[[]string](`(() => { const b = document.querySelector('[data-testid="im-progress"]'); return [b.dataset.state, String(b.value), String(b.max)]; })()`))
		if bar[0] != "done" || bar[1] != bar[2] {
			t.Fatalf("progress bar %v: want done, full", bar)
		}
		rows := csGet(t, ctx, "read the rejected rows", chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody[data-testid="im-rejections"] tr')].map(r => r.dataset.row + '|' + r.cells[1].innerText + '|' + r.cells[2].innerText)`))
		if len(rows) != 1 || !strings.HasPrefix(rows[0], "4|金额|") || !strings.Contains(rows[0], "二十三元") {
			t.Fatalf("rejected rows %q: want line 4, column 金额, with the cell in the reason", rows)
		}
		if s := acctSeq(n); s != before {
			t.Fatalf("head %s after a refused sheet, want %s", s, before)
		}
		csShot(t, ctx, shots, "acct-import-rejected-zh")
		csAxe(t, ctx, "the import with a rejected row (zh)")

		// Fixed: all five recorded, by the signed-in accountant.
		regChoose(t, ctx, "2026年3月现金日记账.csv", strings.Replace(sheet, "二十三元", "23.00", 1))
		csRun(t, ctx, "import the fixed sheet", chromedp.Click(chromedp.CSS(`[data-testid="im-start"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-recorded"]`)))
		if s := csText(t, ctx, `[data-testid="im-recorded"]`); !strings.Contains(s, "已登记 5 行") {
			t.Fatalf("after the fixed sheet: %q", s)
		}
		var list struct {
			Transactions []struct {
				Entry struct{ Author string }
			}
		}
		if code, raw := n.call("GET", "/v1/transactions?org="+org, "", nil, &list); code != http.StatusOK || len(list.Transactions) != 5 {
			t.Fatalf("transactions after the import: %d %s", code, raw)
		}
		if a := list.Transactions[0].Entry.Author; a != "reg.kuaiji" {
			t.Fatalf("imported by %q, want the signed-in reg.kuaiji", a)
		}

		// Not a sheet: refused as the wrong type, in the page.
		regChoose(t, ctx, "scan.pdf", "%PDF-1.7 ...")
		csRun(t, ctx, "import a PDF", chromedp.Click(chromedp.CSS(`[data-testid="im-start"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-refused"][data-status="415"]`)))
		csLang(t, ctx, "en")
		regChoose(t, ctx, "march.csv", sheet)
		csRun(t, ctx, "the English import", chromedp.Click(chromedp.CSS(`[data-testid="im-start"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-rejected"]`)))
		if s := csText(t, ctx, `[data-testid="im-rejected"]`); !strings.Contains(s, "nothing of the sheet was recorded") {
			t.Fatalf("English outcome %q", s)
		}
		csShot(t, ctx, shots, "acct-import-rejected-en")
		csAxe(t, ctx, "the import with a rejected row (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("no request outside the node", func(t *testing.T) {
		// Every page of the accountant's menu, and the fonts: the style
		// sheet names system fonts only (no @font-face to fetch).
		routes := csGet(t, ctx, "read the menu", chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav.menu a')].map(a => a.dataset.route)`))
		for _, want := range []string{"transactions", "inbox", "entries", "contracts", "assets", "import"} {
			if !slices.Contains(routes, want) {
				t.Fatalf("menu %v lacks %s", routes, want)
			}
		}
		for _, r := range routes {
			csRun(t, ctx, "open "+r, chromedp.Navigate(base+"#/"+r), chromedp.WaitVisible(chromedp.CSS(`main#page h1`)))
		}
		faces := csGet(t, ctx, "count @font-face rules", chromedp.Evaluate[int](
			`[...document.styleSheets].flatMap(s => [...s.cssRules]).filter(r => r instanceof CSSFontFaceRule).length`))
		if faces != 0 {
			t.Fatalf("%d @font-face rules: a font the node must serve", faces)
		}
		watch.check(t, base)
	})
}

// regClear empties the text input with id as a person deleting its text
// does (an input event follows).
func regClear(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); return e.value; })()`, id)
	if got := csGet(t, ctx, "clear "+id, chromedp.Evaluate[string](js)); got != "" {
		t.Fatalf("clear %s: %q", id, got)
	}
}

// regChoose puts a file with content in the import's file input, as a
// person choosing it does.
func regChoose(t *testing.T, ctx context.Context, name, content string) {
	t.Helper()
	csRun(t, ctx, "the import form", chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-form"]`)))
	js := fmt.Sprintf(`(() => { const dt = new DataTransfer();
		dt.items.add(new File([%q], %q));
		const i = document.getElementById('im-file'); i.files = dt.files; i.dispatchEvent(new Event('change', {bubbles: true}));
		return document.querySelector('[data-testid="im-chosen"]').innerText; })()`, content, name)
	if got := csGet(t, ctx, "choose "+name, chromedp.Evaluate[string](js)); !strings.Contains(got, name) {
		t.Fatalf("chose %s: the page says %q", name, got)
	}
}

// regDownload clicks sel and returns the path of the file the browser
// downloaded into dir.
func regDownload(t *testing.T, ctx context.Context, dir, sel string) string {
	t.Helper()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(dctx, browser.DownloadProgress)
	yes := true
	csRun(t, ctx, "allow downloads into "+dir, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes})
		return err
	}), chromedp.Click(chromedp.CSS(sel)))
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download of %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("download of %s canceled", sel)
		}
	}
	t.Fatalf("no download from %s", sel)
	return ""
}

// xlsxCells reads the first worksheet of the workbook at path with
// archive/zip and encoding/xml: cell reference → text (inline or shared
// strings) or value (numbers). A formula fails the test.
func xlsxCells(t *testing.T, path string) map[string]string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		raw, _ := os.ReadFile(path)
		t.Fatalf("the export is not a zip archive: %v (%d bytes: %q...)", err, len(raw), raw[:min(len(raw), 200)])
	}
	defer z.Close()
	var sheet []byte
	names := []string{}
	for _, f := range z.File {
		names = append(names, f.Name)
		if f.Name == "xl/worksheets/sheet1.xml" {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			sheet, err = io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"} {
		if !slices.Contains(names, want) {
			t.Fatalf("the workbook lacks %s: %v", want, names)
		}
	}
	var ws struct {
		Rows []struct {
			Cells []struct {
				Ref     string  `xml:"r,attr"`
				Type    string  `xml:"t,attr"`
				Formula *string `xml:"f"`
				Value   string  `xml:"v"`
				Inline  string  `xml:"is>t"`
			} `xml:"c"`
		} `xml:"sheetData>row"`
	}
	if err := xml.Unmarshal(sheet, &ws); err != nil {
		t.Fatalf("sheet1.xml: %v", err)
	}
	out := map[string]string{}
	for _, r := range ws.Rows {
		for _, c := range r.Cells {
			if c.Formula != nil {
				t.Fatalf("cell %s is a formula: %q", c.Ref, *c.Formula)
			}
			if c.Type == "inlineStr" {
				out[c.Ref] = c.Inline
			} else {
				out[c.Ref] = c.Value
			}
		}
	}
	return out
}
