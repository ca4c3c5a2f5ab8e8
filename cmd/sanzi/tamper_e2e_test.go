package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// stop ends the village with SIGTERM (a clean shutdown) and waits; a
// village already stopped stays so.
func (v *syncVillage) stop() {
	if v.cmd.ProcessState != nil {
		return
	}
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

// tamperNet is issue 18's setting: a CA and one district member over
// mutual TLS, with the villages and towns a scenario starts.
type tamperNet struct {
	t        *testing.T
	dir, ca  string
	d        *districtProc
	district sanziv1.DistrictServiceClient
	nodes    []*syncVillage
	auditTok string // a signed-in district auditor's token (auditor)
}

// auditor is the token of a district auditor, who reads the forks; made
// at the first call.
func (n *tamperNet) auditor() string {
	if n.auditTok == "" {
		n.auditTok = districtPerson(n.t, n.ca, n.d.api, districtAdmin(n.t, n.ca, n.d.api), "sun.audit", "auditor")
	}
	return n.auditTok
}

// step runs one step of a scenario as a subtest, with the helpers of the
// net and of every node failing that subtest: FailNow belongs to the
// goroutine running the test it is called on.
func (n *tamperNet) step(t *testing.T, name string, fn func(t *testing.T)) {
	t.Run(name, func(st *testing.T) {
		n.rebind(st)
		defer n.rebind(t)
		fn(st)
	})
}

func (n *tamperNet) rebind(t *testing.T) {
	n.t, n.d.t = t, t
	for _, v := range n.nodes {
		v.t = t
	}
}

// newTamperNet issues certificates for the district and for each org
// (role town when its code ends in 000, village otherwise) and starts the
// district.
func newTamperNet(t *testing.T, orgs ...string) *tamperNet {
	dir := t.TempDir()
	n := &tamperNet{t: t, dir: dir, ca: filepath.Join(dir, "ca")}
	must := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
	}
	must(run(t, "ca", "init", "--district", "350505", "--dir", n.ca))
	for _, name := range []string{"d1", "admin"} {
		must(run(t, "ca", "issue", "--dir", n.ca, "--org", "350505000000", "--role", "district", "--name", name))
	}
	for _, o := range orgs {
		role := "village"
		if strings.HasSuffix(o, "000") {
			role = "town"
		}
		must(run(t, "ca", "issue", "--dir", n.ca, "--org", o, "--role", role))
	}
	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = append([]string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--data", d.data, "--tls-dir", n.ca, "--cert", "d1", "--bootstrap", "--log-level", "warn"},
		districtAdminArgs(t, dir)...)
	d.start()
	t.Cleanup(d.stop)
	n.d, n.district = d, clientFor(t, n.ca, d.api)
	return n
}

// village starts a village pushing to parent.
func (n *tamperNet) village(org, parent string) *syncVillage {
	v := &syncVillage{t: n.t, org: org, data: filepath.Join(n.dir, org), http: freePort(n.t), grpc_: freePort(n.t)}
	v.args = []string{"village", "serve", "--data", v.data, "--org", org, "--http-addr", v.http, "--grpc-addr", v.grpc_,
		"--parent", parent, "--tls-dir", n.ca, "--log-level", "warn"}
	v.start()
	n.t.Cleanup(func() { v.kill9() })
	n.nodes = append(n.nodes, v)
	return v
}

// town starts a town pushing to the district; inbox is where its villages push.
func (n *tamperNet) town(org string) (tw *syncVillage, inbox string) {
	inbox = freePort(n.t)
	tw = &syncVillage{t: n.t, org: org, data: filepath.Join(n.dir, org), http: freePort(n.t), grpc_: freePort(n.t)}
	tw.args = []string{"town", "serve", "--data", tw.data, "--org", org, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
		"--sync-addr", inbox, "--parent", n.d.api, "--tls-dir", n.ca, "--log-level", "warn"}
	tw.start()
	n.t.Cleanup(func() { tw.kill9() })
	n.nodes = append(n.nodes, tw)
	return tw, inbox
}

// head is the district's head of org's chain (seq, hex hash).
func (n *tamperNet) head(org string) (uint64, string) {
	h, err := n.district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: org})
	if err != nil {
		return 0, ""
	}
	return h.GetHead().GetSeq(), h.GetHead().GetHash()
}

