package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/sheet"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestNewcomerRecordsAndLists is the README's promise: record a transaction
// with the CLI and see it in the list and in show.
func TestNewcomerRecordsAndLists(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	receipt := filepath.Join(t.TempDir(), "receipt.txt")
	if err := os.WriteFile(receipt, []byte("发票：办公用品 86.40 元"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "attach", receipt, "--server", n.grpc)
	hash := regexp.MustCompile(`^[0-9a-f]{64}`).FindString(out)
	if code != 0 || hash == "" {
		t.Fatalf("attach: exit %d\n%s", code, out)
	}
	out, code = run(t, "tx", "record", "--server", n.grpc, "--org", org, "--kind", "expense", "--amount", "86.40",
		"--method", "village_card", "--counterparty", "文具店", "--summary", "办公用品", "--attach", hash)
	if code != 0 || !strings.Contains(out, "recorded "+id(1)) {
		t.Fatalf("tx record: exit %d\n%s", code, out)
	}
	out, code = run(t, "tx", "list", "--server", n.grpc)
	if code != 0 || !strings.Contains(out, "86.40") || !strings.Contains(out, "1 shown of 1") {
		t.Fatalf("tx list: exit %d\n%s", code, out)
	}
	// Searched and filtered by the node: a match, a miss, a refusal that
	// names the filter.
	today := time.Now().Format(time.DateOnly)
	if out, code = run(t, "tx", "list", "--server", n.grpc, "-q", "文具", "--from", today, "--min", "86.40", "--max", "86.40", "--method", "village_card"); code != 0 || !strings.Contains(out, "1 shown of 1") {
		t.Fatalf("tx list, filtered to the one: exit %d\n%s", code, out)
	}
	if out, code = run(t, "tx", "list", "--server", n.grpc, "--query", "文具", "--min", "86.41"); code != 0 || !strings.Contains(out, "0 shown of 0") {
		t.Fatalf("tx list, filtered to none: exit %d\n%s", code, out)
	}
	if out, code = run(t, "tx", "list", "--server", n.grpc, "--from", "2026-05-02", "--to", "2026-05-01"); code != 1 || !strings.Contains(out, "toDate") {
		t.Fatalf("tx list, a window upside down: exit %d\n%s", code, out)
	}
	out, code = run(t, "tx", "show", id(1), "--server", n.grpc, "--json")
	// protojson varies its spacing on purpose: match the value, not the bytes.
	if code != 0 || !regexp.MustCompile(`"amountFen":\s*"8640"`).MatchString(out) || !strings.Contains(out, hash) {
		t.Fatalf("tx show: exit %d\n%s", code, out)
	}
	// A refused record exits 1 and names the field.
	out, code = run(t, "tx", "record", "--server", n.grpc, "--org", org, "--kind", "expense", "--amount", "5",
		"--method", "cash", "--counterparty", "某人", "--id-number", "110105194912310021", "--summary", "x")
	if code != 1 || !strings.Contains(out, "transaction.counterparty.idNumber") {
		t.Fatalf("bad record: exit %d\n%s", code, out)
	}
	// Bad flag values are caught before anything is sent.
	out, code = run(t, "tx", "record", "--server", n.grpc, "--kind", "gift")
	if code != 1 || !strings.Contains(out, "--kind") || !strings.Contains(out, "expense") {
		t.Fatalf("bad kind: exit %d\n%s", code, out)
	}
	// The environment sets flags.
	t.Setenv("SANZI_SERVER", n.grpc)
	if out, code = run(t, "ledger", "head", org); code != 0 || !regexp.MustCompile(`seq \d+ `).MatchString(out) {
		t.Fatalf("ledger head via SANZI_SERVER: exit %d\n%s", code, out)
	}
}

// TestImportAllOrNothing imports a workbook with one bad row (nothing is
// recorded, the row is named), then the fixed workbook (all recorded).
func TestImportAllOrNothing(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	rows := make([]*sanziv1.Transaction, 0, 200)
	for i := 0; i < 200; i++ {
		rows = append(rows, &sanziv1.Transaction{
			Kind: sanziv1.TransactionKind_TRANSACTION_KIND_INCOME, AmountFen: int64(10000 + i), PaymentMethod: sanziv1.PaymentMethod_PAYMENT_METHOD_BANK_TRANSFER,
			Counterparty: &sanziv1.Counterparty{Name: "承包户", IdNumber: "11010519491231002X"}, BusinessDate: time.Now().AddDate(0, 0, -1).Format(time.DateOnly), Summary: "承包费",
		})
	}
	rows[41].Counterparty.IdNumber = "110105194912310021" // bad check digit: row 43 of the sheet
	write := func(name string) string {
		p := filepath.Join(t.TempDir(), name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := sheet.WriteXLSX(f, rows); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	out, code := run(t, "import", "--xlsx", write("bad.xlsx"), "--org", org, "--server", n.grpc)
	if code != 1 || !regexp.MustCompile(`(?m)^43\s+transaction\.counterparty\.idNumber`).MatchString(out) || !strings.Contains(out, "nothing recorded") {
		t.Fatalf("import with a bad row: exit %d\n%s", code, out)
	}
	if h := n.head(); h.Head.Seq != fmt.Sprint(accountEntries) {
		t.Fatalf("bad import recorded something: head %s", h.Head.Seq)
	}
	rows[41].Counterparty.IdNumber = "11010519491231002X"
	out, code = run(t, "import", "--xlsx", write("good.xlsx"), "--org", org, "--server", n.grpc)
	if code != 0 || !regexp.MustCompile(`recorded 200 rows: `+id(1)+` \.\. `+org+`-\d+`).MatchString(out) || !strings.Contains(out, "sent 200/200 rows") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	// A CSV cell that cannot be read stops the import before sending.
	csv := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(csv, []byte("日期,类型,金额,支付方式,对方单位,摘要\n2026-11-01,收入,12.345,现金,某人,x\n"), 0o600)
	out, code = run(t, "import", "--csv", csv, "--org", org, "--server", n.grpc)
	if code != 1 || !strings.Contains(out, "line 2, column 金额") {
		t.Fatalf("csv with an unreadable cell: exit %d\n%s", code, out)
	}
}

// TestAlertsReview: a rule's warning becomes an alert about the recorded
// entry; the CLI walks it through its review; a step out of order is refused.
func TestAlertsReview(t *testing.T) {
	n := startNode(t, filepath.Join(t.TempDir(), "data"))
	// Live streams: Server-Sent Events over REST, and gRPC.
	// The supervisory committee watches and reviews; the accountant records.
	reviewer := n.as("jian.du")
	sse, err := reviewer.get("/v1/alerts/stream?severity=red")
	if err != nil || sse.StatusCode != 200 {
		t.Fatalf("SSE: %v %v", sse, err)
	}
	defer sse.Body.Close()
	events := make(chan string, 8)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(sse.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data: ") {
				events <- line
			}
		}
	}()
	conn := reviewer.dial()
	defer conn.Close()
	watch, err := sanziv1.NewAlertServiceClient(conn).WatchAlerts(context.Background(), &sanziv1.WatchAlertsRequest{Org: org})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil { // the stream is established
		t.Fatal(err)
	}
	person := set(set(tx(1), "transaction.amountFen", 200000), "transaction.counterparty", map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
	var rec recorded
	if code, raw := n.post("/v1/transactions", person, &rec); code != 200 {
		t.Fatalf("record: %d %s", code, raw)
	}
	alertID := id(4) // after the reviewer's account; the alert follows its subject and the procedure it opens, in one append
	select {
	case ev := <-events:
		if !strings.Contains(ev, `"PRIVATE-ACCT"`) || !strings.Contains(ev, alertID) {
			t.Fatalf("SSE event: %s", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no SSE event within 10 s")
	}
	got1, err := watch.Recv()
	if err != nil || got1.GetAlert().GetEntry().GetId() != alertID || got1.GetAlert().GetSubjectId() != rec.Entry.ID {
		t.Fatalf("gRPC watch: %v %v", got1, err)
	}
	out, code := run(t, "alerts", "list", "--server", n.grpc, "--status", "open")
	if code != 0 || !regexp.MustCompile(alertID+`\s+PRIVATE-ACCT\s+red\s+open\s+`+rec.Entry.ID).MatchString(out) {
		t.Fatalf("alerts list: exit %d\n%s", code, out)
	}
	for _, step := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"confirm", alertID}, 1, "cannot become confirmed"},
		{[]string{"ack", alertID}, 0, "is now acknowledged"},
		{[]string{"dismiss", alertID}, 1, "transition.reason"},
		{[]string{"confirm", alertID}, 0, "is now confirmed"},
		{[]string{"resolve", alertID, "--reason", "收款人已核实"}, 0, "is now resolved"},
		{[]string{"ack", alertID}, 1, "cannot become acknowledged"},
	} {
		out, code := runAs(t, "jian.du", append(append([]string{"alerts"}, step.args...), "--server", n.grpc)...)
		if code != step.code || !strings.Contains(out, step.want) {
			t.Fatalf("alerts %v: exit %d, want %d and %q\n%s", step.args, code, step.code, step.want, out)
		}
	}
	// The accountant who recorded the payment may not review its alert.
	if out, code := run(t, "alerts", "ack", alertID, "--server", n.grpc); code != 1 || !strings.Contains(out, "PermissionDenied") {
		t.Fatalf("alerts ack by the accountant: exit %d\n%s", code, out)
	}
	var got struct {
		Alert struct {
			Status    string `json:"status"`
			SubjectID string `json:"subjectId"`
			History   []struct {
				Status string `json:"status"`
				By     string `json:"by"`
			} `json:"history"`
		} `json:"alert"`
	}
	if code, raw := n.call("GET", "/v1/alerts/"+alertID, "", nil, &got); code != 200 || got.Alert.Status != "ALERT_STATUS_RESOLVED" || len(got.Alert.History) != 3 || got.Alert.SubjectID != rec.Entry.ID {
		t.Fatalf("GET alert: %d %s", code, raw)
	}
	// Shutting down ends the streams instead of waiting for their clients.
	n.stop()
	for range events {
	}
	if _, err := watch.Recv(); err == nil {
		t.Fatal("gRPC watch still open after shutdown")
	}
}

// TestRulesBacktest: a draft that lowers the cash limit to 500 yuan,
// backtested over a stopped node's history, reports the cash payments it
// would have blocked; the default set reports none of them.
func TestRulesBacktest(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data)
	for i, fen := range []int{30000, 60000, 90000, 100000} { // 300, 600, 900, 1000 yuan in cash
		body := set(set(tx(i), "transaction.amountFen", fen), "transaction.paymentMethod", "PAYMENT_METHOD_CASH")
		if code, raw := n.post("/v1/transactions", body, nil); code != 200 {
			t.Fatalf("record: %d %s", code, raw)
		}
	}
	n.stop()
	exported, code := run(t, "rules", "export")
	if code != 0 {
		t.Fatalf("export: %s", exported)
	}
	draft := strings.Replace(exported, `"cash_limit_fen": 100000`, `"cash_limit_fen": 50000`, 1)
	draft = strings.Replace(draft, `"version": "default-1"`, `"version": "draft-cash-500"`, 1)
	if draft == exported {
		t.Fatal("the exported set has no cash_limit_fen to change")
	}
	file := filepath.Join(t.TempDir(), "draft.json")
	if err := os.WriteFile(file, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "rules", "backtest", "--rules", file, "--data", data)
	if code != 0 || !strings.Contains(out, "rule set draft-cash-500 over 4 entries") ||
		!regexp.MustCompile(`CASH-PAY\s+red\s+block\s+3\s+0\s+`+org+`-\d+ `+org+`-\d+ `+org+`-\d+`).MatchString(out) {
		t.Fatalf("backtest of the draft: exit %d\n%s", code, out)
	}
	out, code = run(t, "rules", "backtest", "--data", data)
	if code != 0 || strings.Contains(out, "CASH-PAY") {
		t.Fatalf("backtest of the default set: exit %d\n%s", code, out)
	}
	// A draft that does not compile is refused, naming the rule.
	broken := strings.Replace(exported, `tx.amount_fen > params.cash_limit_fen`, `tx.amount_fen > 'x'`, 1)
	os.WriteFile(file, []byte(broken), 0o600)
	if out, code := run(t, "rules", "backtest", "--rules", file, "--data", data); code != 1 || !strings.Contains(out, "CASH-PAY") {
		t.Fatalf("broken draft: exit %d\n%s", code, out)
	}
}

