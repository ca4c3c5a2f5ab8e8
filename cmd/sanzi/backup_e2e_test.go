package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestBackupRestoreContinues is issue 16's backup scenario with the real
// binary: a village syncing to its parent (a district member, or a town
// that forwards to one) records, is backed up online while it records,
// records more (synced, with a scanned contract the backup does not hold),
// and is lost. The backup restored into a new folder verifies; started
// without a parent it refuses (it may be behind its parent's copy); started
// with one it first pulls back its own entries the parent holds beyond the
// backup, and the attachment they name, and then records on: the district
// takes the new entries, its head equals the village's, and there is no
// fork.
func TestBackupRestoreContinues(t *testing.T) {
	t.Run("under a district member", func(t *testing.T) { backupRestoreContinues(t, false) })
	t.Run("under a town", func(t *testing.T) { backupRestoreContinues(t, true) })
}

func backupRestoreContinues(t *testing.T, viaTown bool) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	must := func(out string, code int) string {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
		return out
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
	parent := d.api
	if viaTown {
		const town = "350505100000"
		must(run(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town"))
		parent = freePort(t)
		tw := &syncVillage{t: t, org: town, data: filepath.Join(dir, "town"), http: freePort(t), grpc_: freePort(t)}
		tw.args = []string{"town", "serve", "--data", tw.data, "--org", town, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
			"--sync-addr", parent, "--parent", d.api, "--tls-dir", caDir, "--log-level", "warn"}
		tw.start()
		t.Cleanup(func() { tw.kill9() })
	}
	districtHead := func() (uint64, string) {
		h, err := district.GetDistrictHead(context.Background(), &sanziv1.GetDistrictHeadRequest{Origin: org})
		if err != nil {
			return 0, ""
		}
		return h.GetHead().GetSeq(), h.GetHead().GetHash()
	}
	village := func(data string, withParent bool) *syncVillage {
		v := &syncVillage{t: t, org: org, data: data, http: freePort(t), grpc_: freePort(t)}
		v.args = []string{"village", "serve", "--data", v.data, "--org", org, "--http-addr", v.http, "--grpc-addr", v.grpc_, "--tls-dir", caDir, "--log-level", "warn"}
		if withParent {
			v.args = append(v.args, "--parent", parent)
		}
		return v
	}
	v := village(filepath.Join(dir, "v"), true)
	v.start()
	t.Cleanup(func() { v.kill9() })
	file := filepath.Join(dir, "v.tar")
	var atBackup, full uint64
	t.Run("backup taken while recording", func(t *testing.T) {
		v.record(4, 1)
		done := make(chan struct{})
		go func() { defer close(done); v.record(4, 100) }()
		out := must(run(t, "backup", "--http", v.http, "--out", file))
		<-done
		t.Logf("%s", strings.TrimSpace(out))
		eventually(t, 30*time.Second, "the village's chain at the district", func() bool { s, _ := districtHead(); return s == v.head() })
		atBackup = v.head()
	})
	scan := make([]byte, 300<<10) // more than one sync piece
	rand.Read(scan)
	var scanHash string
	t.Run("more recorded and synced, then the village is lost", func(t *testing.T) {
		v.record(3, 200)
		// One entry after the backup names a scanned contract: it goes up
		// with the entry, and the backup does not hold it.
		vn := &node{t: t, http: v.http}
		var up struct {
			Attachment struct {
				Sha256 string `json:"sha256"`
			} `json:"attachment"`
		}
		if code, raw := vn.call("POST", "/v1/attachments?fileName=contract.pdf", "application/octet-stream", scan, &up); code != 200 {
			t.Fatalf("upload: %d %s", code, raw)
		}
		scanHash = up.Attachment.Sha256
		body := set(set(tx(250), "transaction.org", org), "transaction.attachments", []string{scanHash})
		if code, raw := vn.post("/v1/transactions", body, nil); code != 200 {
			t.Fatalf("record with attachment: %d %s", code, raw)
		}
		eventually(t, 30*time.Second, "the new entries at the district", func() bool { s, _ := districtHead(); return s == v.head() })
		full = v.head()
		v.stop()
		if full <= atBackup {
			t.Fatalf("head %d after recording, want past %d", full, atBackup)
		}
	})
	restored := filepath.Join(dir, "restored")
	t.Run("restore into an empty folder and verify", func(t *testing.T) {
		out := must(run(t, "restore", "--in", file, "--data", restored))
		t.Logf("%s", strings.TrimSpace(out))
		if out, code := run(t, "restore", "--in", file, "--data", restored); code == 0 || !strings.Contains(out, restored) {
			t.Fatalf("restore into a full folder: exit %d, want a refusal naming it\n%s", code, out)
		}
		out = must(run(t, "verify", "--data", restored))
		t.Logf("verify:\n%s", strings.TrimSpace(out))
	})
	r := village(restored, true)
	t.Run("without a parent the restored node refuses to start", func(t *testing.T) {
		alone := village(restored, false)
		out, code := run(t, alone.args...)
		if code == 0 || !strings.Contains(out, "RESTORED.json") || !strings.Contains(out, "--parent") {
			t.Fatalf("restored village without a parent: exit %d, want a refusal naming RESTORED.json and --parent\n%s", code, out)
		}
	})
	t.Run("with its parent it catches up, then records on without a fork", func(t *testing.T) {
		r.start()
		t.Cleanup(func() { r.kill9() })
		if h := r.head(); h != full {
			t.Fatalf("restored village's head %d at start, want the parent's %d (the backup held %d)", h, full, atBackup)
		}
		if _, err := os.Stat(filepath.Join(restored, "RESTORED.json")); err == nil {
			t.Error("the restore marker is still there after catching up")
		}
		// The attachment of an entry recorded after the backup came back
		// from the parent with the entry.
		var got struct {
			Attachment struct {
				LockedBy string `json:"lockedBy"`
			} `json:"attachment"`
			Content []byte `json:"content"`
		}
		if code, raw := (&node{t: t, http: r.http}).call("GET", "/v1/attachments/"+scanHash, "", nil, &got); code != 200 || !bytes.Equal(got.Content, scan) || got.Attachment.LockedBy == "" {
			t.Fatalf("the restored village's copy of attachment %s: %d, %d bytes, locked by %q (want %d bytes, locked) %.200s", scanHash, code, len(got.Content), got.Attachment.LockedBy, len(scan), raw)
		}
		r.record(3, 300)
		eventually(t, 30*time.Second, "the restored village's new entries at the district", func() bool { s, _ := districtHead(); return s == r.head() })
		seq, hash := districtHead()
		if mine, myHash := r.headOf(); mine != seq || myHash != hash {
			t.Fatalf("district head %d %s, village %d %s", seq, hash, mine, myHash)
		}
		forks, err := district.ListForks(context.Background(), &sanziv1.ListForksRequest{Origin: org})
		if err != nil || len(forks.GetForks()) != 0 {
			t.Fatalf("forks at the district: %v %v", forks.GetForks(), err)
		}
		if st := r.syncState(); len(st.Refused) != 0 {
			t.Fatalf("the restored village's chain is refused: %+v", st.Refused)
		}
		r.stop()
		if out := must(run(t, "verify", "--data", restored)); !strings.Contains(out, "1 locked attachments checked") {
			t.Fatalf("verify of the restored village does not check the pulled attachment:\n%s", out)
		}
		t.Log(fmt.Sprintf("synced head %d at the backup, parent at %d, restored village caught up and went on to %d; no fork", atBackup, full, seq))
	})
}