// synced waits for the district to hold v's chain up to v's head.
func (n *tamperNet) synced(v *syncVillage) uint64 {
	n.t.Helper()
	eventually(n.t, 30*time.Second, v.org+"'s chain at the district", func() bool {
		s, h := n.head(v.org)
		vs, vh := v.headOf()
		return s == vs && h == vh
	})
	return v.head()
}

// findings are the district's TAMPER findings about org.
func (n *tamperNet) findings(org string) []*sanziv1.ForkRecord {
	n.t.Helper()
	forks, err := n.district.ListForks(context.Background(), &sanziv1.ListForksRequest{Origin: org})
	if err != nil {
		n.t.Fatal(err)
	}
	return forks.GetForks()
}

// expense records an expense whose summary is marker and returns its seq;
// its procedure follows it in the chain.
func (v *syncVillage) expense(i int, marker string) uint64 {
	v.t.Helper()
	before := v.head()
	body := set(set(set(tx(i), "transaction.org", v.org), "transaction.invoiceNumber", fmt.Sprintf("%s%05d", v.org[9:], i)), "transaction.summary", marker)
	if code, raw := (&node{t: v.t, http: v.http}).post("/v1/transactions", body, nil); code != 200 {
		v.t.Fatalf("record the expense at %s: %d %s", v.org, code, raw)
	}
	if v.head() <= before+1 {
		v.t.Fatalf("head %d after the expense, want past %d", v.head(), before+1)
	}
	return before + 1
}

// unsigned checks that v's entry at seq carries no signature of its own:
// an expense is one append with the procedure it opens, signed once, on
// its last entry (issue 17), so an edit of the expense is an edit of an
// entry vouched for only through the hash links.
func (v *syncVillage) unsigned(seq uint64) {
	v.t.Helper()
	if sig := v.entryAt(seq).GetSignature(); len(sig) != 0 {
		v.t.Fatalf("entry %d of %s carries a signature: want the expense unsigned, its append signed once on its last entry", seq, v.org)
	}
}

// offline runs fn with the village up but its parent unreachable, so what
// fn records stays in its outbox; the village is left stopped (fn may stop
// it itself), to start again with its parent.
func (v *syncVillage) offline(fn func()) {
	v.t.Helper()
	i := slices.Index(v.args, "--parent") + 1
	parent := v.args[i]
	v.stop()
	v.args[i] = freePort(v.t) // nothing listens there
	v.start()
	fn()
	v.stop()
	v.args[i] = parent
}

// entryAt is v's stored entry at seq, its bytes as ledger.db holds them.
func (v *syncVillage) entryAt(seq uint64) *sanziv1.Entry {
	v.t.Helper()
	var page sanziv1.ListEntriesResponse
	_, body := (&node{t: v.t, http: v.http}).call("GET", fmt.Sprintf("/v1/ledger/%s/entries?fromSeq=%d&limit=1", v.org, seq), "", nil, nil)
	if err := protojson.Unmarshal(body, &page); err != nil || len(page.GetEntries()) != 1 {
		v.t.Fatalf("entry %d of %s: %v %s", seq, v.org, err, body)
	}
	return page.GetEntries()[0].GetEntry()
}

// An edit changes an entry's fields in place, keeping every length, as
// someone editing ledger.db's bytes would.
type edit func(t *testing.T, e *sanziv1.Entry)

// editSummary changes one byte of the body (the summary marker's first):
// the body no longer hashes to the stated hash.
func editSummary(marker string) edit {
	return func(t *testing.T, e *sanziv1.Entry) {
		i := bytes.Index(e.Body, []byte(marker))
		if i < 0 {
			t.Fatalf("%q is not in the entry's body", marker)
		}
		e.Body[i] = 'X'
	}
}

// editSignature flips a byte inside the stored signature.
func editSignature(t *testing.T, e *sanziv1.Entry) { e.Signature[10] ^= 0xff }