// TestRuleChangeAndWorkflowByCLI: a rule-set change made with the CLI needs
// a second person, takes effect for the next entry, and the alert it raises
// carries the new version; the procedure a transaction opens is decided step
// by step with the CLI, and a skipped step is refused by rule CHAIN.
func TestRuleChangeAndWorkflowByCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data)
	toPerson := func(i int) map[string]any {
		return set(set(tx(i), "transaction.amountFen", 80000), "transaction.counterparty",
			map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
	}
	var before struct {
		Hits []struct{ Code string } `json:"hits"`
	}
	if code, raw := n.post("/v1/transactions", toPerson(1), &before); code != 200 || len(before.Hits) != 0 {
		t.Fatalf("800 yuan to a person under the default limit: %d %s", code, raw)
	}
	exported, code := run(t, "rules", "export")
	if code != 0 {
		t.Fatal(exported)
	}
	draft := strings.Replace(exported, `"private_limit_fen": 100000`, `"private_limit_fen": 50000`, 1)
	draft = strings.Replace(draft, `"version": "default-1"`, `"version": "2026-11-b"`, 1)
	file := filepath.Join(t.TempDir(), "draft.json")
	if err := os.WriteFile(file, []byte(draft), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		args []string
		code int
		want string
		as   string // the account signed in
	}{
		// Two committee members: li.si drafts, wang.wu publishes; the
		// accountant may do neither, and --author only asserts who is
		// signed in.
		{[]string{"rules", "submit", "--rules", file}, 1, "may not draft_rules", ""},
		{[]string{"rules", "submit", "--rules", file, "--author", "wang.wu"}, 1, "not the signed-in account", "li.si"},
		{[]string{"rules", "submit", "--rules", file, "--author", "li.si"}, 0, "draft 2026-11-b recorded", "li.si"},
		{[]string{"rules", "submit", "--rules", file}, 1, "already exists", "li.si"},
		{[]string{"rules", "publish", "2026-11-b"}, 1, "second person", "li.si"},
		{[]string{"rules", "publish", "2026-11-b"}, 0, "rule set 2026-11-b is live", "wang.wu"},
		{[]string{"rules", "versions"}, 0, "live: 2026-11-b", ""},
	} {
		out, code := runAs(t, step.as, append(step.args, "--server", n.grpc)...)
		if code != step.code || !strings.Contains(out, step.want) {
			t.Fatalf("%v: exit %d, want %d and %q\n%s", step.args, code, step.code, step.want, out)
		}
	}
	var after struct {
		Entry struct{ ID string } `json:"entry"`
		Hits  []struct {
			Code           string `json:"code"`
			RuleSetVersion string `json:"ruleSetVersion"`
		} `json:"hits"`
	}
	if code, raw := n.post("/v1/transactions", toPerson(2), &after); code != 200 || len(after.Hits) != 1 ||
		after.Hits[0].Code != "PRIVATE-ACCT" || after.Hits[0].RuleSetVersion != "2026-11-b" {
		t.Fatalf("the next entry after publishing: %d %s", code, raw)
	}
	out, code := run(t, "alerts", "list", "--rule", "PRIVATE-ACCT", "--json", "--server", n.grpc)
	if code != 0 || !strings.Contains(out, "2026-11-b") || !strings.Contains(out, after.Entry.ID) {
		t.Fatalf("alerts list: exit %d\n%s", code, out)
	}
	if out, code := run(t, "alerts", "list", "--since", "2999-01-01", "--server", n.grpc); code != 0 || !strings.Contains(out, "0 shown of 0") {
		t.Fatalf("alerts list --since in the future: exit %d\n%s", code, out)
	}
	if out, code := run(t, "alerts", "list", "--since", "yesterday", "--server", n.grpc); code != 1 || !strings.Contains(out, "--since") {
		t.Fatalf("alerts list --since yesterday: exit %d\n%s", code, out)
	}
	// rules test: a cash payment over the limit is blocked, nothing recorded.
	cash := set(set(tx(3), "transaction.amountFen", 200000), "transaction.paymentMethod", "PAYMENT_METHOD_CASH")["transaction"]
	raw, _ := json.Marshal(cash)
	txFile := filepath.Join(t.TempDir(), "tx.json")
	if err := os.WriteFile(txFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := runAs(t, "li.si", "rules", "test", "--tx", txFile, "--server", n.grpc); code != 1 || !strings.Contains(out, "CASH-PAY") || !strings.Contains(out, "blocked by rule CASH-PAY") {
		t.Fatalf("rules test: exit %d\n%s", code, out)
	}

	// The procedure the first transaction opened: 日常报销, step capture.
	out, code = run(t, "workflow", "list", "--status", "open", "--server", n.grpc)
	m := regexp.MustCompile(`(` + org + `-\d+)\s+FUND-REIMB\s+open\s+capture\s+village.accountant`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("workflow list: exit %d\n%s", code, out)
	}
	proc := m[1]
	// Each step is decided by an account holding its post, never the one
	// who recorded the payment (e2e): bao.zhang captures, the finance group (cai.wu) reviews, the head
	// (cun.zhang) signs off.
	for _, step := range []struct {
		args []string
		code int
		want string
		as   string
	}{
		{[]string{"approve", proc, "--step", "review", "--post", "village.finance_group"}, 1, "CHAIN", "cai.wu"},
		{[]string{"approve", proc, "--step", "capture", "--post", "village.head"}, 1, "CHAIN", "cun.zhang"},
		{[]string{"approve", proc, "--step", "capture", "--post", "village.accountant"}, 1, "does not hold post village.accountant", "jian.du"},
		{[]string{"return", proc, "--step", "capture", "--post", "village.accountant"}, 1, "decision.reason", "bao.zhang"},
		{[]string{"approve", proc, "--step", "capture", "--post", "village.accountant"}, 0, "open step review", "bao.zhang"},
		{[]string{"approve", proc, "--step", "review", "--post", "village.finance_group"}, 0, "open step signoff", "cai.wu"},
		{[]string{"reject", proc, "--step", "signoff", "--post", "village.head", "--reason", "票据不全"}, 0, "procedure rejected, closed", "cun.zhang"},
		{[]string{"approve", proc, "--step", "signoff", "--post", "village.head"}, 1, "CHAIN", "cun.zhang"},
		{[]string{"open", "--org", org, "--matter", "GOV-COMPLAINT", "--summary", "村民反映租金未公开"}, 0, "first step register", ""},
		{[]string{"open", "--org", org, "--matter", "GOV-DISCLOSE", "--summary", "十月财务公开"}, 1, "procedure.period", ""},
	} {
		out, code := runAs(t, step.as, append(append([]string{"workflow"}, step.args...), "--server", n.grpc)...)
		if code != step.code || !strings.Contains(out, step.want) {
			t.Fatalf("workflow %v: exit %d, want %d and %q\n%s", step.args, code, step.code, step.want, out)
		}
	}
	if out, code := run(t, "cards", "list", "--server", n.grpc); code != 0 || !strings.Contains(out, "0 shown of 0") {
		t.Fatalf("cards list: exit %d\n%s", code, out)
	}
	for _, path := range []string{"/v1/rules", "/v1/rules/2026-11-b", "/v1/workflow?status=open", "/v1/cards", "/v1/alerts?since=2026-01-01T00:00:00Z"} {
		if code, body := n.call("GET", path, "", nil, nil); code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
}
