package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/authz"
	"github.com/sanzi/sanzi/node/chart"
	"github.com/sanzi/sanzi/node/money"
	"github.com/sanzi/sanzi/node/statement"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// The village accountant's books in the console (issue 19) through
// Chromium and the real binary: a hand voucher that does not balance shows
// its difference while typed and the node's refusal naming it, records
// nothing; fixed, it is checked (the number it would get) and recorded as
// 记-1 in the month's list; reversed in red ink (记-2), the reason asked
// first; a transaction's voucher names it. The month-end page shows the month open with its vouchers and why
// it cannot close, refuses the close with every reason, and a reopening
// without a reason is refused next to that field. The statements page draws
// what the node answers. A reader (the supervisory committee) has the
// statements in its menu, not the vouchers nor the close.

// booksRow is the text of voucher number n's row in the list.
func booksRow(t *testing.T, ctx context.Context, n string) string {
	t.Helper()
	return csText(t, ctx, `tbody[data-testid="vc-rows"] tr[data-number="`+n+`"]`)
}

func TestConsoleBooks(t *testing.T) {
	n, ctx := acctSignedIn(t)
	shots := csShots(t)
	base := "http://" + n.http + "/"
	month := time.Now().Format("2006-01")

	for _, route := range []string{"vouchers", "months", "statements"} {
		csRun(t, ctx, "the menu offers "+route, chromedp.WaitVisible(chromedp.CSS(`nav.menu a[data-route="`+route+`"]`)))
	}
	csRun(t, ctx, "open the vouchers", chromedp.Navigate(base+"#/vouchers"),
		chromedp.WaitVisible(chromedp.CSS(`main#page[data-route="vouchers"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="vc-status"][contains(., "共 0 条")]`)))

	t.Run("an unbalanced voucher: its difference, then the node's refusal", func(t *testing.T) {
		before := acctSeq(n)
		acctSet(t, ctx, "vc-summary", "现金送存银行", "vc-l1-account", "999", "vc-l1-debit", "1200", "vc-l2-account", "101", "vc-l2-credit", "1000")
		if d := csText(t, ctx, `[data-testid="vc-totals"][data-state="unbalanced"] [data-testid="vc-diff"]`); d != "借方多 200.00 元" {
			t.Fatalf("difference shown %q, want 借方多 200.00 元", d)
		}
		// A code the chart does not hold: the node's reason beside it.
		csRun(t, ctx, "check it", chromedp.Click(chromedp.CSS(`[data-testid="vc-check"]`)))
		if e := csText(t, ctx, `[data-testid="field-error"][data-for="voucher.lines[0].account"]`); !strings.Contains(e, `"999" is no account`) {
			t.Fatalf("error beside the first line's account %q", e)
		}
		if inv := csGet(t, ctx, "read the mark", chromedp.Evaluate[string](`document.getElementById('vc-l1-account').getAttribute('aria-invalid') || ''`)); inv != "true" {
			t.Fatalf("the account 999 is not marked invalid (%q)", inv)
		}
		acctSet(t, ctx, "vc-l1-account", "102")
		csRun(t, ctx, "record it", chromedp.Click(chromedp.CSS(`[data-testid="vc-submit"]`)),
			chromedp.WaitVisible(chromedp.Search(`//*[@data-testid="vc-refused"][contains(., "debits 1,200.00 exceed credits 1,000.00 by 200.00")]`)))
		if e := csText(t, ctx, `[data-testid="field-error"][data-for="voucher.lines"]`); !strings.Contains(e, "by 200.00") {
			t.Fatalf("error beside the lines %q", e)
		}
		if s := acctSeq(n); s != before {
			t.Fatalf("head %s after a refused voucher, want %s", s, before)
		}
		csShot(t, ctx, shots, "books-voucher-refused-zh")
	})

	t.Run("fixed, checked and recorded as 记-1", func(t *testing.T) {
		before := acctSeq(n)
		acctSet(t, ctx, "vc-l2-credit", "1200")
		if d := csText(t, ctx, `[data-testid="vc-totals"][data-state="balanced"]`); !strings.Contains(d, "借贷平衡") || !strings.Contains(d, "1,200.00") {
			t.Fatalf("totals %q, want balanced at 1,200.00", d)
		}
		csRun(t, ctx, "check it", chromedp.Click(chromedp.CSS(`[data-testid="vc-check"]`)))
		if c := csText(t, ctx, `[data-testid="vc-checked"]`); !strings.Contains(c, "记-1") {
			t.Fatalf("check %q: want the number it would get", c)
		}
		if s := acctSeq(n); s != before {
			t.Fatalf("head %s after a check, want %s: a check records nothing", s, before)
		}
		csRun(t, ctx, "record it", chromedp.Click(chromedp.CSS(`[data-testid="vc-submit"]`)))
		if r := csText(t, ctx, `[data-testid="vc-recorded"]`); !strings.Contains(r, "记-1") {
			t.Fatalf("outcome %q", r)
		}
		if r := booksRow(t, ctx, "1"); !strings.Contains(r, "记-1") || !strings.Contains(r, "现金送存银行") || !strings.Contains(r, "借 102 1,200.00") || !strings.Contains(r, "贷 101 1,200.00") || !strings.Contains(r, "手工录入") {
			t.Fatalf("row of 记-1: %q", r)
		}
		csAxe(t, ctx, "the vouchers with one recorded (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English list", chromedp.WaitVisible(chromedp.Search(`//tbody[@data-testid="vc-rows"]/tr[@data-number="1"][contains(., "J-1")]`)))
		csShot(t, ctx, shots, "books-vouchers-en")
		csAxe(t, ctx, "the vouchers with one recorded (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("reversed in red ink, the reason asked first", func(t *testing.T) {
		rev := `tbody[data-testid="vc-rows"] tr[data-number="1"] [data-testid="vc-reverse"]`
		csRun(t, ctx, "reverse without a reason", chromedp.Click(chromedp.CSS(rev)))
		if r := csText(t, ctx, `[data-testid="vc-rev-refused"]`); !strings.Contains(r, "冲销原因") {
			t.Fatalf("without a reason: %q", r)
		}
		reason := `tbody[data-testid="vc-rows"] tr[data-number="1"] [data-testid="vc-reason"]`
		csRun(t, ctx, "type the reason", chromedp.SendKeys(chromedp.CSS(reason), "金额录错"))
		// The list drawn again (another month, then this one): the reason
		// typed is kept.
		acctSet(t, ctx, "vc-month", time.Now().AddDate(0, -1, 0).Format("2006-01"))
		csRun(t, ctx, "the other month", chromedp.WaitVisible(chromedp.CSS(`[data-testid="vc-empty"]`)))
		acctSet(t, ctx, "vc-month", month)
		csRun(t, ctx, "this month again", chromedp.WaitVisible(chromedp.CSS(reason)))
		if v := csGet(t, ctx, "read the reason", chromedp.Value(chromedp.CSS(reason))); v != "金额录错" {
			t.Fatalf("reason after the list was drawn again: %q", v)
		}
		csRun(t, ctx, "reverse with the reason", chromedp.Click(chromedp.CSS(rev)))
		if r := csText(t, ctx, `[data-testid="vc-rev-recorded"]`); !strings.Contains(r, "记-2") {
			t.Fatalf("reversal outcome %q", r)
		}
		if r := booksRow(t, ctx, "2"); !strings.Contains(r, "红字冲销") || !strings.Contains(r, "借 102 -1,200.00") {
			t.Fatalf("row of the red-ink 记-2: %q", r)
		}
		if r := booksRow(t, ctx, "1"); !strings.Contains(r, "已被冲销") {
			t.Fatalf("row of 记-1 after its reversal: %q", r)
		}
		csRun(t, ctx, "no reversal of a reversed voucher", chromedp.WaitNotPresent(chromedp.CSS(rev)))
		csShot(t, ctx, shots, "books-vouchers-reversed-zh")
	})

	t.Run("the month open, why it cannot close, the close refused", func(t *testing.T) {
		row := `tbody[data-testid="mo-rows"] tr[data-month="` + month + `"]`
		csRun(t, ctx, "open the months", chromedp.Navigate(base+"#/months"),
			chromedp.WaitVisible(chromedp.CSS(row+`[data-state="open"]`)))
		if r := csText(t, ctx, row); !strings.Contains(r, "未结账") || !strings.Contains(r, "is not over yet") || csText(t, ctx, row+` td:nth-child(3)`) != "2" {
			t.Fatalf("row of %s: %q; want open, 2 vouchers, not over yet", month, r)
		}
		// The row's button puts its month in the close form, which asks for
		// the figures checked at the month's end: without them the node
		// names each beside its input; one that is not an amount is
		// refused beside it before asking.
		csRun(t, ctx, "close it", chromedp.Click(chromedp.CSS(row+` [data-testid="mo-close"]`)))
		if m := csGet(t, ctx, "the close form's month", chromedp.Evaluate[string](`document.getElementById('mo-close-month').value`)); m != month {
			t.Fatalf("close form month %q, want %s", m, month)
		}
		csRun(t, ctx, "close without the figures", chromedp.Click(chromedp.CSS(`[data-testid="mo-close-submit"]`)))
		for _, f := range []string{"bankStatementFen", "cashCountedFen"} {
			if e := csText(t, ctx, `[data-testid="field-error"][data-for="`+f+`"]`); !strings.Contains(e, "required") {
				t.Fatalf("closing without the figures: %q beside %s", e, f)
			}
		}
		acctSet(t, ctx, "mo-close-bankStatementFen", "12,00.5x", "mo-close-cashCountedFen", "0")
		csRun(t, ctx, "close with a bank balance that is no amount", chromedp.Click(chromedp.CSS(`[data-testid="mo-close-submit"]`)))
		if e := csText(t, ctx, `[data-testid="field-error"][data-for="bankStatementFen"]`); !strings.Contains(e, "元") {
			t.Fatalf("a bank balance that is no amount: %q beside it", e)
		}
		acctSet(t, ctx, "mo-close-bankStatementFen", "0")
		csRun(t, ctx, "close with the figures", chromedp.Click(chromedp.CSS(`[data-testid="mo-close-submit"]`)))
		if r := csText(t, ctx, `[data-testid="mo-refused"] [data-testid="checks-failed"]`); !strings.Contains(r, "is not over yet") {
			t.Fatalf("close refused with %q", r)
		}
		acctSet(t, ctx, "mo-month", month, "mo-procedureId", org+"-99")
		csRun(t, ctx, "reopen without a reason", chromedp.Click(chromedp.CSS(`[data-testid="mo-reopen-submit"]`)))
		if e := csText(t, ctx, `[data-testid="field-error"][data-for="reason"]`); !strings.Contains(e, "required") {
			t.Fatalf("reopening without a reason: %q beside the reason", e)
		}
		csShot(t, ctx, shots, "books-months-zh")
		csAxe(t, ctx, "the month-end close (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English months", chromedp.WaitVisible(chromedp.Search(`//tbody[@data-testid="mo-rows"]/tr[@data-month="`+month+`"][contains(., "Open")]`)))
		csShot(t, ctx, shots, "books-months-en")
		csAxe(t, ctx, "the month-end close (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("a voucher booked from a transaction names it", func(t *testing.T) {
		// Income in cash, which the chart books Dr 101 / Cr 501 (and gives
		// the statement below its amounts).
		var tx recorded
		income := map[string]any{"transaction": map[string]any{"org": org, "kind": "TRANSACTION_KIND_INCOME", "amountFen": 150000,
			"paymentMethod": "PAYMENT_METHOD_CASH", "category": "经营收入", "counterparty": map[string]any{"name": "某承包户"},
			"businessDate": time.Now().Format(time.DateOnly), "summary": "收取鱼塘承包费", "invoiceNumber": "00150000"}}
		if code, raw := n.post("/v1/transactions", income, &tx); code != http.StatusOK {
			t.Fatalf("record the income: %d %s", code, raw)
		}
		csRun(t, ctx, "open the vouchers", chromedp.Navigate(base+"#/vouchers?month="+month),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="vc-status"][contains(., "共 3 条")]`)))
		if r := booksRow(t, ctx, "3"); !strings.Contains(r, tx.Entry.ID) || !strings.Contains(r, "借 101 1,500.00") || !strings.Contains(r, "贷 501 1,500.00") {
			t.Fatalf("row of 记-3: %q; want the transaction %s it books", r, tx.Entry.ID)
		}
	})

	t.Run("the statements page draws the node's answer", func(t *testing.T) {
		path := "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org=" + org + "&period=" + month
		code, raw := n.call("GET", path, "", nil, nil)
		csRun(t, ctx, "open the statements", chromedp.Navigate(base+"#/statements"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-form"]`)))
		csSelect(t, ctx, "st-kind", "BALANCE_SHEET")
		acctSet(t, ctx, "st-period", month)
		csRun(t, ctx, "show it", chromedp.Click(chromedp.CSS(`[data-testid="st-show"]`)))
		want := &sanziv1.GetStatementResponse{}
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, raw)
		}
		if err := protojson.Unmarshal(raw, want); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if ref := booksStatement(t, n, month); !proto.Equal(ref.GetStatement(), want.GetStatement()) {
			t.Fatalf("the node's balance sheet\n%v\nis not node/statement's over the node's vouchers\n%v", want.GetStatement(), ref.GetStatement())
		}
		booksDrawn(t, ctx, want.GetStatement())
		csShot(t, ctx, shots, "books-statements-zh")
		csAxe(t, ctx, "the statements (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English statements", chromedp.WaitVisible(chromedp.Search(`//button[@data-testid="st-xlsx"][contains(., "Download Excel")]`)))
		csShot(t, ctx, shots, "books-statements-en")
		csAxe(t, ctx, "the statements (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("the books imported from a sheet: a bad row listed, nothing recorded; the sample checked, imported, listed", func(t *testing.T) {
		sample, err := os.ReadFile(filepath.Join("..", "..", "node", "sheet", "testdata", "books-2025.csv"))
		if err != nil {
			t.Fatal(err)
		}
		wantVouchers, wantLines := booksSheetCounts(t, sample)
		before, seq := booksCount(t, n), acctSeq(n)
		csRun(t, ctx, "open the vouchers", chromedp.Navigate(base+"#/vouchers"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="vc-import"]`)))
		csRun(t, ctx, "follow the link to the import of the books", chromedp.Click(chromedp.CSS(`[data-testid="vc-import"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main#page[data-route="import"] [data-testid="im-check"]`)))
		if on := csGet(t, ctx, "read the mode", chromedp.Evaluate[bool](`document.getElementById('im-kind-books').checked`)); !on {
			t.Fatal("the vouchers page's link opens the import not in its books mode")
		}

		// One row's account code is no code of the chart, and markup: the
		// problem quotes the cell as text.
		good := "2025-01-15,记-3,购买办公用品,531,管理费用,860.00"
		lines := strings.Split(string(sample), "\n")
		badLine := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, good) }) + 1
		if badLine == 0 {
			t.Fatalf("the sample has no row %q", good)
		}
		bad := strings.Replace(string(sample), good, "2025-01-15,记-3,购买办公用品,<b>5319</b>,管理费用,860.00", 1)
		regChoose(t, ctx, "账簿-有错.csv", bad)
		if dis := csGet(t, ctx, "read the import button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="im-start"]').disabled`)); !dis {
			t.Fatal("the books can be imported before their check")
		}
		csRun(t, ctx, "check the bad sheet", chromedp.Click(chromedp.CSS(`[data-testid="im-check"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-rejected"]`)))
		rows := csGet(t, ctx, "read the problems", chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody[data-testid="im-rejections"] tr')].map(r => r.dataset.row + '|' + r.cells[0].innerText + '|' + r.cells[1].innerText + '|' + r.cells[2].innerText)`))
		want := fmt.Sprintf("%d|%d|科目编码|", badLine, badLine)
		if len(rows) != 1 || !strings.HasPrefix(rows[0], want) || !strings.Contains(rows[0], `"<b>5319</b>"`) {
			t.Fatalf("problems %q: want one, %s with the cell quoted", rows, want)
		}
		if tags := csGet(t, ctx, "count markup in the problems", chromedp.Evaluate[int](`document.querySelectorAll('tbody[data-testid="im-rejections"] b').length`)); tags != 0 {
			t.Fatalf("%d <b> elements in the problems: a cell drawn as markup", tags)
		}
		if dis := csGet(t, ctx, "read the import button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="im-start"]').disabled`)); !dis {
			t.Fatal("a sheet with a problem can be imported")
		}
		if c, s := booksCount(t, n), acctSeq(n); c != before || s != seq {
			t.Fatalf("after the bad sheet's check: %d vouchers, head %s; want %d, %s", c, s, before, seq)
		}
		csShot(t, ctx, shots, "books-import-rejected-zh")
		csAxe(t, ctx, "the books import with a problem (zh)")

		// The sample: checked (its counts, nothing recorded), then imported.
		regChoose(t, ctx, "books-2025.csv", string(sample))
		csRun(t, ctx, "check the sample", chromedp.Click(chromedp.CSS(`[data-testid="im-check"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-checked"]`)))
		checked := csText(t, ctx, `[data-testid="im-checked"]`)
		if !strings.Contains(checked, fmt.Sprintf("将登记 %d 张凭证", wantVouchers)) || !strings.Contains(checked, fmt.Sprintf("共 %d 行分录", wantLines)) {
			t.Fatalf("check of the sample %q: want %d vouchers, %d lines", checked, wantVouchers, wantLines)
		}
		if c, s := booksCount(t, n), acctSeq(n); c != before || s != seq {
			t.Fatalf("after the sample's check: %d vouchers, head %s; want %d, %s", c, s, before, seq)
		}
		csRun(t, ctx, "import the sample", chromedp.Click(chromedp.CSS(`[data-testid="im-start"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-recorded"]`)))
		if r := csText(t, ctx, `[data-testid="im-recorded"]`); !strings.Contains(r, fmt.Sprintf("已登记 %d 张凭证", wantVouchers)) || !strings.Contains(r, fmt.Sprintf("共 %d 行分录", wantLines)) {
			t.Fatalf("import of the sample %q: want %d vouchers, %d lines", r, wantVouchers, wantLines)
		}
		if c := booksCount(t, n); c != before+wantVouchers {
			t.Fatalf("%d vouchers after the import, want %d + %d", c, before, wantVouchers)
		}
		csShot(t, ctx, shots, "books-import-recorded-zh")
		csAxe(t, ctx, "the books imported (zh)")

		// The same sheet again: its opening balances are in the books. The
		// problem is a voucher's, on no line of the sheet.
		regChoose(t, ctx, "books-2025.csv", string(sample))
		csRun(t, ctx, "check the sample again", chromedp.Click(chromedp.CSS(`[data-testid="im-check"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-rejected"]`)))
		again := csGet(t, ctx, "read the problems", chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody[data-testid="im-rejections"] tr')].map(r => r.dataset.row + '|' + r.cells[0].innerText + '|' + r.cells[2].innerText)`))
		if len(again) == 0 || !strings.HasPrefix(again[0], "0||opening balances of 2025-01-01") {
			t.Fatalf("problems of the sample imported twice %q: want the opening balances', on no line", again)
		}
		if c := booksCount(t, n); c != before+wantVouchers {
			t.Fatalf("%d vouchers after the second check, want %d", c, before+wantVouchers)
		}

		// The vouchers page lists February's three, numbered 记-1 to 记-3.
		csRun(t, ctx, "February of the sample", chromedp.Navigate(base+"#/vouchers?month=2025-02"),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="vc-status"][contains(., "共 3 条")]`)))
		for _, w := range []struct{ n, summary, dr, cr string }{
			{"1", "收到镇财政拨付运转补助", "借 102 50,000.00", "贷 521 50,000.00"},
			{"2", "村道硬化工程预付款", "借 153 30,000.00", "贷 102 30,000.00"},
			{"3", "支付红星建材厂欠款", "借 211 15,000.00", "贷 102 15,000.00"},
		} {
			if r := booksRow(t, ctx, w.n); !strings.Contains(r, "记-"+w.n) || !strings.Contains(r, w.summary) || !strings.Contains(r, w.dr) || !strings.Contains(r, w.cr) {
				t.Fatalf("row of 记-%s in 2025-02: %q; want %s, %s, %s", w.n, r, w.summary, w.dr, w.cr)
			}
		}

		// The English books mode.
		csRun(t, ctx, "the import of the books again", chromedp.Navigate(base+"#/import?kind=books"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="im-check"]`)))
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English books mode", chromedp.WaitVisible(chromedp.Search(`//button[@data-testid="im-start"][contains(., "Import the books")]`)))
		csShot(t, ctx, shots, "books-import-en")
		csAxe(t, ctx, "the books import (en)")
		csLang(t, ctx, "zh")
	})

	t.Run("a reader gets the statements, not the accountant's books", func(t *testing.T) {
		csRun(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)), chromedp.WaitVisible(chromedp.ID("#account")))
		csAccount(t, n, "books.jianwei", "监委会 陈", []string{string(authz.RoleSupervisoryCommittee)}, nil)
		csSignIn(t, ctx, "books.jianwei", personPW, "books-jianwei-second-2")
		routes := csGet(t, ctx, "read the menu", chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav.menu a')].map(a => a.dataset.route)`))
		if !slices.Contains(routes, "statements") || slices.Contains(routes, "vouchers") || slices.Contains(routes, "months") {
			t.Fatalf("supervisory committee's menu %q: want statements, neither vouchers nor months", routes)
		}
		csRun(t, ctx, "the vouchers page is not opened", chromedp.Navigate(base+"#/vouchers"),
			chromedp.WaitVisible(chromedp.Search(`//main[@id="page"][@data-route=""][contains(., "没有这个页面")]`)))
		csRun(t, ctx, "the statements page is", chromedp.Navigate(base+"#/statements"),
			chromedp.WaitVisible(chromedp.CSS(`main#page[data-route="statements"] [data-testid="st-form"]`)))
	})
}

