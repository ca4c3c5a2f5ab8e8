package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The accountant's transactions searched and filtered (issue 14: "lists
// with search, filters and paging") through Chromium and the real
// binary: a counterparty found by text over two pages, a window of
// business dates and a range of amounts showing exactly the transactions
// in them and their number, the filters kept in the address across a
// reload, typed markup shown as text, and another village's list refused.

// txsVoucher is one transaction recorded for the search: its voucher
// number is how the test recognises its row.
type txsVoucher struct {
	voucher, kind, method, party, summary string
	fen                                   int64
	days                                  int // business date, days from today
}

// txsShows waits until the list says total in all and its rows are the
// vouchers given, in order, on the page shown.
func txsShows(t *testing.T, ctx context.Context, doing string, total int, vouchers ...string) {
	t.Helper()
	want := strings.Join(vouchers, ",")
	js := fmt.Sprintf(`(() => {
		const s = document.querySelector('[data-testid="tx-status"]');
		const v = [...document.querySelectorAll('tbody[data-testid="tx-rows"] tr[data-entry]')].map((r) => r.cells[6].textContent).join(',');
		return !!s && s.textContent.includes('共 %d 条') && v === %q;
	})()`, total, want)
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[bool](js)); err != nil {
		got := csGet(t, ctx, "read the list", chromedp.Evaluate[string](`document.querySelector('[data-testid="tx-status"]').textContent + ' | ' +
			[...document.querySelectorAll('tbody[data-testid="tx-rows"] tr')].map((r) => r.cells.length > 6 ? r.cells[6].textContent : r.textContent).join(',')`))
		t.Fatalf("%s: the list shows %q, want %d in all and the rows %q", doing, got, total, want)
	}
}

