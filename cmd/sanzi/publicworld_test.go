package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// publicWorld is the world of the villagers' side's end-to-end tests
// (issue 15): a real 3-member district on loopback, each member serving the
// public site, a town pulling from d1 and a village pushing to the town,
// as processes of the real binary.
type publicWorld struct {
	dir, caDir string
	members    map[string]*districtProc
	httpOf     map[string]string // each member's HTTP address (the public site)
	d2         sanziv1.DistrictServiceClient
	tw, v      *syncVillage
	tn, vn     *node
}

// The orgs of the public world.
const (
	pwDistrict = "350505000000"
	pwTown     = "350505100000"
	pwVillage  = "350505100201"
)

// startPublicWorld starts it; memberArgs are more flags for a member by id
// (d1, d2, d3), every member's too under "".
func startPublicWorld(t *testing.T, memberArgs map[string][]string) *publicWorld {
	t.Helper()
	return startPublicWorldWith(t, memberArgs, nil)
}

// startPublicWorldWith starts it with more flags for the town; a town with
// --public also gets the district's --orgs, for the names on its site.
func startPublicWorldWith(t *testing.T, memberArgs map[string][]string, townArgs []string) *publicWorld {
	t.Helper()
	w := &publicWorld{dir: t.TempDir(), members: map[string]*districtProc{}, httpOf: map[string]string{}}
	w.caDir = filepath.Join(w.dir, "ca")
	must := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
	}
	must(run(t, "ca", "init", "--district", "350505", "--dir", w.caDir))
	for _, n := range []string{"d1", "d2", "d3", "admin"} {
		must(run(t, "ca", "issue", "--dir", w.caDir, "--org", pwDistrict, "--role", "district", "--name", n))
	}
	must(run(t, "ca", "issue", "--dir", w.caDir, "--org", pwTown, "--role", "town"))
	must(run(t, "ca", "issue", "--dir", w.caDir, "--org", pwVillage, "--role", "village"))
	orgs := filepath.Join(w.dir, "orgs.csv")
	if err := os.WriteFile(orgs, []byte("code,name\n350505000000,示范区\n350505100000,城关镇\n350505100201,新村\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The district: three members, each serving the public site. The
	// checkpoint interval is a second so the tests do not wait a minute.
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		p := &districtProc{t: t, id: id, raft: freePort(t), api: freePort(t), data: filepath.Join(w.dir, id)}
		w.httpOf[id] = freePort(t)
		p.args = []string{"district", "serve", "--id", id, "--raft", p.raft, "--api", p.api, "--http", w.httpOf[id], "--data", p.data,
			"--tls-dir", w.caDir, "--cert", id, "--chain-cert", "admin", "--log-level", "warn", "--orgs", orgs,
			"--checkpoint-every", "1s"} // proofs are served by default
		if i == 1 {
			p.args = append(p.args, append([]string{"--bootstrap"}, districtAdminArgs(t, w.dir)[2:]...)...)
		} else {
			p.args = append(p.args, "--join", w.members["d1"].api)
		}
		p.args = append(append(p.args, memberArgs[""]...), memberArgs[id]...)
		w.members[id] = p
		p.start()
		t.Cleanup(p.stop)
		if i == 1 {
			waitLeader(t, clientFor(t, w.caDir, p.api), "")
		}
	}
	w.d2 = clientFor(t, w.caDir, w.members["d2"].api)
	eventually(t, 30*time.Second, "3 voters", func() bool {
		st, err := w.d2.ClusterStatus(context.Background(), &sanziv1.ClusterStatusRequest{All: true})
		return err == nil && len(st.GetMembers()) == 3 && st.GetMembers()[2].GetError() == ""
	})

	inbox := freePort(t)
	w.tw = &syncVillage{t: t, org: pwTown, data: filepath.Join(w.dir, "town"), http: freePort(t), grpc_: freePort(t)}
	w.tw.args = []string{"town", "serve", "--data", w.tw.data, "--org", pwTown, "--http-addr", w.tw.http, "--grpc-addr", w.tw.grpc_,
		"--sync-addr", inbox, "--parent", w.members["d1"].api, "--tls-dir", w.caDir, "--log-level", "warn"}
	w.tw.args = append(w.tw.args, townArgs...)
	if slices.Contains(townArgs, "--public") {
		w.tw.args = append(w.tw.args, "--orgs", orgs)
	}
	w.tw.start()
	t.Cleanup(func() { w.tw.kill9() })
	w.v = &syncVillage{t: t, org: pwVillage, data: filepath.Join(w.dir, pwVillage), http: freePort(t), grpc_: freePort(t)}
	w.v.args = []string{"village", "serve", "--data", w.v.data, "--org", pwVillage, "--http-addr", w.v.http, "--grpc-addr", w.v.grpc_,
		"--parent", inbox, "--tls-dir", w.caDir, "--log-level", "warn"}
	w.v.start()
	t.Cleanup(func() { w.v.kill9() })
	w.vn, w.tn = &node{t: t, http: w.v.http}, &node{t: t, http: w.tw.http}
	return w
}
