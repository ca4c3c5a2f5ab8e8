package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// mixed returns the path and body of the i-th request of a mixed load:
// 70% transactions, 10% contracts, 10% payments on the first contract, 10%
// asset registrations.
func mixed(i int, contractID string) (string, any) {
	switch i % 10 {
	case 7:
		return "/v1/contracts", map[string]any{"contract": map[string]any{
			"org": org, "kind": "CONTRACT_KIND_CONTRACTING_OUT", "contractNumber": fmt.Sprintf("HT-%d", i),
			"counterparty": map[string]any{"name": "林某某", "idNumber": "11010519491231002X"},
			"object":       map[string]any{"kind": "OBJECT_KIND_LAND", "objectId": fmt.Sprintf("DK-%d", i), "areaMu": 12.5},
			"termStart":    "2026-01-01", "termEnd": "2035-12-31", "annualAmountFen": 600000,
			"awardMethod": "AWARD_METHOD_TENDER", "signedDate": "2025-12-20",
		}}
	case 8:
		return "/v1/contracts/" + contractID + "/payments", map[string]any{"payment": map[string]any{
			"org": org, "amountFen": 600000, "paymentMethod": "PAYMENT_METHOD_BANK_TRANSFER", "businessDate": today(), "period": "2026"}}
	case 9:
		return "/v1/assets", map[string]any{"asset": map[string]any{
			"org": org, "assetCode": fmt.Sprintf("ZC-%06d", i), "name": "水泵", "category": "机器设备", "originalValueFen": 250000, "acquiredDate": "2021-04-01"}}
	}
	return "/v1/transactions", tx(i)
}

// load sends total mixed requests from clients concurrent clients and
// returns what was acknowledged (requests first+1 .. total) (id → hash) and how many were refused.
func load(t *testing.T, n *node, clients, first, total int, contractID string, stopAfter int, onAck func(int)) (map[string]string, int) {
	n = n.as(n.who) // a copy carrying the token, read once here: the clients run outside the test's goroutine
	n.bearer = peopleAt(n.http).token(t, n.who, false)
	var (
		mu     sync.Mutex
		acked  = map[string]string{}
		failed atomic.Int64
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	next.Store(int64(first))
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				path, body := mixed(i, contractID)
				var rec recorded
				code, err := postQuiet(n, path, body, &rec)
				if err != nil || code != 200 {
					failed.Add(1)
					if stopAfter > 0 {
						return // the node is gone
					}
					continue
				}
				mu.Lock()
				acked[rec.Entry.ID] = rec.Entry.Hash
				k := len(acked)
				mu.Unlock()
				if onAck != nil {
					onAck(k)
				}
			}
		}()
	}
	wg.Wait()
	return acked, int(failed.Load())
}

// postQuiet is post without failing the test on a transport error (the
// kill test expects them).
func postQuiet(n *node, path string, v any, out *recorded) (int, error) {
	b, _ := jsonMarshal(v)
	req, err := http.NewRequest("POST", "http://"+n.http+path, strings.NewReader(string(b)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	return 200, jsonDecode(resp.Body, out)
}

func firstContract(t *testing.T, n *node) string {
	path, body := mixed(7, "")
	var rec recorded
	if code, raw := n.post(path, body, &rec); code != 200 {
		t.Fatalf("contract: %d %s", code, raw)
	}
	return rec.Entry.ID
}

type totals struct {
	TotalSize string `json:"totalSize"`
}

func (n *node) total(path string) string {
	var tt totals
	if code, raw := n.call("GET", path+"?pageSize=1", "", nil, &tt); code != 200 {
		n.t.Fatalf("%s: %d %s", path, code, raw)
	}
	return tt.TotalSize
}

// TestMixedLoadVerifies records 10,000 mixed entries over REST from 16
// concurrent clients, then checks the lists, the chain head and `sanzi
// verify` on the stopped node.
func TestMixedLoadVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data)
	contract := firstContract(t, n) // entry 1
	const total = 10_000
	acked, failed := load(t, n, 16, 1, total, contract, 0, nil)
	if failed != 0 || len(acked) != total-1 {
		t.Fatalf("acked %d, failed %d", len(acked), failed)
	}
	// Requests 2..10000 plus the first contract.
	wantTx, wantContracts, wantPayments, wantAssets := 0, 1, 0, 0
	for i := 2; i <= total; i++ {
		switch i % 10 {
		case 7:
			wantContracts++
		case 8:
			wantPayments++
		case 9:
			wantAssets++
		default:
			wantTx++
		}
	}
	for path, want := range map[string]int{"/v1/transactions": wantTx, "/v1/contracts": wantContracts, "/v1/assets": wantAssets} {
		if got := n.total(path); got != fmt.Sprint(want) {
			t.Errorf("%s total %s, want %d", path, got, want)
		}
	}
	// Every entry is in the chain, with the procedures the transactions
	// and contracts opened (transfers and payments open none), the alerts
	// they raised and the vouchers that book them: each rent received (the
	// chart books Dr 102 / Cr 501), numbered 1..n in its month though 16
	// clients recorded at once.
	procs := n.total("/v1/workflow")
	alerts := n.total("/v1/alerts")
	var p, a int
	fmt.Sscan(procs, &p)
	fmt.Sscan(alerts, &a)
	if got := n.total("/v1/vouchers"); got != fmt.Sprint(wantPayments) {
		t.Errorf("/v1/vouchers total %s, want one for each of the %d payments", got, wantPayments)
	}
	head := n.head().Head.Seq
	if head != fmt.Sprint(accountEntries+total+p+a+wantPayments) || p < wantContracts {
		t.Fatalf("head seq %s, want %d account entries + %d entries + %s procedures + %s alerts + %d vouchers", head, accountEntries, total, procs, alerts, wantPayments)
	}
	// The CLI pages through all transactions and counts the same.
	out, code := run(t, "tx", "list", "--server", n.grpc, "--all", "--limit", "1000")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d shown of %d", wantTx, wantTx)) {
		t.Fatalf("tx list --all: exit %d\n%s", code, tail(out))
	}
	n.stop()
	out, code = run(t, "verify", "--data", data)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("chain %s: %s entries", org, head)) {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	t.Logf("%d entries recorded by 16 clients; verify: %s", total, strings.TrimSpace(out))
}

