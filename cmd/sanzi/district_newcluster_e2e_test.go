package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/federation/checkpoint"
	"github.com/sanzi/sanzi/federation/public"
	"github.com/sanzi/sanzi/node/ledger"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDistrictNewClusterFromBackup is issue 16's whole district lost: three
// real members on loopback (Raft over TCP with mutual TLS), a village
// pushing, member 1 backed up online, more entries and checkpoints after
// the backup, then all three stopped and wiped. The backup restored into
// an empty folder becomes the first member of a new cluster (refused while
// the old cluster still answers, and without the operator's word or the
// old cluster's newest checkpoint); the other two join empty and receive
// its state as a Raft snapshot. The village pushes again what the backup
// lacks and goes on, with no fork: the district's head for it matches the
// village's own entry at every step. Every member's stopped folder passes
// `sanzi verify`, and no checkpoint of the new cluster contradicts one the
// old cluster published.
func TestDistrictNewClusterFromBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("three member processes, twice")
	}
	dir := t.TempDir()
	caDir := districtCA(t, dir, "d1", "d2", "d3", "admin")
	d1HTTP := freePort(t)
	members := []*districtProc{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		p := &districtProc{t: t, id: id, raft: freePort(t), api: freePort(t), data: filepath.Join(dir, id)}
		p.args = []string{"district", "serve", "--id", id, "--raft", p.raft, "--api", p.api, "--data", p.data, "--tls-dir", caDir, "--cert", id,
			"--log-level", "warn", "--chain-cert", "admin", "--checkpoint-every", "300ms"}
		members = append(members, p)
		t.Cleanup(p.stop)
	}
	d1 := members[0]
	baseArgs := make([][]string, 3)
	for i, p := range members {
		baseArgs[i] = p.args
	}
	startOld := func() {
		d1.args = append(append(d1.args, "--http", d1HTTP, "--bootstrap"), districtAdminArgs(t, dir)[2:]...)
		for i, p := range members {
			if i > 0 {
				p.args = append(p.args, "--join", d1.api)
			}
			p.start()
			if i == 0 {
				waitLeader(t, clientFor(t, caDir, d1.api), "")
			}
		}
	}
	voters := func() bool { return healthyVoters(clientFor(t, caDir, d1.api), 3) }

	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 11
	v := &testVillage{origin: "350505100201", key: ed25519.NewKeyFromSeed(seed)}
	var chain [][]byte // every entry the village made, seq i+1 at i
	pushRaw := func(batch [][]byte) {
		t.Helper()
		eventually(t, 30*time.Second, "a push committed", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := clientFor(t, caDir, d1.api).PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: batch})
			return err == nil
		})
	}
	push := func(n int) {
		t.Helper()
		batch := v.next(n)
		chain = append(chain, batch...)
		pushRaw(batch)
	}
	headOf := func(api, origin string) (uint64, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := clientFor(t, caDir, api).ListHeads(ctx, &sanziv1.ListHeadsRequest{})
		if err != nil {
			return 0, ""
		}
		for _, x := range h.GetHeads() {
			if x.GetOrigin() == origin {
				return x.GetSeq(), x.GetHash()
			}
		}
		return 0, ""
	}
	headAt := func(api string) (uint64, string) { return headOf(api, v.origin) }
	// rv is a real village node syncing to member 1 through its outbox.
	const rvOrg = "350505100202"
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", rvOrg, "--role", "village")
	rv := &syncVillage{t: t, org: rvOrg, data: filepath.Join(dir, rvOrg), http: freePort(t), grpc_: freePort(t)}
	rv.args = []string{"village", "serve", "--data", rv.data, "--org", rvOrg, "--http-addr", rv.http, "--grpc-addr", rv.grpc_,
		"--parent", d1.api, "--tls-dir", caDir, "--log-level", "warn"}
	rvSynced := func(api string) bool {
		seq, hash := headOf(api, rvOrg)
		mine, myHash := rv.headOf()
		return seq == mine && hash == myHash
	}
	// hashOf is the village's own hash of its entry at seq.
	hashOf := func(seq uint64) string {
		s, err := ledger.Peek(chain[seq-1])
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(s.Hash[:])
	}
	checkpoints := func() []public.Checkpoint {
		var out []public.Checkpoint
		for after := uint64(0); ; {
			var page public.CheckpointList
			if err := getJSON(fmt.Sprintf("http://%s/public/v1/checkpoints?after=%d", d1HTTP, after), &page); err != nil {
				t.Fatal(err)
			}
			out = append(out, page.Checkpoints...)
			if len(page.Checkpoints) == 0 || page.Checkpoints[len(page.Checkpoints)-1].Number >= page.Latest {
				return out
			}
			after = page.Checkpoints[len(page.Checkpoints)-1].Number
		}
	}
	// checkpointCovers: the newest checkpoint signs the village at seq.
	checkpointCovers := func(seq uint64) *public.Checkpoint {
		var c public.Checkpoint
		if getJSON(fmt.Sprintf("http://%s/public/v1/checkpoints/latest", d1HTTP), &c) != nil {
			return nil
		}
		st, err := checkpoint.Parse([]byte(c.Statement))
		if err != nil {
			return nil
		}
		if h, ok := st.Head(v.origin); ok && h.Seq == seq {
			return &c
		}
		return nil
	}

	top := t
	var file, kept string
	var oldCPs []public.Checkpoint
	var lostFrom, lostTo, rvBackup uint64
	t.Run("old cluster: pushes, a backup, more after it", func(t *testing.T) {
		startOld()
		eventually(t, 30*time.Second, "3 voters", voters)
		eventually(t, 30*time.Second, "the village registered", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := clientFor(t, caDir, d1.api).RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: v.origin, PublicKey: v.key.Public().(ed25519.PublicKey)})
			return err == nil
		})
		push(40)
		eventually(t, 30*time.Second, "the first administrator on member 1", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h, err := clientFor(t, caDir, d1.api).ListHeads(ctx, &sanziv1.ListHeadsRequest{})
			for _, x := range h.GetHeads() {
				if err == nil && x.GetOrigin() == "350505000000" && x.GetSeq() > 0 {
					return true
				}
			}
			return false
		})
		rv.start()
		top.Cleanup(func() { rv.kill9() }) // it lives on through the steps
		rv.record(5, 1)
		eventually(t, 30*time.Second, "the village node's entries at the district", func() bool { return rvSynced(d1.api) })
		admin := districtAdmin(t, caDir, d1.api)
		file = filepath.Join(dir, "d1.tar")
		done := make(chan struct{})
		go func() { defer close(done); push(40) }() // online: pushes go on during the backup
		mustRun(t, "backup", "--http", d1HTTP, "--out", file, "--token", admin)
		<-done
		lostFrom = v.head.Seq + 1
		rvBackup, _ = rv.headOf() // synced before the backup was taken
		rv.record(4, 100)
		eventually(t, 30*time.Second, "the village node's entries after the backup at the district", func() bool { return rvSynced(d1.api) })
		push(30) // after the backup: lost with the cluster, held by the village
		lostTo = v.head.Seq
		// The old cluster signs a checkpoint of the lost entries, and a
		// villager keeps it (sanzi verify-public --keep would).
		var latest *public.Checkpoint
		eventually(t, 30*time.Second, "a checkpoint of the entries after the backup", func() bool {
			latest = checkpointCovers(lostTo)
			return latest != nil
		})
		kept = filepath.Join(dir, "kept-checkpoint.json")
		b, _ := json.Marshal(latest)
		if err := os.WriteFile(kept, b, 0o644); err != nil {
			t.Fatal(err)
		}
		oldCPs = checkpoints()
		t.Logf("old cluster: village head %d (entries %d–%d after the backup), %d checkpoints, newest %d", v.head.Seq, lostFrom, lostTo, len(oldCPs), latest.Number)

		// While the old cluster runs, a new cluster from the backup is
		// refused: its members still answer with a leader.
		probe := filepath.Join(dir, "probe")
		mustRun(t, "restore", "--in", file, "--data", probe)
		args := append(append([]string{}, baseArgs[0]...), "--data", probe, "--raft", freePort(t), "--api", freePort(t),
			"--bootstrap", "--old-cluster-gone", "test", "--last-checkpoint", kept)
		if out, code := run(t, args...); code == 0 || !strings.Contains(out, "still answer") {
			t.Fatalf("a new cluster was started while the old one runs: exit %d\n%s", code, out)
		}
		// Refused before any raft state was written: once the cause is
		// gone the same folder can be started.
		for _, f := range []string{"raft.db", "snapshots", "RESTORED.json"} {
			if _, err := os.Stat(filepath.Join(probe, f)); (err == nil) != (f == "RESTORED.json") {
				t.Errorf("after the refusal %s: %v", f, err)
			}
		}
	})

	t.Run("all three lost", func(t *testing.T) {
		rv.stop() // started again once the new cluster is up: its outbox then begins from the district's heads
		for _, p := range members {
			p.stop()
			if err := os.RemoveAll(p.data); err != nil {
				t.Fatal(err)
			}
		}
	})

	var ready time.Duration
	t.Run("new cluster from member 1's backup", func(t *testing.T) {
		mustRun(t, "restore", "--in", file, "--data", d1.data)
		base := append(append([]string{}, baseArgs[0]...), "--http", d1HTTP)
		for _, tc := range []struct {
			name, want string
			extra      []string
		}{
			{"plain bootstrap", "must rejoin", []string{"--bootstrap"}},
			{"without --bootstrap", "--bootstrap and --old-cluster-gone together", []string{"--old-cluster-gone", "test"}},
			{"without the old cluster's checkpoint", "--last-checkpoint", []string{"--bootstrap", "--old-cluster-gone", "test"}},
		} {
			if out, code := run(t, append(append([]string{}, base...), tc.extra...)...); code == 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("%s: exit %d, want a refusal naming %q\n%s", tc.name, code, tc.want, out)
			}
		}
		start := time.Now()
		d1.args = append(base, "--bootstrap", "--old-cluster-gone", "test: the three members' disks were wiped", "--last-checkpoint", kept)
		d1.start()
		waitLeader(t, clientFor(t, caDir, d1.api), "")
		ready = time.Since(start)
		for i, p := range members[1:] {
			p.args = append(append([]string{}, baseArgs[i+1]...), "--join", d1.api) // empty folders
			p.start()
		}
		eventually(t, 60*time.Second, "3 voters in the new cluster", voters)
		t.Logf("new cluster: leader after %s, 3 voters after %s", ready.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		if _, err := os.Stat(filepath.Join(d1.data, "RESTORED.json")); err == nil {
			t.Error("the restore marker is still there once the new cluster is made")
		}
	})

	t.Run("the village pushes on without a fork", func(t *testing.T) {
		h, hash := headAt(d1.api)
		if h < 40 || h >= lostFrom {
			t.Fatalf("the new cluster holds the village at %d, want the backup's head (40 to %d)", h, lostFrom-1)
		}
		if hash != hashOf(h) {
			t.Fatalf("the new cluster's head %d is %s, the village's entry there is %s: a fork", h, hash, hashOf(h))
		}
		// What the relay does when the parent holds less than it acked:
		// send again from the parent's head.
		pushRaw(chain[h:])
		push(20)
		want := v.head.Seq
		for _, p := range members {
			eventually(t, 60*time.Second, p.id+" at the village's head", func() bool {
				got, hash := headAt(p.api)
				return got == want && hash == hashOf(want)
			})
		}
		t.Logf("district head %d after the restore, %d entries pushed again, %d new: every member at %d", h, lostTo-h, 20, want)
		// The village node's outbox finds the district holding less than it
		// acknowledged and sends it again from there, then its new entries.
		rvAtRestore, _ := headOf(d1.api, rvOrg)
		if rvAtRestore != rvBackup {
			t.Fatalf("the new cluster holds the village node at %d, want the backup's %d", rvAtRestore, rvBackup)
		}
		rv.start()
		rvBefore, _ := rv.headOf()
		rv.record(3, 200)
		for _, p := range members {
			eventually(t, 60*time.Second, p.id+" at the village node's head", func() bool { return rvSynced(p.api) })
		}
		mine, _ := rv.headOf()
		if st := rv.syncState(); st.Acked != mine || len(st.Refused) != 0 {
			t.Fatalf("the village node's sync: acked %d of its head %d, refused %+v", st.Acked, mine, st.Refused)
		}
		for _, o := range []string{v.origin, rvOrg} {
			forks, err := clientFor(t, caDir, d1.api).ListForks(context.Background(), &sanziv1.ListForksRequest{Origin: o})
			if err != nil || len(forks.GetForks()) != 0 {
				t.Fatalf("forks of %s: %v %v", o, forks.GetForks(), err)
			}
		}
		t.Logf("village node: the new cluster held it at %d of %d, its outbox sent the rest again and its new entries: acked %d = its head, same hash on every member", rvAtRestore, rvBefore, mine)
	})

	t.Run("checkpoints do not contradict the old cluster's", func(t *testing.T) {
		var adopted public.Checkpoint
		b, _ := os.ReadFile(kept)
		json.Unmarshal(b, &adopted)
		eventually(t, 30*time.Second, "a checkpoint of the new cluster after the adopted one", func() bool { return checkpointCovers(v.head.Seq) != nil })
		newCPs := checkpoints()
		var sts []*checkpoint.Statement
		var next *checkpoint.Statement
		for _, c := range append(append([]public.Checkpoint{}, oldCPs...), newCPs...) {
			sig, _ := base64.StdEncoding.DecodeString(c.Signature)
			st, err := checkpoint.Parse([]byte(c.Statement))
			if err != nil || len(sig) != ed25519.SignatureSize {
				t.Fatalf("checkpoint %d: %v", c.Number, err)
			}
			sts = append(sts, st)
			if st.Number == adopted.Number+1 {
				next = st
			}
		}
		if bad := checkpoint.Contradictions(sts); len(bad) > 0 {
			t.Fatalf("%d contradictions, first: %v", len(bad), bad[0])
		}
		prev, _ := checkpoint.Parse([]byte(adopted.Statement))
		if next == nil || next.Prev != prev.Sum() {
			t.Fatalf("the new cluster's first checkpoint does not follow the adopted %d", adopted.Number)
		}
		t.Logf("%d checkpoints of the old cluster, %d served by the new one, none contradicting; the new cluster went on from %d", len(oldCPs), len(newCPs), adopted.Number)
	})

	t.Run("every member's folder verifies", func(t *testing.T) {
		want := v.head.Seq
		for _, p := range members {
			p.stop()
			out := mustRun(t, "verify", "--data", p.data)
			if !strings.Contains(out, fmt.Sprintf("chain %s: %d entries", v.origin, want)) || !strings.Contains(out, "all chains verify") {
				t.Fatalf("verify %s:\n%s", p.id, out)
			}
		}
	})
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}