// editLink changes a byte of the body's prev_hash and states the body's new
// hash, so the hash check passes and the link is what fails (the signature
// over the new hash would fail too, but the link is checked first).
func editLink(t *testing.T, e *sanziv1.Entry) {
	l, err := ledger.Peek(mustMarshal(t, e))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(e.Body, l.PrevHash[:])
	if i < 0 || bytes.Count(e.Body, l.PrevHash[:]) != 1 {
		t.Fatal("prev_hash is not once in the entry's body")
	}
	e.Body[i+5] ^= 0xff
	sum := sha256.Sum256(e.Body)
	e.Hash = sum[:]
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// tamper stops v and edits its stored entry at seq in ledger.db, every copy
// bbolt holds of it (a freed page may keep an old one); `sanzi verify` must
// then name seq.
func (v *syncVillage) tamper(seq uint64, ed edit) {
	t := v.t
	t.Helper()
	e := v.entryAt(seq)
	was := mustMarshal(t, e)
	ed(t, e)
	now := mustMarshal(t, e)
	if len(now) != len(was) || bytes.Equal(now, was) {
		t.Fatalf("the edit of seq %d changed the length or nothing (%d → %d bytes)", seq, len(was), len(now))
	}
	v.stop()
	path := filepath.Join(v.data, "ledger.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copies := bytes.Count(raw, was)
	if copies == 0 {
		t.Fatalf("entry %d's bytes are not in ledger.db", seq)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, was, now), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "verify", "--data", v.data)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("BAD origin %s seq %d:", v.org, seq)) {
		t.Fatalf("verify: exit %d, want 1 naming seq %d\n%s", code, seq, out)
	}
	t.Logf("entry %d edited in ledger.db (%d copies); verify: %s", seq, copies, strings.TrimSpace(out))
}

// refusedOnce checks that v's outbox holds its chain as refused at seq for
// failure, says so in sync status, /readyz and metrics, and makes no
// retries over a window of seconds: a passing fault retries with backoff
// from 500ms (several tries); a permanent refusal is not retried.
func (v *syncVillage) refusedOnce(seq uint64, failure string) {
	t := v.t
	t.Helper()
	defer func() {
		if t.Failed() {
			out, _ := run(t, "sync", "status", "--http", v.http)
			t.Logf("%s's sync status:\n%s\nits log:\n%s", v.org, out, tail(v.log.String()))
		}
	}()
	eventually(t, 30*time.Second, v.org+"'s outbox refused", func() bool { return len(v.syncState().Refused) == 1 })
	st := v.syncState()
	r := st.Refused[0]
	if r.Origin != v.org || r.Seq != seq || r.Failure != failure || !strings.Contains(r.Summary, fmt.Sprintf("chain broken at seq %d", seq)) {
		t.Fatalf("refused: %+v, want seq %d (%s)", r, seq, failure)
	}
	before := st.Sessions
	time.Sleep(4 * time.Second)
	st = v.syncState()
	t.Logf("over 4 s after the refusal: %d sessions, %d refusals in all", st.Sessions-before, st.Refusals)
	if st.Refusals != 1 || st.Sessions-before > 1 {
		t.Fatalf("after the refusal: %d refusals, %d sessions in 4 s; want 1 refusal and no retries", st.Refusals, st.Sessions-before)
	}
	out, code := run(t, "sync", "status", "--http", v.http)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("chain broken at seq %d (%s), refused by parent", seq, failure)) {
		t.Fatalf("sync status: exit %d\n%s", code, out)
	}
	t.Logf("sync status:\n%s", out)
	if code, body := (&node{t: t, http: v.http}).call("GET", "/readyz", "", nil, nil); code != 503 || !strings.Contains(string(body), "refused by parent") {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, body := (&node{t: t, http: v.http}).call("GET", "/metrics", "", nil, nil); code != 200 || !strings.Contains(string(body), "sanzi_sync_refused_chains 1") {
		t.Fatalf("metrics: %d, no sanzi_sync_refused_chains 1", code)
	}
}

// repairFrom runs `sanzi repair --from-parent` on the stopped village and
// checks what it restored (up to synced), what it reports lost (altered to
// the local head) and the quarantined altered entry.
func (v *syncVillage) repairFrom(parent, caDir string, synced, altered uint64, marker string) {
	t := v.t
	t.Helper()
	lostHead := v.head()
	v.stop()
	out, code := run(t, "repair", "--from-parent", "--data", v.data, "--org", v.org, "--parent", parent, "--tls-dir", caDir, "--author", "operator")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("restored from the parent's copy up to seq %d", synced)) ||
		!strings.Contains(out, fmt.Sprintf("LOST %s-%d", v.org, altered)) || !strings.Contains(out, fmt.Sprintf("LOST %s-%d", v.org, lostHead)) {
		t.Fatalf("repair: exit %d\n%s", code, out)
	}
	t.Logf("repair:\n%s", out)
	if out, code := run(t, "verify", "--data", v.data); code != 0 {
		t.Fatalf("verify after the repair: exit %d\n%s", code, out)
	}
	kept, _ := filepath.Glob(filepath.Join(v.data, "quarantine", v.org+"-*", fmt.Sprintf("%s-%d.lost.entry", v.org, altered)))
	if len(kept) != 1 {
		t.Fatalf("quarantine holds %v", kept)
	}
	raw, err := os.ReadFile(kept[0])
	if err != nil || !bytes.Contains(raw, []byte("X"+marker[1:])) {
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
}