// TestKill9KeepsEveryAck kills the node with SIGKILL in the middle of a
// 16-client load, three times, and checks after each restart that every
// acknowledged entry is there with the hash it was acknowledged with, that
// the chain has no gap, and that it verifies.
func TestKill9KeepsEveryAck(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data)
	contract := firstContract(t, n)
	allAcked := map[string]string{contract: ""}
	for round := 0; round < 3; round++ {
		var once sync.Once
		killAt := 1500
		acked, _ := load(t, n, 16, 1+round*1_000_000, (round+1)*1_000_000, contract, 1, func(k int) {
			if k >= killAt {
				once.Do(n.kill9)
			}
		})
		if len(acked) < killAt {
			t.Fatalf("round %d: only %d acks before the kill", round, len(acked))
		}
		n.start()
		for id, hash := range acked {
			allAcked[id] = hash
		}
		// Every acknowledged entry, with the same hash.
		missing := 0
		for id, hash := range allAcked {
			if hash == "" {
				continue
			}
			origin, seq, _ := strings.Cut(id, "-")
			var page struct {
				Entries []struct {
					Meta entryMeta `json:"meta"`
				} `json:"entries"`
			}
			if code, raw := n.call("GET", "/v1/ledger/"+origin+"/entries?from_seq="+seq+"&limit=1", "", nil, &page); code != 200 || len(page.Entries) != 1 {
				t.Fatalf("read %s: %d %s", id, code, raw)
			}
			if page.Entries[0].Meta.Hash != hash {
				missing++
			}
		}
		h := n.head()
		t.Logf("round %d: %d acked before kill -9, head after restart %s, %d acked entries differ", round, len(acked), h.Head.Seq, missing)
		if missing != 0 {
			t.Fatalf("round %d: %d acknowledged entries lost or changed", round, missing)
		}
	}
	n.stop()
	out, code := run(t, "verify", "--data", data)
	if code != 0 {
		t.Fatalf("verify after kills: exit %d\n%s", code, out)
	}
	// No gap: verify checks seq continuity; the head equals the count.
	if m := regexp.MustCompile(`chain \d+: (\d+) entries`).FindStringSubmatch(out); m == nil {
		t.Fatalf("verify output: %s", out)
	}
}

// TestTamperedFileIsReported edits one byte of a payload in ledger.db
// directly and checks that `sanzi verify` names origin and seq and exits 1,
// and that the restarted node is not ready and refuses writes to the chain.
func TestTamperedFileIsReported(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	n := startNode(t, data)
	for i := 1; i <= 8; i++ {
		body := set(tx(i), "transaction.summary", fmt.Sprintf("UNIQUE-SUMMARY-%02d", i))
		if code, raw := n.post("/v1/transactions", body, nil); code != 200 {
			t.Fatalf("record: %d %s", code, raw)
		}
	}
	n.stop()
	path := filepath.Join(data, "ledger.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte("UNIQUE-SUMMARY-05")
	if !strings.Contains(string(raw), string(marker)) {
		t.Fatal("marker not found in ledger.db")
	}
	raw = []byte(strings.ReplaceAll(string(raw), string(marker), "UNIQUE-SUMMARY-06"))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "verify", "--data", data)
	// After the two account entries, each transaction opens a procedure
	// (the next entry), so the fifth is seq 11; its procedure (seq 12)
	// repeats the summary and is hit too, and verify names the first break.
	bad := fmt.Sprintf("seq %d", accountEntries+9)
	if code != 1 || !strings.Contains(out, "BAD origin "+org+" "+bad+":") {
		t.Fatalf("verify: exit %d, want 1 naming %s\n%s", code, bad, out)
	}
	t.Logf("verify after tampering: %s", strings.TrimSpace(out))
	n.start()
	if code, body := n.call("GET", "/readyz", "", nil, nil); code != 503 || !strings.Contains(string(body), bad) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	code, body := n.post("/v1/transactions", tx(99), nil)
	if code != 400 || !strings.Contains(string(body), "chain broken") {
		t.Fatalf("write to broken chain: %d %s", code, body)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "\n")
}