// booksCount is how many vouchers the node lists for org.
func booksCount(t *testing.T, n *node) int {
	t.Helper()
	var list struct{ Vouchers []json.RawMessage }
	if code, raw := n.call("GET", "/v1/vouchers?org="+org+"&pageSize=1000", "", nil, &list); code != http.StatusOK {
		t.Fatalf("GET /v1/vouchers: %d %s", code, raw)
	}
	return len(list.Vouchers)
}

// booksSheetCounts counts a books sheet as the import page should: a
// voucher per month and 凭证字号 (the opening balances, 期初, one), a line
// per row.
func booksSheetCounts(t *testing.T, sheet []byte) (vouchers, lines int) {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(sheet)).ReadAll()
	if err != nil || len(rows) < 2 || rows[0][0] != "日期" || rows[0][1] != "凭证字号" {
		t.Fatalf("the sample sheet: %v, header %q", err, rows[0])
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		key := r[0][:7] + " " + r[1]
		if r[1] == "期初" {
			key = "期初"
		}
		seen[key] = true
		lines++
	}
	return len(seen), lines
}

// booksStatement is the balance sheet node/statement computes from the
// node's vouchers of month, as GetStatement should answer it.
func booksStatement(t *testing.T, n *node, month string) *sanziv1.GetStatementResponse {
	t.Helper()
	_, raw := n.call("GET", "/v1/vouchers?org="+org+"&pageSize=1000", "", nil, nil)
	var list sanziv1.ListVouchersResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &list); err != nil {
		t.Fatalf("vouchers: %v\n%s", err, raw)
	}
	var vs []*sanziv1.Voucher
	for _, r := range list.GetVouchers() {
		vs = append(vs, r.GetVoucher())
	}
	ch, err := chart.New(chart.National())
	if err != nil {
		t.Fatal(err)
	}
	s, err := statement.FromVouchers(ch, sanziv1.StatementKind_STATEMENT_KIND_BALANCE_SHEET, org, month, "", vs)
	if err != nil {
		t.Fatalf("balance sheet of %d vouchers: %v", len(vs), err)
	}
	return &sanziv1.GetStatementResponse{Statement: s}
}

