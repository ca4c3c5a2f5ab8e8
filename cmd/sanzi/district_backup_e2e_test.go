package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestDistrictMemberBackupRestore is issue 16's backup of a district
// member with three real members on loopback: member 3 is backed up online
// while entries are pushed, more entries are committed after the backup,
// then it is stopped and its folder wiped. The backup restored into the
// empty folder refuses to start other than by rejoining (it has no raft
// state); started with --join it leaves and rejoins the configuration,
// catches up from the leader to the same heads as the others, takes new
// entries, and its stopped folder passes `sanzi verify`.
func TestDistrictMemberBackupRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("three member processes")
	}
	dir := t.TempDir()
	caDir := districtCA(t, dir, "d1", "d2", "d3", "admin")
	members := map[string]*districtProc{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		p := &districtProc{t: t, id: id, raft: freePort(t), api: freePort(t), data: filepath.Join(dir, id)}
		p.args = []string{"district", "serve", "--id", id, "--raft", p.raft, "--api", p.api, "--data", p.data, "--tls-dir", caDir, "--cert", id,
			"--log-level", "warn", "--chain-cert", "admin"}
		if i == 1 {
			p.args = append(p.args, append([]string{"--bootstrap"}, districtAdminArgs(t, dir)[2:]...)...)
		} else {
			p.args = append(p.args, "--join", members["d1"].api)
		}
		members[id] = p
		p.start()
		t.Cleanup(p.stop)
		if i == 1 {
			waitLeader(t, clientFor(t, caDir, p.api), "")
		}
	}
	d1, d3 := members["d1"], members["d3"]
	d3HTTP := freePort(t)
	d3.stop() // restart member 3 with its HTTP listener, where backups are served
	d3.args = append(d3.args, "--http", d3HTTP)
	d3.start()
	c1 := clientFor(t, caDir, d1.api)
	voters := func() bool { return healthyVoters(c1, 3) }
	eventually(t, 30*time.Second, "3 voters", voters)

	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	v := &testVillage{origin: "350505100201", key: ed25519.NewKeyFromSeed(seed)}
	eventually(t, 30*time.Second, "the village registered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := c1.RegisterOrigin(ctx, &sanziv1.RegisterOriginRequest{Origin: v.origin, PublicKey: v.key.Public().(ed25519.PublicKey)})
		return err == nil
	})
	push := func(n int) {
		t.Helper()
		batch := v.next(n)
		eventually(t, 30*time.Second, "a push committed", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c1.PushEntries(ctx, &sanziv1.PushEntriesRequest{Entries: batch})
			return err == nil
		})
	}
	headAt := func(api string) uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := clientFor(t, caDir, api).ListHeads(ctx, &sanziv1.ListHeadsRequest{})
		if err != nil {
			return 0
		}
		for _, x := range h.GetHeads() {
			if x.GetOrigin() == v.origin {
				return x.GetSeq()
			}
		}
		return 0
	}
	push(40)
	// The first administrator is an entry of the district's chain; sign in
	// once every member holds it.
	eventually(t, 30*time.Second, "the district's chain on every member", func() bool {
		for _, p := range members {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			h, err := clientFor(t, caDir, p.api).ListHeads(ctx, &sanziv1.ListHeadsRequest{})
			cancel()
			found := false
			for _, x := range h.GetHeads() {
				found = found || (err == nil && x.GetOrigin() == "350505000000" && x.GetSeq() > 0)
			}
			if !found {
				return false
			}
		}
		return true
	})
	admin := districtAdmin(t, caDir, d1.api)
	file := filepath.Join(dir, "d3.tar")

	// Online: pushes go on while the backup is taken.
	done := make(chan struct{})
	go func() { defer close(done); push(40) }()
	out := mustRun(t, "backup", "--http", d3HTTP, "--out", file, "--token", admin)
	<-done
	t.Logf("%s", strings.TrimSpace(out))
	// Refused without a sign-in.
	if out, code := run(t, "backup", "--http", d3HTTP, "--out", filepath.Join(dir, "anon.tar"), "--token", "not-a-token"); code == 0 {
		t.Fatalf("a backup without a valid sign-in was served:\n%s", out)
	}
	push(30) // committed after the backup: member 3 must catch these up
	want := v.head.Seq
	eventually(t, 30*time.Second, "member 3 at the head before it is lost", func() bool { return headAt(d3.api) == want })

	d3.stop()
	if err := os.RemoveAll(d3.data); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, "restore", "--in", file, "--data", d3.data)
	t.Logf("%s", strings.TrimSpace(out))
	if _, err := os.Stat(filepath.Join(d3.data, "raft.db")); err == nil {
		t.Fatal("the backup holds raft.db: a restored member would resume an old raft state")
	}
	// Without --join it refuses: it has no raft state to resume.
	var noJoin []string
	for i := 0; i < len(d3.args); i++ {
		if d3.args[i] == "--join" {
			i++
			continue
		}
		noJoin = append(noJoin, d3.args[i])
	}
	if out, code := run(t, noJoin...); code == 0 || !strings.Contains(out, "must rejoin") {
		t.Fatalf("a restored member started without --join: exit %d\n%s", code, out)
	}
	d3.start()
	eventually(t, 60*time.Second, "the restored member to catch up from the leader", func() bool { return headAt(d3.api) == want })
	eventually(t, 30*time.Second, "3 voters after the rejoin", voters)
	if _, err := os.Stat(filepath.Join(d3.data, "RESTORED.json")); err == nil {
		t.Fatal("the restore marker is still there after the rejoin")
	}
	push(20)
	want = v.head.Seq
	eventually(t, 30*time.Second, "the rejoined member to take new entries", func() bool { return headAt(d3.api) == want })
	d3.stop()
	out = mustRun(t, "verify", "--data", d3.data)
	if !strings.Contains(out, fmt.Sprintf("chain %s: %d entries", v.origin, want)) || !strings.Contains(out, "all chains verify") {
		t.Fatalf("verify of the restored member:\n%s", out)
	}
	t.Logf("member 3 restored from a backup and rejoined: %d entries of %s, verify:\n%s", want, v.origin, out)
}

// mustRun runs the CLI and fails t unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, code := run(t, args...)
	if code != 0 {
		t.Fatalf("sanzi %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// districtCA makes a district CA in dir/ca and issues a district
// certificate of each name into it; it returns the CA folder.
func districtCA(t *testing.T, dir string, names ...string) string {
	t.Helper()
	caDir := filepath.Join(dir, "ca")
	mustRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	for _, name := range names {
		mustRun(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", name)
	}
	return caDir
}

// healthyVoters reports whether the cluster, asked through c, has n
// members, every one a voter that answers.
func healthyVoters(c sanziv1.DistrictServiceClient, n int) bool {
	st, err := c.ClusterStatus(context.Background(), &sanziv1.ClusterStatusRequest{All: true})
	if err != nil || len(st.GetMembers()) != n {
		return false
	}
	for _, m := range st.GetMembers() {
		if !m.GetVoter() || m.GetError() != "" {
			return false
		}
	}
	return true
}
