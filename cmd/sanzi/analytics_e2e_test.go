package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sanzi/sanzi/analytics/chserver"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestVillagesTownDistrictClickHouse runs every tier on loopback: two
// villages push through their town to a 3-member district whose leader
// loads ClickHouse. During loading the leader is killed with SIGKILL and
// ClickHouse is stopped for a minute. At the end, per village, ClickHouse's
// count and sum of expenses equal what the village recorded, and it holds
// each village entry exactly once.
func TestVillagesTownDistrictClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test")
	}
	ctx := context.Background()
	ch, err := chserver.Start(ctx, chserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	must := func(out string, code int) {
		t.Helper()
		if code != 0 {
			t.Fatal(out)
		}
	}
	must(run(t, "ca", "init", "--district", "350505", "--dir", caDir))
	for _, n := range []string{"d1", "d2", "d3", "admin"} {
		must(run(t, "ca", "issue", "--dir", caDir, "--org", "350505000000", "--role", "district", "--name", n))
	}
	const town = "350505100000"
	vorgs := []string{"350505100201", "350505100202"}
	must(run(t, "ca", "issue", "--dir", caDir, "--org", town, "--role", "town"))
	for _, o := range vorgs {
		must(run(t, "ca", "issue", "--dir", caDir, "--org", o, "--role", "village"))
	}
	members := map[string]*districtProc{}
	var apis []string
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("d%d", i)
		p := &districtProc{t: t, id: id, raft: freePort(t), api: freePort(t), data: filepath.Join(dir, id)}
		p.args = []string{"district", "serve", "--id", id, "--raft", p.raft, "--api", p.api, "--data", p.data, "--tls-dir", caDir, "--cert", id,
			"--log-level", "error", "--clickhouse", ch.Addr(), "--chain-cert", "admin"}
		if i == 1 {
			p.args = append(p.args, "--bootstrap")
			p.args = append(p.args, districtAdminArgs(t, dir)...)
		} else {
			p.args = append(p.args, "--join", members["d1"].api)
		}
		members[id] = p
		apis = append(apis, p.api)
		p.start()
		t.Cleanup(p.stop)
		if i == 1 {
			waitLeader(t, clientFor(t, caDir, p.api), "")
		}
	}
	clients := map[string]sanziv1.DistrictServiceClient{}
	for id, p := range members {
		clients[id] = clientFor(t, caDir, p.api)
	}
	eventually(t, 30*time.Second, "3 voters", func() bool {
		st, err := clients["d1"].ClusterStatus(ctx, &sanziv1.ClusterStatusRequest{All: true})
		return err == nil && len(st.GetMembers()) == 3 && st.GetMembers()[2].GetError() == ""
	})
	// The town pushes to the member that is not the first leader, so its
	// link survives the kill (a member forwards to whoever leads).
	inbox := freePort(t)
	tw := &syncVillage{t: t, org: town, data: filepath.Join(dir, "town"), http: freePort(t), grpc_: freePort(t)}
	tw.args = []string{"town", "serve", "--data", tw.data, "--org", town, "--http-addr", tw.http, "--grpc-addr", tw.grpc_,
		"--sync-addr", inbox, "--parent", members["d3"].api, "--tls-dir", caDir, "--log-level", "error", "--retry-max", "1s"}
	tw.start()
	t.Cleanup(func() { tw.kill9() })
	var villages []*syncVillage
	want := map[string][2]int64{} // count, sum of expenses in fen
	for vi, o := range vorgs {
		v := &syncVillage{t: t, org: o, data: filepath.Join(dir, o), http: freePort(t), grpc_: freePort(t)}
		v.args = []string{"village", "serve", "--data", v.data, "--org", o, "--http-addr", v.http, "--grpc-addr", v.grpc_,
			"--parent", inbox, "--tls-dir", caDir, "--log-level", "error", "--retry-max", "1s"}
		v.start()
		t.Cleanup(func() { v.kill9() })
		villages = append(villages, v)
		n := 600 + 200*vi
		v.record(n, 1)
		var sum int64
		for i := 1; i <= n; i++ {
			sum += int64(1000 + i) // tx(i)'s amount
		}
		want[o] = [2]int64{int64(n), sum}
	}
	// Faults while the chains travel and load: kill -9 the leader, and stop
	// ClickHouse for a minute.
	leader := waitLeader(t, clients["d3"], "")
	members[leader].kill9()
	newLeader := waitLeader(t, clients["d3"], leader)
	t.Logf("killed leader %s during loading; %s leads", leader, newLeader)
	if err := ch.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // the outage itself: ClickHouse is down this long
	if err := ch.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	members[leader].start()

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	eventually(t, 90*time.Second, "ClickHouse to hold every village's expenses", func() bool {
		for _, v := range villages {
			var n, sum int64
			var entries, distinct uint64
			if err := conn.QueryRow(ctx, "SELECT sum(sign), sum(amount_fen) FROM transactions WHERE origin = ? AND kind = 'expense'", v.org).Scan(&n, &sum); err != nil {
				return false
			}
			if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(seq) FROM entries WHERE origin = ?", v.org).Scan(&entries, &distinct); err != nil {
				return false
			}
			if n != want[v.org][0] || sum != want[v.org][1] || entries != v.head() || distinct != entries {
				return false
			}
		}
		return true
	})
	t.Logf("after the leader kill and a one-minute ClickHouse outage: every village's expense count and sum in ClickHouse equal the village's (%v), each entry once; caught up %v after ClickHouse returned",
		want, time.Since(start).Round(time.Millisecond))
	analyst := districtPerson(t, caDir, apis[2], districtAdmin(t, caDir, apis[2]), "zhao.analyst", "district_analyst")
	out, code := run(t, "stats", "totals", "--server", apis[2], "--tls-dir", caDir, "--token", analyst, "--level", "town")
	if code != 0 || !regexp.MustCompile(`350505100\s`).MatchString(out) {
		t.Fatalf("stats by town: exit %d\n%s", code, out)
	}
	t.Logf("sanzi stats totals --level town:\n%s", out)
}
