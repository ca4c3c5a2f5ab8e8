package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
)

// The village accountant's books in the console (issue 19) through
// Chromium and the real binary: a hand voucher that does not balance shows
// its difference while typed and the node's refusal naming it, records
// nothing; fixed, it is checked (the number it would get) and recorded as
// 记-1 in the month's list; reversed in red ink (记-2), the reason asked
// first. The month-end page shows the month open with its vouchers and why
// it cannot close, refuses the close with every reason, and a reopening
// without a reason is refused next to that field. The statements page draws
// what the node answers.

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
		acctSet(t, ctx, "vc-summary", "现金送存银行", "vc-l1-account", "102", "vc-l1-debit", "1200", "vc-l2-account", "101", "vc-l2-credit", "1000")
		if d := csText(t, ctx, `[data-testid="vc-totals"][data-state="unbalanced"] [data-testid="vc-diff"]`); d != "借方多 200.00 元" {
			t.Fatalf("difference shown %q, want 借方多 200.00 元", d)
		}
		csRun(t, ctx, "record it", chromedp.Click(chromedp.CSS(`[data-testid="vc-submit"]`)))
		if r := csText(t, ctx, `[data-testid="vc-refused"]`); !strings.Contains(r, "debits 1,200.00 exceed credits 1,000.00 by 200.00") {
			t.Fatalf("refusal %q: want the node's reason naming the difference", r)
		}
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
		csRun(t, ctx, "reverse with a reason",
			chromedp.SendKeys(chromedp.CSS(`tbody[data-testid="vc-rows"] tr[data-number="1"] [data-testid="vc-reason"]`), "金额录错"),
			chromedp.Click(chromedp.CSS(rev)))
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
		csRun(t, ctx, "close it", chromedp.Click(chromedp.CSS(row+` [data-testid="mo-close"]`)))
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

	t.Run("the statements page draws the node's answer", func(t *testing.T) {
		var want struct {
			Statement struct {
				Title string
				Rows  []json.RawMessage
			}
			Message string
		}
		code, raw := n.call("GET", "/v1/statements?kind=STATEMENT_KIND_BALANCE_SHEET&org="+org+"&period="+month, "", nil, nil)
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("GET /v1/statements: %d %s: %v", code, raw, err)
		}
		csRun(t, ctx, "open the statements", chromedp.Navigate(base+"#/statements"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="st-form"]`)))
		csSelect(t, ctx, "st-kind", "BALANCE_SHEET")
		acctSet(t, ctx, "st-period", month)
		csRun(t, ctx, "show it", chromedp.Click(chromedp.CSS(`[data-testid="st-show"]`)))
		switch code {
		case http.StatusNotImplemented:
			// TODO(issue 19): GetStatement answers 501 on this branch (built
			// by another helper); once merged this case no longer runs and
			// the one below checks the page. Drop this case then.
			if r := csText(t, ctx, `[data-testid="st-refused"]`); want.Message == "" || !strings.Contains(r, want.Message) {
				t.Fatalf("statements page shows %q; want the node's %q", r, want.Message)
			}
			t.Logf("GetStatement not built here (501): the page shows the node's error")
		case http.StatusOK:
			csRun(t, ctx, "the statement drawn", chromedp.WaitVisible(chromedp.CSS(`tbody[data-testid="st-rows"]`)))
			if title := csText(t, ctx, `[data-testid="st-title"]`); title != want.Statement.Title {
				t.Fatalf("title %q, want the node's %q", title, want.Statement.Title)
			}
			rows := csGet(t, ctx, "count the rows", chromedp.Evaluate[int](`document.querySelectorAll('tbody[data-testid="st-rows"] tr').length`))
			if rows != len(want.Statement.Rows) || rows == 0 {
				t.Fatalf("%d rows drawn, the node answered %d", rows, len(want.Statement.Rows))
			}
			file := regDownload(t, ctx, t.TempDir(), `[data-testid="st-xlsx"]`)
			x, err := excelize.OpenFile(file)
			if err != nil {
				t.Fatalf("the downloaded workbook does not open: %v", err)
			}
			defer x.Close()
			if a1, _ := x.GetCellValue(x.GetSheetName(0), "A1"); a1 != want.Statement.Title {
				t.Fatalf("workbook A1 %q, want %q", a1, want.Statement.Title)
			}
			if s := csText(t, ctx, `[data-testid="st-recorded"]`); !strings.Contains(s, ".xlsx") {
				t.Fatalf("after the download: %q", s)
			}
		default:
			t.Fatalf("GET /v1/statements: %d %s", code, raw)
		}
		csShot(t, ctx, shots, "books-statements-zh")
		csAxe(t, ctx, "the statements (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English statements", chromedp.WaitVisible(chromedp.Search(`//button[@data-testid="st-xlsx"][contains(., "Download Excel")]`)))
		csShot(t, ctx, shots, "books-statements-en")
		csAxe(t, ctx, "the statements (en)")
		csLang(t, ctx, "zh")
	})
}
