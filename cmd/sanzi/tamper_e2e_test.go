package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// stop ends the village with SIGTERM (a clean shutdown) and waits.
func (v *syncVillage) stop() {
	v.cmd.Process.Signal(syscall.SIGTERM)
	v.cmd.Wait()
}

// syncState is the part of GET /v1/sync/status this test reads.
type syncState struct {
	Acked    uint64 `json:"acked"`
	Sessions uint64 `json:"sessions"`
	Refusals uint64 `json:"refusals"`
	Refused  []struct {
		Origin, Summary, Failure string
		Seq                      uint64
	} `json:"refused"`
}

func (v *syncVillage) syncState() syncState {
	v.t.Helper()
	var st syncState
	(&node{t: v.t, http: v.http}).call("GET", "/v1/sync/status", "", nil, &st)
	return st
}

// headOf is the village's own head (seq, hex hash).
func (v *syncVillage) headOf() (uint64, string) {
	var h struct {
		Head struct {
			Seq  string `json:"seq"`
			Hash string `json:"hash"`
		} `json:"head"`
	}
	(&node{t: v.t, http: v.http}).call("GET", "/v1/ledger/"+v.org+"/head", "", nil, &h)
	var n uint64
	fmt.Sscan(h.Head.Seq, &n)
	return n, h.Head.Hash
}

