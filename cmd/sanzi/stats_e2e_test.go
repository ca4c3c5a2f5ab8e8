package main

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVillageToClickHouseStats runs the whole path on loopback: a village
// node records transactions (some reversed); its chain is pushed to a
// district member running with --clickhouse; the member's loader puts it in
// ClickHouse; `sanzi stats totals` then shows, for the village, exactly the
// income and expense the village recorded, and exports them as CSV.
func TestVillageToClickHouseStats(t *testing.T) {
	ctx := context.Background()
	ch, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if out, code := run(t, "ca", "init", "--district", "350505", "--dir", caDir); code != 0 {
		t.Fatal(out)
	}
	for _, name := range []string{"d1", "admin"} {
		if out, code := run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", name); code != 0 {
			t.Fatal(out)
		}
	}
	orgsFile := filepath.Join(dir, "orgs.csv")
	if err := os.WriteFile(orgsFile, []byte("code,name\n350505000000,示范区\n350505100000,城关镇\n350505100201,东风村\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = []string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--data", d.data, "--tls-dir", caDir, "--cert", "d1",
		"--bootstrap", "--log-level", "warn", "--clickhouse", ch.Addr(), "--orgs", orgsFile}
	d.args = append(d.args, districtAdminArgs(t, dir)...)
	d.start()
	t.Cleanup(d.stop)
	district := clientFor(t, caDir, d.api)
	waitLeader(t, district, "")

	// The village records 60 expenses and 12 incomes; every 9th expense is
	// reversed; one payment to a person raises an alert.
	data := filepath.Join(dir, "village")
	n := startNode(t, data)
	var income, expense int64
	for i := 1; i <= 72; i++ {
		body := tx(i)
		amount := int64(10_000 + 137*i)
		kind := "TRANSACTION_KIND_EXPENSE"
		if i%6 == 0 {
			kind = "TRANSACTION_KIND_INCOME"
		}
		if i == 5 { // to a person's account: a PRIVATE-ACCT alert
			amount = 200_000
			body = set(body, "transaction.counterparty", map[string]any{"name": "林某某", "idNumber": "11010519491231002X", "bankAccount": "6228480012345678"})
		}
		body = set(set(body, "transaction.amountFen", amount), "transaction.kind", kind)
		var rec recorded
		if code, raw := n.post("/v1/transactions", body, &rec); code != 200 {
			t.Fatalf("record: %d %s", code, raw)
		}
		if kind == "TRANSACTION_KIND_INCOME" {
			income += amount
			continue
		}
		expense += amount
		if i%9 == 0 {
			if code, raw := n.post("/v1/reversals", map[string]any{"reversal": map[string]any{"org": org, "targetId": rec.Entry.ID, "reason": "错账"}}, nil); code != 200 {
				t.Fatalf("reverse: %d %s", code, raw)
			}
			expense -= amount
		}
	}
	// The accountant decides the first step of one reimbursement.
	var procs struct {
		Procedures []struct {
			Entry struct{ ID string } `json:"entry"`
		} `json:"procedures"`
	}
	if code, raw := n.call("GET", "/v1/workflow?status=open&matterCode=FUND-REIMB&pageSize=1", "", nil, &procs); code != 200 || len(procs.Procedures) != 1 {
		t.Fatalf("workflow: %d %s", code, raw)
	}
	pid := procs.Procedures[0].Entry.ID
	if code, raw := n.as("bao.zhang").post("/v1/workflow/"+pid+"/decisions", map[string]any{"decision": map[string]any{"procedureId": pid, "stepCode": "capture",
		"post": "village.accountant", "action": "STEP_ACTION_APPROVE"}}, nil); code != 200 {
		t.Fatalf("decide: %d %s", code, raw)
	}
	// Push the village's chain to the district, as its outbox will.
	key, err := keys.ReadPrivate(filepath.Join(data, "keys", org+".key"))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := district.RegisterOrigin(cctx, &sanziv1.RegisterOriginRequest{Origin: org, PublicKey: key.Public().(ed25519.PublicKey)}); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for from := 1; ; {
		_, body := n.call("GET", fmt.Sprintf("/v1/ledger/%s/entries?fromSeq=%d&limit=1000", org, from), "", nil, nil)
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
		if len(page.GetEntries()) < 1000 {
			break
		}
		from += 1000
	}
	head := n.head().Head.Seq
	if fmt.Sprint(len(raws)) != head {
		t.Fatalf("read %d entries, head %s", len(raws), head)
	}
	resp, err := district.PushEntries(cctx, &sanziv1.PushEntriesRequest{Entries: raws})
	if err != nil || resp.GetAdded() != int64(len(raws)) {
		t.Fatalf("push: %v %v", resp, err)
	}

	// The leader's loader brings it into ClickHouse within seconds; an
	// analyst reads the statistics (read_stats), signed in.
	analyst := districtPerson(t, caDir, d.api, districtAdmin(t, caDir, d.api), "zhao.analyst", "district_analyst")
	csvFile := filepath.Join(dir, "totals.csv")
	want := regexp.MustCompile(org + `\s+\d{6}\s+` + regexp.QuoteMeta(money.FormatFen(income)) + `\s+\S*\s*` + regexp.QuoteMeta(money.FormatFen(expense)) + `.*东风村`)
	var out string
	eventually(t, 30*time.Second, "the village's totals in ClickHouse", func() bool {
		var code int
		out, code = run(t, "stats", "totals", "--server", d.api, "--tls-dir", caDir, "--token", analyst, "--parent", org, "--csv", csvFile)
		return code == 0 && want.MatchString(out)
	})
	t.Logf("sanzi stats totals:\n%s", out)
	f, err := os.Open(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != org || recs[1][2] != money.FormatFen(income) || recs[1][4] != money.FormatFen(expense) {
		t.Fatalf("CSV export: %v %v", recs, err)
	}
	for _, sub := range [][]string{{"alerts", "--by", "org", "--level", "town"}, {"anomalies"}, {"risk"}, {"efficiency", "--by", "post", "--xlsx", filepath.Join(dir, "e.xlsx")}} {
		if out, code := run(t, append(append([]string{"stats"}, sub...), "--server", d.api, "--tls-dir", caDir, "--token", analyst)...); code != 0 || !regexp.MustCompile(`350505|village\.`).MatchString(out) {
			t.Fatalf("stats %v: exit %d\n%s", sub, code, out)
		} else if sub[0] == "risk" && !strings.Contains(out, "TAMPER") {
			t.Fatalf("stats risk shows no TAMPER findings column:\n%s", out)
		} else if sub[0] == "risk" {
			t.Logf("sanzi stats risk:\n%s", out)
		}
	}
	if out, code := run(t, "stats", "totals", "--server", d.api, "--tls-dir", caDir, "--token", analyst, "--level", "province"); code != 1 || !strings.Contains(out, "scope.level") {
		t.Fatalf("bad level: exit %d\n%s", code, out)
	}

	// The books' statements summed at the district (issue 19), as a
	// table and a workbook; a journal is the village's.
	book := filepath.Join(dir, "bs.xlsx")
	out, code := run(t, "statements", "--server", d.api, "--tls-dir", caDir, "--token", analyst, "--kind", "balance-sheet", "--org", org[:9]+"000", "--period", "2025-12", "--xlsx", book)
	if st, err := os.Stat(book); code != 0 || !strings.Contains(out, "资产负债表  "+org[:9]+"000  2025-12") || !strings.Contains(out, "资产总计") || err != nil || st.Size() == 0 {
		t.Fatalf("statements: exit %d, %v\n%s", code, err, out)
	}
	t.Logf("sanzi statements:\n%s", out)
	if out, code := run(t, "statements", "--server", d.api, "--tls-dir", caDir, "--token", analyst, "--kind", "cash-journal", "--period", "2025-12"); code == 0 || !strings.Contains(out, "village and town nodes") {
		t.Fatalf("statements --kind cash-journal: exit %d\n%s", code, out)
	}
}
