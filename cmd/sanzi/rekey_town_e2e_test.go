package main

import (
	"crypto/ed25519"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sanzi/sanzi/node/keys"
	"github.com/sanzi/sanzi/node/pki"
)

// TestRekeyTownVillagePulls: a town changes its signing key (sanzi town
// rekey, the rotation signed by the old key) and records in its own chain
// afterwards; its village, which pinned the town's first key at its first
// pull, must pull the rotation and what follows it, trusting the new key
// because the old one vouched for it in the chain (not because the town
// now serves a certificate with it), and `sanzi verify` must pass on the
// village's copy of the town's chain across the rotation. A second village
// whose first pull comes after the rekey must verify the town's chain from
// seq 1 too: the town serves the certificate of its first key along. So
// must a third village under the district directly (its parent the
// district): the district kept the certificate of the town's first key at
// the rotation and serves it.
func TestRekeyTownVillagePulls(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	const town, vorg, v2org, v3org = "350505100000", "350505100201", "350505100202", "350505100203"
	mustRun(t, "ca", "init", "--district", "350505", "--dir", caDir)
	for _, n := range []string{"d1", "admin"} {
		mustRun(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", n)
	}
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town")
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", vorg, "--role", "village")
	keyOf := func(t *testing.T) ed25519.PublicKey {
		t.Helper()
		iss, err := pki.LoadIssued(caDir, town)
		if err != nil {
			t.Fatal(err)
		}
		return iss.Key.Public().(ed25519.PublicKey)
	}
	oldKey, newKey := keyOf(t), keyOf // newKey is read after the new certificate is issued

	d := &districtProc{t: t, id: "d1", raft: freePort(t), api: freePort(t), data: filepath.Join(dir, "d1")}
	d.args = append([]string{"district", "serve", "--id", "d1", "--raft", d.raft, "--api", d.api, "--data", d.data, "--tls-dir", caDir, "--cert", "d1", "--bootstrap", "--log-level", "warn"},
		districtAdminArgs(t, dir)...)
	d.start()
	t.Cleanup(d.stop)
	waitLeader(t, clientFor(t, caDir, d.api), "")
	tw, v, inbox := startTownAndVillage(t, dir, caDir, d.api, town, vorg)
	statusOf := func(n *syncVillage) string {
		out, code := run(t, "sync", "status", "--http", n.http)
		if code != 0 {
			t.Fatalf("sync status of %s: %s", n.org, out)
		}
		return out
	}
	status := func() string { return statusOf(v) }
	var v2, v3 *syncVillage // the villages registered after the rekey, under the town and under the district
	defer func() {
		if t.Failed() {
			for _, n := range []*syncVillage{tw, v, v2, v3} {
				if n == nil {
					continue
				}
				out, _ := run(t, "sync", "status", "--http", n.http)
				t.Logf("%s: %s\n%s", n.org, out, tail(n.log.String()))
			}
		}
	}()
	// pulledTown says whether the village holds the town's chain up to
	// the town's head, its last pull without error.
	pulledTownBy := func(n *syncVillage) bool {
		want := regexp.MustCompile(`pulled ` + town + `: head ` + itoa(tw.head()) + `; last pulled`)
		return want.MatchString(statusOf(n))
	}
	pulledTown := func() bool { return pulledTownBy(v) }

	tw.record(3, 1)
	eventually(t, 60*time.Second, "the village to pull the town's first entries (pinning its key)", pulledTown)

	tw.kill9()
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town") // the town's new certificate
	out := mustRun(t, "town", "rekey", "--data", tw.data, "--tls-dir", caDir, "--org", town, "--reason", "yearly")
	if !strings.Contains(out, "key rotation "+town+"-") || !strings.Contains(out, "signed by the old key") {
		t.Fatalf("town rekey: %s", out)
	}
	t.Logf("sanzi town rekey:\n%s", out)
	tw.start()
	tw.record(3, 100) // the town's own books, signed with the new key
	eventually(t, 60*time.Second, "the village to pull the town's rotation and the entries after it", pulledTown)
	if out := status(); strings.Contains(out, "another key") {
		t.Fatalf("the village still refuses the town's chain:\n%s", out)
	}
	t.Logf("village sync status after the town's rekey:\n%s", status())
	// The village keeps the chain's first key and takes the new one as
	// its current key, from the chain.
	first, err := keys.ReadPublic(filepath.Join(v.data, "keys", town+".first.pub"))
	if err != nil || !first.Equal(oldKey) {
		t.Fatalf("the village's %s.first.pub: %v, want the town's first key", town, err)
	}
	if cur, err := keys.ReadPublic(filepath.Join(v.data, "keys", town+".pub")); err != nil || !cur.Equal(newKey(t)) {
		t.Fatalf("the village's %s.pub: %v, want the town's new key", town, err)
	}

	// Restarted, the village reads the key in force from the chain it
	// holds, and goes on pulling.
	v.kill9()
	v.start()
	tw.record(2, 200)
	eventually(t, 60*time.Second, "the restarted village to pull the town's entries under the new key", pulledTown)

	// A village registered after the rekey: its first pull pins the
	// town's first key from the certificate the town kept of it, checked
	// with the district CA and against seq 1, and follows the rotation.
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", v2org, "--role", "village")
	v2 = &syncVillage{t: t, org: v2org, data: filepath.Join(dir, "v2"), http: freePort(t), grpc_: freePort(t)}
	v2.args = []string{"village", "serve", "--data", v2.data, "--org", v2org, "--http-addr", v2.http, "--grpc-addr", v2.grpc_,
		"--parent", inbox, "--tls-dir", caDir, "--log-level", "warn", "--retry-max", "1s"}
	v2.start()
	t.Cleanup(func() { v2.kill9() })
	eventually(t, 60*time.Second, "the village registered after the rekey to pull the town's whole chain", func() bool { return pulledTownBy(v2) })
	if first, err := keys.ReadPublic(filepath.Join(v2.data, "keys", town+".first.pub")); err != nil || !first.Equal(oldKey) {
		t.Fatalf("the second village's %s.first.pub: %v, want the town's first key", town, err)
	}
	if cur, err := keys.ReadPublic(filepath.Join(v2.data, "keys", town+".pub")); err != nil || !cur.Equal(newKey(t)) {
		t.Fatalf("the second village's %s.pub: %v, want the town's new key", town, err)
	}

	// A village whose parent is the district, registered after the
	// rekey: its first pull of the town's chain comes from the district,
	// which serves the first key's certificate it kept at the rotation.
	mustRun(t, "ca", "issue", "--dir", caDir, "--org", v3org, "--role", "village")
	v3 = &syncVillage{t: t, org: v3org, data: filepath.Join(dir, "v3"), http: freePort(t), grpc_: freePort(t)}
	v3.args = []string{"village", "serve", "--data", v3.data, "--org", v3org, "--http-addr", v3.http, "--grpc-addr", v3.grpc_,
		"--parent", d.api, "--tls-dir", caDir, "--log-level", "warn", "--retry-max", "1s"}
	v3.start()
	t.Cleanup(func() { v3.kill9() })
	eventually(t, 60*time.Second, "the village under the district to pull the town's whole chain from the district", func() bool { return pulledTownBy(v3) })
	if first, err := keys.ReadPublic(filepath.Join(v3.data, "keys", town+".first.pub")); err != nil || !first.Equal(oldKey) {
		t.Fatalf("the district-served village's %s.first.pub: %v, want the town's first key", town, err)
	}
	if cur, err := keys.ReadPublic(filepath.Join(v3.data, "keys", town+".pub")); err != nil || !cur.Equal(newKey(t)) {
		t.Fatalf("the district-served village's %s.pub: %v, want the town's new key", town, err)
	}

	v.kill9()
	v2.kill9()
	v3.kill9()
	tw.kill9()
	for _, n := range []*syncVillage{v, v2, v3} {
		out, code := run(t, "verify", "--data", n.data, "--tls-dir", caDir)
		if code != 0 || !strings.Contains(out, "all chains verify") || !strings.Contains(out, town) {
			t.Fatalf("sanzi verify --data %s: exit %d\n%s", n.data, code, out)
		}
		t.Logf("sanzi verify of village %s:\n%s", n.org, out)
	}
}