// txsSet sets a filter's control to value as a person's edit does, and
// fires the event its kind listens to.
func txsSet(t *testing.T, ctx context.Context, id, value, event string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event(%q, {bubbles: true})); return e.value; })()`, id, value, event)
	if got := csGet(t, ctx, "set "+id, chromedp.Evaluate[string](js)); got != value {
		t.Fatalf("set %s to %q: %q", id, value, got)
	}
}

func TestConsoleTransactionsSearch(t *testing.T) {
	n, ctx, watch := regSignedIn(t)
	shots := csShots(t)
	base := "http://" + n.http + "/"
	day := func(d int) string { return time.Now().AddDate(0, 0, d).Format(time.DateOnly) }
	const supplier = "福州某建材有限公司"
	recs := []txsVoucher{
		{"V-1", "EXPENSE", "BANK_TRANSFER", supplier, "村部屋顶修缮材料", 128050, -40},
		{"V-2", "EXPENSE", "CASH", "林某某", "保洁劳务费", 30000, -20},
		{"V-3", "INCOME", "BANK_TRANSFER", "东洋种养专业合作社", "鱼塘承包费", 800000, -10},
		{"V-4", "EXPENSE", "BANK_TRANSFER", supplier, "水渠维修", 45000, -5},
		{"V-5", "EXPENSE", "VILLAGE_CARD", "文具店", "办公用品 <script>window.__xss=1</script>", 8640, 0},
	}
	// Twenty more from the same supplier, a month ago: its search fills a
	// second page.
	for i := 1; i <= 20; i++ {
		recs = append(recs, txsVoucher{fmt.Sprintf("F-%02d", i), "EXPENSE", "BANK_TRANSFER", supplier, fmt.Sprintf("零星材料 %d", i), int64(1000 + i), -30})
	}
	for i, r := range recs {
		body := map[string]any{"transaction": map[string]any{
			"org": org, "kind": "TRANSACTION_KIND_" + r.kind, "amountFen": r.fen, "paymentMethod": "PAYMENT_METHOD_" + r.method,
			"counterparty": map[string]any{"name": r.party}, "businessDate": day(r.days), "summary": r.summary,
			"voucherNumber": r.voucher, "invoiceNumber": fmt.Sprintf("%08d", 7700+i),
		}}
		if code, raw := n.post("/v1/transactions", body, nil); code != http.StatusOK {
			t.Fatalf("record %s: %d %s", r.voucher, code, raw)
		}
	}
	fillers := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("F-%02d", i))
		}
		return out
	}

	t.Run("a counterparty found by text, over two pages", func(t *testing.T) {
		// Signed in on this page already, before the transactions were
		// recorded: loaded again.
		csRun(t, ctx, "open the transactions", chromedp.Navigate(base+"#/transactions"), chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-filters"]`)))
		txsShows(t, ctx, "the whole list", 25, append([]string{"V-1", "V-2", "V-3", "V-4", "V-5"}, fillers(1, 15)...)...)
		csRun(t, ctx, "search 建材", chromedp.SendKeys(chromedp.ID("#tx-filter-query"), "建材"))
		txsShows(t, ctx, "the supplier's first page", 22, append([]string{"V-1", "V-4"}, fillers(1, 18)...)...)
		csRun(t, ctx, "the next page", chromedp.Click(chromedp.CSS(`[data-testid="tx-next"]`)),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "第 2 页")]`)))
		txsShows(t, ctx, "the supplier's second page", 22, fillers(19, 20)...)
		csRun(t, ctx, "back to the first page", chromedp.Click(chromedp.CSS(`[data-testid="tx-prev"]`)),
			chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "第 1 页")]`)))
		regClear(t, ctx, "tx-filter-query")
		csRun(t, ctx, "search 林某", chromedp.SendKeys(chromedp.ID("#tx-filter-query"), "林某"))
		txsShows(t, ctx, "a person's one payment", 1, "V-2")
		regClear(t, ctx, "tx-filter-query")
		txsShows(t, ctx, "the search cleared", 25, append([]string{"V-1", "V-2", "V-3", "V-4", "V-5"}, fillers(1, 15)...)...)
	})

	t.Run("a window of dates and a range of amounts", func(t *testing.T) {
		txsSet(t, ctx, "tx-filter-fromDate", day(-25), "change")
		txsSet(t, ctx, "tx-filter-toDate", day(-5), "change")
		txsShows(t, ctx, "the window, both days in", 3, "V-2", "V-3", "V-4")
		txsSet(t, ctx, "tx-filter-fromDate", "", "change")
		txsSet(t, ctx, "tx-filter-toDate", "", "change")
		csRun(t, ctx, "at least 300 yuan", chromedp.SendKeys(chromedp.ID("#tx-filter-minAmountFen"), "300"))
		csRun(t, ctx, "at most 1,280.50 yuan", chromedp.SendKeys(chromedp.ID("#tx-filter-maxAmountFen"), "1280.50"))
		txsShows(t, ctx, "the range, both ends in", 3, "V-1", "V-2", "V-4")
		txsSet(t, ctx, "tx-filter-fromDate", day(-25), "change")
		txsShows(t, ctx, "the range from a day", 2, "V-2", "V-4")
		csSelect(t, ctx, "tx-filter-paymentMethod", "CASH")
		txsShows(t, ctx, "and in cash", 1, "V-2")
		csSelect(t, ctx, "tx-filter-paymentMethod", "")
		txsShows(t, ctx, "any method again", 2, "V-2", "V-4")
	})

	t.Run("the filters kept in the address, across a reload", func(t *testing.T) {
		h := csGet(t, ctx, "read the address", chromedp.Evaluate[string](`location.hash`))
		q, err := url.ParseQuery(strings.TrimPrefix(h, "#/transactions?"))
		if err != nil || !strings.HasPrefix(h, "#/transactions?") || q.Get("fromDate") != day(-25) || q.Get("minAmountFen") != "30000" ||
			q.Get("maxAmountFen") != "128050" || q.Has("org") || q.Has("pageToken") {
			t.Fatalf("address %q: want the date and the amounts in fen (no org, no page token)", h)
		}
		csRun(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="tx-filters"]`)))
		txsShows(t, ctx, "the same list after the reload", 2, "V-2", "V-4")
		kept := csGet(t, ctx, "read the controls", chromedp.Evaluate[string](`['fromDate', 'minAmountFen', 'maxAmountFen'].map((n) => document.getElementById('tx-filter-' + n).value).join(' ')`))
		if kept != day(-25)+" 300.00 1280.50" {
			t.Fatalf("controls after the reload %q", kept)
		}
		csShot(t, ctx, shots, "acct-transactions-search-zh")
		csAxe(t, ctx, "the transactions searched and filtered (zh)")
		csLang(t, ctx, "en")
		csRun(t, ctx, "the English list", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "in all")]`)),
			chromedp.WaitVisible(chromedp.Search(`//label[@for="tx-filter-fromDate"][contains(., "Date from")]`)))
		if kept := csGet(t, ctx, "read the controls", chromedp.Evaluate[string](`document.getElementById('tx-filter-fromDate').value`)); kept != day(-25) {
			t.Fatalf("the English page's window starts %q", kept)
		}
		csShot(t, ctx, shots, "acct-transactions-search-en")
		csAxe(t, ctx, "the transactions searched and filtered (en)")
		csLang(t, ctx, "zh")
		csRun(t, ctx, "clear the filters", chromedp.Click(chromedp.CSS(`[data-testid="tx-filters-clear"]`)))
		txsShows(t, ctx, "every transaction again", 25, append([]string{"V-1", "V-2", "V-3", "V-4", "V-5"}, fillers(1, 15)...)...)
		if h := csGet(t, ctx, "read the address", chromedp.Evaluate[string](`location.hash`)); h != "#/transactions" {
			t.Fatalf("address %q after clearing, want #/transactions", h)
		}
	})

	t.Run("typed markup is text", func(t *testing.T) {
		csRun(t, ctx, "search <script>", chromedp.SendKeys(chromedp.ID("#tx-filter-query"), "<script>"))
		txsShows(t, ctx, "the one whose summary holds it", 1, "V-5")
		if rows := csText(t, ctx, `tbody[data-testid="tx-rows"]`); !strings.Contains(rows, "办公用品 <script>window.__xss=1</script>") {
			t.Fatalf("rows %q: want the summary as typed", rows)
		}
		regClear(t, ctx, "tx-filter-query")
		const typed = `<img src=x onerror="window.__xss=1">`
		csRun(t, ctx, "search markup", chromedp.SendKeys(chromedp.ID("#tx-filter-query"), typed))
		txsShows(t, ctx, "nothing found", 0)
		if empty := csText(t, ctx, `[data-testid="tx-empty"]`); empty != "没有与“"+typed+"”相符的收支记录。" {
			t.Fatalf("empty-result message %q: want the search shown as typed", empty)
		}
		markup := csGet(t, ctx, "look for markup from data", chromedp.Evaluate[string](
			`document.querySelectorAll('tbody[data-testid="tx-rows"] img, tbody[data-testid="tx-rows"] script').length + ' ' + String(window.__xss)`))
		if markup != "0 undefined" {
			t.Fatalf("elements and script from typed text: %q", markup)
		}
		regClear(t, ctx, "tx-filter-query")
		txsShows(t, ctx, "the search cleared", 25, append([]string{"V-1", "V-2", "V-3", "V-4", "V-5"}, fillers(1, 15)...)...)
	})

	t.Run("a filter the node refuses, another village refused", func(t *testing.T) {
		// Upside down: the node names the date at fault in the status line.
		txsSet(t, ctx, "tx-filter-fromDate", day(-1), "change")
		txsSet(t, ctx, "tx-filter-toDate", day(-2), "change")
		csRun(t, ctx, "the refusal", chromedp.WaitVisible(chromedp.Search(`//p[@data-testid="tx-status"][contains(., "toDate")]`)))
		csRun(t, ctx, "clear the filters", chromedp.Click(chromedp.CSS(`[data-testid="tx-filters-clear"]`)))
		txsShows(t, ctx, "every transaction again", 25, append([]string{"V-1", "V-2", "V-3", "V-4", "V-5"}, fillers(1, 15)...)...)
		other := csGet(t, ctx, "ask for another village's list", chromedp.Evaluate[int](
			`fetch('/v1/transactions?org=350505100202&query=`+url.QueryEscape("建材")+`&minAmountFen=1').then((r) => r.status)`, chromedp.EvalAwaitPromise))
		if other != http.StatusForbidden {
			t.Fatalf("another village's transactions, filtered: HTTP %d, want 403", other)
		}
	})
	watch.check(t, base)
}