// goesOn restarts the repaired village, records more, and waits for the
// district's copy to equal the village's; the entry after the restored
// head is the repair, a TAMPER alert by the operator naming what was lost.
func (n *tamperNet) goesOn(v *syncVillage, synced uint64) {
	t := n.t
	t.Helper()
	v.start()
	v.record(1, 7)
	eventually(t, 30*time.Second, "the repaired chain at the district", func() bool {
		s, h := n.head(v.org)
		vs, vh := v.headOf()
		return s == vs && h == vh && s > synced+1
	})
	// The parent applies before the village reads its ack: wait for the
	// village's own view of it.
	eventually(t, 10*time.Second, "the village to see its chain acknowledged", func() bool {
		st := v.syncState()
		return len(st.Refused) == 0 && st.Acked == v.head()
	})
	if code, body := (&node{t: t, http: v.http}).call("GET", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("readyz after the repair: %d %s", code, body)
	}
	s, err := ledger.Decode(mustMarshal(t, v.entryAt(synced+1)))
	var a sanziv1.Alert
	if err != nil || s.Type != sanziv1.EntryType_ENTRY_TYPE_ALERT || s.Author != "operator" || proto.Unmarshal(s.Payload, &a) != nil ||
		a.GetRuleCode() != "TAMPER" || a.GetEvidence()["lost"] == "" {
		t.Fatalf("entry %d after the repair: %v %+v %v", synced+1, err, s, &a)
	}
	t.Logf("repair entry %s: %s; evidence %v", s.ID(), a.GetReason(), a.GetEvidence())
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
	const org, marker = "350505100201", "TAMPER-ME-EXPENSE"
	n := newTamperNet(t, org)
	v := n.village(org, n.d.api)
	var synced, altered uint64
	n.step(t, "entries synced, then one expense while the district is down", func(t *testing.T) {
		v.record(5, 1)
		synced = n.synced(v)
		n.d.stop()
		altered = v.expense(6, marker) // its procedure follows
		v.unsigned(altered)
		t.Logf("%d entries synced, head %d", synced, v.head())
	})
	n.step(t, "one byte of the expense's summary changed in ledger.db", func(t *testing.T) {
		v.tamper(altered, editSummary(marker))
	})
	n.step(t, "the district records it once and the village stops pushing", func(t *testing.T) {
		n.d.start()
		v.start()
		v.refusedOnce(altered, "hash")
		// Pushed again by a restart: still one finding.
		v.stop()
		v.start()
		eventually(t, 30*time.Second, "refused again after a restart", func() bool { return len(v.syncState().Refused) == 1 })
		f := n.findings(org)
		if len(f) != 1 || f[0].GetKind() != sanziv1.TamperKind_TAMPER_KIND_HASH || f[0].GetSeq() != altered || f[0].GetPushedBy() != "village "+org ||
			!bytes.Contains(f[0].GetEntry(), []byte("X"+marker[1:])) || f[0].GetProblem() == "" {
			t.Fatalf("the district's TAMPER findings after two pushes: %v", f)
		}
		out, code := run(t, "district", "forks", "--server", n.d.api, "--tls-dir", n.ca, "--token", n.auditor())
		if code != 0 || !strings.Contains(out, "HASH") || !strings.Contains(out, org) {
			t.Fatalf("district forks: exit %d\n%s", code, out)
		}
		t.Logf("district forks:\n%s", out)
		if s, _ := n.head(org); s != synced {
			t.Fatalf("the district holds %d, want %d: nothing of the altered chain stored", s, synced)
		}
	})
	n.step(t, "repair from the parent's copy", func(t *testing.T) {
		v.repairFrom(n.d.api, n.ca, synced, altered, marker)
	})
	n.step(t, "the village goes on and the copies agree", func(t *testing.T) {
		n.goesOn(v, synced)
	})
}
