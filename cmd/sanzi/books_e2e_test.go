package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVoucherBooksEndToEnd is the accountant's month at a village node
// (issue 19), over REST and the CLI: transactions recorded as today book
// their vouchers, a hand voucher that does not balance is refused naming the
// difference, the month closes, a voucher dated in it is refused, and
// reopening it without the town's approval is refused.
func TestVoucherBooksEndToEnd(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	now := time.Now()
	first := time.Date(now.Year(), now.Month()-2, 1, 0, 0, 0, 0, time.UTC)
	month := first.Format("2006-01")
	day := func(d int) string { return first.AddDate(0, 0, d-1).Format(time.DateOnly) }

	record := func(kind, method, category string, fen int, date, summary string) string {
		t.Helper()
		var out recorded
		body := map[string]any{"transaction": map[string]any{
			"org": org, "kind": kind, "amountFen": fen, "paymentMethod": method, "category": category,
			"counterparty": map[string]any{"name": "某承包户"}, "businessDate": date, "summary": summary,
			"invoiceNumber": fmt.Sprintf("%08d", fen),
		}}
		if code, raw := n.post("/v1/transactions", body, &out); code != 200 {
			t.Fatalf("record %s: %d %s", summary, code, raw)
		}
		return out.Entry.ID
	}
	income := record("TRANSACTION_KIND_INCOME", "PAYMENT_METHOD_CASH", "经营收入", 150000, day(3), "收取鱼塘承包费")
	expense := record("TRANSACTION_KIND_EXPENSE", "PAYMENT_METHOD_CASH", "531", 20000, day(4), "购办公用品")

	type line struct {
		Account   string `json:"account"`
		DebitFen  string `json:"debitFen"`
		CreditFen string `json:"creditFen"`
	}
	type voucherRec struct {
		Entry   entryMeta `json:"entry"`
		Voucher struct {
			Number        int    `json:"number"`
			SourceEntryID string `json:"sourceEntryId"`
			Lines         []line `json:"lines"`
		} `json:"voucher"`
	}
	var list struct {
		Vouchers []voucherRec `json:"vouchers"`
	}
	if code, raw := n.call("GET", "/v1/vouchers?org="+org+"&month="+month, "", nil, &list); code != 200 || len(list.Vouchers) != 2 {
		t.Fatalf("vouchers of %s: %d %s", month, code, raw)
	}
	for i, want := range []struct {
		source, debit, credit, fen string
	}{{income, "101", "501", "150000"}, {expense, "531", "101", "20000"}} {
		v := list.Vouchers[i].Voucher
		if v.Number != i+1 || v.SourceEntryID != want.source || len(v.Lines) != 2 ||
			v.Lines[0].Account != want.debit || v.Lines[0].DebitFen != want.fen || v.Lines[1].Account != want.credit || v.Lines[1].CreditFen != want.fen {
			t.Fatalf("voucher %d: %+v, want 记字第%d号 booking %s: Dr %s / Cr %s %s fen", i, v, i+1, want.source, want.debit, want.credit, want.fen)
		}
	}

	hand := func(date string, debit, credit int) map[string]any {
		return map[string]any{"voucher": map[string]any{"org": org, "businessDate": date, "summary": "现金送存银行",
			"lines": []map[string]any{{"account": "102", "debitFen": debit}, {"account": "101", "creditFen": credit}}}}
	}
	code, raw := n.post("/v1/vouchers", hand(day(5), 120000, 100000), nil)
	if code != 400 || !strings.Contains(string(raw), "debits 1,200.00 exceed credits 1,000.00 by 200.00") {
		t.Fatalf("unbalanced voucher: %d %s", code, raw)
	}
	// The CLI records the balanced one, numbered third in the month.
	out, exit := run(t, "vouchers", "record", "--server", n.grpc, "--org", org, "--date", day(5), "--summary", "现金送存银行",
		"--debit", "102=1000", "--credit", "101=1000")
	if exit != 0 || !strings.Contains(out, "记字第3号") {
		t.Fatalf("vouchers record: exit %d\n%s", exit, out)
	}
	// The CLI previews the voucher a transaction would book: the next
	// number, the chart's accounts, nothing recorded.
	out, exit = run(t, "vouchers", "preview", "--server", n.grpc, "--org", org, "--kind", "expense", "--method", "cash",
		"--amount", "86.40", "--category", "531", "--summary", "购墨盒", "--date", day(6))
	if exit != 0 || !strings.Contains(out, "记字第4号") || !regexp.MustCompile(`531\s+86\.40`).MatchString(out) || !regexp.MustCompile(`101\s+86\.40`).MatchString(out) {
		t.Fatalf("vouchers preview: exit %d\n%s", exit, out)
	}

	// Cash 1,500.00 - 200.00 - 1,000.00 and the bank 1,000.00 at the
	// month's end: a count 1.00 short is refused, naming both figures.
	out, exit = run(t, "books", "close", month, "--server", n.grpc, "--org", org, "--bank-statement", "1000")
	if exit == 0 || !strings.Contains(out, "--cash-counted: required") {
		t.Fatalf("books close without the cash counted: exit %d\n%s", exit, out)
	}
	out, exit = run(t, "books", "close", month, "--server", n.grpc, "--org", org, "--bank-statement", "1000", "--cash-counted", "299")
	if exit == 0 || !strings.Contains(out, "300.00 yuan in the books and 299.00 yuan was counted: 1.00 yuan less counted") {
		t.Fatalf("books close with the cash 1.00 short: exit %d\n%s", exit, out)
	}
	out, exit = run(t, "books", "close", month, "--server", n.grpc, "--org", org, "--bank-statement", "1000", "--cash-counted", "300.00")
	if exit != 0 || !strings.Contains(out, "closed "+month) || !strings.Contains(out, "3 vouchers") || !strings.Contains(out, "cash 300.00 (counted 300.00), bank 1,000.00 (statement 1,000.00)") {
		t.Fatalf("books close: exit %d\n%s", exit, out)
	}
	code, raw = n.post("/v1/vouchers", hand(day(20), 100, 100), nil)
	if code != 400 || !strings.Contains(string(raw), fmt.Sprintf("month %s of %s is closed", month, org)) {
		t.Fatalf("voucher in the closed month: %d %s", code, raw)
	}

	// A BOOKS-REOPEN procedure opened at the village, its town step not
	// approved: reopening is refused and the month stays closed.
	var proc struct {
		Procedure recorded `json:"procedure"`
	}
	if code, raw := n.post("/v1/workflow", map[string]any{"procedure": map[string]any{
		"org": org, "matterCode": "BOOKS-REOPEN", "summary": "补记漏记凭证", "period": month}}, &proc); code != 200 {
		t.Fatalf("open BOOKS-REOPEN: %d %s", code, raw)
	}
	code, raw = n.post("/v1/months/"+org+"/"+month+"/reopen", map[string]any{"reason": "补记漏记凭证", "procedureId": proc.Procedure.Entry.ID}, nil)
	if code != 400 || !strings.Contains(string(raw), "no town step is approved") {
		t.Fatalf("reopen without the town's approval: %d %s", code, raw)
	}
	out, exit = run(t, "books", "months", "--server", n.grpc, "--org", org, "--year", month[:4])
	if exit != 0 || !strings.Contains(out, month) || !strings.Contains(out, "closed by ") {
		t.Fatalf("books months: exit %d\n%s", exit, out)
	}
}
