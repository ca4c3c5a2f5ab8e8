package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/chserver"
	"github.com/sanzi/sanzi/analytics/stats"
	"github.com/sanzi/sanzi/federation/fsm"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// TestTwoShardsGiveTheSameStatistics loads the same chains into one server
// and into two shards (deploy/clickhouse's layout, on loopback) and checks
// that every statistic is the same, and that both shards hold rows.
func TestTwoShardsGiveTheSameStatistics(t *testing.T) {
	ctx := context.Background()
	p1, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf(`<remote_servers><sanzi>
  <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
  <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
</sanzi></remote_servers>`, p1, p2)
	var shards []*chserver.Server
	for _, p := range []int{p1, p2} {
		s, err := chserver.Start(ctx, chserver.Options{TCPPort: p, Extra: cluster, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		shards = append(shards, s)
	}
	single, err := chserver.Start(ctx, chserver.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { single.Close() })

	f, err := fsm.Open(fsm.Config{Path: filepath.Join(t.TempDir(), "fsm.db"), Logger: quiet, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d := &district{t: t, f: f}
	rnd := rand.New(rand.NewPCG(2, 2))
	// Six villages in four towns.
	for _, org := range []string{"350505100201", "350505100202", "350505101201", "350505102201", "350505102202", "350505103201"} {
		v := newVillage(t, org)
		v.record(t, rnd, 150)
		// And some vouchers, for the books' totals (voucher_lines).
		bk := newBooks(v)
		bk.business(t, rnd, "2025-05", 3)
		bk.business(t, rnd, "2025-06", 3)
		bk.carryForward(t, "2025-06-30")
		d.ship(v, 40)
	}
	load := func(cfg Config) {
		cfg.Source, cfg.Logger, cfg.Poll = f, quiet, 20*time.Millisecond
		l, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for l.Stats().LoadedIndex < f.AppliedIndex() {
			if _, err := l.step(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	singleConn := connect(t, single)
	load(Config{Conn: singleConn})
	shardConns := []driver.Conn{connect(t, shards[0]), connect(t, shards[1])}
	load(Config{Shards: shardConns, Cluster: "sanzi"})

	for i, c := range shardConns {
		var n uint64
		if err := c.QueryRow(ctx, "SELECT count() FROM entries_local").Scan(&n); err != nil || n == 0 {
			t.Fatalf("shard %d holds %d entries (%v): the towns should spread over both", i+1, n, err)
		}
	}
	answers := func(conn driver.Conn) string {
		s := stats.New(conn)
		var out []any
		for _, level := range []string{"district", "town", "village"} {
			r, err := s.Totals(ctx, &sanziv1.TotalsRequest{Scope: &sanziv1.StatsScope{Level: level}})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		a, err := s.AlertStats(ctx, &sanziv1.AlertStatsRequest{Scope: &sanziv1.StatsScope{}, GroupBy: "rule"})
		if err != nil {
			t.Fatal(err)
		}
		an, err := s.Anomalies(ctx, &sanziv1.AnomaliesRequest{Scope: &sanziv1.StatsScope{}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Risk(ctx, &sanziv1.RiskRequest{Scope: &sanziv1.StatsScope{}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a, an, r)
		for _, prefix := range []string{"", "350505102"} {
			bt, n, err := s.BooksTotals(ctx, prefix, "2025-06")
			if err != nil {
				t.Fatal(err)
			}
			if len(bt) == 0 || n == 0 {
				t.Fatalf("BooksTotals(%q, 2025-06): %d villages, %v: the vouchers are missing", prefix, n, bt)
			}
			byOrg, err := s.BooksOrgTotals(ctx, prefix, "2025-06")
			if err != nil {
				t.Fatal(err)
			}
			if len(byOrg) != n {
				t.Fatalf("BooksOrgTotals(%q, 2025-06): %d orgs, BooksTotals counted %d", prefix, len(byOrg), n)
			}
			out = append(out, bt, n, byOrg)
		}
		b, _ := json.Marshal(out)
		return string(b)
	}
	want := answers(singleConn)
	for i, c := range shardConns {
		if got := answers(c); got != want {
			t.Fatalf("statistics through shard %d differ from one server:\n got  %s\n want %s", i+1, got, want)
		}
	}
	t.Logf("same statistics from one server and from either of two shards (%d bytes of answers)", len(want))
}