// booksDrawn checks the statements page against want cell by cell (text
// columns or code and item, amounts in yuan, level 0 in bold), and that
// "Download Excel" saves the node's workbook.
func booksDrawn(t *testing.T, ctx context.Context, want *sanziv1.Statement) {
	t.Helper()
	csRun(t, ctx, "the statement drawn", chromedp.WaitVisible(chromedp.CSS(`tbody[data-testid="st-rows"]`)))
	if title := csText(t, ctx, `[data-testid="st-title"]`); title != want.GetTitle() {
		t.Fatalf("title %q, want the node's %q", title, want.GetTitle())
	}
	got := csGet(t, ctx, "read the rows", chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll('tbody[data-testid="st-rows"] tr')].map(r => [r.className, ...[...r.cells].map(c => c.textContent)])`))
	var rows [][]string
	for _, r := range want.GetRows() {
		cells := []string{"", r.GetCode(), r.GetLabel()}
		if r.GetLevel() == 0 {
			cells[0] = "total"
		}
		if len(want.GetTextColumns()) > 0 {
			cells = append(cells[:1], r.GetTexts()...)
		}
		for i := range want.GetAmountColumns() {
			cell := ""
			if i < len(r.GetAmountsFen()) {
				cell = money.FormatFen(r.GetAmountsFen()[i])
			}
			cells = append(cells, cell)
		}
		rows = append(rows, cells)
	}
	if len(rows) < 5 || !slices.EqualFunc(got, rows, slices.Equal[[]string]) {
		t.Fatalf("statement drawn as\n%q\nwant\n%q", got, rows)
	}
	file := regDownload(t, ctx, t.TempDir(), `[data-testid="st-xlsx"]`)
	x, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatalf("the downloaded workbook does not open: %v", err)
	}
	defer x.Close()
	if a1, _ := x.GetCellValue(x.GetSheetName(0), "A1"); a1 != want.GetTitle() {
		t.Fatalf("workbook A1 %q, want %q", a1, want.GetTitle())
	}
	if s := csText(t, ctx, `[data-testid="st-recorded"]`); !strings.Contains(s, ".xlsx") {
		t.Fatalf("after the download: %q", s)
	}
}

// The statements page at a town (issue 19): two villages push to their
// town over mutual TLS (as TestConsoleReview sets them up), each with the
// sample books imported (node/sheet/testdata/books-2025.csv, village 1's
// without its last voucher, so that the two differ). Once the town holds
// both villages' vouchers, a town reviewer opens 报表 and asks the
// balance sheet of the town (its villages summed) and of one village; the
// page draws, cell by cell, what GET /v1/statements at the town answers,
// and the town's sum is the villages' sum, row by row.
func TestConsoleBooksTown(t *testing.T) {
	ctx := csBrowser(t)
	shots := csShots(t)
	tw, villages, _ := rvFederation(t)
	sample, err := os.ReadFile(filepath.Join("..", "..", "node", "sheet", "testdata", "books-2025.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Village 1's books: the sample without its last voucher (the last
	// rows of the last row's date and 凭证字号).
	rows := strings.Split(strings.TrimRight(string(sample), "\n"), "\n")
	key := func(row string) string { f := strings.SplitN(row, ",", 3); return f[0] + "," + f[1] }
	last := len(rows)
	for last > 1 && key(rows[last-1]) == key(rows[len(rows)-1]) {
		last--
	}
	short := strings.Join(rows[:last], "\n") + "\n"
	const period = "2025-03"
	tn := &node{t: t, http: tw.http}
	for i, v := range villages {
		vn := &node{t: t, http: v.http}
		sheet := sample
		if i == 1 {
			sheet = []byte(short)
		}
		var out struct{ Vouchers int }
		if code, raw := vn.call("POST", "/v1/books/imports?org="+v.org, "application/octet-stream", sheet, &out); code != http.StatusOK || out.Vouchers == 0 {
			t.Fatalf("import the books at %s: %d %s", v.org, code, raw)
		}
		// The town holds the village's vouchers once its statement of
		// the village is the village's own.
		path := "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org=" + v.org + "&period=" + period
		own := booksGet(t, vn, path)
		eventually(t, 60*time.Second, v.org+"'s vouchers at the town", func() bool {
			code, raw := tn.call("GET", path, "", nil, nil)
			got := &sanziv1.GetStatementResponse{}
			return code == http.StatusOK && protojson.Unmarshal(raw, got) == nil && proto.Equal(got.GetStatement(), own.GetStatement())
		})
	}

	// The town's sum is its villages' sum, row by row.
	town := booksGet(t, tn, "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org="+rvTown+"&period="+period)
	v0 := booksGet(t, tn, "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org="+rvVillages[0]+"&period="+period)
	v1 := booksGet(t, tn, "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org="+rvVillages[1]+"&period="+period)
	if len(town.GetStatement().GetRows()) != len(v0.GetStatement().GetRows()) || len(v0.GetStatement().GetRows()) != len(v1.GetStatement().GetRows()) {
		t.Fatalf("rows: town %d, villages %d and %d", len(town.GetStatement().GetRows()), len(v0.GetStatement().GetRows()), len(v1.GetStatement().GetRows()))
	}
	differ := false
	for i, r := range town.GetStatement().GetRows() {
		a, b := v0.GetStatement().GetRows()[i].GetAmountsFen(), v1.GetStatement().GetRows()[i].GetAmountsFen()
		if len(r.GetAmountsFen()) != len(a) || len(a) != len(b) {
			t.Fatalf("row %s: amounts %v, villages %v and %v", r.GetCode(), r.GetAmountsFen(), a, b)
		}
		for j, x := range r.GetAmountsFen() {
			if x != a[j]+b[j] {
				t.Fatalf("row %s %s column %d: town %d, villages %d + %d", r.GetCode(), r.GetLabel(), j, x, a[j], b[j])
			}
			differ = differ || a[j] != b[j]
		}
	}
	if !differ {
		t.Fatal("the two villages' balance sheets are the same: the sum proves little")
	}

	// The town reviewer asks both at the town's console.
	const reviewer = "st.shen"
	csAccount(t, tn, reviewer, "镇审核员 沈", []string{string(authz.RoleTownReviewer)}, []string{"town.reviewer"})
	tbase := "http://" + tw.http + "/"
	csRun(t, ctx, "open the town's console", chromedp.Navigate(tbase), chromedp.WaitVisible(chromedp.ID("#account")))
	csLang(t, ctx, "zh")
	csSignIn(t, ctx, reviewer, personPW, personNewPW)
	csRun(t, ctx, "the menu offers the statements", chromedp.WaitVisible(chromedp.CSS(`nav.menu a[data-route="statements"]`)))
	csRun(t, ctx, "open the statements", chromedp.Navigate(tbase+"#/statements"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-form"]`)))
	if o := csGet(t, ctx, "read the org", chromedp.Value(chromedp.ID("st-org"))); o != rvTown {
		t.Fatalf("the statements open on org %q, want the town %s", o, rvTown)
	}
	csSelect(t, ctx, "st-kind", "BALANCE_SHEET")
	acctSet(t, ctx, "st-period", period)
	csRun(t, ctx, "show the town's", chromedp.Click(chromedp.CSS(`[data-testid="st-show"]`)))
	booksDrawn(t, ctx, town.GetStatement())
	csShot(t, ctx, shots, "books-statements-town-zh")
	csAxe(t, ctx, "the town's statements (zh)")

	acctSet(t, ctx, "st-org", rvVillages[1])
	csRun(t, ctx, "show village 1's", chromedp.Click(chromedp.CSS(`[data-testid="st-show"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "`+rvVillages[1]+`")]`)))
	booksDrawn(t, ctx, v1.GetStatement())
}

// booksGet is the statement n answers at path.
func booksGet(t *testing.T, n *node, path string) *sanziv1.GetStatementResponse {
	t.Helper()
	code, raw := n.call("GET", path, "", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s at %s: %d %s", path, n.http, code, raw)
	}
	out := &sanziv1.GetStatementResponse{}
	if err := protojson.Unmarshal(raw, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out
}
