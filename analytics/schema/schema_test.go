package schema

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sanzi/sanzi/analytics/chserver"
)

// TestApplyClusterAddsNewColumns: a migration that adds a column to a
// _local table (as 6 does to alerts) reaches the Distributed table over it,
// which CREATE ... AS copied once, when ApplyCluster runs again.
func TestApplyClusterAddsNewColumns(t *testing.T) {
	ctx := context.Background()
	p, err := chserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cluster := fmt.Sprintf(`<remote_servers><one><shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard></one></remote_servers>`, p)
	s, err := chserver.Start(ctx, chserver.Options{TCPPort: p, Extra: cluster, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := ApplyCluster(ctx, []driver.Conn{conn}, "one"); err != nil {
		t.Fatal(err)
	}
	columns := func() string {
		var got string
		if err := conn.QueryRow(ctx, `SELECT arrayStringConcat(groupArray(concat(name, ' ', default_expression)), ',') FROM system.columns
			WHERE database = currentDatabase() AND table = 'alerts' AND name IN ('subject_origin', 'tamper_kind', 'probe')`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := columns(); !strings.Contains(got, "subject_origin if(") || !strings.Contains(got, "tamper_kind ''") {
		t.Fatalf("the Distributed alerts table after a fresh ApplyCluster: %s", got)
	}
	if err := conn.Exec(ctx, "ALTER TABLE alerts_local ADD COLUMN probe String DEFAULT 'x'"); err != nil {
		t.Fatal(err)
	}
	if err := ApplyCluster(ctx, []driver.Conn{conn}, "one"); err != nil {
		t.Fatal(err)
	}
	var probe string
	if err := conn.QueryRow(ctx, "SELECT any(default_expression) FROM system.columns WHERE database = currentDatabase() AND table = 'alerts' AND name = 'probe'").Scan(&probe); err != nil {
		t.Fatal(err)
	}
	if probe != "'x'" {
		t.Fatalf("the Distributed alerts table after the local one gained a column: default %q (columns %s)", probe, columns())
	}
}