// TestTamperedVillageSeenAndRepaired is issue 18's scenario straight to the
// district: a village's entries synced, the district stopped, one more
// expense recorded, the village stopped and one byte of that expense's
// summary changed in ledger.db. Restarted, the village pushes the altered
// entry; the district refuses it as a permanent CHAIN_BROKEN and records
// it once as a TAMPER finding (kind HASH, the entry as evidence) however
// many times it is pushed; the village stops pushing, its status, /readyz
// and metrics name the seq, and a window of seconds sees no retry storm.
// Then `sanzi repair --from-parent` restores the chain, keeps the altered
// entries in quarantine, reports them lost, and the village goes on: verify
// passes and the district's head equals the village's.
func TestTamperedVillageSeenAndRepaired(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	must := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
	}
	const org = "350505100201"
	must(run(t, "ca", "init", "--district", "350505", "--dir", caDir))
	must(run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", "d1"))
	must(run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", "admin"))
	must(run(t, "ca", "issue", "--dir", caDir, "--org", org, "--role", "village"))
	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = []string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--data", d.data, "--tls-dir", caDir, "--cert", "d1", "--bootstrap", "--log-level", "warn"}
	d.start()
	t.Cleanup(d.stop)
	district := clientFor(t, caDir, d.api)
	v := &syncVillage{t: t, org: org, data: filepath.Join(dir, org), http: freePort(t), grpc_: freePort(t)}
	v.args = []string{"village", "serve", "--data", v.data, "--org", org, "--http-addr", v.http, "--grpc-addr", v.grpc_,
		"--parent", d.api, "--tls-dir", caDir, "--log-level", "warn"}
	v.start()
	t.Cleanup(func() { v.kill9() })
	districtHead := func() (uint64, string) {
		h, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: org})
		if err != nil {
			return 0, ""
		}
		return h.GetHead().GetSeq(), h.GetHead().GetHash()
	}
	var synced, altered uint64
	t.Run("entries synced, then one expense while the district is down", func(t *testing.T) {
		v.record(5, 1)
		eventually(t, 30*time.Second, "the village's chain at the district", func() bool { s, _ := districtHead(); return s == v.head() })
		synced = v.head()
		d.stop()
		body := set(set(set(tx(6), "transaction.org", org), "transaction.invoiceNumber", "20100006"), "transaction.summary", "TAMPER-ME-EXPENSE")
		if code, raw := (&node{t: t, http: v.http}).post("/v1/transactions", body, nil); code != 200 {
			t.Fatalf("record the expense: %d %s", code, raw)
		}
		altered = synced + 1 // the expense; its procedure follows
		if v.head() <= altered {
			t.Fatalf("head %d after the expense, want past %d", v.head(), altered)
		}
		t.Logf("%d entries synced, head %d", synced, v.head())
	})
	t.Run("one byte of the expense's summary changed in ledger.db", func(t *testing.T) {
		v.stop()
		path := filepath.Join(v.data, "ledger.db")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(raw, []byte("TAMPER-ME-EXPENSE"))
		if i < 0 {
			t.Fatal("the summary is not in ledger.db")
		}
		raw[i] = 'X' // the first occurrence: the expense itself
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := run(t, "verify", "--data", v.data)
		if code != 1 || !strings.Contains(out, fmt.Sprintf("BAD origin %s seq %d:", org, altered)) {
			t.Fatalf("verify: exit %d, want 1 naming seq %d\n%s", code, altered, out)
		}
	})
	t.Run("the district records it once and the village stops pushing", func(t *testing.T) {
		d.start()
		v.start()
		eventually(t, 30*time.Second, "the village's outbox refused", func() bool { return len(v.syncState().Refused) == 1 })
		st := v.syncState()
		r := st.Refused[0]
		if r.Origin != org || r.Seq != altered || r.Failure != "hash" || !strings.Contains(r.Summary, fmt.Sprintf("chain broken at seq %d", altered)) {
			t.Fatalf("refused: %+v", r)
		}
		// A window of seconds: a passing fault retries with backoff from
		// 500ms (several tries); a permanent refusal is not retried.
		before := st.Sessions
		time.Sleep(4 * time.Second)
		st = v.syncState()
		t.Logf("over 4 s after the refusal: %d sessions, %d refusals in all", st.Sessions-before, st.Refusals)
		if st.Refusals != 1 || st.Sessions-before > 1 {
			t.Fatalf("after the refusal: %d refusals, %d sessions in 4 s; want 1 refusal and no retries", st.Refusals, st.Sessions-before)
		}
		out, code := run(t, "sync", "status", "--http", v.http)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("chain broken at seq %d (hash), refused by parent", altered)) {
			t.Fatalf("sync status: exit %d\n%s", code, out)
		}
		t.Logf("sync status:\n%s", out)
		if code, body := (&node{t: t, http: v.http}).call("GET", "/readyz", "", nil, nil); code != 503 || !strings.Contains(string(body), "refused by parent") {
			t.Fatalf("readyz: %d %s", code, body)
		}
		if code, body := (&node{t: t, http: v.http}).call("GET", "/metrics", "", nil, nil); code != 200 || !strings.Contains(string(body), "sanzi_sync_refused_chains 1") {
			t.Fatalf("metrics: %d, no sanzi_sync_refused_chains 1", code)
		}
		// Pushed again by a restart: still one finding.
		v.stop()
		v.start()
		eventually(t, 30*time.Second, "refused again after a restart", func() bool { return len(v.syncState().Refused) == 1 })
		forks, err := district.ListForks(context.Background(), &sanziv1.ListForksRequest{Origin: org})
		if err != nil {
			t.Fatal(err)
		}
		f := forks.GetForks()
		if len(f) != 1 || f[0].GetKind() != sanziv1.TamperKind_TAMPER_KIND_HASH || f[0].GetSeq() != altered || f[0].GetPushedBy() != "village "+org ||
			!bytes.Contains(f[0].GetEntry(), []byte("XAMPER-ME-EXPENSE")) || f[0].GetProblem() == "" {
			t.Fatalf("the district's TAMPER findings after two pushes: %v", f)
		}
		out, code = run(t, "district", "forks", "--server", d.api, "--tls-dir", caDir)
		if code != 0 || !strings.Contains(out, "HASH") || !strings.Contains(out, org) {
			t.Fatalf("district forks: exit %d\n%s", code, out)
		}
		t.Logf("district forks:\n%s", out)
		if s, _ := districtHead(); s != synced {
			t.Fatalf("the district holds %d, want %d: nothing of the altered chain stored", s, synced)
		}
	})
	t.Run("repair from the parent's copy", func(t *testing.T) {
		lostHead := v.head()
		v.stop()
		out, code := run(t, "repair", "--from-parent", "--data", v.data, "--org", org, "--parent", d.api, "--tls-dir", caDir, "--author", "operator")
		if code != 0 || !strings.Contains(out, fmt.Sprintf("restored from the parent's copy up to seq %d", synced)) ||
			!strings.Contains(out, fmt.Sprintf("LOST %s-%d", org, altered)) || !strings.Contains(out, fmt.Sprintf("LOST %s-%d", org, lostHead)) {
			t.Fatalf("repair: exit %d\n%s", code, out)
		}
		t.Logf("repair:\n%s", out)
		if out, code := run(t, "verify", "--data", v.data); code != 0 {
			t.Fatalf("verify after the repair: exit %d\n%s", code, out)
		}
		kept, _ := filepath.Glob(filepath.Join(v.data, "quarantine", org+"-*", fmt.Sprintf("%s-%d.lost.entry", org, altered)))
		if len(kept) != 1 {
			t.Fatalf("quarantine holds %v", kept)
		}
		raw, err := os.ReadFile(kept[0])
		if err != nil || !bytes.Contains(raw, []byte("XAMPER-ME-EXPENSE")) {
			t.Fatalf("the quarantined entry: %v %q", err, raw)
		}
		if s, err := ledger.Peek(raw); err != nil || s.Seq != altered || s.BodyHash() == s.Hash {
			t.Fatalf("the quarantined entry is not the altered one: %v", err)
		}
		var manifest map[string]any
		mb, _ := os.ReadFile(filepath.Join(filepath.Dir(kept[0]), "manifest.json"))
		if json.Unmarshal(mb, &manifest) != nil || manifest["by"] != "operator" {
			t.Fatalf("manifest: %s", mb)
		}
	})
	t.Run("the village goes on and the copies agree", func(t *testing.T) {
		v.start()
		v.record(1, 7)
		eventually(t, 30*time.Second, "the repaired chain at the district", func() bool {
			s, h := districtHead()
			vs, vh := v.headOf()
			return s == vs && h == vh && s > synced+1
		})
		// The district applies before the village reads its ack: wait for
		// the village's own view of it.
		eventually(t, 10*time.Second, "the village to see its chain acknowledged", func() bool {
			st := v.syncState()
			return len(st.Refused) == 0 && st.Acked == v.head()
		})
		if code, body := (&node{t: t, http: v.http}).call("GET", "/readyz", "", nil, nil); code != 200 {
			t.Fatalf("readyz after the repair: %d %s", code, body)
		}
		// The repair is the entry after the restored head, in both copies.
		var page sanziv1.ListEntriesResponse
		_, body := (&node{t: t, http: v.http}).call("GET", fmt.Sprintf("/v1/ledger/%s/entries?fromSeq=%d&limit=1", org, synced+1), "", nil, nil)
		if err := protojson.Unmarshal(body, &page); err != nil || len(page.GetEntries()) != 1 {
			t.Fatalf("entry %d after the repair: %v %s", synced+1, err, body)
		}
		raw, _ := proto.Marshal(page.GetEntries()[0].GetEntry())
		s, err := ledger.Decode(raw)
		var a sanziv1.Alert
		if err != nil || s.Type != sanziv1.EntryType_ENTRY_TYPE_ALERT || s.Author != "operator" || proto.Unmarshal(s.Payload, &a) != nil ||
			a.GetRuleCode() != "TAMPER" || a.GetEvidence()["lost"] == "" {
			t.Fatalf("entry %d after the repair: %v %+v %v", synced+1, err, s, &a)
		}
		t.Logf("repair entry %s: %s; evidence %v", s.ID(), a.GetReason(), a.GetEvidence())
	})
}
