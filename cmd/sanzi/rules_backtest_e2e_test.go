package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sanzi/sanzi/node/rules"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestRulesBacktestServer: `sanzi rules backtest --server` at a real
// district member (issue 14 part 6), as a signed-in district rules
// officer. The village paid 600, 900 and 300 yuan in cash, the 900 reversed
// since, and its chain reached the district: a draft with a cash limit of
// 500 yuan fires on two payments, one reversed, in one chain; the table
// and --json say so. Bounded to one entry read, the answer says it is
// partial and which bound stopped it. Without a token, or as the member's
// administrator (no draft_rules), the member refuses.
func TestRulesBacktestServer(t *testing.T) {
	d := ckStartDistrict(t)
	caDir := ""
	for i, a := range d.proc.args {
		if a == "--tls-dir" {
			caDir = d.proc.args[i+1]
		}
	}
	m := &mxNode{kind: "district", http: d.http}
	d.ckAccount(t, "bt.officer", "规则员", "district_rules_officer")
	tok := m.mxLogin(t, "bt.officer", personPW, "bt-officer-second-2")

	ids := cashPayments(t, d)
	rs := cashDraft(t, "bt-2026-12")
	raw, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	draft := filepath.Join(dir, "draft.json")
	if err := os.WriteFile(draft, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// run runs the binary with no saved sign-in and no SANZI_ variables
	// but those given.
	run := func(env []string, args ...string) (string, error) {
		c := exec.Command(sanziBin, args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "SANZI_") {
				c.Env = append(c.Env, kv)
			}
		}
		c.Env = append(c.Env, "HOME="+dir, "XDG_CONFIG_HOME="+dir)
		c.Env = append(c.Env, env...)
		out, err := c.CombinedOutput()
		return string(out), err
	}
	base := []string{"rules", "backtest", "--server", d.proc.api, "--tls-dir", caDir, "--rules", draft}

	t.Run("table", func(t *testing.T) {
		out, err := run(nil, append(base, "--token", tok)...)
		if err != nil {
			t.Fatalf("sanzi rules backtest: %v\n%s", err, out)
		}
		t.Logf("sanzi rules backtest --server:\n%s", out)
		var row []string
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == "CASH-PAY" {
				row = f
			}
		}
		want := []string{"CASH-PAY", "red", "block", "2", "1", "1", ids[0], ids[1]}
		if len(row) < len(want) || strings.Join(row[:len(want)], " ") != strings.Join(want, " ") {
			t.Fatalf("CASH-PAY row %q, want %q", row, want)
		}
		if !strings.Contains(out, "rule set bt-2026-12:") || !strings.Contains(out, fmt.Sprintf("1 of %d rules fired", len(rs.Rules))) || strings.Contains(out, "PARTIAL") {
			t.Fatalf("summary of a whole run:\n%s", out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, err := run([]string{"SANZI_TOKEN=" + tok}, append(base, "--json")...)
		if err != nil {
			t.Fatalf("sanzi rules backtest --json: %v\n%s", err, out)
		}
		var resp sanziv1.BacktestRulesResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("--json is not a BacktestRulesResponse: %v\n%s", err, out)
		}
		if len(resp.GetResults()) != len(rs.Rules) || resp.GetStopped() != "" || resp.GetRuleSetVersion() != "bt-2026-12" {
			t.Fatalf("--json: %v", &resp)
		}
		for _, r := range resp.GetResults() {
			if r.GetCode() == "CASH-PAY" && (r.GetHits() != 2 || r.GetReversed() != 1 || r.GetChains() != 1) {
				t.Fatalf("CASH-PAY in --json: %v", r)
			}
		}
	})
	t.Run("partial", func(t *testing.T) {
		out, err := run(nil, append(base, "--token", tok, "--max-entries", "1")...)
		if err != nil {
			t.Fatalf("sanzi rules backtest --max-entries 1: %v\n%s", err, out)
		}
		t.Logf("bounded:\n%s", out)
		if !strings.Contains(out, "PARTIAL: the entries bound (--max-entries 1) stopped the run after 1 of 2 chains") {
			t.Fatalf("a run stopped after one entry does not say it is partial:\n%s", out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		out, err := run(nil, base...)
		if err == nil || !strings.Contains(out, "sign in first") {
			t.Fatalf("without a token: %v\n%s", err, out)
		}
		out, err = run(nil, append(base, "--token", d.admin)...)
		if err == nil || !strings.Contains(out, "PermissionDenied") {
			t.Fatalf("as the administrator: %v\n%s", err, out)
		}
	})
}

// cashDraft is the default rule set under version with the cash limit
// lowered to 500 yuan (CASH-PAY comes first).
func cashDraft(t testing.TB, version string) rules.RuleSet {
	t.Helper()
	rs := rules.Default()
	rs.Version = version
	if rs.Rules[0].Code != "CASH-PAY" {
		t.Fatalf("the default set starts with %s, want CASH-PAY", rs.Rules[0].Code)
	}
	rs.Rules[0].Params["cash_limit_fen"] = 50_000
	return rs
}

// cashPayments has a new village pay 600, 900 and 300 yuan in cash (under
// the default limit of 1,000 yuan), reverse the 900 later, and push its
// chain to the district; it returns the payments' entry ids.
func cashPayments(t *testing.T, d *ckDistrict) []string {
	t.Helper()
	n := startNode(t, t.TempDir())
	var ids []string
	for i, fen := range []int{60_000, 90_000, 30_000} {
		body := set(set(tx(i), "transaction.amountFen", fen), "transaction.paymentMethod", "PAYMENT_METHOD_CASH")
		var rec struct {
			Entry struct{ ID string } `json:"entry"`
		}
		if code, raw := n.post("/v1/transactions", body, &rec); code != http.StatusOK {
			t.Fatalf("record a cash payment of %d fen: %d %s", fen, code, raw)
		}
		ids = append(ids, rec.Entry.ID)
	}
	if code, raw := n.post("/v1/reversals", map[string]any{"reversal": map[string]any{"org": org, "targetId": ids[1], "reason": "重复记账"}}, nil); code != http.StatusOK {
		t.Fatalf("reverse %s: %d %s", ids[1], code, raw)
	}
	d.ckPush(t, n)
	return ids
}
