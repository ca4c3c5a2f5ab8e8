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
	conn := serve(t, chserver.Options{TCPPort: p, Extra: cluster})
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

// TestOriginDefaults: migration 10 makes entries' and transactions'
// district and town DEFAULTs computed from origin (the loader leaves them
// out), on tables made before it: rows already there keep what they hold,
// a writer that still names them is obeyed, and rows without them get the
// origin's district and town as the loader's orgParts makes them.
func TestOriginDefaults(t *testing.T) {
	ctx := context.Background()
	conn := serve(t, chserver.Options{})
	// A deployment from before migration 10.
	if err := conn.Exec(ctx, "CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	for _, m := range Migrations() {
		if m.Version >= 10 {
			continue
		}
		for _, q := range m.SQL {
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		if err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO schema_migrations (version, name, applied_at) SELECT %d, 'old', now()", m.Version)); err != nil {
			t.Fatal(err)
		}
	}
	insert := func(q string, rows ...[]any) {
		if err := chserver.Insert(ctx, conn, q, rows...); err != nil {
			t.Fatal(err)
		}
	}
	insert("INSERT INTO entries (raft_index, origin, seq, district, town, type, type_name, recorded_at, author, subject)",
		[]any{uint64(1), "350505101201", uint64(1), "old-d", "old-t", uint8(1), "x", int64(0), "a", ""})
	applied, err := Apply(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(applied) != "[10]" {
		t.Fatalf("applied %v, want [10]", applied)
	}
	insert("INSERT INTO entries (raft_index, origin, seq, type, type_name, recorded_at, author, subject)",
		[]any{uint64(2), "350505102202", uint64(1), uint8(1), "x", int64(0), "a", ""},
		[]any{uint64(3), "3505051", uint64(1), uint8(1), "x", int64(0), "a", ""})
	insert("INSERT INTO entries (raft_index, origin, seq, district, town, type, type_name, recorded_at, author, subject)",
		[]any{uint64(4), "350505103203", uint64(1), "named-d", "named-t", uint8(1), "x", int64(0), "a", ""})
	insert("INSERT INTO transactions (raft_index, origin, seq, kind, sign, amount_fen, payment_method, category, budget_line, counterparty, counterparty_id, business_date, month, recorded_at)",
		[]any{uint64(5), "350505104204", uint64(1), "expense", int8(1), int64(1), "", "", "", "", "", "2026-08-15", uint32(202608), int64(0)})
	for _, tc := range []struct {
		table, origin, district, town string
	}{
		{"entries", "350505101201", "old-d", "old-t"},
		{"entries", "350505102202", "350505", "350505102"},
		{"entries", "3505051", "3505051", "3505051"},
		{"entries", "350505103203", "named-d", "named-t"},
		{"transactions", "350505104204", "350505", "350505104"},
	} {
		var d, tw string
		if err := conn.QueryRow(ctx, "SELECT district, town FROM "+tc.table+" WHERE origin = ?", tc.origin).Scan(&d, &tw); err != nil {
			t.Fatalf("%s %s: %v", tc.table, tc.origin, err)
		}
		if d != tc.district || tw != tc.town {
			t.Errorf("%s %s: district %q town %q, want %q %q", tc.table, tc.origin, d, tw, tc.district, tc.town)
		}
	}
}

// serve starts a private ClickHouse for one test and connects to it, with
// no schema: each test makes the tables it is about.
func serve(t *testing.T, opts chserver.Options) driver.Conn {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := chserver.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
